import datetime
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone

from collection.models import CollectionCase, ContactAttempt, PromiseToPay
from loans.models import Payment
from loans.services import payment_record
from tests.loans.factories import LoanFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
_payment_references = itertools.count(1)


class CaseFactory(factory.django.DjangoModelFactory):
    """An open case in reminder on a loan with the default twelve-month schedule."""

    class Meta:
        model = CollectionCase

    loan = factory.SubFactory(LoanFactory)


def case_in(stage: str, **kwargs) -> CollectionCase:
    """A case put straight into a stage, for tests of what happens from there."""
    case = CaseFactory(**kwargs)
    CollectionCase.objects.filter(pk=case.pk).update(stage=stage)
    case.refresh_from_db()
    return case


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
        as_of=today(),
    )


class AttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactAttempt


class PromiseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromiseToPay
