import contextlib
import datetime
import random
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone

from loans.models import AgeingRun, DelinquencyBucket, Installment, Loan
from loans.selectors import portfolio_day
from loans.services import ageing_run, loan_refresh_delinquency, portfolio_refresh_delinquency
from tests.loans.factories import BorrowerFactory, LoanFactory, ProductFactory

# LoanFactory's default schedule: disbursed 15 January 2026, twelve monthly installments of
# 100.00 principal and 12.00 interest, the first due 15 February 2026.
FIRST_DUE = datetime.date(2026, 2, 15)


def aged(loan, as_of):
    """The loan aged on its own as of a day that becomes the portfolio's day, read back."""
    with ageing_run(as_of=as_of):
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


AGEING_FIELDS = (
    "id",
    "days_past_due",
    "bucket_id",
    "status",
    "overdue_amount",
    "oldest_unpaid_due_on",
    "grace_ends_on",
    "needs_ageing",
)


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
        run = portfolio_refresh_delinquency(as_of=as_of, batch_size=batch_size)
    set_based = list(Loan.objects.order_by("id").values_list(*AGEING_FIELDS))

    _forget_ageing()
    for pk, status in before:
        Loan.objects.filter(pk=pk).update(status=status)
    with ageing_run(as_of=as_of):
        for loan in Loan.objects.order_by("id"):
            loan_refresh_delinquency(loan=loan, as_of=as_of)
    per_loan = list(Loan.objects.order_by("id").values_list(*AGEING_FIELDS))
    return set_based, per_loan, run.loans_read


def _forget_ageing() -> None:
    """Stale ageing on every loan, and no run: the next ageing reads every loan."""
    Loan.objects.update(
        grace_ends_on=datetime.date(2000, 1, 1), bucket=None, overdue_amount=0, oldest_unpaid_due_on=None
    )
    AgeingRun.objects.all().delete()


def _close_some(seed: int) -> None:
    """Start from stale ageing, with some loans charged off or written off by people."""
    rng = random.Random(seed)
    ids = list(Loan.objects.order_by("id").values_list("id", flat=True))
    _forget_ageing()
    Loan.objects.update(status=Loan.Status.CURRENT)
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

    again = portfolio_refresh_delinquency(as_of=as_of, batch_size=64, full=True)

    assert (again.loans_read, again.loans_written) == (200, 0)
    assert dict(Loan.objects.values_list("id", "updated_at")) == written


def test_portfolio_refresh_reports_progress_per_batch(db):
    for _ in range(5):
        LoanFactory(installments=False)
    seen = []

    portfolio_refresh_delinquency(as_of=FIRST_DUE, batch_size=2, progress=seen.append)

    assert sum(seen) >= 5 and len(seen) >= 3


def test_portfolio_refresh_on_an_empty_portfolio_does_nothing(db):
    assert portfolio_refresh_delinquency(as_of=FIRST_DUE).loans_read == 0


def test_a_loan_whose_schedule_has_not_arrived_stays_current(db):
    loan = LoanFactory(installments=False)

    assert aged(loan, FIRST_DUE).status == Loan.Status.CURRENT
    portfolio_refresh_delinquency(as_of=FIRST_DUE)
    loan.refresh_from_db()
    assert (loan.status, loan.days_past_due, loan.bucket.name) == (Loan.Status.CURRENT, 0, "M0")


# --- a day passing: only the loans whose ageing can change are read and written ----------------


def _ageing() -> list:
    return list(Loan.objects.order_by("id").values_list(*AGEING_FIELDS))


def _as_a_full_pass_leaves_it(as_of: datetime.date) -> list:
    """What a full pass for the same day finds: it must write nothing where the run before it was right."""
    run = portfolio_refresh_delinquency(as_of=as_of, full=True, batch_size=97)
    assert run.loans_written == 0, f"a full pass for {as_of} still changed {run.loans_written} loans"
    return _ageing()


