"""Who may see and act on which collection case: the one place the desk's object-level rule lives.

- an admin (the `admin` role, or a superuser) and the desk's own `system` account: every case;
- a supervisor: the cases of the teams they supervise;
- a collector: the cases assigned to them;
- a legal officer: the cases in litigation.

Someone holding several roles has the union. Selectors and admin querysets read through
`cases_visible_to` / `borrowers_visible_to`; every service acting on a case calls
`case_access_check` before it writes. What a role may do at all (take a promise, decide an
escalation) stays with the role's permissions; this module says on which cases."""

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from accounts import roles
from accounts.models import User
from loans.models import Borrower, Contact, Loan

from .machine import Stage
from .models import CollectionCase

__all__ = [
    "borrowers_visible_to",
    "case_access_check",
    "case_scope",
    "cases_visible_to",
    "contacts_visible_to",
    "loans_visible_to",
    "sees_everything",
    "supervised_team_ids",
]


def sees_everything(user: User) -> bool:
    """An admin, a superuser or the desk's own account: no case is out of their reach."""
    if not user.is_active:
        return False
    return user.is_superuser or user.username == roles.SYSTEM_USERNAME or roles.ADMIN in roles.user_roles(user)


def supervised_team_ids(user: User) -> frozenset[int]:
    """The ids of the teams `user` supervises, read once per user object."""
    cached = getattr(user, "_desk_supervised_team_ids", None)
    if cached is None:
        cached = frozenset(user.supervised_teams.values_list("pk", flat=True)) if user.pk else frozenset()
        user._desk_supervised_team_ids = cached
    return cached


def case_scope(user: User, prefix: str = "") -> Q | None:
    """The cases `user` may see, as a filter on CollectionCase (or on a model reaching it through
    `prefix`, e.g. "case__"); None when they may see every case. A filter matching nothing for a
    user without a role."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    if sees_everything(user):
        return None
    held = roles.user_roles(user)
    scope = Q(pk__in=[])
    if roles.COLLECTOR in held:
        scope |= Q(**{f"{prefix}assigned_to": user})
    if roles.SUPERVISOR in held:
        scope |= Q(**{f"{prefix}team__in": supervised_team_ids(user)})
    if roles.LEGAL_OFFICER in held:
        scope |= Q(**{f"{prefix}stage": Stage.LITIGATION})
    return scope


def cases_visible_to(user: User, cases: QuerySet[CollectionCase] | None = None) -> QuerySet[CollectionCase]:
    """`cases` (all cases when not given) narrowed to those `user` may see."""
    cases = CollectionCase.objects.all() if cases is None else cases
    scope = case_scope(user)
    return cases if scope is None else cases.filter(scope)


def may_act_on(user: User, case: CollectionCase) -> bool:
    """Whether `case` is within `user`'s reach, read from the case as given (no query for a
    collector or a legal officer; one, cached, for a supervisor's teams)."""
    if not user.is_authenticated:
        return False
    if sees_everything(user):
        return True
    held = roles.user_roles(user)
    return (
        (roles.COLLECTOR in held and case.assigned_to_id == user.pk)
        or (roles.SUPERVISOR in held and case.team_id is not None and case.team_id in supervised_team_ids(user))
        or (roles.LEGAL_OFFICER in held and case.stage == Stage.LITIGATION)
    )


def case_access_check(*, case: CollectionCase, by: User) -> None:
    """Refuse (PermissionDenied) when `case` is outside `by`'s reach."""
    if not may_act_on(by, case):
        raise PermissionDenied(_("This case is not yours to work."))


def _with_case_in_reach(user: User, rows: QuerySet, case_of_row: dict) -> QuerySet:
    """`rows` narrowed to those with a case `user` may see, found by `case_of_row` (the case's
    filter pointing at the outer row); unchanged for someone who sees everything."""
    scope = case_scope(user)
    if scope is None:
        return rows
    return rows.filter(Exists(CollectionCase.objects.filter(scope, **case_of_row)))


def loans_visible_to(user: User, loans: QuerySet[Loan] | None = None) -> QuerySet[Loan]:
    """Loans with a case `user` may see (every loan for an admin)."""
    return _with_case_in_reach(user, Loan.objects.all() if loans is None else loans, {"loan": OuterRef("pk")})


def borrowers_visible_to(user: User, borrowers: QuerySet[Borrower] | None = None) -> QuerySet[Borrower]:
    """Borrowers with a loan whose case `user` may see (every borrower for an admin)."""
    borrowers = Borrower.objects.all() if borrowers is None else borrowers
    return _with_case_in_reach(user, borrowers, {"loan__borrower": OuterRef("pk")})


def contacts_visible_to(user: User, contacts: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """Contacts of the borrowers `user` may see."""
    contacts = Contact.objects.all() if contacts is None else contacts
    return _with_case_in_reach(user, contacts, {"loan__borrower": OuterRef("borrower")})
