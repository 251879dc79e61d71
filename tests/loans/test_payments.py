import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse

from loans.models import Installment, Loan, Payment, PaymentAllocation
from loans.services import ageing_run, payment_record
from tests.loans.factories import LoanFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime.datetime(2026, 4, 20, 10, 30, tzinfo=SHANGHAI)
AS_OF = datetime.date(2026, 4, 20)


@pytest.fixture(autouse=True)
def portfolio_aged_as_of_the_day(db):
    """The portfolio was last aged as of AS_OF: payments age their loan as of that day."""
    with ageing_run(as_of=AS_OF):
        pass


def three_installment_loan(**kwargs) -> Loan:
    """300.00 principal over three months from 15 January: each installment 100.00 principal,
    10.00 interest, 2.00 fees, due 15 Feb, 15 Mar, 15 Apr."""
    loan = LoanFactory(
        principal=Decimal("300.00"),
        term_months=3,
        disbursed_on=datetime.date(2026, 1, 15),
        installments__interest=Decimal("10.00"),
        installments__fees=Decimal("2.00"),
        **kwargs,
    )
    Installment.objects.filter(loan=loan, sequence=1).update(penalty_due=Decimal("1.50"))
    return loan


def record(loan, amount, reference="PAY-1", **kwargs):
    return payment_record(
        loan=loan,
        amount=Decimal(amount),
        received_at=kwargs.pop("received_at", RECEIVED),
        reference=reference,
        channel=kwargs.pop("channel", Payment.Channel.BANK_TRANSFER),
        **kwargs,
    )


def allocations_of(payment):
    return [
        (allocation.installment.sequence, allocation.component, allocation.amount)
        for allocation in payment.allocations.select_related("installment").order_by("installment__sequence", "id")
    ]


def test_partial_payment_goes_to_penalty_then_fees_then_interest_then_principal_of_the_oldest(db):
    loan = three_installment_loan()

    payment = record(loan, "20.01")

    assert allocations_of(payment) == [
        (1, "penalty", Decimal("1.50")),
        (1, "fees", Decimal("2.00")),
        (1, "interest", Decimal("10.00")),
        (1, "principal", Decimal("6.51")),
    ]
    first = loan.installments.get(sequence=1)
    assert first.principal_paid == Decimal("6.51")
    assert not first.is_paid
    loan.refresh_from_db()
    assert loan.outstanding_principal == Decimal("293.49")
    assert loan.outstanding_penalty == Decimal("0.00")
    assert loan.outstanding_interest == Decimal("20.00")
    assert loan.outstanding_fees == Decimal("4.00")


def test_payment_spills_over_to_the_next_installment_to_the_cent(db):
    loan = three_installment_loan()

    payment = record(loan, "113.51")  # 113.50 clears the first installment; one fen remains

    assert allocations_of(payment)[-1] == (2, "fees", Decimal("0.01"))
    first, second = loan.installments.order_by("sequence")[:2]
    assert first.is_paid and first.paid_on == AS_OF
    assert second.fees_paid == Decimal("0.01") and not second.is_paid
    assert sum(amount for *_, amount in allocations_of(payment)) == Decimal("113.51")


def test_exact_payoff_pays_every_installment_and_the_loan_is_paid_off(db):
    loan = three_installment_loan()

    record(loan, "337.50")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.PAID_OFF
    assert loan.total_outstanding == Decimal("0.00")
    assert loan.days_past_due == 0
    assert loan.bucket.name == "M0"
    assert not loan.installments.filter(is_paid=False).exists()


def test_payments_age_the_loan_from_its_oldest_unpaid_installment(db):
    loan = three_installment_loan()  # as of 20 April, February, March and April are all late
    record(loan, "1.00", reference="PAY-1")
    loan.refresh_from_db()
    assert (loan.status, loan.days_past_due, loan.bucket.name) == (Loan.Status.DELINQUENT, 64, "M3")

    record(loan, "224.50", reference="PAY-2")  # clears February and March

    loan.refresh_from_db()
    assert (loan.status, loan.days_past_due, loan.bucket.name) == (Loan.Status.DELINQUENT, 5, "M1")
    assert loan.overdue_amount == Decimal("112.00")
    record(loan, "112.00", reference="PAY-3")
    loan.refresh_from_db()
    assert (loan.status, loan.days_past_due, loan.overdue_amount) == (Loan.Status.PAID_OFF, 0, Decimal("0.00"))


