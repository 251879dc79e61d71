"""Reads of the portfolio that services, views and jobs share."""

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from .models import AgeingRun, Borrower, Contact, DelinquencyBucket, Loan
from .phones import normalise_phone


def ageing_run_last() -> AgeingRun | None:
    """The last ageing run that finished: its day is the portfolio's day (loans.fields reads
    it the same way in SQL)."""
    return AgeingRun.objects.filter(finished_at__isnull=False).order_by("-pk").first()


def portfolio_day() -> date:
    """The day the portfolio was last aged as of; before any run, today in the desk's time zone.
    Loans' days past due are counted to it."""
    last = ageing_run_last()
    return last.as_of if last else timezone.localdate()


def buckets_in_order() -> list[DelinquencyBucket]:
    return list(DelinquencyBucket.objects.order_by("min_dpd"))


def bucket_for_days_past_due(
    days_past_due: int, *, buckets: Iterable[DelinquencyBucket] | None = None
) -> DelinquencyBucket | None:
    """The bucket whose band holds this DPD, or None when the configured bands leave a gap."""
    for bucket in buckets if buckets is not None else buckets_in_order():
        if bucket.contains(days_past_due):
            return bucket
    return None


def bucket_gaps(buckets: Iterable[DelinquencyBucket] | None = None) -> list[tuple[int, int | None]]:
    """DPD ranges no bucket covers, so that the admin can warn about them."""
    gaps: list[tuple[int, int | None]] = []
    next_uncovered = 0
    for bucket in sorted(buckets if buckets is not None else buckets_in_order(), key=lambda b: b.min_dpd):
        if bucket.min_dpd > next_uncovered:
            gaps.append((next_uncovered, bucket.min_dpd - 1))
        if bucket.max_dpd is None:
            return gaps
        next_uncovered = max(next_uncovered, bucket.max_dpd + 1)
    gaps.append((next_uncovered, None))
    return gaps


def portfolio_by_bucket() -> QuerySet:
    """Count and overdue amount of open loans per bucket, in bucket order."""
    open_loans = Q(loans__status__in=[Loan.Status.CURRENT, Loan.Status.DELINQUENT])
    return DelinquencyBucket.objects.order_by("min_dpd").annotate(
        loan_count=Count("loans", filter=open_loans),
        overdue=Sum("loans__overdue_amount", filter=open_loans),
    )


def days_past_due_at_least(days: int, *, on: date, loan: str = "") -> Q:
    """Loans at `days` DPD or more on the day `on`, as a filter on the indexed grace_ends_on
    (`loan` is the path to the loan, e.g. "loan__" from a case)."""
    if days <= 0:
        return Q()
    return Q(**{f"{loan}grace_ends_on__lte": on - timedelta(days=days)})


def _number_typed(number: str) -> tuple[str, str | None]:
    """A number as typed (full-width digits, spaces, dashes) as a national ID and as an E.164 phone
    number (None when it is not one)."""
    text = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", number)).upper()
    try:
        return text, normalise_phone(text)
    except ValidationError:
        return text, None


def borrowers_with_number(number: str) -> list[int]:
    """The keys of the borrowers a full national ID number is, or whose contacts a full phone
    number is: exact matches only (the start of a number finds nothing), for the admin's finder,
    which takes the number by POST so that it never sits in a URL."""
    national_id, phone = _number_typed(number)
    if not national_id:
        return []
    found = Borrower.objects.filter(national_id=national_id).values_list("pk", flat=True)
    if phone:
        found = found.union(Contact.objects.filter(value=phone).values_list("borrower_id", flat=True))
    return sorted(found)


def contacts_with_number(number: str) -> list[int]:
    """The keys of the contacts a full phone number is, or of the contacts of the borrower a full
    national ID number is."""
    national_id, phone = _number_typed(number)
    if not national_id:
        return []
    found = Contact.objects.filter(borrower__national_id=national_id).values_list("pk", flat=True)
    if phone:
        found = found.union(Contact.objects.filter(value=phone).values_list("pk", flat=True))
    return sorted(found)
