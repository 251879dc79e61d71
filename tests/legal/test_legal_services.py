"""The legal track's services: each step keeps its record, restarts the limitation period where
the law says, enters the court's fee in the ledger; money from enforcement reaches the loan; a
paid settlement settles both cases; bad input is refused in words and changes nothing."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from collection.exceptions import CollectionError
from collection.machine import Stage
from collection.services import case_settlement_agree
from legal import services
from legal.fees import enforcement_fee
from legal.machine import LegalState, Outcome
from legal.models import FrozenAsset, Judgment, LegalCost, LimitationEvent, PaymentOrder
from loans.models import Payment
from tests.legal.factories import CourtFactory, LawFirmFactory, legal_case_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

NOV = datetime.date(2026, 11, 2)


def in_enforcement(legal_officer, **case_kwargs):
    legal_case = legal_case_in(LegalState.JUDGMENT, **case_kwargs)
    Judgment.objects.create(
        legal_case=legal_case,
        ruled_on=datetime.date(2026, 9, 1),
        awarded_amount=Decimal("1000.00"),
        costs_awarded=Decimal("50.00"),
        effective_on=datetime.date(2026, 10, 1),
        recorded_by=legal_officer,
    )
    enforcement = services.enforcement_apply(
        legal_case=legal_case,
        by=legal_officer,
        court=CourtFactory(),
        applied_on=NOV,
        amount_applied=Decimal("1050.00"),
        docket_number="(2026)沪0115执1号",
    )
    legal_case.refresh_from_db()
    return legal_case, enforcement


def test_a_lawyers_letter_is_a_demand_that_restarts_the_limitation_period(legal_officer):
    legal_case = legal_case_in(LegalState.PREPARING)
    firm = LawFirmFactory()

    letter = services.letter_send(legal_case=legal_case, by=legal_officer, number="LS-1", firm=firm, sent_on=NOV)

    legal_case.refresh_from_db()
    assert (legal_case.state, legal_case.firm, letter.sent_on) == (LegalState.LETTER_SENT, firm, NOV)
    assert legal_case.limitation_from == NOV and legal_case.limitation_ends == datetime.date(2029, 11, 2)
    assert list(legal_case.limitation_events.values_list("kind", "occurred_on")) == [("demand", NOV)]


def test_an_older_event_does_not_move_the_limitation_period_back(legal_officer):
    legal_case = legal_case_in(LegalState.FILED)  # limitation from 15 March 2026

    services.limitation_event_record(
        legal_case=legal_case, by=legal_officer, kind="acknowledgement", occurred_on=datetime.date(2026, 1, 1)
    )
    services.limitation_event_record(legal_case=legal_case, by=legal_officer, kind="acknowledgement", occurred_on=NOV)

    legal_case.refresh_from_db()
    assert legal_case.limitation_from == NOV
    assert LimitationEvent.objects.filter(legal_case=legal_case).count() == 2


def test_applying_for_enforcement_enters_the_enforcement_fee_borne_by_the_borrower(legal_officer):
    legal_case, enforcement = in_enforcement(legal_officer)

    assert legal_case.state == LegalState.ENFORCEMENT
    fee = LegalCost.objects.get(legal_case=legal_case)
    # 1,050 is in the first tier (up to 10,000): 50 yuan.
    assert (fee.kind, fee.amount, fee.borne_by) == ("enforcement_fee", enforcement_fee(Decimal("1050.00")), "borrower")
    assert fee.amount == Decimal("50.00")


def test_money_received_in_enforcement_is_a_payment_on_the_loan(legal_officer):
    legal_case, enforcement = in_enforcement(legal_officer)
    loan = legal_case.case.loan
    outstanding = loan.total_outstanding

    receipt = services.enforcement_receipt_record(
        enforcement=enforcement, by=legal_officer, received_on=NOV, amount=Decimal("300.00"), reference="FY-001"
    )

    loan.refresh_from_db()
    payment = Payment.objects.get(pk=receipt.payment_id)
    assert (payment.amount, payment.source, payment.reference, payment.loan_id) == (
        Decimal("300.00"),
        "court_enforcement",
        "FY-001",
        loan.pk,
    )
    assert payment.allocations.exists()
    assert loan.total_outstanding == outstanding - Decimal("300.00")
    # The same remittance recorded twice is refused, and nothing more reaches the loan.
    with pytest.raises(ValidationError):
        services.enforcement_receipt_record(
            enforcement=enforcement, by=legal_officer, received_on=NOV, amount=Decimal("300.00"), reference="FY-001"
        )
    assert Payment.objects.filter(loan=loan).count() == 1


def test_more_than_is_outstanding_is_refused_and_nothing_is_kept(legal_officer):
    legal_case, enforcement = in_enforcement(legal_officer)

    with pytest.raises(ValidationError, match="more than the"):
        services.enforcement_receipt_record(
            enforcement=enforcement, by=legal_officer, received_on=NOV, amount=Decimal("999999.00"), reference="X"
        )
    assert not enforcement.receipts.exists() and not Payment.objects.exists()


def test_a_settlement_paid_through_enforcement_settles_both_cases(legal_officer, supervisor, collector):
    legal_case, enforcement = in_enforcement(legal_officer)
    case = legal_case.case
    outstanding = case.loan.total_outstanding
    amount = (outstanding * Decimal("0.9")).quantize(Decimal("0.01"))  # above the approval share: no approval
    case_settlement_agree(case=case, by=supervisor, amount=amount, reason="Court-supervised settlement")

    today = timezone.localdate()  # after the settlement was agreed
    services.enforcement_receipt_record(
        enforcement=enforcement, by=legal_officer, received_on=today, amount=amount - 100, reference="FY-1"
    )
    legal_case.refresh_from_db()
    assert legal_case.state == LegalState.ENFORCEMENT  # not paid in full yet
    services.enforcement_receipt_record(
        enforcement=enforcement, by=legal_officer, received_on=today, amount=Decimal("100.00"), reference="FY-2"
    )

    legal_case.refresh_from_db()
    case.refresh_from_db()
    assert (legal_case.state, legal_case.outcome) == (LegalState.CLOSED, Outcome.SETTLED)
    assert case.stage == Stage.SETTLED


def test_settling_by_hand_needs_the_settlement_paid(legal_officer, supervisor, collector):
    legal_case = legal_case_in(LegalState.FILED)
    case_settlement_agree(
        case=legal_case.case, by=supervisor, amount=legal_case.case.loan.total_outstanding, reason="In full"
    )

    with pytest.raises(CollectionError, match="the agreed settlement has not been paid in full"):
        services.legal_case_settle(legal_case=legal_case, by=legal_officer, reason="settled")

    legal_case.refresh_from_db()
    assert legal_case.state == LegalState.FILED


def test_a_case_closes_as_paid_only_when_the_loan_is_no_longer_past_due(legal_officer):
    legal_case = legal_case_in(LegalState.ENFORCEMENT)
    legal_case.case.loan.__class__.objects.filter(pk=legal_case.case.loan_id).update(status="delinquent")

    with pytest.raises(CollectionError, match="the loan is still past due"):
        services.legal_case_close(legal_case=legal_case, by=legal_officer, outcome=Outcome.PAID, reason="paid")
    closed = services.legal_case_close(
        legal_case=legal_case, by=legal_officer, outcome=Outcome.UNCOLLECTIBLE, reason="No assets after two rounds"
    )

    assert (closed.state, closed.outcome) == (LegalState.CLOSED, Outcome.UNCOLLECTIBLE)


def test_a_payment_order_objection_comes_after_service_and_within_15_days(legal_officer):
    legal_case = legal_case_in(LegalState.PAYMENT_ORDER)
    order = PaymentOrder.objects.create(
        legal_case=legal_case, court=CourtFactory(), applied_on=NOV, recorded_by=legal_officer
    )

    with pytest.raises(ValidationError, match="record the day of service first"):
        services.payment_order_update(order=order, by=legal_officer, objected_on=NOV)
    services.payment_order_update(order=order, by=legal_officer, served_on=NOV)
    order.refresh_from_db()
    assert order.objection_deadline == datetime.date(2026, 11, 17)
    with pytest.raises(ValidationError, match="after its 15 days"):
        services.payment_order_update(order=order, by=legal_officer, objected_on=datetime.date(2026, 11, 18))
    services.payment_order_update(order=order, by=legal_officer, objected_on=datetime.date(2026, 11, 17))
    order.refresh_from_db()
    assert order.objected_on == datetime.date(2026, 11, 17)


def test_a_mediated_agreement_is_confirmed_within_30_days(legal_officer):
    legal_case = legal_case_in(LegalState.PREPARING)
    mediation = services.mediation_start(legal_case=legal_case, by=legal_officer, mediator="调解员", started_on=NOV)

    with pytest.raises(ValidationError, match="record the agreement first"):
        services.mediation_update(mediation=mediation, by=legal_officer, confirmed_on=NOV)
    services.mediation_update(mediation=mediation, by=legal_officer, agreed_on=datetime.date(2026, 10, 1))
    with pytest.raises(ValidationError, match="within 30 days"):
        services.mediation_update(mediation=mediation, by=legal_officer, confirmed_on=datetime.date(2026, 11, 2))
    services.mediation_update(mediation=mediation, by=legal_officer, confirmed_on=datetime.date(2026, 10, 31))

    mediation.refresh_from_db()
    assert mediation.confirmed_on == datetime.date(2026, 10, 31)


def test_a_freeze_lapses_after_the_years_its_kind_allows(legal_officer):
    _legal_case, enforcement = in_enforcement(legal_officer)

    lapses = {
        kind: services.asset_freeze(
            enforcement=enforcement, by=legal_officer, kind=kind, description=kind, frozen_on=datetime.date(2024, 2, 29)
        ).expires_on
        for kind in FrozenAsset.Kind.values
    }

    assert lapses == {
        "bank_deposit": datetime.date(2025, 2, 28),
        "movable": datetime.date(2026, 2, 28),
        "real_estate": datetime.date(2027, 2, 28),
    }


def test_a_cost_of_nothing_or_in_the_future_is_refused(legal_officer):
    legal_case = legal_case_in(LegalState.FILED)

    with pytest.raises(ValidationError, match="more than zero"):
        services.cost_record(
            legal_case=legal_case, by=legal_officer, kind="notary", amount=Decimal("0"), incurred_on=NOV
        )
    with pytest.raises(ValidationError, match="cannot be a day still to come"):
        services.cost_record(
            legal_case=legal_case,
            by=legal_officer,
            kind="notary",
            amount=Decimal("10"),
            incurred_on=datetime.date(2099, 1, 1),
        )
    assert not legal_case.costs.exists()


def test_a_collector_may_not_use_the_legal_services(collector):
    from django.core.exceptions import PermissionDenied

    legal_case = legal_case_in(LegalState.PREPARING)
    with pytest.raises(PermissionDenied):
        services.letter_send(legal_case=legal_case, by=collector, number="x", firm=LawFirmFactory(), sent_on=NOV)


def test_filing_the_suit_claims_the_debt_as_of_that_day_and_enters_the_filing_fee(legal_officer):
    from legal.claims import claim_as_of
    from legal.fees import litigation_fee

    legal_case = legal_case_in(LegalState.LETTER_SENT)
    services.cost_record(
        legal_case=legal_case,
        by=legal_officer,
        kind="notary",
        amount=Decimal("120.00"),
        incurred_on=datetime.date(2026, 10, 20),
        borne_by="borrower",
    )
    services.cost_record(
        legal_case=legal_case, by=legal_officer, kind="counsel", amount=Decimal("800.00"), incurred_on=NOV
    )

    filing = services.suit_file(
        legal_case=legal_case,
        by=legal_officer,
        court=CourtFactory(),
        docket_number="(2026)沪0115民初1号",
        filed_on=NOV,
        procedure="ordinary",
    )

    expected = claim_as_of(loan=legal_case.case.loan, day=NOV, costs=Decimal("120.00"))  # the borrower's costs only
    assert (
        filing.claimed_principal,
        filing.claimed_interest,
        filing.claimed_fees,
        filing.claimed_penalty,
        filing.claimed_costs,
        filing.claimed_amount,
    ) == (expected.principal, expected.interest, expected.fees, expected.penalty, Decimal("120.00"), expected.total)
    fee = legal_case.costs.get(kind="court_fee")
    assert (fee.amount, fee.borne_by, fee.incurred_on) == (litigation_fee(expected.total, "ordinary"), "borrower", NOV)
    legal_case.refresh_from_db()
    assert legal_case.state == LegalState.FILED and legal_case.limitation_from == NOV


def test_a_payment_order_costs_a_third_of_the_filing_fee(legal_officer):
    from legal.claims import claim_as_of
    from legal.fees import litigation_fee

    legal_case = legal_case_in(LegalState.PREPARING)

    services.payment_order_apply(legal_case=legal_case, by=legal_officer, court=CourtFactory(), applied_on=NOV)

    claim = claim_as_of(loan=legal_case.case.loan, day=NOV)
    fee = legal_case.costs.get(kind="court_fee")
    assert fee.amount == litigation_fee(claim.total, "payment_order") == (Decimal("50") / 3).quantize(Decimal("0.01"))


def test_a_suit_in_payment_order_procedure_is_refused(legal_officer):
    legal_case = legal_case_in(LegalState.PREPARING)

    with pytest.raises(ValidationError, match="ordinary or simplified procedure"):
        services.suit_file(
            legal_case=legal_case,
            by=legal_officer,
            court=CourtFactory(),
            docket_number="x",
            filed_on=NOV,
            procedure="payment_order",
        )
    legal_case.refresh_from_db()
    assert legal_case.state == LegalState.PREPARING and not legal_case.costs.exists()


def test_a_letters_delivery_comes_after_it_was_sent(legal_officer):
    legal_case = legal_case_in(LegalState.PREPARING)
    letter = services.letter_send(
        legal_case=legal_case, by=legal_officer, number="LS-7", firm=LawFirmFactory(), sent_on=NOV
    )

    with pytest.raises(ValidationError, match="delivered after it was sent"):
        services.letter_update(letter=letter, by=legal_officer, delivered_on=datetime.date(2026, 11, 1))
    services.letter_update(letter=letter, by=legal_officer, delivered_on=datetime.date(2026, 11, 4))

    letter.refresh_from_db()
    assert letter.delivered_on == datetime.date(2026, 11, 4)


def test_a_hearings_result_is_recorded_once_it_was_held(legal_officer):
    legal_case = legal_case_in(LegalState.FILED)
    coming = services.hearing_record(
        legal_case=legal_case, by=legal_officer, held_at=timezone.now() + datetime.timedelta(days=3), place="第三法庭"
    )

    with pytest.raises(ValidationError, match="has not been held yet"):
        services.hearing_result(hearing=coming, by=legal_officer, result="延期")
    legal_case.refresh_from_db()  # in hearing now
    held = services.hearing_record(
        legal_case=legal_case, by=legal_officer, held_at=timezone.now() - datetime.timedelta(days=1), place="第三法庭"
    )
    services.hearing_result(hearing=held, by=legal_officer, result="被告未到庭，缺席审理")

    legal_case.refresh_from_db()
    held.refresh_from_db()
    assert legal_case.state == LegalState.IN_HEARING and held.result == "被告未到庭，缺席审理"
