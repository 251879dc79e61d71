"""Repayment plans: proposal within and beyond the product's policy, approval, rejection and
cancellation, the stage moves an agreed plan makes, and checking plan payments."""

import datetime
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied
from django.utils import timezone, translation
from django_fsm_log.models import StateLog

from collection import services
from collection.exceptions import CollectionError, StaleCase
from collection.machine import Stage
from collection.models import CollectionCase, PlanInstallment, RepaymentPlan
from loans.models import Installment, Loan
from loans.services import balances_recompute, loan_refresh_delinquency
from tests.accounts.factories import UserFactory
from tests.collection.factories import at, case_in, days_ago, pay, today, within_reach_of
from tests.loans.factories import LoanFactory, ProductFactory

D = Decimal


def in_days(days: int) -> datetime.date:
    return today() + datetime.timedelta(days=days)


def in_months(months: int, days: int = 0) -> datetime.date:
    return today() + relativedelta(months=months, days=days)


def loan_in_arrears(**product_policy) -> Loan:
    """1200.00 over twelve months at 112.00 a month, three installments late and 100.00 penalty
    on the first: 436.00 overdue, 1444.00 owed in all. The product's plan policy is the default
    (12 months, half the penalty waived, a first payment of a tenth) unless given."""
    loan = LoanFactory(
        product=ProductFactory(**product_policy),
        disbursed_on=today() - relativedelta(months=3, days=5),
    )
    Installment.objects.filter(loan=loan, sequence=1).update(penalty_due=D("100.00"))
    balances_recompute(loans=Loan.objects.filter(pk=loan.pk))
    loan.refresh_from_db()
    loan_refresh_delinquency(loan=loan, as_of=today())
    assert (loan.overdue_amount, loan.total_outstanding, loan.outstanding_penalty) == (
        D("436.00"),
        D("1444.00"),
        D("100.00"),
    )
    return loan


def case_in_arrears(stage=Stage.NEGOTIATION, **product_policy) -> CollectionCase:
    return case_in(stage, loan=loan_in_arrears(**product_policy))


def within_policy():
    """600.00 over three months, a first payment of 200.00: well inside the default policy."""
    return [(today(), D("200.00")), (in_months(1), D("200.00")), (in_months(2), D("200.00"))]


def propose(case, by, installments=None, waive="0.00"):
    return services.plan_propose(
        case=case, by=by, installments=within_policy() if installments is None else installments, waive_penalty=D(waive)
    )


def plan_of(case, by, schedule, *, proposed_at, status=RepaymentPlan.Status.ACTIVE) -> RepaymentPlan:
    """A plan agreed in the past, straight into the database, for checking its payments."""
    plan = RepaymentPlan.objects.create(
        case=case,
        status=status,
        total_amount=sum((D(amount) for _due, amount in schedule), D("0.00")),
        proposed_by=by,
        proposed_at=proposed_at,
        decided_at=proposed_at,
    )
    PlanInstallment.objects.bulk_create(
        PlanInstallment(plan=plan, sequence=number, due_date=due, amount=D(amount))
        for number, (due, amount) in enumerate(schedule, start=1)
    )
    return plan


def statuses(plan):
    return list(plan.installments.order_by("sequence").values_list("status", flat=True))


def evaluate():
    return services.promises_evaluate(as_of=today())


# --- proposal within policy ---------------------------------------------------------------------


def test_a_plan_within_policy_is_active_at_once_and_leaves_the_contractual_schedule_alone(collector):
    case = case_in_arrears()
    schedule_before = list(Installment.objects.filter(loan=case.loan).order_by("sequence").values())

    plan = propose(case, collector, waive="50.00")

    assert plan.status == RepaymentPlan.Status.ACTIVE
    assert plan.total_amount == D("600.00")
    assert plan.waived_penalty == D("50.00")
    assert plan.policy_breaches == ""
    assert plan.proposed_by == collector
    assert plan.decided_by is None
    assert plan.decided_at is not None
    assert list(plan.installments.values_list("sequence", "due_date", "amount", "status")) == [
        (1, today(), D("200.00"), PlanInstallment.Status.PENDING),
        (2, in_months(1), D("200.00"), PlanInstallment.Status.PENDING),
        (3, in_months(2), D("200.00"), PlanInstallment.Status.PENDING),
    ]
    assert list(Installment.objects.filter(loan=case.loan).order_by("sequence").values()) == schedule_before


