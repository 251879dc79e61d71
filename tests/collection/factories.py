import datetime
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone

from accounts.models import Team, User
from collection.models import CollectionCase, ContactAttempt, PromiseToPay
from loans.models import Contact, Payment
from loans.services import payment_record
from tests.conftest import DESK_COLLECTOR, DESK_TEAM
from tests.loans.factories import BorrowerFactory, ContactFactory, LoanFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
_payment_references = itertools.count(1)


def _desk_collector():
    """The test's own collector (the `collector` fixture), when the test has one."""
    return User.objects.filter(username=DESK_COLLECTOR).first()


def _desk_team():
    """The desk team of the test's collector and supervisor (tests/conftest.py), when it exists."""
    return Team.objects.filter(name=DESK_TEAM).first()


class CaseFactory(factory.django.DjangoModelFactory):
    """An open case in reminder on a loan with the default twelve-month schedule: assigned to the
    test's own collector and in the desk team of the test's supervisor when the test has them (so
    that they may work it); otherwise unassigned and in no team. Pass assigned_to / team to choose."""

    class Meta:
        model = CollectionCase

    loan = factory.SubFactory(LoanFactory)
    assigned_to = factory.LazyFunction(_desk_collector)
    team = factory.LazyFunction(_desk_team)


def within_reach_of(user, case: CollectionCase) -> CollectionCase:
    """Put `case` within `user`'s reach (collection.access) by their roles: assigned to them if they
    collect, in a team they supervise if they supervise (a legal officer's reach is the case's stage:
    put it in litigation for them). Updates `case` in place and returns it."""
    held = set(user.groups.values_list("name", flat=True))
    fields = {}
    if "collector" in held:
        fields["assigned_to"] = user
    if "supervisor" in held:
        team = user.supervised_teams.first() or Team.objects.create(name=f"Team of {user.username}", supervisor=user)
        fields["team"] = team
    if fields:
        CollectionCase.objects.filter(pk=case.pk).update(**fields)
        for name, value in fields.items():
            setattr(case, name, value)
    return case


def case_in(stage: str, **kwargs) -> CollectionCase:
    """A case put straight into a stage, for tests of what happens from there."""
    case = CaseFactory(**kwargs)
    CollectionCase.objects.filter(pk=case.pk).update(stage=stage)
    case.refresh_from_db()
    return case


def case_of(*, zone: ZoneInfo = SHANGHAI, lost_contact: bool = False, stage: str | None = None) -> CollectionCase:
    """A case (in reminder unless `stage` says otherwise) of a borrower in `zone`, on a loan without
    a schedule: for the conduct limits and contact attempts, which look at the borrower and contacts."""
    borrower = BorrowerFactory(time_zone=zone.key, lost_contact=lost_contact)
    if stage is None:
        return CaseFactory(loan__borrower=borrower, loan__installments=False)
    return case_in(stage, loan__borrower=borrower, loan__installments=False)


def mobile_of(case, **kwargs) -> Contact:
    """The borrower's own mobile."""
    return ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.MOBILE, **kwargs)


def employer_of(case, **kwargs) -> Contact:
    """The borrower's employer: a third party."""
    return ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.EMPLOYER, name="某某公司", **kwargs)


def today() -> datetime.date:
    """The desk's today (Asia/Shanghai)."""
    return timezone.localdate()


def days_ago(days: int) -> datetime.date:
    return today() - datetime.timedelta(days=days)


def at(day: datetime.date, hour: int = 12, minute: int = 0, second: int = 0, tz=SHANGHAI) -> datetime.datetime:
    """A moment of `day`, by default at noon in the desk's time zone."""
    return datetime.datetime.combine(day, datetime.time(hour, minute, second), tzinfo=tz)


def pay(case, amount, received_at) -> Payment:
    """A payment on the case's loan, recorded and allocated as the desk records one."""
    return payment_record(
        loan=case.loan,
        amount=Decimal(amount),
        received_at=received_at,
        reference=f"PAY-{next(_payment_references)}",
        channel="app",
    )


class AttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactAttempt


class PromiseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromiseToPay
