"""Money that cannot be bent: a mistaken payment is reversed (never deleted or edited), with a
reason, an actor and, above the threshold, a second person's approval; the admin deletes and edits
no payment, allocation or installment, and keeps a stored loan's money and terms read only."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.urls import reverse

from loans.models import Installment, Loan, Payment, PaymentAllocation, PaymentReversal
from loans.services import (
    balances_recompute,
    loan_refresh_delinquency,
    payment_reversal_approve,
    payment_reversal_reject,
    payment_reverse,
)
from tests.accounts.factories import UserFactory
from tests.collection.factories import CaseFactory
from tests.loans.test_payments import RECEIVED, record, three_installment_loan

pytestmark = pytest.mark.usefixtures("in_english")

AMOUNT_FIELDS = [f"{component}_{kind}" for component in Installment.COMPONENTS for kind in ("due", "paid")]
AGEING = ("status", "oldest_unpaid_due_on", "grace_ends_on", "overdue_amount", "bucket_id")
BALANCES = ("outstanding_principal", "outstanding_interest", "outstanding_fees", "outstanding_penalty")


@pytest.fixture(autouse=True)
def portfolio_aged_as_of_the_day(db):
    """As in test_payments: the portfolio's day is 20 April 2026, when all three installments are late."""
    from loans.services import ageing_run

    with ageing_run(as_of=datetime.date(2026, 4, 20)):
        pass


def aged_loan() -> Loan:
    """test_payments' three-installment loan, its balances and ageing brought up to date (the
    factory stores the schedule's penalty after the balances, and ages nothing)."""
    loan = three_installment_loan()
    # In collection, in the desk team when the test has one: a supervisor reverses payments only on
    # the loans behind their team's cases (collection.access).
    CaseFactory(loan=loan)
    balances_recompute(loans=Loan.objects.filter(pk=loan.pk))
    return loan_refresh_delinquency(loan=Loan.objects.get(pk=loan.pk))


def loan_state(loan: Loan) -> dict:
    """Everything a payment changes on a loan: each installment's amounts and whether it is paid,
    the loan's balances, ageing and days past due."""
    loan = Loan.objects.get(pk=loan.pk)
    return {
        "installments": list(loan.installments.order_by("sequence").values_list(*AMOUNT_FIELDS, "is_paid", "paid_on")),
        "loan": [getattr(loan, name) for name in (*BALANCES, *AGEING)],
        "days_past_due": loan.days_past_due,
    }


def standing_allocations_match_paid_amounts(loan: Loan) -> bool:
    """Each installment's paid amounts are what the payments that stand allocated to it."""
    for installment in loan.installments.all():
        for component in Installment.COMPONENTS:
            allocated = PaymentAllocation.objects.filter(
                installment=installment, component=component, payment__reversed_at__isnull=True
            ).aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
            if allocated != getattr(installment, f"{component}_paid"):
                return False
    return True


# --- the service -------------------------------------------------------------------------------


def test_a_reversal_gives_back_to_the_cent_what_the_payment_paid_and_ages_the_loan_again(db, supervisor):
    loan = aged_loan()
    record(loan, "40.00", reference="FIRST")
    before = loan_state(loan)
    assert before["days_past_due"] == 64  # late since the first due date, 15 February

    mistaken = record(loan, "150.25", reference="MISTAKE")  # the first installment and part of the second
    paid = loan_state(loan)
    assert paid["installments"][0][-2] is True and paid["days_past_due"] == 36

    reversal = payment_reverse(payment=mistaken, by=supervisor, reason="posted to the wrong loan")

    assert loan_state(loan) == before
    assert (reversal.status, reversal.requested_by, reversal.reason) == (
        PaymentReversal.Status.REVERSED,
        supervisor,
        "posted to the wrong loan",
    )
    mistaken.refresh_from_db()
    assert mistaken.is_reversed and mistaken.reversed_at == reversal.reversed_at
    # Nothing deleted: the payment and its allocations stay, as the record of what happened.
    assert mistaken.allocations.aggregate(total=Sum("amount"))["total"] == Decimal("150.25")
    assert standing_allocations_match_paid_amounts(loan)