def test_overpayment_is_refused_and_leaves_nothing_behind(db):
    loan = three_installment_loan()

    with pytest.raises(ValidationError) as refused:
        record(loan, "337.51")

    assert refused.value.code == "overpayment"
    assert "337.50" in refused.value.message
    assert not Payment.objects.exists()
    assert not PaymentAllocation.objects.exists()
    assert loan.installments.aggregate(paid=Sum("principal_paid"))["paid"] == Decimal("0.00")


def test_duplicate_reference_from_the_same_source_is_refused_without_side_effects(db):
    loan = three_installment_loan()
    record(loan, "50.00", reference="BANK-778")
    paid_before = list(loan.installments.values_list("principal_paid", "interest_paid", "fees_paid", "penalty_paid"))

    with pytest.raises(ValidationError) as refused:
        record(loan, "50.00", reference="BANK-778")

    assert refused.value.code == "duplicate_reference"
    assert Payment.objects.count() == 1
    assert PaymentAllocation.objects.aggregate(total=Sum("amount"))["total"] == Decimal("50.00")
    assert (
        list(loan.installments.values_list("principal_paid", "interest_paid", "fees_paid", "penalty_paid"))
        == paid_before
    )


def test_the_same_reference_from_another_source_is_another_payment(db):
    loan = three_installment_loan()
    record(loan, "50.00", reference="778", source="bank")

    record(loan, "50.00", reference="778", source="app")

    assert Payment.objects.count() == 2


@pytest.mark.parametrize("amount", ["0", "-5.00", "10.001", "NaN"])
def test_amounts_that_are_not_money_are_refused(db, amount):
    loan = three_installment_loan()

    with pytest.raises(ValidationError) as refused:
        record(loan, amount)

    assert refused.value.code == "amount"
    assert not Payment.objects.exists()


def test_naive_received_time_is_refused(db):
    loan = three_installment_loan()

    with pytest.raises(ValidationError) as refused:
        record(loan, "10.00", received_at=datetime.datetime(2026, 4, 20, 10, 0))

    assert refused.value.code == "received_at"


def test_paid_on_is_the_local_date_the_money_arrived(db):
    loan = three_installment_loan()
    # 23:30 UTC on 19 April is 07:30 on 20 April in Shanghai.
    received = datetime.datetime(2026, 4, 19, 23, 30, tzinfo=datetime.UTC)

    record(loan, "113.50", received_at=received)

    assert loan.installments.get(sequence=1).paid_on == datetime.date(2026, 4, 20)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_payments_on_one_loan_are_allocated_one_after_the_other():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    loan = three_installment_loan()

    def pay(reference):
        try:
            return record(loan, "100.00", reference=reference).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(pay, ["A", "B", "C"]))

    loan.refresh_from_db()
    assert PaymentAllocation.objects.aggregate(total=Sum("amount"))["total"] == Decimal("300.00")
    assert loan.total_outstanding == Decimal("37.50")
    for installment in loan.installments.all():
        allocated = installment.allocations.aggregate(total=Sum("amount"))["total"] or Decimal("0")
        paid = installment.principal_paid + installment.interest_paid + installment.fees_paid + installment.penalty_paid
        assert allocated == paid


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_reference_sent_twice_at_once_is_recorded_once():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    loan = three_installment_loan()

    def pay(_):
        try:
            record(loan, "100.00", reference="RACE")
            return "recorded"
        except ValidationError as refused:
            return refused.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(pay, range(4)))

    assert outcomes == ["duplicate_reference"] * 3 + ["recorded"]
    assert PaymentAllocation.objects.aggregate(total=Sum("amount"))["total"] == Decimal("100.00")


def test_the_admin_shows_a_payments_allocations_in_a_fixed_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    loan = three_installment_loan()
    payment = record(loan, "337.50")  # everything: ten allocations over three installments

    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:loans_payment_change", args=[payment.pk]))

    assert response.status_code == 200
    assert payment.allocations.count() == 10
    assert response.content.decode().count(loan.account_number) >= 10  # each row names its loan