def test_a_plan_agreed_on_an_escalated_case_takes_it_back_to_negotiation_with_a_logged_transition(collector):
    case = case_in_arrears(Stage.ESCALATION)

    propose(case, collector)

    case.refresh_from_db()
    assert case.stage == Stage.NEGOTIATION
    log = StateLog.objects.for_(case).get()
    assert (log.transition, log.source_state, log.state, log.by) == (
        "de_escalate",
        Stage.ESCALATION,
        Stage.NEGOTIATION,
        collector,
    )


def test_a_plan_agreed_in_reminder_moves_the_case_to_negotiation(collector):
    case = case_in_arrears(Stage.REMINDER)

    propose(case, collector)

    case.refresh_from_db()
    assert case.stage == Stage.NEGOTIATION
    assert StateLog.objects.for_(case).get().transition == "negotiate"


def test_a_plan_awaiting_approval_moves_no_case(collector):
    case = case_in_arrears(Stage.ESCALATION)

    plan = propose(case, collector, waive="100.00")

    assert plan.status == RepaymentPlan.Status.PENDING_APPROVAL
    case.refresh_from_db()
    assert case.stage == Stage.ESCALATION
    assert not StateLog.objects.for_(case).exists()


@pytest.mark.parametrize(
    ("installments", "waive"),
    [
        # exactly twelve months from first to last payment
        (lambda: [(today(), D("100.00")), (in_months(12), D("500.00"))], "0.00"),
        # exactly half the penalty waived
        (lambda: within_policy(), "50.00"),
        # a first payment of exactly a tenth of the total
        (lambda: [(today(), D("60.00")), (in_months(1), D("540.00"))], "0.00"),
        # total 386.00 + 50.00 waived covers exactly the 436.00 overdue
        (lambda: [(in_days(3), D("386.00"))], "50.00"),
        # total 1394.00 + 50.00 waived is exactly everything owed
        (lambda: [(in_days(3), D("1000.00")), (in_months(1), D("394.00"))], "50.00"),
    ],
    ids=["term-at-limit", "waiver-at-limit", "first-payment-at-limit", "covers-overdue", "covers-everything"],
)
def test_plans_at_the_edge_of_policy_are_active_at_once(collector, installments, waive):
    plan = propose(case_in_arrears(), collector, installments(), waive)

    assert plan.status == RepaymentPlan.Status.ACTIVE
    assert plan.policy_breaches == ""


# --- proposal beyond policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("installments", "waive", "breach"),
    [
        (lambda: [(today(), D("100.00")), (in_months(12, days=1), D("500.00"))], "0.00", "Term: the plan runs 13"),
        (lambda: within_policy(), "50.01", "Penalty waiver: 50.01 is more than 50% of the 100.00"),
        (
            lambda: [(today(), D("59.99")), (in_months(1), D("540.01"))],
            "0.00",
            "First payment: 59.99 is less than 10% of the plan's 600.00 (at least 60.00)",
        ),
    ],
    ids=["term", "waiver", "first-payment"],
)
def test_a_plan_beyond_one_limit_waits_for_a_supervisor_and_names_that_limit(collector, installments, waive, breach):
    case = case_in_arrears()

    with translation.override("en"):
        plan = propose(case, collector, installments(), waive)

    assert plan.status == RepaymentPlan.Status.PENDING_APPROVAL
    assert plan.decided_at is None
    assert len(plan.policy_breaches.splitlines()) == 1
    assert breach in plan.policy_breaches


def test_a_plan_beyond_every_limit_lists_each_breach(collector):
    case = case_in_arrears()
    schedule = [(today(), D("50.00")), (in_months(6), D("300.00")), (in_months(18), D("500.00"))]

    with translation.override("en"):
        plan = propose(case, collector, schedule, waive="80.00")

    breaches = plan.policy_breaches.splitlines()
    assert [line.split(":")[0] for line in breaches] == ["Term", "Penalty waiver", "First payment"]
    assert "the product allows 12" in breaches[0]
    assert "at most 50.00" in breaches[1]
    assert "at least 85.00" in breaches[2]


