import contextlib
import datetime
import random
from decimal import Decimal

import pytest
from django.db.models import F

from loans.models import DelinquencyBucket, Installment, Loan
from loans.services import (
    loan_refresh_delinquency,
    portfolio_refresh_delinquency,
    portfolio_refresh_delinquency_range,
)
from tests.loans.factories import BorrowerFactory, LoanFactory, ProductFactory

# LoanFactory's default schedule: disbursed 15 January 2026, twelve monthly installments of
# 100.00 principal and 12.00 interest, the first due 15 February 2026.
FIRST_DUE = datetime.date(2026, 2, 15)


def aged(loan, as_of):
    loan_refresh_delinquency(loan=loan, as_of=as_of)
    loan.refresh_from_db()
    return loan


def test_an_installment_due_today_is_not_late(db):
    loan = aged(LoanFactory(), FIRST_DUE)

    assert (loan.days_past_due, loan.status, loan.bucket.name) == (0, Loan.Status.CURRENT, "M0")
    assert loan.overdue_amount == Decimal("0.00")


def test_the_day_after_the_due_date_is_one_day_past_due(db):
    loan = aged(LoanFactory(), FIRST_DUE + datetime.timedelta(days=1))

    assert (loan.days_past_due, loan.status, loan.bucket.name) == (1, Loan.Status.DELINQUENT, "M1")
    assert loan.overdue_amount == Decimal("112.00")
    assert loan.oldest_unpaid_due_on == FIRST_DUE


def test_grace_days_hold_off_delinquency_then_count_from_their_end(db):
    loan = LoanFactory(product=ProductFactory(grace_days=3))

    assert aged(loan, FIRST_DUE + datetime.timedelta(days=3)).days_past_due == 0
    assert aged(loan, FIRST_DUE + datetime.timedelta(days=3)).overdue_amount == Decimal("0.00")
    assert aged(loan, FIRST_DUE + datetime.timedelta(days=4)).days_past_due == 1
    assert aged(loan, FIRST_DUE + datetime.timedelta(days=4)).status == Loan.Status.DELINQUENT


@pytest.mark.parametrize(
    ("days_late", "bucket"),
    [(0, "M0"), (1, "M1"), (30, "M1"), (31, "M2"), (60, "M2"), (61, "M3"), (90, "M3"), (91, "M4+"), (400, "M4+")],
)
def test_buckets_at_their_edges(db, days_late, bucket):
    loan = LoanFactory(term_months=1, principal=Decimal("100.00"))

    loan = aged(loan, FIRST_DUE + datetime.timedelta(days=days_late))

    assert (loan.days_past_due, loan.bucket.name) == (days_late, bucket)


def test_dpd_counts_from_the_oldest_installment_not_fully_paid(db):
    loan = LoanFactory()
    Installment.objects.filter(loan=loan, sequence=1).update(
        principal_paid=Decimal("100.00"), interest_paid=Decimal("12.00"), is_paid=True
    )
    Installment.objects.filter(loan=loan, sequence=2).update(principal_paid=Decimal("99.99"))

    loan = aged(loan, datetime.date(2026, 4, 20))

    assert loan.oldest_unpaid_due_on == datetime.date(2026, 3, 15)
    assert loan.days_past_due == 36
    assert loan.overdue_amount == Decimal("12.01") + Decimal("112.00")


def test_a_fully_paid_loan_is_paid_off_with_no_dpd(db):
    loan = LoanFactory(term_months=1, principal=Decimal("100.00"))
    Installment.objects.filter(loan=loan).update(
        principal_paid=F("principal_due"), interest_paid=F("interest_due"), is_paid=True
    )

    loan = aged(loan, datetime.date(2027, 1, 1))

    assert (loan.status, loan.days_past_due, loan.oldest_unpaid_due_on) == (Loan.Status.PAID_OFF, 0, None)


def test_written_off_loans_keep_their_status_but_still_age(db):
    loan = LoanFactory(status=Loan.Status.WRITTEN_OFF)

    loan = aged(loan, FIRST_DUE + datetime.timedelta(days=100))

    assert (loan.status, loan.days_past_due) == (Loan.Status.WRITTEN_OFF, 100)


def test_a_gap_between_buckets_leaves_the_loan_without_a_bucket(db):
    DelinquencyBucket.objects.filter(name="M2").delete()
    loan = LoanFactory(term_months=1, principal=Decimal("100.00"))

    assert aged(loan, FIRST_DUE + datetime.timedelta(days=45)).bucket is None
    portfolio_refresh_delinquency(as_of=FIRST_DUE + datetime.timedelta(days=45))
    loan.refresh_from_db()
    assert loan.bucket is None


