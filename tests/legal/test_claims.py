"""The claimed amount of a lawsuit (legal.claims), worked by hand to the fen on one loan whose
payments come partly, late, once reversed and once after the filing day; then properties that hold
for any payments: the principal claimed and the principal paid add up to the loan, the claim on
today agrees with the loan's stored balances, the principal claimed never grows with the day."""

import datetime
import itertools
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legal.claims import ITEMS, Claim, claim_as_of
from legal.fees import Procedure, litigation_fee
from loans.models import Installment, Loan, Payment, PaymentAllocation
from loans.services import balances_recompute, payment_record, payment_reverse
from tests.collection.factories import CaseFactory
from tests.loans.factories import LoanFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO = Decimal("0.00")


def yuan(text: str) -> Decimal:
    return Decimal(text)


def at(day: str, clock: str = "10:00") -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SHANGHAI)


def pay(loan: Loan, amount: str, received_at: datetime.datetime, reference: str) -> Payment:
    return payment_record(
        loan=loan,
        amount=yuan(amount),
        received_at=received_at,
        reference=reference,
        channel=Payment.Channel.BANK_TRANSFER,
    )


def amounts(claim: Claim) -> tuple[Decimal, ...]:
    return (claim.principal, claim.interest, claim.fees, claim.penalty, claim.costs)


# --- the worked example (docs/legal-claims.md) ----------------------------------------------------


def worked_example_loan(supervisor) -> Loan:
    """6,000.00 over six months from 10 March 2026: each installment 1,000.00 principal, 60.00
    interest, 5.00 fees (1,065.00), due on the 10th from April to September. The core banking
    system charged 15.00 penalty on the second installment and 6.30 on the third.

    Payments, each allocated oldest installment first, penalty, fees, interest, then principal:
      10 Apr  1,065.00  the first installment, in full
      25 May    500.00  the second: penalty 15.00, fees 5.00, interest 60.00, principal 420.00
      12 Jun    300.00  the second's principal; reversed later (the transfer bounced)
      20 Jun    200.00  the second's principal (it keeps this allocation after the reversal)
      20 Aug    100.00  the second's principal"""
    loan = LoanFactory(
        principal=yuan("6000.00"),
        annual_rate=yuan("0.1200"),  # flat: 6,000 x 12% / 12 = 60.00 a month
        term_months=6,
        disbursed_on=datetime.date(2026, 3, 10),
        installments__fees=yuan("5.00"),
    )
    CaseFactory(loan=loan)  # in the supervisor's team, who may then reverse its payments
    Installment.objects.filter(loan=loan, sequence=2).update(penalty_due=yuan("15.00"))
    Installment.objects.filter(loan=loan, sequence=3).update(penalty_due=yuan("6.30"))
    pay(loan, "1065.00", at("2026-04-10"), "EX-1")
    pay(loan, "500.00", at("2026-05-25"), "EX-2")
    bounced = pay(loan, "300.00", at("2026-06-12"), "EX-3")
    pay(loan, "200.00", at("2026-06-20"), "EX-4")
    payment_reverse(payment=bounced, by=supervisor, reason="the transfer bounced")
    pay(loan, "100.00", at("2026-08-20"), "EX-5")
    return Loan.objects.get(pk=loan.pk)


def test_the_worked_example_between_two_due_dates_with_costs(db, supervisor):
    loan = worked_example_loan(supervisor)
    # Filed on 25 July, between the fourth due date (10 Jul) and the fifth (10 Aug); the court
    # fee of the claim in simplified procedure is added as the costs.
    owed = yuan("4380.00") + yuan("120.00") + yuan("10.00") + yuan("6.30")
    costs = litigation_fee(owed, Procedure.SIMPLIFIED)
    assert costs == yuan("25.00")  # 4,516.30 is up to 10,000: 50, halved

    claim = claim_as_of(loan=loan, day=datetime.date(2026, 7, 25), costs=costs)

    # principal: 6,000.00 all of it (accelerated) - 1,000.00 - 420.00 - 200.00 paid by 25 July
    #            (the reversed 300.00 counts for nothing, the 100.00 of 20 August is after the day)
    # interest:  4 x 60.00 due by 25 July - 60.00 - 60.00 paid = 120.00
    # fees:      4 x 5.00 - 5.00 - 5.00 = 10.00
    # penalty:   15.00 + 6.30 charged on the installments due by then - 15.00 paid = 6.30
    assert claim == Claim(
        as_of=datetime.date(2026, 7, 25),
        principal=yuan("4380.00"),
        interest=yuan("120.00"),
        fees=yuan("10.00"),
        penalty=yuan("6.30"),
        costs=yuan("25.00"),
    )
    assert claim.total == yuan("4541.30")
    assert claim.total == sum((item.amount for item in claim.items()), ZERO)