def test_the_policy_is_the_products_own(collector):
    strict = case_in_arrears(
        plan_max_term_months=1, plan_max_waiver_share=D("0"), plan_min_first_payment_share=D("0.5")
    )

    with translation.override("en"):
        plan = propose(strict, collector, waive="1.00")

    assert [line.split(":")[0] for line in plan.policy_breaches.splitlines()] == [
        "Term",
        "Penalty waiver",
        "First payment",
    ]


# --- proposals that are refused -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("installments", "waive", "words"),
    [
        (lambda: [], "0.00", "at least one payment"),
        (lambda: [(in_days(-1), D("300.00")), (in_months(1), D("300.00"))], "0.00", "in the past"),
        (lambda: [(in_days(5), D("300.00")), (in_days(5), D("300.00"))], "0.00", "must fall after"),
        (lambda: [(in_days(5), D("300.00")), (in_days(4), D("300.00"))], "0.00", "must fall after"),
        (lambda: [(in_days(5), D("600.00")), (in_days(9), D("0.00"))], "0.00", "more than zero"),
        (lambda: [(in_days(5), D("600.001"))], "0.00", "yuan and fen"),
        (lambda: [(in_days(5), D("385.99"))], "50.00", "do not cover the 436.00 overdue"),
        (lambda: [(in_days(5), D("1394.01"))], "50.00", "more than the 1444.00 the loan owes"),
        (lambda: within_policy(), "100.01", "between zero and the 100.00 outstanding penalty"),
        (lambda: within_policy(), "-1.00", "between zero and the 100.00 outstanding penalty"),
    ],
    ids=[
        "empty",
        "past-date",
        "same-date",
        "dates-backwards",
        "zero-amount",
        "fractions-of-fen",
        "short-of-overdue",
        "more-than-owed",
        "waiver-above-penalty",
        "negative-waiver",
    ],
)
def test_an_invalid_plan_is_refused_in_words(collector, installments, waive, words):
    case = case_in_arrears()

    with translation.override("en"), pytest.raises(CollectionError, match=words):
        propose(case, collector, installments(), waive)
    assert not RepaymentPlan.objects.exists()
    assert not PlanInstallment.objects.exists()


def test_proposing_a_plan_needs_permission_to_work_cases(db):
    with pytest.raises(PermissionDenied):
        propose(case_in_arrears(), UserFactory())
    assert not RepaymentPlan.objects.exists()


def test_a_closed_case_takes_no_plan(collector):
    with pytest.raises(CollectionError):
        propose(case_in_arrears(Stage.SETTLED), collector)


def test_a_case_has_one_live_plan_at_a_time(collector):
    case = case_in_arrears()
    first = propose(case, collector)

    with translation.override("en"), pytest.raises(CollectionError, match="already has a repayment plan"):
        propose(case, collector)

    services.plan_cancel(plan=first, by=collector, reason="the borrower asked for smaller payments")
    second = propose(case, collector, waive="100.00")  # beyond policy: awaits approval

    with pytest.raises(CollectionError):
        propose(case, collector)
    assert second.status == RepaymentPlan.Status.PENDING_APPROVAL
    assert RepaymentPlan.objects.filter(case=case).count() == 2


def test_the_database_refusal_of_a_second_live_plan_reads_as_a_clear_error(collector, monkeypatch):
    """Two proposals at once both pass the service's check; the constraint stops the second."""
    case = case_in_arrears()
    propose(case, collector)
    monkeypatch.setattr("collection.services.plans.LIVE_PLAN_STATUSES", ())  # skip the early check

    with translation.override("en"), pytest.raises(CollectionError, match="already has a repayment plan"):
        propose(case, collector)
    assert RepaymentPlan.objects.filter(case=case).count() == 1


def test_a_plan_on_a_stale_copy_of_an_escalated_case_leaves_nothing_behind(collector, supervisor):
    case = case_in_arrears(Stage.ESCALATION)
    stale = CollectionCase.objects.get(pk=case.pk)
    services.case_litigate(case=case, by=supervisor, reason="approved")

    with pytest.raises(StaleCase):
        propose(stale, collector)
    assert not RepaymentPlan.objects.exists()


# --- approval, rejection, cancellation ----------------------------------------------------------


