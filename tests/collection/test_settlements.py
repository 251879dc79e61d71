"""Settlements: who agreed them and when, a supervisor's approval below the approval share (by
someone other than who agreed), no silent overwrite (a new agreement replaces the one before only
when asked, and the one before stays in the history), and only money that stands settles a case."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from collection import services
from collection.exceptions import CollectionError, StaleCase
from collection.machine import SETTLEMENT_IS_APPROVED, Stage
from collection.models import CollectionCase, PromiseToPay, SettlementAgreement
from loans.services import payment_reverse
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import PromiseFactory, at, case_in, days_ago, pay, today

pytestmark = pytest.mark.usefixtures("in_english")

OUTSTANDING = Decimal("1344.00")  # the default loan: 1,200.00 principal and 12 x 12.00 interest
IN_POLICY = Decimal("1100.00")  # above 80% of it (1,075.20)
BELOW_POLICY = Decimal("500.00")


@pytest.fixture
def team(db):
    return TeamFactory()


@pytest.fixture
def case(team):
    case = case_in(Stage.LITIGATION, team=team)
    assert case.loan.total_outstanding == OUTSTANDING
    return case


def history(case) -> list[tuple]:
    return list(
        SettlementAgreement.objects.filter(case=case)
        .order_by("pk")
        .values_list("status", "amount", "agreed_by", "approved_by", "ended_by", "end_reason")
    )


def settle_refusal(case, by) -> str:
    with pytest.raises(CollectionError) as refused:
        services.case_settle(case=case, by=by)
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.LITIGATION
    return refused.value.message


def test_a_settlement_within_policy_records_who_agreed_it_and_settles_once_paid(case, team):
    supervisor = team.supervisor

    services.case_settlement_agree(case=case, by=supervisor, amount=IN_POLICY)

    stored = CollectionCase.objects.get(pk=case.pk)
    assert (stored.settlement_amount, stored.settlement_agreed_by, stored.settlement_awaits_approval) == (
        IN_POLICY,
        supervisor,
        False,
    )
    assert stored.settlement_agreed_at is not None
    assert history(case) == [(SettlementAgreement.Status.AGREED, IN_POLICY, supervisor.pk, None, None, "")]
    agreement = SettlementAgreement.objects.get()
    assert (agreement.outstanding, agreement.needs_approval) == (OUTSTANDING, False)

    pay(case, IN_POLICY, timezone.now())
    services.case_settle(case=case, by=supervisor)
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.SETTLED


def test_the_reviews_one_yuan_settlement_waits_for_someone_elses_approval(case, team, desk_admin, collector):
    """F7: `case_settlement_agree(case, by=supervisor1, amount=1.00)` succeeded with no actor stored."""
    supervisor = team.supervisor

    services.case_settlement_agree(case=case, by=supervisor, amount=Decimal("1.00"))
    pay(case, "1.00", timezone.now())

    assert CollectionCase.objects.get(pk=case.pk).settlement_awaits_approval
    assert "waits for a supervisor's approval" in settle_refusal(case, supervisor)
    with pytest.raises(PermissionDenied):
        services.case_settlement_approve(case=case, by=supervisor)  # not their own
    with pytest.raises(PermissionDenied):
        services.case_settlement_approve(case=case, by=collector)
    with pytest.raises(PermissionDenied):
        services.case_settlement_approve(case=case, by=TeamFactory().supervisor)  # another team's
    assert history(case) == [
        (SettlementAgreement.Status.PENDING_APPROVAL, Decimal("1.00"), supervisor.pk, None, None, "")
    ]

    services.case_settlement_approve(case=case, by=desk_admin)

    assert history(case) == [
        (SettlementAgreement.Status.AGREED, Decimal("1.00"), supervisor.pk, desk_admin.pk, None, "")
    ]
    services.case_settle(case=case, by=supervisor)
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.SETTLED


def test_the_approval_share_is_a_setting(case, team, settings):
    settings.DESK_SETTLEMENT_APPROVAL_BELOW_SHARE = Decimal("0.30")

    services.case_settlement_agree(case=case, by=team.supervisor, amount=BELOW_POLICY)  # 37% of what is owed

    assert not CollectionCase.objects.get(pk=case.pk).settlement_awaits_approval
    assert services.settlement_needs_approval(amount=Decimal("403.19"), outstanding=OUTSTANDING)
    assert not services.settlement_needs_approval(amount=Decimal("403.20"), outstanding=OUTSTANDING)


def test_a_second_agreement_does_not_overwrite_the_first_silently(case, team, desk_admin):
    supervisor = team.supervisor
    services.case_settlement_agree(case=case, by=supervisor, amount=IN_POLICY)

    with pytest.raises(CollectionError) as refused:
        services.case_settlement_agree(case=case, by=desk_admin, amount=Decimal("1.00"))
    assert "already has a settlement of 1100.00" in refused.value.message
    with pytest.raises(CollectionError):
        services.case_settlement_agree(case=case, by=desk_admin, amount=Decimal("1.00"), replace=True, reason=" ")
    assert CollectionCase.objects.get(pk=case.pk).settlement_amount == IN_POLICY
    assert len(history(case)) == 1

    services.case_settlement_agree(
        case=case, by=desk_admin, amount=Decimal("1200.00"), replace=True, reason="the borrower offered more"
    )

    assert history(case) == [
        (
            SettlementAgreement.Status.REPLACED,
            IN_POLICY,
            supervisor.pk,
            None,
            desk_admin.pk,
            "the borrower offered more",
        ),
        (SettlementAgreement.Status.AGREED, Decimal("1200.00"), desk_admin.pk, None, None, ""),
    ]
    stored = CollectionCase.objects.get(pk=case.pk)
    assert (stored.settlement_amount, stored.settlement_agreed_by) == (Decimal("1200.00"), desk_admin)


def test_a_settlement_turned_down_leaves_none_on_the_table(case, team, desk_admin):
    services.case_settlement_agree(case=case, by=team.supervisor, amount=BELOW_POLICY)
    pay(case, BELOW_POLICY, timezone.now())

    with pytest.raises(CollectionError):
        services.case_settlement_reject(case=case, by=desk_admin, reason="")
    services.case_settlement_reject(case=case, by=desk_admin, reason="too deep a discount")

    stored = CollectionCase.objects.get(pk=case.pk)
    assert (stored.settlement_amount, stored.settlement_agreed_by, stored.settlement_awaits_approval) == (
        None,
        None,
        False,
    )
    assert history(case)[0][0] == SettlementAgreement.Status.REJECTED
    assert "not been paid in full" in settle_refusal(case, team.supervisor)
    with pytest.raises(CollectionError):
        services.case_settlement_approve(case=case, by=desk_admin)


def test_only_someone_who_may_settle_and_reach_the_case_agrees_a_settlement(case, collector):
    other_supervisor = TeamFactory().supervisor

    with pytest.raises(PermissionDenied):
        services.case_settlement_agree(case=case, by=collector, amount=IN_POLICY)
    with pytest.raises(PermissionDenied):
        services.case_settlement_agree(case=case, by=other_supervisor, amount=IN_POLICY)

    assert CollectionCase.objects.get(pk=case.pk).settlement_amount is None
    assert not SettlementAgreement.objects.exists()


def test_a_settlement_is_agreed_on_an_open_case_and_a_stale_copy_loses(case, team):
    stale = CollectionCase.objects.get(pk=case.pk)
    CollectionCase.objects.filter(pk=case.pk).update(stage=Stage.WRITTEN_OFF)

    with pytest.raises(StaleCase):
        services.case_settlement_agree(case=stale, by=team.supervisor, amount=IN_POLICY)
    with pytest.raises(CollectionError):
        services.case_settlement_agree(
            case=CollectionCase.objects.get(pk=case.pk), by=team.supervisor, amount=IN_POLICY
        )
    assert not SettlementAgreement.objects.exists()


def test_a_case_awaiting_approval_is_left_out_by_the_batch_filter_too(case, team):
    services.case_settlement_agree(case=case, by=team.supervisor, amount=BELOW_POLICY)
    waiting = CollectionCase.objects.get(pk=case.pk)

    assert not SETTLEMENT_IS_APPROVED(waiting)
    assert not CollectionCase.objects.filter(SETTLEMENT_IS_APPROVED.filter(CollectionCase), pk=case.pk).exists()


# --- only money that stands -------------------------------------------------------------------------


def test_a_reversed_payment_does_not_settle_a_case(case, team):
    supervisor = team.supervisor
    services.case_settlement_agree(case=case, by=supervisor, amount=IN_POLICY)
    payment = pay(case, IN_POLICY, timezone.now())

    payment_reverse(payment=payment, by=supervisor, reason="the transfer bounced")

    assert "not been paid in full" in settle_refusal(case, supervisor)


def test_a_reversed_payment_does_not_keep_a_promise(db, supervisor):
    case = case_in(Stage.NEGOTIATION)
    promised = PromiseFactory(
        case=case, amount=Decimal("300.00"), due_date=days_ago(5), promised_at=at(days_ago(10), 10)
    )
    pay(case, "100.00", at(days_ago(8)))
    bounced = pay(case, "200.00", at(days_ago(7)))
    payment_reverse(payment=bounced, by=supervisor, reason="the transfer bounced")

    services.promises_evaluate(as_of=today())

    promised.refresh_from_db()
    assert (promised.status, promised.amount_paid) == (PromiseToPay.Status.PARTIALLY_KEPT, Decimal("100.00"))


# --- at once -----------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_settlements_agreed_at_once_leave_one_on_the_table(at_once):
    """F15: case_settlement_agree took no lock and the last write won."""
    case = case_in(Stage.LITIGATION)
    admins = [UserFactory(roles=["admin"]), UserFactory(roles=["admin"])]

    def agree(admin):
        try:
            services.case_settlement_agree(case=case, by=admin, amount=IN_POLICY)
            return "agreed"
        except CollectionError:
            return "refused"

    assert sorted(at_once(agree, admins)) == ["agreed", "refused"]
    agreement = SettlementAgreement.objects.get()
    assert CollectionCase.objects.get(pk=case.pk).settlement_agreed_by_id == agreement.agreed_by_id
