"""Which borrowers, contacts and loans a user may see: a hook the portfolio's reads (the admin's
lists, and the pages that come next) narrow themselves through.

The rule itself is collection's (a user sees the portfolio behind the cases they may see:
collection.access), and loans must not import collection. So collection registers its rule here
when the apps are ready (CollectionConfig.ready), and loans reads it without knowing where it
lives. Until a rule is registered nobody but a superuser sees any row: a missing rule fails closed."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from .models import Borrower, Contact, Loan

__all__ = [
    "PortfolioScope",
    "borrowers_visible",
    "contacts_visible",
    "loan_rows_visible",
    "loans_visible",
    "scope_register",
]

Narrowing = Callable[..., QuerySet]


@dataclass(frozen=True)
class PortfolioScope:
    """The functions that say what a user may see: `sees_everything(user)`, and for each of
    borrowers, contacts and loans `(user, queryset) -> the queryset narrowed to what they may see`."""

    sees_everything: Callable[..., bool]
    borrowers: Narrowing
    contacts: Narrowing
    loans: Narrowing


_registered: list[PortfolioScope] = []


def scope_register(scope: PortfolioScope) -> None:
    """Make `scope` the rule the portfolio's reads follow (the last one registered wins)."""
    _registered[:] = [scope]


def _scope() -> PortfolioScope | None:
    return _registered[0] if _registered else None


def _narrowed(user, queryset: QuerySet, kind: str) -> QuerySet:
    """`queryset` narrowed by the registered rule's narrowing `kind` (borrowers, contacts, loans);
    without a rule, whole for an active superuser and empty for anyone else (fails closed)."""
    scope = _scope()
    if scope is None:
        return queryset if user.is_active and user.is_superuser else queryset.none()
    return getattr(scope, kind)(user, queryset)


def borrowers_visible(user, queryset: QuerySet[Borrower] | None = None) -> QuerySet[Borrower]:
    return _narrowed(user, Borrower.objects.all() if queryset is None else queryset, "borrowers")


def contacts_visible(user, queryset: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    return _narrowed(user, Contact.objects.all() if queryset is None else queryset, "contacts")


def loans_visible(user, queryset: QuerySet[Loan] | None = None) -> QuerySet[Loan]:
    return _narrowed(user, Loan.objects.all() if queryset is None else queryset, "loans")


def loan_rows_visible(user, queryset: QuerySet, *, loan: str) -> QuerySet:
    """Rows that belong to a loan (installments, payments, allocations: `loan` is the path from the
    row to its loan's id, e.g. "loan" or "installment__loan") narrowed to the loans `user` may see,
    with one EXISTS per row; unchanged for someone who sees everything."""
    scope = _scope()
    if scope is None:
        return queryset if user.is_active and user.is_superuser else queryset.none()
    if scope.sees_everything(user):
        return queryset
    return queryset.filter(Exists(loans_visible(user, Loan.objects.filter(pk=OuterRef(loan)))))