def test_a_supervisor_approves_a_plan_beyond_policy_and_the_escalated_case_goes_back_to_negotiation(
    collector, supervisor
):
    case = case_in_arrears(Stage.ESCALATION)
    plan = propose(case, collector, waive="100.00")

    services.plan_approve(plan=plan, by=supervisor, reason="hardship documented")

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.ACTIVE
    assert (plan.decided_by, plan.decision_reason) == (supervisor, "hardship documented")
    assert plan.decided_at is not None
    case.refresh_from_db()
    assert case.stage == Stage.NEGOTIATION
    log = StateLog.objects.for_(case).get()
    assert (log.transition, log.by) == ("de_escalate", supervisor)


def test_a_collector_may_not_approve_or_reject_a_plan(collector):
    plan = propose(case_in_arrears(Stage.ESCALATION), collector, waive="100.00")

    with pytest.raises(PermissionDenied):
        services.plan_approve(plan=plan, by=collector)
    with pytest.raises(PermissionDenied):
        services.plan_reject(plan=plan, by=collector, reason="no")

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.PENDING_APPROVAL
    assert CollectionCase.objects.get(pk=plan.case_id).stage == Stage.ESCALATION


def test_a_supervisor_rejects_a_plan_with_a_reason(collector, supervisor):
    case = case_in_arrears(Stage.ESCALATION)
    plan = propose(case, collector, waive="100.00")

    with pytest.raises(CollectionError):
        services.plan_reject(plan=plan, by=supervisor, reason="  ")
    services.plan_reject(plan=plan, by=supervisor, reason="the borrower can pay more")

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.REJECTED
    assert (plan.decided_by, plan.decision_reason) == (supervisor, "the borrower can pay more")
    case.refresh_from_db()
    assert case.stage == Stage.ESCALATION
    propose(case, collector)  # a rejected plan is not live: another may be proposed


def test_only_plans_awaiting_approval_are_approved_or_rejected(collector, supervisor):
    active = propose(case_in_arrears(), collector)
    pending = propose(case_in_arrears(), collector, waive="100.00")
    services.plan_reject(plan=pending, by=supervisor, reason="no")

    with translation.override("en"):
        with pytest.raises(CollectionError, match="The plan is Active now"):
            services.plan_approve(plan=active, by=supervisor)
        with pytest.raises(CollectionError, match="The plan is Rejected now"):
            services.plan_approve(plan=pending, by=supervisor)
        with pytest.raises(CollectionError):
            services.plan_reject(plan=active, by=supervisor, reason="no")


def test_approving_a_plan_of_a_closed_case_is_refused(collector, supervisor):
    case = case_in_arrears(Stage.ESCALATION)
    plan = propose(case, collector, waive="100.00")
    CollectionCase.objects.filter(pk=case.pk).update(stage=Stage.WRITTEN_OFF)

    with pytest.raises(CollectionError):
        services.plan_approve(plan=plan, by=supervisor)


def test_cancelling_a_plan_needs_a_reason_and_permission_and_only_live_plans_are_cancelled(collector, supervisor):
    plan = propose(case_in_arrears(), collector)

    with pytest.raises(PermissionDenied):
        services.plan_cancel(plan=plan, by=UserFactory(), reason="x")
    with pytest.raises(CollectionError):
        services.plan_cancel(plan=plan, by=collector, reason="")
    services.plan_cancel(plan=plan, by=collector, reason="replaced by a settlement")

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.CANCELLED
    assert (plan.cancelled_by, plan.cancel_reason) == (collector, "replaced by a settlement")
    assert plan.cancelled_at is not None
    with pytest.raises(CollectionError):
        services.plan_cancel(plan=plan, by=collector, reason="again")


def test_cancelling_an_approved_plan_keeps_who_approved_it(collector, supervisor):
    plan = propose(case_in_arrears(), collector, waive="100.00")  # beyond the waiver limit
    services.plan_approve(plan=plan, by=supervisor, reason="hardship confirmed")
    decided = (plan.decided_by, plan.decision_reason)
    assert decided == (supervisor, "hardship confirmed")

    services.plan_cancel(plan=plan, by=collector, reason="borrower asked for a settlement")

    plan.refresh_from_db()
    assert (plan.decided_by, plan.decision_reason) == decided
    assert (plan.status, plan.cancelled_by) == (RepaymentPlan.Status.CANCELLED, collector)


# --- checking plan payments ---------------------------------------------------------------------


