"""How people sign in to the desk."""

from django.contrib.auth.backends import ModelBackend

from . import roles


class DeskBackend(ModelBackend):
    """Django's username-and-password sign-in, refusing the desk's own `system` account: the jobs
    act as it, nobody signs in as it, whatever password it may have been given."""

    def user_can_authenticate(self, user) -> bool:
        if getattr(user, "username", None) == roles.SYSTEM_USERNAME:
            return False
        return super().user_can_authenticate(user)