def test_portfolio_refresh_applies_edited_bucket_ranges(db):
    DelinquencyBucket.objects.filter(name="M4+").update(min_dpd=100)
    DelinquencyBucket.objects.filter(name="M3").update(max_dpd=99)
    loan = LoanFactory(term_months=1, principal=Decimal("100.00"))

    portfolio_refresh_delinquency(as_of=FIRST_DUE + datetime.timedelta(days=95))

    loan.refresh_from_db()
    assert loan.bucket.name == "M3"


def random_portfolio(size: int, seed: int) -> None:
    """Loans of three products with random schedules and random partial payments, so that every
    branch of the ageing rules (grace, partial, fully paid, future dues, closed, no schedule yet)
    is exercised."""
    rng = random.Random(seed)
    products = [ProductFactory(grace_days=grace) for grace in (0, 1, 3)]
    borrower = BorrowerFactory()
    loans = []
    for n in range(size):
        loans.append(
            LoanFactory.build(
                account_number=f"R{seed}-{n}",
                product=rng.choice(products),
                borrower=borrower,
                status=rng.choice([Loan.Status.CURRENT] * 8 + [Loan.Status.WRITTEN_OFF, Loan.Status.DELINQUENT]),
            )
        )
    Loan.objects.bulk_create(loans)
    installments = []
    for n, loan in enumerate(Loan.objects.filter(account_number__startswith=f"R{seed}-").order_by("pk")):
        if n % 40 == 39:  # a loan whose schedule has not arrived yet
            continue
        start = datetime.date(2025, 1, 1) + datetime.timedelta(days=rng.randrange(0, 600))
        for sequence in range(1, rng.randint(1, 6) + 1):
            principal_due = Decimal(rng.randrange(1, 50_000)) / 100
            interest_due = Decimal(rng.randrange(0, 5_000)) / 100
            paid_state = rng.random()
            if paid_state < 0.5:
                principal_paid, interest_paid = principal_due, interest_due
            elif paid_state < 0.7:
                principal_paid, interest_paid = Decimal(0), Decimal(rng.randrange(0, int(interest_due * 100) + 1)) / 100
            else:
                principal_paid = interest_paid = Decimal(0)
            installments.append(
                Installment(
                    loan=loan,
                    sequence=sequence,
                    due_date=start + datetime.timedelta(days=30 * sequence + rng.randrange(-3, 4)),
                    principal_due=principal_due,
                    interest_due=interest_due,
                    principal_paid=principal_paid,
                    interest_paid=interest_paid,
                    is_paid=principal_paid == principal_due and interest_paid == interest_due,
                )
            )
    Installment.objects.bulk_create(installments, batch_size=2_000)


AGEING_FIELDS = ("id", "days_past_due", "bucket_id", "status", "overdue_amount", "oldest_unpaid_due_on")


def _edit_buckets(layout: str) -> None:
    if layout == "gap":  # DPD 31-60 falls in no bucket
        DelinquencyBucket.objects.filter(name="M2").delete()
    elif layout == "edited":  # M3 widened to 99, M4+ from 100
        DelinquencyBucket.objects.filter(name="M4+").update(min_dpd=100)
        DelinquencyBucket.objects.filter(name="M3").update(max_dpd=99)


def _refresh_both_ways(as_of: datetime.date, *, batch_size: int, queries=None) -> tuple[list, list, int]:
    """Age the portfolio set-based (inside `queries`), then loan by loan from the same starting
    point, and return both results (and the set-based count)."""
    before = list(Loan.objects.order_by("id").values_list("id", "status"))
    with queries or contextlib.nullcontext():
        aged_count = portfolio_refresh_delinquency(as_of=as_of, batch_size=batch_size)
    set_based = list(Loan.objects.order_by("id").values_list(*AGEING_FIELDS))

    Loan.objects.update(days_past_due=999, bucket=None, overdue_amount=0, oldest_unpaid_due_on=None)
    for pk, status in before:
        Loan.objects.filter(pk=pk).update(status=status)
    for loan in Loan.objects.order_by("id"):
        loan_refresh_delinquency(loan=loan, as_of=as_of)
    per_loan = list(Loan.objects.order_by("id").values_list(*AGEING_FIELDS))
    return set_based, per_loan, aged_count


