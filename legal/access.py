"""Who may see and act on which legal case: the legal track's one object-level rule.

- an admin (or a superuser, or the desk's `system` account): every legal case;
- a legal officer: every legal case (the legal department works the whole legal portfolio);
- a supervisor: the legal cases of their teams' collection cases;
- a collector: none.

What a role may do at all stays with its permissions (legal.work_legal_case,
legal.withdraw_legal_case); this module says on which cases. Pages read through
`legal_cases_visible_to`, services call `legal_case_access_check` before they write."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts import roles
from collection.access import sees_everything, supervised_team_ids

from .models import LegalCase

__all__ = ["legal_case_access_check", "legal_case_scope", "legal_cases_visible_to", "may_act_on_legal_case"]


def legal_case_scope(user) -> Q | None:
    """The legal cases `user` may see as a filter (None: all of them)."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    if sees_everything(user):
        return None
    held = roles.user_roles(user)
    if roles.LEGAL_OFFICER in held:
        return None
    if roles.SUPERVISOR in held:
        return Q(case__team__in=supervised_team_ids(user))
    return Q(pk__in=[])


def legal_cases_visible_to(user, legal_cases: QuerySet[LegalCase] | None = None) -> QuerySet[LegalCase]:
    legal_cases = LegalCase.objects.all() if legal_cases is None else legal_cases
    scope = legal_case_scope(user)
    return legal_cases if scope is None else legal_cases.filter(scope)


def may_act_on_legal_case(user, legal_case: LegalCase) -> bool:
    if not user.is_authenticated:
        return False
    if sees_everything(user) or roles.LEGAL_OFFICER in roles.user_roles(user):
        return True
    team_id = legal_case.case.team_id
    return roles.SUPERVISOR in roles.user_roles(user) and team_id is not None and team_id in supervised_team_ids(user)


def legal_case_access_check(*, legal_case: LegalCase, by) -> None:
    if not may_act_on_legal_case(by, legal_case):
        raise PermissionDenied(_("This legal case is not yours to work."))