@pytest.mark.parametrize("seed", [3, 4])
def test_day_after_day_the_loans_read_age_as_every_loan_would(db, seed):
    random_portfolio(600, seed=seed)
    _close_some(seed=seed)
    day = datetime.date(2026, 2, 20)
    first = portfolio_refresh_delinquency(as_of=day, batch_size=150)
    assert (first.full, first.loans_read) == (True, 600)

    # Forward a day at a time, a few days at once, back a day (a re-run), the same day again.
    reads = []
    for step in (1, 1, 1, 3, 1, -1, 0, 2, 7, -5, 1):
        day += datetime.timedelta(days=step)
        run = portfolio_refresh_delinquency(as_of=day)
        assert not run.full
        reads.append(run.loans_read)
        incremental = _ageing()
        assert incremental == _as_a_full_pass_leaves_it(day)
    assert max(reads[:3]) < 600 // 4  # a day passing reads a small part of the portfolio


def test_a_day_passing_writes_no_loan_that_crosses_no_edge_yet_its_dpd_moves_on(db):
    late = LoanFactory(term_months=3)  # due 15 Feb, 15 Mar, 15 Apr
    day = FIRST_DUE + datetime.timedelta(days=10)
    portfolio_refresh_delinquency(as_of=day)
    late.refresh_from_db()
    written = late.updated_at
    assert (late.days_past_due, late.bucket.name) == (10, "M1")

    run = portfolio_refresh_delinquency(as_of=day + datetime.timedelta(days=1))

    late.refresh_from_db()
    assert (run.loans_read, run.loans_written) == (0, 0)
    assert (late.days_past_due, late.bucket.name, late.updated_at) == (11, "M1", written)
    assert Loan.objects.filter(days_past_due=11).count() == 1
    assert list(Loan.objects.values_list("days_past_due", flat=True)) == [11]


def test_crossing_into_the_next_bucket_and_a_new_installment_falling_late_are_written(db):
    loan = LoanFactory(term_months=3)
    portfolio_refresh_delinquency(as_of=datetime.date(2026, 3, 15))  # 28 DPD, one installment late
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket.name, loan.overdue_amount) == (28, "M1", Decimal("412.00"))

    portfolio_refresh_delinquency(as_of=datetime.date(2026, 3, 16))  # the second falls late
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.overdue_amount) == (29, Decimal("824.00"))

    run = portfolio_refresh_delinquency(as_of=datetime.date(2026, 3, 18))  # 31 DPD
    loan.refresh_from_db()
    assert (run.loans_written, loan.days_past_due, loan.bucket.name) == (1, 31, "M2")


def test_a_run_cut_short_is_read_again_by_the_next(db):
    random_portfolio(300, seed=9)
    day = datetime.date(2026, 3, 1)
    portfolio_refresh_delinquency(as_of=day)
    # A run for three days on aged the first batch of loans, then its worker died.
    ahead = day + datetime.timedelta(days=3)
    low = Loan.objects.order_by("pk").values_list("pk", flat=True).first()
    from loans.selectors import buckets_in_order
    from loans.services import _AgeingStatement, ageing_rules

    AgeingRun.objects.create(as_of=ahead, rules=ageing_rules(buckets_in_order()), started_at=timezone.now())
    _AgeingStatement(buckets=buckets_in_order(), as_of=ahead, now=timezone.now()).run_range(low=low, high=low + 100)

    nextday = day + datetime.timedelta(days=1)
    assert not portfolio_refresh_delinquency(as_of=nextday).full
    assert _ageing() == _as_a_full_pass_leaves_it(nextday)


def test_new_buckets_or_grace_days_make_the_next_run_read_every_loan(db):
    random_portfolio(120, seed=2)
    day = datetime.date(2026, 3, 1)
    portfolio_refresh_delinquency(as_of=day)
    assert not portfolio_refresh_delinquency(as_of=day).full

    _edit_buckets("edited")
    run = portfolio_refresh_delinquency(as_of=day)
    assert (run.full, run.loans_read) == (True, 120)
    assert _ageing() == _as_a_full_pass_leaves_it(day)

    Loan.objects.first().product.__class__.objects.filter(grace_days=1).update(grace_days=5)
    assert portfolio_refresh_delinquency(as_of=day).full
    assert _ageing() == _as_a_full_pass_leaves_it(day)


