"""The case machine: every transition allowed, not allowed, without permission, and stale."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.utils import timezone
from django_fsm_log.models import StateLog

from collection import services
from collection.exceptions import ApprovalRequired, CollectionError, StaleCase
from collection.machine import Stage
from collection.models import CaseAssignment, CollectionCase, StageRule
from loans.models import Installment, Loan
from loans.services import payment_record
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory, case_in, within_reach_of
from tests.loans.factories import make_days_past_due

# The refusal messages are read in English here; their Chinese is checked by the catalogue.
pytestmark = pytest.mark.usefixtures("in_english")


def stamp_contact(case):
    CollectionCase.objects.filter(pk=case.pk).update(last_right_party_contact_at=timezone.now())
    case.refresh_from_db()


def make_loan_current(case):
    Installment.objects.filter(loan=case.loan).update(
        principal_paid=F("principal_due"),
        interest_paid=F("interest_due"),
        fees_paid=F("fees_due"),
        penalty_paid=F("penalty_due"),
        is_paid=True,
    )
    Loan.objects.filter(pk=case.loan_id).update(status=Loan.Status.PAID_OFF)


def agree_and_pay_settlement(case):
    """500.00 agreed on about 1,344.00 owed, below the approval share: agreed by an admin (who
    reaches every case), approved by another, and paid."""
    services.case_settlement_agree(case=case, by=user_with("admin"), amount=Decimal("500.00"))
    services.case_settlement_approve(case=case, by=user_with("admin"))
    payment_record(
        loan=case.loan, amount=Decimal("500.00"), received_at=timezone.now(), reference=f"S-{case.pk}", channel="app"
    )
    case.refresh_from_db()


# name of the service, the stage it starts from, where it ends, who may do it, how to make it
# possible, extra arguments
TRANSITIONS = [
    ("case_negotiate", Stage.REMINDER, Stage.NEGOTIATION, "collector", stamp_contact, {}),
    ("case_escalate", Stage.REMINDER, Stage.ESCALATION, "collector", None, {"reason": "DPD 31"}),
    ("case_escalate", Stage.NEGOTIATION, Stage.ESCALATION, "collector", None, {"reason": "two broken promises"}),
    ("case_litigate", Stage.ESCALATION, Stage.LITIGATION, "supervisor", None, {"reason": "approved"}),
    ("case_de_escalate", Stage.ESCALATION, Stage.NEGOTIATION, "collector", None, {"reason": "plan agreed"}),
    ("case_hold", Stage.NEGOTIATION, Stage.ON_HOLD, "collector", None, {"reason": "dispute"}),
    ("case_resume", Stage.ON_HOLD, Stage.REMINDER, "collector", None, {}),
    ("case_resolve", Stage.ESCALATION, Stage.RESOLVED, "collector", make_loan_current, {}),
    ("case_settle", Stage.LITIGATION, Stage.SETTLED, "supervisor", "settlement", {}),
    ("case_write_off", Stage.LITIGATION, Stage.WRITTEN_OFF, "supervisor", None, {"reason": "no assets"}),
    ("case_close", Stage.REMINDER, Stage.CLOSED, "admin", None, {"reason": "sold to an agency"}),
]
# A stage each transition does not leave from.
NOT_FROM = {
    "case_negotiate": Stage.ESCALATION,
    "case_escalate": Stage.LITIGATION,
    "case_litigate": Stage.REMINDER,
    "case_de_escalate": Stage.REMINDER,
    "case_hold": Stage.RESOLVED,
    "case_resume": Stage.NEGOTIATION,
    "case_resolve": Stage.SETTLED,
    "case_settle": Stage.CLOSED,
    "case_write_off": Stage.NEGOTIATION,
    "case_close": Stage.WRITTEN_OFF,
}
# Someone who holds a desk role but may not run the transition.
NOT_ALLOWED_ROLE = {
    "case_negotiate": None,
    "case_escalate": "legal_officer",
    "case_litigate": "collector",
    "case_de_escalate": None,
    "case_hold": "legal_officer",
    "case_resume": "legal_officer",
    "case_resolve": None,
    "case_settle": "collector",
    "case_write_off": "collector",
    "case_close": "supervisor",
}


def user_with(role, case=None):
    """Someone holding `role`, with `case` (when given) within their reach."""
    user = UserFactory(roles=[role] if role else [])
    if case is not None:
        within_reach_of(user, case)
    return user


def prepared(stage, prepare, role):
    case = case_in(stage)
    if stage == Stage.ON_HOLD:
        CollectionCase.objects.filter(pk=case.pk).update(held_stage=Stage.REMINDER, hold_reason="dispute")
        case.refresh_from_db()
    if prepare == "settlement":
        agree_and_pay_settlement(case)
    elif prepare is not None:
        prepare(case)
    return case


def ids(transitions):
    return [f"{name}-{source}" for name, source, *_ in transitions]


@pytest.mark.parametrize(("service", "source", "target", "role", "prepare", "extra"), TRANSITIONS, ids=ids(TRANSITIONS))
def test_transition_allowed_and_logged(db, service, source, target, role, prepare, extra):
    case = prepared(source, prepare, role)
    actor = user_with(role, case)

    getattr(services, service)(case=case, by=actor, **extra)

    case.refresh_from_db()
    assert case.stage == target
    log = StateLog.objects.for_(case).get()
    assert (log.source_state, log.state, log.by) == (source, target, actor)
    assert log.timestamp is not None
    if extra.get("reason") and service != "case_hold":
        assert log.description == extra["reason"]
    if target in (Stage.RESOLVED, Stage.SETTLED, Stage.WRITTEN_OFF, Stage.CLOSED):
        assert case.closed_at is not None


@pytest.mark.parametrize(("service", "source", "target", "role", "prepare", "extra"), TRANSITIONS, ids=ids(TRANSITIONS))
def test_transition_not_allowed_from_another_stage(db, service, source, target, role, prepare, extra):
    case = case_in(NOT_FROM[service])

    with pytest.raises(CollectionError) as refused:
        getattr(services, service)(case=case, by=user_with(role, case), **extra)

    assert "stage" in refused.value.message
    case.refresh_from_db()
    assert case.stage == NOT_FROM[service]
    assert not StateLog.objects.for_(case).exists()


@pytest.mark.parametrize(("service", "source", "target", "role", "prepare", "extra"), TRANSITIONS, ids=ids(TRANSITIONS))
def test_transition_without_permission(db, service, source, target, role, prepare, extra):
    case = prepared(source, prepare, role)

    with pytest.raises(PermissionDenied):
        getattr(services, service)(case=case, by=user_with(NOT_ALLOWED_ROLE[service], case), **extra)

    case.refresh_from_db()
    assert case.stage == source
    assert not StateLog.objects.for_(case).exists()


@pytest.mark.parametrize(("service", "source", "target", "role", "prepare", "extra"), TRANSITIONS, ids=ids(TRANSITIONS))
def test_stale_copy_loses(db, service, source, target, role, prepare, extra):
    case = prepared(source, prepare, role)
    actor = user_with(role, case)
    stale = CollectionCase.objects.get(pk=case.pk)
    # Someone else moves the case first (any other way out of its stage).
    CollectionCase.objects.filter(pk=case.pk).update(stage=Stage.CLOSED)

    with pytest.raises(StaleCase) as lost:
        getattr(services, service)(case=stale, by=actor, **extra)

    assert "Reload" in str(lost.value.message) or "重新" in str(lost.value.message)
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.CLOSED
    assert not StateLog.objects.for_(case).exists()


def test_negotiation_needs_contact_a_promise_or_a_plan(db, collector):
    case = CaseFactory()

    with pytest.raises(CollectionError) as refused:
        services.case_negotiate(case=case, by=collector)

    assert "not been reached" in refused.value.message
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.REMINDER


def test_resolving_needs_the_loan_current_or_paid_off(db, collector):
    case = case_in(Stage.ESCALATION)
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), 40, status=Loan.Status.DELINQUENT)

    with pytest.raises(CollectionError) as refused:
        services.case_resolve(case=case, by=collector)

    assert "still past due" in refused.value.message


def test_settling_needs_the_agreed_amount_paid(db, supervisor):
    case = case_in(Stage.LITIGATION)
    services.case_settlement_agree(case=case, by=user_with("admin"), amount=Decimal("500.00"))
    services.case_settlement_approve(case=case, by=user_with("admin"))
    payment_record(loan=case.loan, amount=Decimal("499.99"), received_at=timezone.now(), reference="S-1", channel="app")

    with pytest.raises(CollectionError) as refused:
        services.case_settle(case=case, by=supervisor)

    assert "not been paid in full" in refused.value.message


def test_a_settlement_is_agreed_by_a_supervisor_within_what_is_owed(db, collector):
    team = TeamFactory()
    supervisor = team.supervisor
    case = case_in(Stage.ESCALATION, team=team)

    with pytest.raises(PermissionDenied):
        services.case_settlement_agree(case=case, by=collector, amount=Decimal("100.00"))
    with pytest.raises(CollectionError):
        services.case_settlement_agree(case=case, by=supervisor, amount=case.loan.total_outstanding + 1)


def test_a_hold_remembers_where_the_case_was_and_resume_goes_back(db, collector):
    case = case_in(Stage.ESCALATION)

    services.case_hold(case=case, by=collector, reason="hardship", note="lost his job")
    assert (case.stage, case.held_stage, case.hold_reason) == (Stage.ON_HOLD, Stage.ESCALATION, "hardship")
    services.case_resume(case=case, by=collector, reason="found work")

    case.refresh_from_db()
    assert (case.stage, case.held_stage, case.hold_reason) == (Stage.ESCALATION, "", "")
    assert list(StateLog.objects.for_(case).order_by("pk").values_list("description", flat=True)) == [
        "lost his job",
        "found work",
    ]


def test_a_hold_needs_a_known_reason(db, collector):
    with pytest.raises(CollectionError):
        services.case_hold(case=CaseFactory(), by=collector, reason="tired")


def test_escalation_needs_approval_when_the_rule_says_so(db, collector, supervisor):
    StageRule.objects.filter(stage=Stage.ESCALATION).update(requires_approval=True)
    case = CaseFactory()

    with pytest.raises(ApprovalRequired):
        services.case_escalate(case=case, by=collector, reason="DPD 31")
    services.case_escalate(case=case, by=supervisor, reason="DPD 31")

    assert case.stage == Stage.ESCALATION


def test_write_off_and_close_need_a_reason(db, supervisor, desk_admin):
    with pytest.raises(CollectionError):
        services.case_write_off(case=case_in(Stage.LITIGATION), by=supervisor, reason=" ")
    with pytest.raises(CollectionError):
        services.case_close(case=CaseFactory(), by=desk_admin, reason="")


def test_closing_keeps_the_reason(db, desk_admin):
    case = CaseFactory()

    services.case_close(case=case, by=desk_admin, reason="borrower deceased")

    case.refresh_from_db()
    assert (case.stage, case.close_reason) == (Stage.CLOSED, "borrower deceased")


def test_the_stage_cannot_be_set_directly(db):
    case = CaseFactory()

    with pytest.raises(AttributeError):
        case.stage = Stage.LITIGATION


def test_a_loan_has_one_open_case_and_a_new_one_after_it_closes(db, desk_admin):
    loan = CaseFactory().loan

    same = services.case_open_for_loan(loan=loan)
    assert CollectionCase.objects.filter(loan=loan).count() == 1
    services.case_close(case=same, by=desk_admin, reason="test")
    reopened = services.case_open_for_loan(loan=loan)

    assert reopened.pk != same.pk and reopened.stage == Stage.REMINDER


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_opening_the_same_loan_at_once_gives_one_case(at_once):
    from tests.loans.factories import LoanFactory

    loan = LoanFactory()

    opened = set(at_once(lambda _: services.case_open_for_loan(loan=loan).pk, range(4)))

    assert len(opened) == 1
    assert CollectionCase.objects.filter(loan=loan).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_collectors_moving_one_case_at_once_one_wins(at_once):
    case = CaseFactory()
    # Two people who may both work the case: its collector and its team's supervisor.
    collectors = [UserFactory(roles=["collector"]), UserFactory(roles=["supervisor"])]
    for person in collectors:
        within_reach_of(person, case)

    def escalate(collector_and_copy):
        collector, copy = collector_and_copy
        try:
            services.case_escalate(case=copy, by=collector, reason="DPD 31")
            return "moved"
        except (StaleCase, CollectionError):
            return "lost"

    # Each collector works from their own copy, read before either moves the case.
    copies = [(collector, CollectionCase.objects.get(pk=case.pk)) for collector in collectors]
    outcomes = sorted(at_once(escalate, copies))

    assert outcomes == ["lost", "moved"]
    assert StateLog.objects.for_(case).count() == 1


def test_allocation_balances_count_and_overdue_amount(db, supervisor):
    team = TeamFactory(supervisor=supervisor)
    collectors = [UserFactory(roles=["collector"]) for _ in range(3)]
    team.members.add(*collectors, supervisor)
    cases = []
    for overdue in ["900", "800", "700", "300", "200", "100"]:
        case = CaseFactory()
        Loan.objects.filter(pk=case.loan_id).update(overdue_amount=Decimal(overdue))
        cases.append(case)

    allocation = services.cases_allocate(team=team, cases=cases, by=supervisor)

    per_collector = {collector.pk: [] for collector in collectors}
    for case_id, collector_id in allocation.items():
        per_collector[collector_id].append(Loan.objects.get(collection_cases__pk=case_id).overdue_amount)
    assert sorted(len(amounts) for amounts in per_collector.values()) == [2, 2, 2]
    assert sorted(sum(amounts) for amounts in per_collector.values()) == [Decimal(1000)] * 3
    assert supervisor.pk not in per_collector
    assert CaseAssignment.objects.count() == 6
    assert set(CollectionCase.objects.values_list("team", flat=True)) == {team.pk}


def test_allocation_counts_what_collectors_already_carry(db, supervisor):
    team = TeamFactory(supervisor=supervisor)
    busy, free = UserFactory(roles=["collector"]), UserFactory(roles=["collector"])
    team.members.add(busy, free)
    services.cases_allocate(team=team, cases=[CaseFactory(), CaseFactory()], by=supervisor)
    CollectionCase.objects.update(assigned_to=busy)

    allocation = services.cases_allocate(team=team, cases=[CaseFactory(), CaseFactory()], by=supervisor)

    assert set(allocation.values()) == {free.pk}


def test_allocation_needs_collectors(db, supervisor):
    with pytest.raises(CollectionError):
        services.cases_allocate(team=TeamFactory(supervisor=supervisor), cases=[CaseFactory()], by=supervisor)


def test_reassignment_is_logged_and_needs_permission(db, collector, supervisor):
    case = CaseFactory(assigned_to=collector)
    other = UserFactory(roles=["collector"])
    case.team.members.add(other)  # the supervisor's team: they reassign within it

    with pytest.raises(PermissionDenied):
        services.case_assign(case=case, to=other, by=collector)
    services.case_assign(case=case, to=other, by=supervisor, reason="holiday cover")

    entry = CaseAssignment.objects.get(case=case)
    assert (entry.previous, entry.assigned_to, entry.assigned_by, entry.reason) == (
        collector,
        other,
        supervisor,
        "holiday cover",
    )
    assert CollectionCase.objects.get(pk=case.pk).assigned_to == other
