"""Changes to the desk's people and teams, one function per business action."""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import roles
from .models import Team, User

__all__ = ["team_members_check", "team_update"]


def team_members_check(*, supervisor: User | None, members: Iterable[User]) -> None:
    """Refuse (ValidationError) the desk's own `system` account as a team's supervisor or member:
    it is the jobs' actor, nobody's colleague, and a team would hand it cases."""
    if supervisor is not None and supervisor.username == roles.SYSTEM_USERNAME:
        raise ValidationError(_("The system account cannot supervise a team."), code="system_in_team")
    if any(member.username == roles.SYSTEM_USERNAME for member in members):
        raise ValidationError(_("The system account cannot be a member of a team."), code="system_in_team")


def _may_manage_teams(user: User) -> bool:
    return user.is_active and (user.is_superuser or roles.ADMIN in roles.user_roles(user))


@transaction.atomic
def team_update(
    *,
    team: Team,
    by: User,
    name: str | None = None,
    supervisor: User | None = None,
    members: Iterable[User] | None = None,
) -> Team:
    """Rename a team, give it a supervisor or set its members: an admin's decision (a superuser or
    the admin role), never a supervisor's, even for their own team. The `system` account is never a
    supervisor or a member (team_members_check; the database refuses it as well)."""
    if not _may_manage_teams(by):
        raise PermissionDenied(_("Only an admin may change a team."))
    members = list(members) if members is not None else None
    team_members_check(supervisor=supervisor, members=members or [])
    if name is not None:
        team.name = name
    if supervisor is not None:
        team.supervisor = supervisor
    team.save()
    if members is not None:
        team.members.set(members)
    return team
