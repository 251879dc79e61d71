"""What the browser tests set up: a collector's cases, with borrowers in a time zone chosen for the
clock, so that a test of the conduct limits does not depend on when it runs."""

import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from loans.models import Contact, Loan
from loans.selectors import bucket_for_days_past_due
from tests.collection.factories import CaseFactory
from tests.loans.factories import BorrowerFactory, ContactFactory, make_days_past_due

DESK_ZONE = ZoneInfo("Asia/Shanghai")


def zone_where_it_is(hour: int, now: datetime.datetime | None = None) -> ZoneInfo:
    """A fixed-offset zone (Etc/GMT±N, no daylight saving) where the local time is `hour`:xx now.
    Etc/GMT's sign is the POSIX one: Etc/GMT-5 is five hours ahead of UTC."""
    now = now or timezone.now()
    ahead = (hour - now.astimezone(datetime.UTC).hour) % 24
    if ahead > 14:  # the zones run from UTC-12 to UTC+14
        ahead -= 24
    return ZoneInfo("Etc/GMT" if ahead == 0 else f"Etc/GMT{-ahead:+d}")


def night_zone(now=None) -> ZoneInfo:
    """A zone where it is 02:xx: hours inside the quiet hours (22:00-08:00) either way."""
    return zone_where_it_is(2, now)


def day_zone(now=None) -> ZoneInfo:
    """A zone where it is 12:xx: hours outside the quiet hours either way."""
    return zone_where_it_is(12, now)


def working_case(*, days_past_due: int, zone: ZoneInfo, name: str | None = None, mobile: str | None = None, **kwargs):
    """An open case of the test's collector (CaseFactory) on a loan `days_past_due` days late,
    in the bucket of that many days, of a borrower in `zone` with one mobile number."""
    borrower = BorrowerFactory(time_zone=zone.key, **({"name": name} if name else {}))
    case = CaseFactory(loan__borrower=borrower, **kwargs)
    make_days_past_due(
        Loan.objects.filter(pk=case.loan_id), days_past_due, bucket=bucket_for_days_past_due(days_past_due)
    )
    ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, **({"value": mobile} if mobile else {}))
    case.refresh_from_db()
    case.loan.refresh_from_db()
    return case


def desk_time(moment: datetime.datetime) -> str:
    """`moment` as a datetime-local input takes it in desk time."""
    return f"{moment.astimezone(DESK_ZONE):%Y-%m-%dT%H:%M}"