def test_a_plan_whose_every_payment_is_kept_is_completed(collector):
    case = case_in_arrears()
    plan = plan_of(case, collector, [(days_ago(20), "100.00"), (days_ago(10), "150.00")], proposed_at=at(days_ago(30)))
    pay(case, "100.00", at(days_ago(21)))
    pay(case, "150.00", at(days_ago(9)))  # on the grace day

    counts = evaluate()

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.COMPLETED
    assert statuses(plan) == [PlanInstallment.Status.KEPT] * 2
    assert list(plan.installments.values_list("amount_paid", flat=True)) == [D("100.00"), D("150.00")]
    assert all(plan.installments.values_list("evaluated_at", flat=True))
    assert (counts["installments_kept"], counts["plans_completed"]) == (2, 1)
    case.refresh_from_db()
    assert (case.broken_promises, case.attention_since) == (0, None)


def three_payments(case, by, *, first_due=20):
    """Three payments of 100.00, ten days apart, the first due `first_due` days ago; proposed ten
    days before the first."""
    return plan_of(
        case,
        by,
        [(days_ago(first_due), "100.00"), (days_ago(first_due - 10), "100.00"), (days_ago(first_due - 20), "100.00")],
        proposed_at=at(days_ago(first_due + 10)),
    )


def test_a_missed_plan_payment_counts_as_a_broken_promise_and_breaks_the_plan(collector):
    case = case_in_arrears()
    plan = three_payments(case, collector, first_due=25)
    pay(case, "100.00", at(days_ago(26)))
    before = timezone.now()

    counts = evaluate()

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.BROKEN
    assert statuses(plan) == [
        PlanInstallment.Status.KEPT,
        PlanInstallment.Status.MISSED,
        PlanInstallment.Status.PENDING,  # a broken plan is not checked any further
    ]
    assert (counts["installments_missed"], counts["plans_broken"]) == (1, 1)
    case.refresh_from_db()
    assert case.broken_promises == 1
    assert case.attention_since >= before


def test_a_partly_paid_plan_payment_keeps_the_plan_going_and_breaks_no_promise(collector):
    case = case_in_arrears()
    plan = three_payments(case, collector)  # due 20, 10 days ago and today
    pay(case, "100.00", at(days_ago(20)))
    pay(case, "40.00", at(days_ago(10)))

    evaluate()

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.ACTIVE
    assert statuses(plan) == [
        PlanInstallment.Status.KEPT,
        PlanInstallment.Status.PARTIALLY_KEPT,
        PlanInstallment.Status.PENDING,
    ]
    assert plan.installments.get(sequence=2).amount_paid == D("40.00")
    case.refresh_from_db()
    assert (case.broken_promises, case.attention_since) == (0, None)


def test_paying_ahead_carries_forward_to_the_next_plan_payment(collector):
    case = case_in_arrears()
    plan = three_payments(case, collector, first_due=25)
    pay(case, "300.00", at(days_ago(30)))  # right after the plan was agreed

    evaluate()

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.COMPLETED
    assert statuses(plan) == [PlanInstallment.Status.KEPT] * 3


def test_a_shortfall_is_made_up_before_the_next_plan_payment_counts(collector):
    case = case_in_arrears()
    plan = three_payments(case, collector, first_due=25)
    pay(case, "60.00", at(days_ago(26)))
    pay(case, "100.00", at(days_ago(16)))  # 40.00 of it makes up the first payment
    pay(case, "140.00", at(days_ago(6)))

    evaluate()

    plan.refresh_from_db()
    assert statuses(plan) == [
        PlanInstallment.Status.PARTIALLY_KEPT,
        PlanInstallment.Status.PARTIALLY_KEPT,
        PlanInstallment.Status.KEPT,
    ]
    assert list(plan.installments.order_by("sequence").values_list("amount_paid", flat=True)) == [
        D("60.00"),
        D("60.00"),
        D("100.00"),
    ]
    assert plan.status == RepaymentPlan.Status.COMPLETED  # everything the plan asked for arrived


def test_a_plan_ending_short_is_broken_and_needs_attention_without_a_broken_promise(collector):
    case = case_in_arrears()
    plan = three_payments(case, collector, first_due=25)
    pay(case, "100.00", at(days_ago(26)))
    pay(case, "100.00", at(days_ago(16)))
    pay(case, "30.00", at(days_ago(6)))

    evaluate()

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.BROKEN
    assert statuses(plan)[-1] == PlanInstallment.Status.PARTIALLY_KEPT
    case.refresh_from_db()
    assert case.broken_promises == 0
    assert case.attention_since is not None