def test_the_worked_example_in_the_documentation_is_what_the_module_computes(db, supervisor):
    documentation = (Path(django_settings.BASE_DIR) / "docs" / "legal-claims.md").read_text(encoding="utf-8")
    example = documentation.split("### Worked example", 1)[1]
    table = example.split("| Item | Computation | Amount |", 1)[1].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in table.strip().splitlines()[1:]]
    documented = [Decimal(row[-1].strip().replace(",", "")) for row in rows]
    loan = worked_example_loan(supervisor)

    claim = claim_as_of(loan=loan, day=datetime.date(2026, 7, 25), costs=litigation_fee("4516.30", "simplified"))

    assert documented == [item.amount for item in claim.items()] + [claim.total]


def test_an_installment_falls_into_the_claim_on_its_due_date(db, supervisor):
    loan = worked_example_loan(supervisor)

    day_before = claim_as_of(loan=loan, day=datetime.date(2026, 5, 9))
    due_day = claim_as_of(loan=loan, day=datetime.date(2026, 5, 10))

    # On 9 May only the first installment has fallen due, and it is paid: only principal is owed
    # (5,000.00 after the first 1,000.00). On 10 May the second is due with its 15.00 penalty.
    assert amounts(day_before) == (yuan("5000.00"), ZERO, ZERO, ZERO, ZERO)
    assert amounts(due_day) == (yuan("5000.00"), yuan("60.00"), yuan("5.00"), yuan("15.00"), ZERO)


def test_on_the_day_the_loan_starts_the_claim_is_the_whole_principal(db, supervisor):
    loan = worked_example_loan(supervisor)

    claim = claim_as_of(loan=loan, day=loan.disbursed_on)

    assert amounts(claim) == (yuan("6000.00"), ZERO, ZERO, ZERO, ZERO)


def test_once_every_installment_is_due_the_claim_is_the_loans_outstanding_balance(db, supervisor):
    loan = worked_example_loan(supervisor)

    claim = claim_as_of(loan=loan, day=timezone.localdate())

    # All six due (the last on 10 September); every payment but the reversed one counts:
    # principal 6,000.00 - 1,720.00, interest 360.00 - 120.00, fees 30.00 - 10.00, penalty 6.30.
    assert amounts(claim) == (yuan("4280.00"), yuan("240.00"), yuan("20.00"), yuan("6.30"), ZERO)
    assert (claim.principal, claim.interest, claim.fees, claim.penalty) == (
        loan.outstanding_principal,
        loan.outstanding_interest,
        loan.outstanding_fees,
        loan.outstanding_penalty,
    )


def test_a_reversed_payment_counts_for_nothing(db, supervisor):
    loan = worked_example_loan(supervisor)
    before = claim_as_of(loan=loan, day=datetime.date(2026, 7, 25))
    mistaken = pay(loan, "250.00", at("2026-07-01"), "EX-6")
    assert claim_as_of(loan=loan, day=datetime.date(2026, 7, 25)).principal == before.principal - yuan("250.00")

    payment_reverse(payment=mistaken, by=supervisor, reason="posted to the wrong loan")

    assert claim_as_of(loan=loan, day=datetime.date(2026, 7, 25)) == before


def test_a_payment_counts_from_the_day_it_arrived_where_the_desk_is(db):
    loan = LoanFactory(principal=yuan("300.00"), term_months=3, disbursed_on=datetime.date(2026, 1, 15))
    # 23:30 on 20 April in Beijing is 15:30 UTC; 00:30 on 21 April is still 20 April in UTC.
    pay(loan, "10.00", at("2026-04-20", "23:30"), "LATE-EVENING")
    pay(loan, "20.00", at("2026-04-21", "00:30"), "AFTER-MIDNIGHT")

    on_the_20th = claim_as_of(loan=loan, day=datetime.date(2026, 4, 20))
    on_the_21st = claim_as_of(loan=loan, day=datetime.date(2026, 4, 21))

    # Three installments of 100.00 principal and 3.00 interest (300 x 12% / 12), all due by 20
    # April. The 10.00 pays the first installment's interest, then 7.00 of its principal; the
    # 20.00 of the 21st more of that principal.
    assert amounts(on_the_20th) == (yuan("293.00"), yuan("6.00"), ZERO, ZERO, ZERO)
    assert amounts(on_the_21st) == (yuan("273.00"), yuan("6.00"), ZERO, ZERO, ZERO)


