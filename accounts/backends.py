from django.contrib.auth.backends import ModelBackend

from .roles import SYSTEM_USERNAME


class DeskBackend(ModelBackend):
    """Django's username and password login, refusing the desk's own `system` account: the jobs
    act under it, nobody logs in as it."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and user.username != SYSTEM_USERNAME