def test_reversing_the_payment_that_paid_the_loan_off_makes_it_delinquent_again(db, supervisor):
    loan = aged_loan()
    payoff = record(loan, "337.50")
    loan.refresh_from_db()
    assert loan.status == Loan.Status.PAID_OFF

    payment_reverse(payment=payoff, by=supervisor, reason="the transfer bounced")

    loan.refresh_from_db()
    assert (loan.status, loan.days_past_due, loan.total_outstanding) == (
        Loan.Status.DELINQUENT,
        64,
        Decimal("337.50"),
    )
    assert not loan.installments.filter(is_paid=True).exists()
    assert not loan.installments.exclude(paid_on=None).exists()


def test_a_reversed_payments_reference_stays_taken(db, supervisor):
    loan = aged_loan()
    payment = record(loan, "50.00", reference="BANK-77")
    payment_reverse(payment=payment, by=supervisor, reason="duplicate of BANK-76")

    with pytest.raises(ValidationError) as refused:
        record(loan, "50.00", reference="BANK-77")

    assert refused.value.code == "duplicate_reference"
    assert Payment.objects.standing().filter(loan=loan).count() == 0


def test_a_payment_is_reversed_once(db, supervisor):
    loan = aged_loan()
    payment = record(loan, "50.00")
    payment_reverse(payment=payment, by=supervisor, reason="wrong loan")
    after_first = loan_state(loan)

    with pytest.raises(ValidationError) as refused:
        payment_reverse(payment=payment, by=supervisor, reason="again")  # the caller's copy is stale

    assert refused.value.code == "already_reversed"
    assert loan_state(loan) == after_first
    assert PaymentReversal.objects.count() == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reversal_needs_its_reason(db, supervisor, reason):
    loan = aged_loan()
    payment = record(loan, "50.00")
    before = loan_state(loan)

    with pytest.raises(ValidationError) as refused:
        payment_reverse(payment=payment, by=supervisor, reason=reason)

    assert refused.value.code == "reason"
    assert loan_state(loan) == before and not PaymentReversal.objects.exists()


@pytest.mark.parametrize("role", ["collector", "legal_officer", None])
def test_only_supervisors_and_admins_reverse_payments(db, role):
    loan = aged_loan()
    payment = record(loan, "50.00")
    before = loan_state(loan)

    with pytest.raises(PermissionDenied):
        payment_reverse(payment=payment, by=UserFactory(roles=[role] if role else []), reason="mine")

    assert loan_state(loan) == before and not PaymentReversal.objects.exists()


def test_the_roles_hold_reversal_but_no_delete_or_edit_of_money(db):
    admin, supervisor, collector = (UserFactory(roles=[role]) for role in ("admin", "supervisor", "collector"))

    for bending in (
        "delete_payment",
        "change_payment",
        "add_paymentallocation",
        "change_paymentallocation",
        "delete_paymentallocation",
        "add_installment",
        "change_installment",
        "delete_installment",
        "delete_loan",
    ):
        assert not any(user.has_perm(f"loans.{bending}") for user in (admin, supervisor, collector)), bending
    for user in (admin, supervisor):
        assert user.has_perm("loans.reverse_payment") and user.has_perm("loans.approve_payment_reversal")
    assert not collector.has_perm("loans.reverse_payment") and collector.has_perm("loans.view_paymentreversal")
    assert admin.has_perm("loans.import_portfolio") and admin.has_perm("loans.change_loan")


# --- above the threshold: a second person's approval --------------------------------------------


@pytest.fixture
def threshold_100(settings):
    settings.DESK_PAYMENT_REVERSAL_APPROVAL_ABOVE = Decimal("100.00")