def test_a_loan_with_nothing_owed_gives_a_zero_claim(db):
    loan = LoanFactory(principal=yuan("300.00"), term_months=3, disbursed_on=datetime.date(2026, 1, 15))
    pay(loan, "309.00", at("2026-04-20"), "PAYOFF")  # 300.00 principal and 3 x 3.00 interest
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PAID_OFF

    claim = claim_as_of(loan=loan, day=timezone.localdate())

    assert amounts(claim) == (ZERO,) * 5
    assert claim.total == ZERO


def test_a_loan_without_installments_gives_a_zero_claim(db):
    loan = LoanFactory(installments=False)

    assert claim_as_of(loan=loan, day=timezone.localdate()).total == ZERO


def test_the_claim_reads_the_loan_in_two_queries_however_long_its_schedule(db, django_assert_num_queries):
    loan = LoanFactory(principal=yuan("36000.00"), term_months=36, disbursed_on=datetime.date(2023, 12, 1))
    for month in range(1, 13):
        pay(loan, "500.00", at(f"2025-{month:02d}-01"), f"MONTH-{month}")

    with django_assert_num_queries(2):
        claim_as_of(loan=loan, day=datetime.date(2026, 6, 1))


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("in_english")
def test_a_day_in_the_future_is_refused_by_name(db):
    loan = LoanFactory()
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    with pytest.raises(ValueError, match=f"as of {tomorrow.isoformat()}: that day is after today"):
        claim_as_of(loan=loan, day=tomorrow)


@pytest.mark.usefixtures("in_english")
def test_a_day_before_the_loan_was_disbursed_is_refused_by_name(db):
    loan = LoanFactory(disbursed_on=datetime.date(2026, 1, 15))

    with pytest.raises(ValueError, match="as of 2026-01-14: the loan was disbursed on 2026-01-15"):
        claim_as_of(loan=loan, day=datetime.date(2026, 1, 14))


def test_a_time_is_not_a_day(db):
    loan = LoanFactory()

    with pytest.raises(TypeError):
        claim_as_of(loan=loan, day=timezone.now())


@pytest.mark.usefixtures("in_english")
@pytest.mark.parametrize("costs", [yuan("-1.00"), yuan("0.001"), "abc"])
def test_costs_must_be_an_amount_of_zero_or_more(db, costs):
    loan = LoanFactory()

    with pytest.raises(ValueError, match="Legal costs"):
        claim_as_of(loan=loan, day=timezone.localdate(), costs=costs)


def test_costs_are_never_a_float(db):
    loan = LoanFactory()

    with pytest.raises(TypeError):
        claim_as_of(loan=loan, day=timezone.localdate(), costs=25.0)


# --- the claim itself -----------------------------------------------------------------------------


def test_the_items_come_in_a_complaints_order_with_their_labels():
    # The costs' label is new: its English msgid until the catalogue has it.
    costs_label = str(ITEMS[-1][1])
    assert costs_label in ("诉讼费用", "Legal costs")
    claim = Claim(
        as_of=datetime.date(2026, 7, 25),
        principal=yuan("4380.00"),
        interest=yuan("120.00"),
        fees=yuan("10.00"),
        penalty=yuan("6.30"),
        costs=yuan("25.00"),
    )

    assert [(item.key, str(item.label), item.amount) for item in claim.items()] == [
        ("principal", "本金", yuan("4380.00")),
        ("interest", "利息", yuan("120.00")),
        ("fees", "费用", yuan("10.00")),
        ("penalty", "罚息", yuan("6.30")),
        ("costs", costs_label, yuan("25.00")),
    ]
    with pytest.raises(AttributeError):
        claim.principal = ZERO  # frozen: a claim filed is not edited


def test_the_labels_follow_the_active_language(in_english):
    claim = Claim(as_of=datetime.date(2026, 7, 25), principal=ZERO, interest=ZERO, fees=ZERO, penalty=ZERO)

    assert [str(item.label) for item in claim.items()] == ["Principal", "Interest", "Fees", "Penalty", "Legal costs"]


def test_amounts_are_kept_to_the_fen():
    claim = Claim(as_of=datetime.date(2026, 7, 25), principal=100, interest="2.5", fees=yuan("1"), penalty=ZERO)

    assert [item.amount.as_tuple().exponent for item in claim.items()] == [-2] * 5
    assert claim.total == yuan("103.50")


# --- for any payments -----------------------------------------------------------------------------