def _close_some(seed: int) -> None:
    """Start from stale ageing, with some loans charged off or written off by people."""
    rng = random.Random(seed)
    ids = list(Loan.objects.order_by("id").values_list("id", flat=True))
    Loan.objects.update(status=Loan.Status.CURRENT, days_past_due=999, bucket=None)
    Loan.objects.filter(pk__in=rng.sample(ids, len(ids) // 12)).update(status=Loan.Status.WRITTEN_OFF)
    Loan.objects.filter(pk__in=rng.sample(ids, len(ids) // 24)).update(status=Loan.Status.CHARGED_OFF)
    # Paid-off and delinquent statuses left over from an earlier day must be recomputed.
    Loan.objects.filter(pk__in=rng.sample(ids, len(ids) // 24)).exclude(status__in=Loan.CLOSED_BY_DECISION).update(
        status=Loan.Status.PAID_OFF
    )


def test_portfolio_refresh_matches_the_per_loan_refresh_on_a_random_portfolio(db, django_assert_max_num_queries):
    random_portfolio(1_200, seed=7)
    as_of = datetime.date(2026, 3, 1)
    _close_some(seed=7)

    set_based, per_loan, aged_count = _refresh_both_ways(
        as_of, batch_size=500, queries=django_assert_max_num_queries(40)
    )

    assert aged_count == 1_200
    assert set_based == per_loan
    statuses = {row[3] for row in per_loan}
    assert set(Loan.Status.values) <= statuses
    assert len({row[2] for row in per_loan}) == 5  # every bucket is reached
    assert any(row[5] is None and row[3] == Loan.Status.CURRENT for row in per_loan)  # no schedule yet


@pytest.mark.parametrize("layout", ["gap", "edited"])
@pytest.mark.parametrize("as_of", [datetime.date(2025, 3, 3), datetime.date(2026, 3, 1), datetime.date(2027, 6, 30)])
def test_portfolio_refresh_matches_the_per_loan_refresh_with_other_buckets_and_days(db, layout, as_of):
    random_portfolio(300, seed=11)
    _edit_buckets(layout)
    _close_some(seed=11)

    set_based, per_loan, aged_count = _refresh_both_ways(as_of, batch_size=70)

    assert aged_count == 300
    assert set_based == per_loan


def test_a_second_refresh_for_the_same_day_writes_nothing(db):
    random_portfolio(200, seed=5)
    as_of = datetime.date(2026, 3, 1)
    portfolio_refresh_delinquency(as_of=as_of, batch_size=64)
    written = dict(Loan.objects.values_list("id", "updated_at"))

    assert portfolio_refresh_delinquency(as_of=as_of, batch_size=64) == 200
    assert dict(Loan.objects.values_list("id", "updated_at")) == written

    portfolio_refresh_delinquency(as_of=datetime.date(2026, 3, 2), batch_size=64)
    next_day = datetime.date(2026, 3, 2)
    for pk, updated_at, aged_as_of in Loan.objects.values_list("id", "updated_at", "delinquency_as_of"):
        assert (updated_at > written[pk], aged_as_of) == (True, next_day)


def test_portfolio_refresh_reports_progress_per_batch(db):
    for _ in range(5):
        LoanFactory(installments=False)
    seen = []

    portfolio_refresh_delinquency(as_of=FIRST_DUE, batch_size=2, progress=seen.append)

    assert sum(seen) >= 5 and len(seen) >= 3


def test_portfolio_refresh_on_an_empty_portfolio_does_nothing(db):
    assert portfolio_refresh_delinquency(as_of=FIRST_DUE) == 0


def test_a_loan_whose_schedule_has_not_arrived_stays_current(db):
    loan = LoanFactory(installments=False)

    assert aged(loan, FIRST_DUE).status == Loan.Status.CURRENT
    portfolio_refresh_delinquency(as_of=FIRST_DUE)
    loan.refresh_from_db()
    assert (loan.status, loan.days_past_due, loan.bucket.name) == (Loan.Status.CURRENT, 0, "M0")


def test_a_range_refresh_ages_the_loans_of_its_range_only(db):
    before, inside, after = LoanFactory(), LoanFactory(), LoanFactory()
    as_of = FIRST_DUE + datetime.timedelta(days=1)

    written = portfolio_refresh_delinquency_range(as_of=as_of, low=inside.pk, high=after.pk)

    assert written == 1
    aged_as_of = dict(Loan.objects.values_list("pk", "delinquency_as_of"))
    assert aged_as_of == {before.pk: None, inside.pk: as_of, after.pk: None}
    inside.refresh_from_db()
    assert (inside.days_past_due, inside.status) == (1, Loan.Status.DELINQUENT)
    assert portfolio_refresh_delinquency_range(as_of=as_of, low=inside.pk, high=after.pk) == 0