@pytest.mark.usefixtures("threshold_100")
def test_a_reversal_above_the_threshold_waits_for_someone_elses_approval(db, supervisor):
    loan = aged_loan()
    before = loan_state(loan)
    payment = record(loan, "150.00")
    paid = loan_state(loan)

    reversal = payment_reverse(payment=payment, by=supervisor, reason="wrong borrower")

    assert reversal.status == PaymentReversal.Status.PENDING_APPROVAL
    assert loan_state(loan) == paid and not Payment.objects.get(pk=payment.pk).is_reversed
    with pytest.raises(PermissionDenied):
        payment_reversal_approve(reversal=reversal, by=supervisor)  # not their own
    with pytest.raises(PermissionDenied):
        payment_reversal_approve(reversal=reversal, by=UserFactory(roles=["collector"]))
    with pytest.raises(ValidationError) as twice:
        payment_reverse(payment=payment, by=UserFactory(roles=["admin"]), reason="asked again")
    assert twice.value.code == "reversal_pending"
    assert loan_state(loan) == paid

    approver = UserFactory(roles=["admin"])  # the team has one supervisor: the second pair of eyes is an admin's
    payment_reversal_approve(reversal=reversal, by=approver)

    reversal.refresh_from_db()
    assert (reversal.status, reversal.decided_by) == (PaymentReversal.Status.REVERSED, approver)
    assert loan_state(loan) == before
    with pytest.raises(ValidationError) as again:
        payment_reversal_approve(reversal=reversal, by=UserFactory(roles=["admin"]))
    assert again.value.code == "not_pending"
    assert loan_state(loan) == before


@pytest.mark.usefixtures("threshold_100")
def test_a_reversal_turned_down_leaves_the_payment_standing(db, supervisor):
    loan = aged_loan()
    payment = record(loan, "150.00")
    paid = loan_state(loan)
    reversal = payment_reverse(payment=payment, by=supervisor, reason="wrong borrower")

    payment_reversal_reject(reversal=reversal, by=UserFactory(roles=["admin"]), reason="the borrower is right")

    reversal.refresh_from_db()
    assert (reversal.status, reversal.decision_reason) == (PaymentReversal.Status.REJECTED, "the borrower is right")
    assert loan_state(loan) == paid
    # A new request may follow a rejected one.
    assert payment_reverse(payment=payment, by=supervisor, reason="it is the wrong borrower after all")


def test_at_the_threshold_a_reversal_needs_no_approval(db, supervisor, settings):
    settings.DESK_PAYMENT_REVERSAL_APPROVAL_ABOVE = Decimal("150.00")
    loan = aged_loan()
    payment = record(loan, "150.00")

    assert payment_reverse(payment=payment, by=supervisor, reason="x").status == PaymentReversal.Status.REVERSED


def test_reversing_an_earlier_payment_leaves_the_later_ones_where_they_are(db, supervisor):
    loan = aged_loan()
    first = record(loan, "113.50", reference="A")  # the first installment in full
    second = record(loan, "50.00", reference="B")  # part of the second
    later_allocations = list(second.allocations.values_list("installment__sequence", "component", "amount"))

    payment_reverse(payment=first, by=supervisor, reason="posted twice")

    loan.refresh_from_db()
    assert loan.total_outstanding == Decimal("337.50") - Decimal("50.00")
    assert list(second.allocations.values_list("installment__sequence", "component", "amount")) == later_allocations
    assert loan.oldest_unpaid_due_on == datetime.date(2026, 2, 15) and loan.days_past_due == 64
    assert standing_allocations_match_paid_amounts(loan)


# --- the admin: the review's requests ---------------------------------------------------------------


def actions_offered(changelist_response) -> list[str]:
    form = changelist_response.context["action_form"]  # None when no action is offered at all
    return [] if form is None else [name for name, _label in form.fields["action"].choices]


@pytest.fixture
def admin_role(db):
    """Someone with the admin role and the admin site, not a superuser (the review's `admin_role`)."""
    return UserFactory(roles=["admin"], is_staff=True)


@pytest.fixture(params=["admin_role", "superuser"])
def admin_user(request, db):
    if request.param == "superuser":
        return UserFactory(is_staff=True, is_superuser=True)
    return request.getfixturevalue("admin_role")