_references = itertools.count()

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def loans_and_payments(draw):
    """A loan of up to 3,000.00 over one to twelve months from some day in 2025 or 2026, some
    installments with a penalty charged, and payments on days from its start to today, each a
    share of what is outstanding then, some of them reversed."""
    today = datetime.date(2026, 12, 4)  # the latest day the strategy draws; tests cap at today
    term = draw(st.integers(min_value=1, max_value=12))
    disbursed_on = draw(st.dates(min_value=datetime.date(2025, 1, 1), max_value=datetime.date(2026, 11, 1)))
    principal = Decimal(draw(st.integers(min_value=100, max_value=300_000))) / 100
    penalties = draw(st.lists(st.integers(min_value=0, max_value=5_000), min_size=term, max_size=term))
    span = (today - disbursed_on).days
    payments = draw(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=span),  # days after the start
                st.integers(min_value=1, max_value=100),  # percent of what is outstanding
                st.booleans(),  # reversed
            ),
            max_size=8,
        )
    )
    days = draw(st.lists(st.integers(min_value=0, max_value=span), min_size=1, max_size=6))
    return term, disbursed_on, principal, penalties, sorted(payments), days


@pytest.mark.django_db
@PROPERTY
@given(case=loans_and_payments())
def test_for_any_payments_the_claim_adds_up_with_what_was_paid(supervisor, case):
    term, disbursed_on, principal, penalties, payments, days = case
    today = timezone.localdate()
    loan = LoanFactory(principal=principal, term_months=term, disbursed_on=disbursed_on)
    CaseFactory(loan=loan)
    for sequence, fen in enumerate(penalties, start=1):
        Installment.objects.filter(loan=loan, sequence=sequence).update(penalty_due=Decimal(fen) / 100)
    balances_recompute(loans=Loan.objects.filter(pk=loan.pk))  # as the schedule import does
    recorded: list[tuple[Payment, datetime.date]] = []
    for offset, percent, reversed_ in payments:
        received_on = min(disbursed_on + datetime.timedelta(days=offset), today)
        loan.refresh_from_db()
        outstanding = sum((i.total_remaining for i in loan.installments.filter(is_paid=False)), ZERO)
        amount = (outstanding * percent / 100).quantize(Decimal("0.01"))
        if amount <= 0:
            continue
        payment = pay(loan, str(amount), at(received_on.isoformat(), "12:00"), f"PROP-{next(_references)}")
        if reversed_:
            payment_reverse(payment=payment, by=supervisor, reason="bounced")
        recorded.append((payment, received_on))
    loan = Loan.objects.get(pk=loan.pk)
    schedule = list(loan.installments.all())
    standing = {payment.pk for payment in Payment.objects.standing().filter(loan=loan)}

    claims = []
    for day in sorted({min(disbursed_on + datetime.timedelta(days=offset), today) for offset in days} | {today}):
        claim = claim_as_of(loan=loan, day=day)
        claims.append(claim)
        counted = [payment.pk for payment, received_on in recorded if payment.pk in standing and received_on <= day]
        paid = {
            component: PaymentAllocation.objects.filter(payment__in=counted, component=component)
            for component in Installment.COMPONENTS
        }

        # Each item is zero or more, to the fen, and the total is their sum.
        assert all(item.amount >= 0 and item.amount.as_tuple().exponent == -2 for item in claim.items())
        assert claim.total == claim.principal + claim.interest + claim.fees + claim.penalty + claim.costs
        # The principal claimed and the principal the standing payments paid by the day make the loan.
        principal_paid = paid["principal"].aggregate(total=Sum("amount"))["total"] or ZERO
        assert claim.principal + principal_paid == loan.principal
        # Interest, fees and penalty: what fell due by the day, less what was paid of that.
        for component in ("interest", "fees", "penalty"):
            fell_due = sum((getattr(i, f"{component}_due") for i in schedule if i.due_date <= day), ZERO)
            paid_of_it = (
                paid[component].filter(installment__due_date__lte=day).aggregate(total=Sum("amount"))["total"] or ZERO
            )
            assert getattr(claim, component) == fell_due - paid_of_it

    # The principal claimed never grows as the day moves on: payments only lower it.
    assert [claim.principal for claim in claims] == sorted((claim.principal for claim in claims), reverse=True)
    # Today, the claim and what is not yet due make the loan's outstanding balance as stored.
    claim = claims[-1]
    not_yet_due = sum(
        (
            i.remaining(component)
            for i in schedule
            if i.due_date > today
            for component in ("interest", "fees", "penalty")
        ),
        ZERO,
    )
    assert claim.principal == loan.outstanding_principal
    assert claim.total + not_yet_due == loan.total_outstanding
