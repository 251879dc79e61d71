"""What every page's header shows of the person logged in: their roles and teams."""

from django.db.models import Q
from django.utils.functional import SimpleLazyObject

from . import roles
from .models import Team


def desk_user(request):
    """`desk_role_names` (the role names held; a superuser counts as an admin), `desk_roles` (their
    labels) and `desk_teams` (the teams the user is in or supervises), each read only when shown."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def teams():
        return list(
            Team.objects.filter(Q(members=user) | Q(supervisor=user))
            .order_by("name")
            .values_list("name", flat=True)
            .distinct()
        )

    return {
        "desk_role_names": SimpleLazyObject(lambda: roles.held_roles(user)),
        "desk_roles": SimpleLazyObject(
            lambda: [str(roles.ROLE_LABELS[name]) for name in roles.ROLES if name in roles.user_roles(user)]
        ),
        "desk_teams": SimpleLazyObject(teams),
    }