def test_the_admin_deletes_no_payment(client, admin_user):
    loan = aged_loan()
    payment = record(loan, "113.50")
    paid = loan_state(loan)
    client.force_login(admin_user)

    response = client.post(reverse("admin:loans_payment_delete", args=[payment.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Payment.objects.filter(pk=payment.pk).exists() and payment.allocations.count() == 4
    assert loan_state(loan) == paid


def test_the_admin_offers_no_bulk_delete_of_payments_or_allocations(client, admin_user):
    loan = aged_loan()
    payment = record(loan, "113.50")
    client.force_login(admin_user)

    for model in ("payment", "paymentallocation"):
        changelist = reverse(f"admin:loans_{model}_changelist")
        offered = actions_offered(client.get(changelist))
        assert "delete_selected" not in offered, model

        selected = payment.pk if model == "payment" else payment.allocations.first().pk
        client.post(changelist, {"action": "delete_selected", "_selected_action": [selected], "post": "yes"})

    assert Payment.objects.filter(pk=payment.pk).exists() and payment.allocations.count() == 4


def test_the_admin_deletes_no_allocation(client, admin_user):
    loan = aged_loan()
    payment = record(loan, "113.50")
    allocation = payment.allocations.first()
    client.force_login(admin_user)

    response = client.post(reverse("admin:loans_paymentallocation_delete", args=[allocation.pk]), {"post": "yes"})

    assert response.status_code == 403 and PaymentAllocation.objects.filter(pk=allocation.pk).exists()


def test_a_payment_cannot_be_deleted_even_outside_the_admin(db):
    from django.db.models import ProtectedError

    payment = record(three_installment_loan(), "113.50")

    with pytest.raises(ProtectedError):
        payment.delete()


def test_an_installments_paid_amounts_cannot_be_posted_in_the_admin(client, admin_user):
    """The review's stale form: installment opened, a payment allocated, the form saved back."""
    loan = aged_loan()
    first = loan.installments.get(sequence=1)
    record(loan, "10.00")
    paid = loan_state(loan)
    client.force_login(admin_user)
    data = {
        "loan": loan.pk,
        "sequence": 1,
        "due_date": first.due_date.isoformat(),
        **{f"{c}_due": str(getattr(first, f"{c}_due")) for c in Installment.COMPONENTS},
        **{f"{c}_paid": "0.00" for c in Installment.COMPONENTS},
    }

    response = client.post(reverse("admin:loans_installment_change", args=[first.pk]), data)

    assert response.status_code == 403
    assert loan_state(loan) == paid
    shown = client.get(reverse("admin:loans_installment_change", args=[first.pk]))
    assert shown.status_code == 200 and 'name="penalty_paid"' not in shown.content.decode()
    assert client.post(reverse("admin:loans_installment_delete", args=[first.pk]), {"post": "yes"}).status_code == 403


def test_a_stored_loans_money_and_terms_are_read_only_in_the_admin(client, admin_user):
    loan = aged_loan()
    stored = Loan.objects.get(pk=loan.pk)
    client.force_login(admin_user)
    url = reverse("admin:loans_loan_change", args=[loan.pk])
    page = client.get(url).content.decode()
    for field in ("principal", "annual_rate", "term_months", "disbursed_on", "product", "borrower"):
        assert f'name="{field}"' not in page, field
    installments = list(loan.installments.order_by("sequence"))
    data = {
        "account_number": "HIJACKED",
        "borrower": loan.borrower_id,
        "product": loan.product_id,
        "principal": "1.00",
        "annual_rate": "0.0000",
        "disbursed_on": "2020-01-01",
        "term_months": "1",
        "outstanding_principal": "0.00",
        "installments-TOTAL_FORMS": str(len(installments)),
        "installments-INITIAL_FORMS": str(len(installments)),
        "installments-MIN_NUM_FORMS": "0",
        "installments-MAX_NUM_FORMS": "1000",
        **{f"installments-{n}-id": str(i.pk) for n, i in enumerate(installments)},
        **{f"installments-{n}-loan": str(loan.pk) for n, i in enumerate(installments)},
        **{f"installments-{n}-principal_paid": str(i.principal_due) for n, i in enumerate(installments)},
    }

    client.post(url, data)

    after = Loan.objects.get(pk=loan.pk)
    for field in ("account_number", "principal", "annual_rate", "disbursed_on", "term_months", *BALANCES):
        assert getattr(after, field) == getattr(stored, field), field
    assert not Installment.objects.filter(loan=loan, principal_paid__gt=0).exists()
    assert client.post(reverse("admin:loans_loan_delete", args=[loan.pk]), {"post": "yes"}).status_code == 403


def test_the_payments_admin_reverses_with_a_reason(client, admin_role):
    loan = aged_loan()
    before = loan_state(loan)
    payment = record(loan, "113.50")
    client.force_login(admin_role)
    changelist = reverse("admin:loans_payment_changelist")
    chosen = {"action": "reverse_payments", "_selected_action": [payment.pk]}

    asked = client.post(changelist, chosen)
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    without_reason = client.post(changelist, {**chosen, "apply": "1", "reason": ""})
    assert without_reason.status_code == 200 and not PaymentReversal.objects.exists()

    done = client.post(changelist, {**chosen, "apply": "1", "reason": "posted to the wrong loan"})

    assert done.status_code == 302
    reversal = PaymentReversal.objects.get()
    assert (reversal.payment, reversal.requested_by, reversal.reason) == (
        payment,
        admin_role,
        "posted to the wrong loan",
    )
    assert loan_state(loan) == before


def test_the_reverse_action_is_not_offered_without_the_permission(client, db):
    loan = aged_loan()
    payment = record(loan, "113.50")
    collector = UserFactory(roles=["collector"], is_staff=True)
    client.force_login(collector)
    changelist = reverse("admin:loans_payment_changelist")

    offered = actions_offered(client.get(changelist))
    client.post(
        changelist, {"action": "reverse_payments", "_selected_action": [payment.pk], "apply": "1", "reason": "x"}
    )

    assert "reverse_payments" not in offered
    assert not PaymentReversal.objects.exists() and not Payment.objects.get(pk=payment.pk).is_reversed


@pytest.mark.usefixtures("threshold_100")
def test_the_reversals_admin_approves_by_someone_else(client, db):
    loan = aged_loan()
    before = loan_state(loan)
    payment = record(loan, "150.00")
    requester = UserFactory(roles=["admin"], is_staff=True)
    reversal = payment_reverse(payment=payment, by=requester, reason="wrong loan")
    changelist = reverse("admin:loans_paymentreversal_changelist")
    approve = {"action": "approve_reversals", "_selected_action": [reversal.pk]}

    client.force_login(requester)
    client.post(changelist, approve)
    assert PaymentReversal.objects.get().status == PaymentReversal.Status.PENDING_APPROVAL

    client.force_login(UserFactory(roles=["admin"], is_staff=True))
    client.post(changelist, approve)

    assert PaymentReversal.objects.get().status == PaymentReversal.Status.REVERSED
    assert loan_state(loan) == before


# --- at once ---------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_payment_recorded_while_another_is_reversed_on_the_same_loan_stays_consistent(at_once):
    loan = aged_loan()
    supervisor = UserFactory(roles=["admin"])  # reaches every loan
    mistaken = record(loan, "113.50", reference="MISTAKE")

    def work(what):
        if what == "reverse":
            return payment_reverse(payment=mistaken, by=supervisor, reason="wrong loan").status
        return record(loan, "120.00", reference="LATER", received_at=RECEIVED).pk

    at_once(work, ["reverse", "record"])

    loan.refresh_from_db()
    assert loan.total_outstanding == Decimal("337.50") - Decimal("120.00")
    assert Payment.objects.get(reference="MISTAKE").is_reversed
    assert standing_allocations_match_paid_amounts(loan)
    # Whichever came first, the loan is aged as its schedule now says.
    stored = loan_state(loan)
    loan_refresh_delinquency(loan=Loan.objects.get(pk=loan.pk))
    assert loan_state(loan) == stored


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_payment_reversed_twice_at_once_is_reversed_once(at_once):
    loan = aged_loan()
    payment = record(loan, "113.50")
    reversers = [UserFactory(roles=["admin"]), UserFactory(roles=["admin"])]

    def reverse_it(user):
        try:
            return payment_reverse(payment=payment, by=user, reason="wrong loan").status
        except ValidationError as refused:
            return refused.code

    outcomes = sorted(at_once(reverse_it, reversers))

    assert outcomes == ["already_reversed", PaymentReversal.Status.REVERSED]
    loan.refresh_from_db()
    assert loan.total_outstanding == Decimal("337.50")
    assert standing_allocations_match_paid_amounts(loan)