@pytest.mark.parametrize("days", [-40, 9, 400])
def test_a_back_filled_or_what_if_day_ages_every_loan(db, days):
    random_portfolio(200, seed=6)
    day = datetime.date(2026, 3, 1)
    portfolio_refresh_delinquency(as_of=day)

    other = day + datetime.timedelta(days=days)
    run = portfolio_refresh_delinquency(as_of=other)

    assert (run.full, run.loans_read) == (True, 200)
    assert _ageing() == _as_a_full_pass_leaves_it(other)
    assert portfolio_day() == other


def test_loans_written_around_the_services_are_aged_by_the_next_run(db):
    product = ProductFactory()
    portfolio_refresh_delinquency(as_of=FIRST_DUE)
    late = LoanFactory(product=product)  # its schedule written straight to the table, the loan never aged
    assert late.needs_ageing

    run = portfolio_refresh_delinquency(as_of=FIRST_DUE + datetime.timedelta(days=1))

    late.refresh_from_db()
    assert not run.full and run.loans_written == 1
    assert (late.days_past_due, late.status, late.needs_ageing) == (1, Loan.Status.DELINQUENT, False)


def test_days_past_due_reads_like_a_column_from_loans_and_from_cases(db):
    from collection.models import CollectionCase

    loans = [LoanFactory(term_months=1) for _ in range(3)]
    portfolio_refresh_delinquency(as_of=FIRST_DUE + datetime.timedelta(days=5))
    CollectionCase.objects.create(loan=loans[0], opened_at=timezone.now(), stage_entered_at=timezone.now())

    assert Loan.objects.filter(days_past_due__gt=0).count() == 3
    assert set(Loan.objects.values_list("days_past_due", flat=True)) == {5}
    assert CollectionCase.objects.filter(loan__days_past_due__gte=5).count() == 1
    assert CollectionCase.objects.select_related("loan").get().loan.days_past_due == 5
    assert Loan.objects.order_by("-days_past_due").first().days_past_due == 5


def test_a_schedule_line_cannot_be_changed_in_the_admin(admin_client):
    """Paid and due amounts move only through the services (payments, reversals, imports), which
    age the loan at once; the admin refuses the change, even to a superuser, and nothing moves."""
    with ageing_run(as_of=FIRST_DUE + datetime.timedelta(days=10)):
        pass
    loan = LoanFactory(term_months=2)
    first = loan.installments.get(sequence=1)
    portfolio_refresh_delinquency(as_of=FIRST_DUE + datetime.timedelta(days=10))
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.status) == (10, Loan.Status.DELINQUENT)

    data = {
        "loan": loan.pk,
        "sequence": 1,
        "due_date": first.due_date.isoformat(),
        **{f"{c}_due": str(getattr(first, f"{c}_due")) for c in Installment.COMPONENTS},
        **{f"{c}_paid": str(getattr(first, f"{c}_due")) for c in Installment.COMPONENTS},
        "is_paid": "on",
        "paid_on": first.due_date.isoformat(),
    }
    response = admin_client.post(f"/admin/loans/installment/{first.pk}/change/", data)

    assert response.status_code == 403
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.status) == (10, Loan.Status.DELINQUENT)
    assert not loan.installments.filter(is_paid=True).exists()


def test_the_admin_sorts_loans_by_days_past_due_through_where_grace_ends(admin_client):
    loans = [
        LoanFactory(term_months=1, disbursed_on=datetime.date(2026, 1, 15) + datetime.timedelta(days=d))
        for d in (9, 0, 4)
    ]
    portfolio_refresh_delinquency(as_of=FIRST_DUE + datetime.timedelta(days=20))

    # The list has no checkbox column before these: no bulk action (not even delete) is offered on loans.
    column = ("account_number", "borrower", "product", "principal", "status", "dpd").index("dpd")
    most_late_first = admin_client.get(f"/admin/loans/loan/?o=-{column}")

    shown = [loan.account_number for loan in most_late_first.context["cl"].result_list]
    assert shown == [loans[1].account_number, loans[2].account_number, loans[0].account_number]
    assert [loan.days_past_due for loan in most_late_first.context["cl"].result_list] == [20, 16, 11]