def test_a_plan_payment_before_the_plan_was_proposed_does_not_count(collector):
    case = case_in_arrears()
    plan = three_payments(case, collector, first_due=25)
    pay(case, "100.00", at(days_ago(36)))  # a day before the proposal

    evaluate()

    plan.refresh_from_db()
    assert statuses(plan)[0] == PlanInstallment.Status.MISSED


def test_plan_payments_whose_grace_day_has_not_ended_stay_pending(collector):
    case = case_in_arrears()
    plan = plan_of(case, collector, [(days_ago(1), "100.00"), (in_days(20), "100.00")], proposed_at=at(days_ago(10)))

    evaluate()

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.ACTIVE
    assert statuses(plan) == [PlanInstallment.Status.PENDING] * 2


def test_plans_of_held_cases_and_plans_not_active_are_not_checked(collector):
    held = case_in_arrears(Stage.ON_HOLD)
    held_plan = three_payments(held, collector)
    waiting = three_payments(case_in_arrears(), collector)
    RepaymentPlan.objects.filter(pk=waiting.pk).update(status=RepaymentPlan.Status.PENDING_APPROVAL)

    counts = evaluate()

    assert counts["installments_missed"] == 0
    for plan in (held_plan, waiting):
        assert set(statuses(plan)) == {PlanInstallment.Status.PENDING}
    held.refresh_from_db()
    assert held.broken_promises == 0


def test_checking_plans_twice_for_the_same_day_changes_nothing_the_second_time(collector):
    case = case_in_arrears()
    kept = three_payments(case, collector, first_due=10)  # the second is due today
    pay(case, "100.00", at(days_ago(10)))
    missed = three_payments(case_in_arrears(), collector, first_due=10)
    evaluate()
    before = [
        list(PlanInstallment.objects.order_by("pk").values()),
        list(RepaymentPlan.objects.order_by("pk").values()),
        list(CollectionCase.objects.order_by("pk").values()),
    ]

    second = evaluate()

    assert all(count == 0 for count in second.values())
    assert [
        list(PlanInstallment.objects.order_by("pk").values()),
        list(RepaymentPlan.objects.order_by("pk").values()),
        list(CollectionCase.objects.order_by("pk").values()),
    ] == before
    assert statuses(kept)[:2] == [PlanInstallment.Status.KEPT, PlanInstallment.Status.PENDING]
    assert statuses(missed)[0] == PlanInstallment.Status.MISSED


def test_a_plan_proposed_through_the_service_is_checked_from_its_proposal(collector):
    """End to end: propose today, then move the whole plan three weeks back in time."""
    case = case_in_arrears()
    plan = propose(case, collector, [(today(), D("450.00")), (in_days(10), D("450.00"))])
    shift = datetime.timedelta(days=21)
    RepaymentPlan.objects.filter(pk=plan.pk).update(proposed_at=plan.proposed_at - shift)
    for installment in plan.installments.all():
        PlanInstallment.objects.filter(pk=installment.pk).update(due_date=installment.due_date - shift)
    pay(case, "450.00", timezone.now() - shift + datetime.timedelta(hours=1))
    pay(case, "450.00", at(days_ago(10)))

    evaluate()

    plan.refresh_from_db()
    assert plan.status == RepaymentPlan.Status.COMPLETED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_plans_proposed_at_once_leave_one_live_plan(at_once):
    case = case_in_arrears()
    # Two people who may both work the case: its collector and its team's supervisor.
    collectors = [UserFactory(roles=["collector"]), UserFactory(roles=["supervisor", "collector"])]
    for person in reversed(collectors):  # the case ends assigned to the first
        within_reach_of(person, case)

    def proposal(collector_and_copy):
        collector, copy = collector_and_copy
        try:
            propose(copy, collector, waive="100.00")  # beyond policy: no stage move to race on
            return "proposed"
        except CollectionError:
            return "refused"

    # Each collector works from their own copy of the case, read before either proposes.
    copies = [(collector, CollectionCase.objects.get(pk=case.pk)) for collector in collectors]
    outcomes = sorted(at_once(proposal, copies))

    assert outcomes == ["proposed", "refused"]
    assert RepaymentPlan.objects.filter(case=case).count() == 1
