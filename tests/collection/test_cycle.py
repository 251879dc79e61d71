"""The nightly collection cycle: the batch path against the one-case services, idempotence,
the day's lock, dry runs, a batch that dies half-way, routing and the snapshot."""

import datetime
import random

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone, translation
from django_fsm_log.models import StateLog

from collection import cycle
from collection.cycle_reference import collection_cycle_case_by_case
from collection.fsm import Condition
from collection.jobs import STALE_AFTER, JobAlreadyRan, JobRunning
from collection.machine import CASE_MACHINE, OPEN_STAGES, Stage
from collection.models import (
    CaseAssignment,
    CaseRouting,
    CollectionCase,
    DashboardFigure,
    EscalationRequest,
    JobRun,
    PromiseToPay,
    StageRule,
)
from collection.stage_rules import rule_criteria
from loans.models import Loan, PortfolioSnapshot
from loans.services import portfolio_snapshot_take
from tests.collection.portfolio import desk_teams, random_portfolio
from tests.loans.factories import make_days_past_due


@pytest.fixture
def as_of():
    return timezone.localdate()


class Rollback(Exception):
    pass


def desk_state() -> dict:
    """Everything the cycle may change, keyed by account numbers and usernames, not ids or times."""
    account = dict(Loan.objects.values_list("pk", "account_number"))
    case_account = {pk: account[loan_id] for pk, loan_id in CollectionCase.objects.values_list("pk", "loan_id")}
    return {
        "loans": sorted(
            Loan.objects.values_list(
                "account_number", "status", "days_past_due", "overdue_amount", "bucket__name", "oldest_unpaid_due_on"
            )
        ),
        "cases": sorted(
            (
                account[case.loan_id],
                case.stage,
                case.broken_promises,
                case.attention_since is not None,
                case.assigned_to.username if case.assigned_to else None,
                case.team.name if case.team else None,
                case.closed_at is not None,
                case.held_stage,
            )
            for case in CollectionCase.objects.select_related("assigned_to", "team")
        ),
        "logs": sorted(
            (case_account[log.object_id], log.transition, log.source_state, log.state, log.by.username, log.description)
            for log in StateLog.objects.select_related("by")
        ),
        "requests": sorted(
            (case_account[r.case_id], r.target_stage, r.status, r.reason, r.requested_by_id)
            for r in EscalationRequest.objects.all()
        ),
        "assignments": sorted(
            (case_account[a.case_id], a.assigned_to.username, a.team.name, a.assigned_by.username, a.reason)
            for a in CaseAssignment.objects.select_related("assigned_to", "team", "assigned_by")
        ),
        "promises": sorted((case_account[p.case_id], p.status, p.amount_paid) for p in PromiseToPay.objects.all()),
        "snapshot": sorted(
            PortfolioSnapshot.objects.values_list(
                "as_of", "product__code", "bucket__name", "loans", "delinquent_loans", "total_outstanding"
            )
        ),
        "dashboard": sorted(
            (day, team or "", measure, stage, channel, value)
            for day, team, measure, stage, channel, value in DashboardFigure.objects.values_list(
                "day", "team__name", "measure", "stage", "channel", "value"
            )
        ),
    }


def run_and_capture(run) -> tuple[dict, dict]:
    """Run `run()` in a savepoint, capture the state and the counts, and roll it all back. In
    the desk's language, as a worker runs it."""
    captured = {}
    try:
        with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            captured["counts"] = run()
            captured["state"] = desk_state()
            raise Rollback
    except Rollback:
        pass
    return captured["counts"], captured["state"]


@pytest.mark.django_db
def test_the_batch_path_leaves_what_the_one_case_services_leave(as_of, system_user):
    """At least 2,000 cases: the same portfolio through the cycle (in small id ranges, so that
    many batches run) and through the services loan by loan ends identical."""
    desk_teams()
    random_portfolio(loans=2_900, seed=11, as_of=as_of)
    assert CollectionCase.objects.count() >= 2_000
    before = desk_state()

    batch_counts, batch_state = run_and_capture(lambda: cycle.collection_cycle(as_of=as_of, batch_size=300))
    assert desk_state() == before
    loan_ids = list(Loan.objects.values_list("pk", flat=True))
    case_counts, case_state = run_and_capture(lambda: collection_cycle_case_by_case(as_of=as_of, loan_ids=loan_ids))

    for part in batch_state:
        assert batch_state[part] == case_state[part], part
    assert batch_counts == case_counts
    # The portfolio was rich enough to exercise every kind of move.
    assert batch_counts["open"]["cases_opened"] > 50
    assert batch_counts["resolve"]["cases_resolved"] > 50
    assert batch_counts["stage_rules"]["moved_to_escalation"] > 50
    assert batch_counts["stage_rules"]["requests_litigation"] > 20
    assert batch_counts["promises"]["promises_broken"] > 10
    assert batch_counts["allocate"]["cases_allocated"] > 50
    reasons = {log[5] for log in batch_state["logs"]}
    assert any("31" in reason for reason in reasons)  # the rule moving cases on at DPD 31


@pytest.mark.django_db
def test_a_second_run_for_the_same_day_changes_nothing(as_of, system_user):
    desk_teams()
    random_portfolio(loans=400, seed=3, as_of=as_of)
    first = cycle.collection_cycle(as_of=as_of, batch_size=100)
    after_first = desk_state()
    assert first["open"]["cases_opened"] > 0

    # The lock refuses the day's second run...
    with pytest.raises(JobAlreadyRan):
        cycle.collection_cycle(as_of=as_of)
    # ...and the steps themselves, run again, find nothing left to do.
    at = timezone.now()
    for step in cycle.cycle_plan():
        counts = cycle.cycle_step_run(step=step, as_of=as_of, at=at, batch_size=100)
        for name, value in counts.items():
            # The dashboard's filing files again the days whose records changed within the hour
            # before the last filing (CHANGES_OVERLAP): all of them here, to the same figures.
            if name not in ("loans_read", "snapshot_rows", "cases_unallocated", "days_filed", "figures_written"):
                assert value == 0, (step, name, value)
    assert desk_state() == after_first


@pytest.mark.django_db
def test_the_run_is_recorded_for_supervisors(as_of, system_user):
    desk_teams()
    random_portfolio(loans=200, seed=5, as_of=as_of)
    counts = cycle.collection_cycle(as_of=as_of)
    run = JobRun.objects.get(job=JobRun.Job.COLLECTION_CYCLE, as_of=as_of)
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.finished_at >= run.started_at
    assert run.counts == counts
    assert set(run.counts) == {step.name for step in cycle.cycle_steps()}


@pytest.mark.django_db
def test_a_live_run_holds_the_lock_and_a_dead_one_is_taken_over(as_of, system_user):
    run = cycle.cycle_start(as_of=as_of)
    with pytest.raises(JobRunning):
        cycle.cycle_start(as_of=as_of)
    JobRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - STALE_AFTER * 2)
    taken = cycle.cycle_start(as_of=as_of)
    assert taken.pk == run.pk and taken.attempts == 2 and taken.status == JobRun.Status.RUNNING


@pytest.mark.django_db
def test_a_batch_that_dies_half_way_leaves_nothing_and_the_next_run_finishes(as_of, system_user, monkeypatch):
    desk_teams()
    random_portfolio(loans=600, seed=7, as_of=as_of)
    loan_ids = list(Loan.objects.order_by("pk").values_list("pk", flat=True))
    _, clean = run_and_capture(lambda: cycle.collection_cycle(as_of=as_of, batch_size=200))

    # The second range's stage-rule batch dies after its first move, as a killed worker would.
    real = CASE_MACHINE.apply
    second_range = loan_ids[0] + 200

    def dying(**kwargs):
        moved = real(**kwargs)
        if kwargs["rows"].filter(loan_id=second_range).exists() and moved:
            raise RuntimeError("worker lost")
        return moved

    monkeypatch.setattr(CASE_MACHINE, "apply", dying)
    logs_before = StateLog.objects.count()
    with pytest.raises(RuntimeError):
        cycle.collection_cycle(as_of=as_of, batch_size=200)
    run = JobRun.objects.get(as_of=as_of)
    assert run.status == JobRun.Status.FAILED and "worker lost" in run.errors
    # The first range's batches stand, the dead batch left nothing: every moved case has its log row.
    moved_ids = set(StateLog.objects.values_list("object_id", flat=True)[logs_before:])
    in_second_range = CollectionCase.objects.filter(loan_id__gte=second_range, loan_id__lt=second_range + 200)
    assert not (
        set(in_second_range.values_list("pk", flat=True))
        & moved_ids - set(StateLog.objects.filter(transition="resolve").values_list("object_id", flat=True))
    )

    monkeypatch.undo()
    cycle.collection_cycle(as_of=as_of, batch_size=200)
    run.refresh_from_db()
    assert run.status == JobRun.Status.SUCCEEDED and run.attempts == 2
    assert desk_state() == clean


@pytest.mark.django_db
def test_a_dry_run_reports_and_changes_nothing(as_of, system_user, capsys):
    desk_teams()
    random_portfolio(loans=300, seed=9, as_of=as_of)
    before = desk_state()
    with translation.override("en"):
        call_command("run_collection_cycle", "--dry-run", "--as-of", as_of.isoformat(), verbosity=0)
    output = capsys.readouterr().out
    assert desk_state() == before
    assert not JobRun.objects.exists()
    # What it said it would do is what the real run then does.
    done = cycle.collection_cycle(as_of=as_of)
    assert done["open"]["cases_opened"] > 0
    assert "nothing was changed" in output
    assert f"Opening cases: cases opened {done['open']['cases_opened']:,}\n" in output
    with translation.override("en"):
        moved = ", ".join(
            f"moved to {Stage(key.removeprefix('moved_to_')).label} {value:,}"
            for key, value in sorted(done["stage_rules"].items())
            if key.startswith("moved_to_")
        )
    assert moved and moved in output


@pytest.mark.django_db
def test_the_command_prints_the_summary_and_refuses_a_bad_day(as_of, system_user, capsys):
    desk_teams()
    random_portfolio(loans=100, seed=2, as_of=as_of)
    call_command("run_collection_cycle", verbosity=0)
    output = capsys.readouterr().out
    # The desk speaks Chinese by default, the counts too.
    assert f"{as_of} 的催收批处理已完成" in output
    opened = JobRun.objects.get().counts["open"]["cases_opened"]
    assert f"开立案件: 开立案件 {opened:,}\n" in output
    with translation.override("en"):
        call_command("run_collection_cycle", verbosity=0)
    assert "already ran" in capsys.readouterr().out
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_collection_cycle", "--as-of", "2026-13-01")


@pytest.mark.django_db
def test_a_what_if_run_for_a_day_to_come_leaves_promises_alone(as_of, system_user):
    desk_teams()
    random_portfolio(loans=300, seed=4, as_of=as_of)
    future = as_of + datetime.timedelta(days=40)
    counts = cycle.collection_cycle(as_of=future, dry_run=True)
    assert counts["promises"] == {"skipped_day_to_come": 1}
    # Forty days on, more loans are past due than today.
    today = cycle.collection_cycle(as_of=as_of, dry_run=True)
    assert counts["open"]["cases_opened"] >= today["open"]["cases_opened"]


# --- the pieces --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_condition_of_the_machine_has_a_batch_filter_that_agrees(as_of, system_user):
    random_portfolio(loans=300, seed=13, as_of=as_of)
    cycle.collection_cycle(as_of=as_of, dry_run=False)
    conditions = {
        condition
        for name in CASE_MACHINE.transition_names()
        for transition in CASE_MACHINE.transitions(name)
        for condition in transition.conditions
    }
    assert {condition.__name__ for condition in conditions} >= {
        "has_negotiation_grounds",
        "loan_is_current_or_paid_off",
        "settlement_is_paid",
    }
    assert all(isinstance(condition, Condition) for condition in conditions)
    rng = random.Random(1)
    sample = rng.sample(list(CollectionCase.objects.select_related("loan")), 150)
    # Some settlements, paid and not, for settlement_is_paid.
    for case in sample[:40]:
        CollectionCase.objects.filter(pk=case.pk).update(
            settlement_amount=rng.choice([1, 100, 100_000]),
            settlement_agreed_at=timezone.now() - datetime.timedelta(days=9),
        )
    for condition in conditions:
        matched = set(CollectionCase.objects.filter(condition.filter(CollectionCase)).values_list("pk", flat=True))
        for case in CollectionCase.objects.filter(pk__in=[c.pk for c in sample]).select_related("loan"):
            assert condition(case) == (case.pk in matched), (condition.__name__, case.pk)


@pytest.mark.django_db
def test_rule_criteria_filters_agree_with_their_tests(as_of, system_user):
    random_portfolio(loans=300, seed=17, as_of=as_of)
    StageRule.objects.filter(stage=Stage.NEGOTIATION).update(escalate_after_days_without_contact=20)
    for rule in StageRule.objects.all():
        for criterion in rule_criteria(rule, as_of=as_of):
            matched = set(CollectionCase.objects.filter(criterion.filter).values_list("pk", flat=True))
            for case in CollectionCase.objects.select_related("loan"):
                assert criterion.test(case) == (case.pk in matched), (rule.stage, criterion.code, case.pk)


@pytest.mark.django_db
def test_a_rejected_proposal_is_not_made_again_until_the_case_changes_stage(as_of, system_user):
    from tests.collection.factories import case_in

    case = case_in(Stage.ESCALATION)
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), 120, status=Loan.Status.DELINQUENT)
    at = timezone.now()
    counts = cycle.cycle_step_run(step="stage_rules", as_of=as_of, at=at)
    assert counts == {"requests_litigation": 1}
    request = EscalationRequest.objects.get(case=case)
    assert request.requested_by is None and "91" in request.reason
    EscalationRequest.objects.filter(pk=request.pk).update(status="rejected", decided_at=timezone.now())
    assert cycle.cycle_step_run(step="stage_rules", as_of=as_of, at=at) == {}
    # Back in negotiation and escalated again: the rule may propose once more.
    CollectionCase.objects.filter(pk=case.pk).update(stage_entered_at=timezone.now() + datetime.timedelta(minutes=1))
    assert cycle.cycle_step_run(step="stage_rules", as_of=as_of, at=at) == {"requests_litigation": 1}


@pytest.mark.django_db
def test_a_held_case_is_neither_moved_nor_proposed(as_of, system_user):
    from tests.collection.factories import case_in

    case = case_in(Stage.ON_HOLD, held_stage=Stage.REMINDER, broken_promises=5)
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), 200, status=Loan.Status.DELINQUENT)
    counts = cycle.cycle_step_run(step="stage_rules", as_of=as_of, at=timezone.now())
    assert counts == {}
    case.refresh_from_db()
    assert case.stage == Stage.ON_HOLD


@pytest.mark.django_db
def test_new_cases_go_to_the_team_their_product_is_routed_to(as_of, system_user):
    first, second = desk_teams(collectors_per_team=2)
    random_portfolio(loans=300, seed=21, as_of=as_of)
    product = Loan.objects.values_list("product_id", flat=True).order_by("product_id").first()
    CaseRouting.objects.create(product_id=product, team=first)
    CaseRouting.objects.create(product=None, team=second)
    CollectionCase.objects.update(assigned_to=None, team=None)
    counts = cycle.collection_cycle(as_of=as_of)
    open_cases = CollectionCase.objects.filter(stage__in=OPEN_STAGES)
    assert counts["allocate"]["cases_unallocated"] == 0
    assert not open_cases.filter(loan__product_id=product).exclude(team=first).exists()
    assert not open_cases.exclude(loan__product_id=product).exclude(team=second).exists()
    assert set(open_cases.filter(team=first).values_list("assigned_to", flat=True)) <= set(
        first.members.values_list("pk", flat=True)
    )
    # Each team's collectors carry about as many cases as one another.
    for team in (first, second):
        loads = [open_cases.filter(assigned_to=member).count() for member in team.members.all()]
        assert max(loads) - min(loads) <= 1, loads


@pytest.mark.django_db
def test_cases_of_a_product_routed_nowhere_stay_unassigned_and_are_counted(as_of, system_user):
    first, _second = desk_teams()
    random_portfolio(loans=200, seed=23, as_of=as_of)
    product = Loan.objects.values_list("product_id", flat=True).order_by("product_id").first()
    CaseRouting.objects.create(product_id=product, team=first)
    counts = cycle.collection_cycle(as_of=as_of)
    unassigned = CollectionCase.objects.filter(stage__in=OPEN_STAGES, assigned_to__isnull=True)
    assert counts["allocate"]["cases_unallocated"] > 0 and unassigned.exists()
    assert not unassigned.filter(loan__product_id=product).exists()


@pytest.mark.django_db
def test_no_case_is_opened_again_after_a_write_off(as_of, system_user):
    from tests.collection.factories import case_in

    case = case_in(Stage.WRITTEN_OFF)
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), 200, status=Loan.Status.DELINQUENT)
    cured = case_in(Stage.RESOLVED)
    make_days_past_due(Loan.objects.filter(pk=cured.loan_id), 5, status=Loan.Status.DELINQUENT)
    counts = cycle.cycle_step_run(step="open", as_of=as_of, at=timezone.now())
    assert counts == {"cases_opened": 1}
    assert CollectionCase.objects.filter(loan_id=cured.loan_id, stage=Stage.REMINDER).exists()
    assert not CollectionCase.objects.filter(loan_id=case.loan_id, stage=Stage.REMINDER).exists()


@pytest.mark.django_db
def test_the_snapshot_adds_up_to_the_portfolio(as_of, system_user):
    random_portfolio(loans=300, seed=29, as_of=as_of)
    cycle.collection_cycle(as_of=as_of)
    snapshot = PortfolioSnapshot.objects.filter(as_of=as_of)
    assert snapshot.aggregate(total=Sum("loans"))["total"] == Loan.objects.count()
    assert (
        snapshot.aggregate(total=Sum("overdue_amount"))["total"]
        == Loan.objects.aggregate(total=Sum("overdue_amount"))["total"]
    )
    delinquent = Loan.objects.filter(status=Loan.Status.DELINQUENT).count()
    assert snapshot.aggregate(total=Sum("delinquent_loans"))["total"] == delinquent
    # Taken again for the same day, it replaces the day's rows.
    rows = snapshot.count()
    assert portfolio_snapshot_take(as_of=as_of) == rows == snapshot.count()


@pytest.mark.django_db
def test_transition_reasons_are_written_in_the_desk_language(as_of, system_user):
    from tests.collection.factories import case_in

    case = case_in(Stage.REMINDER)
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), 40, status=Loan.Status.DELINQUENT)
    with translation.override("en"):
        cycle.cycle_step_run(step="stage_rules", as_of=as_of, at=timezone.now())
    log = StateLog.objects.get(object_id=case.pk)
    assert log.by.username == "system" and log.transition == "escalate"
    assert "阶段规则" in log.description or "规则" in log.description


@pytest.mark.django_db
def test_supervisors_see_the_runs_and_what_each_step_did_in_the_admin(as_of, system_user, client, supervisor):
    random_portfolio(loans=100, seed=41, as_of=as_of)
    cycle.collection_cycle(as_of=as_of)
    run = JobRun.objects.get()
    supervisor.is_staff = True
    supervisor.save()
    client.force_login(supervisor)
    listing = client.get(reverse("admin:collection_jobrun_changelist"))
    detail = client.get(reverse("admin:collection_jobrun_change", args=[run.pk]))
    assert listing.status_code == 200 and detail.status_code == 200
    page = detail.content.decode()
    # In the desk's language, the steps in the order they ran, each with its counts.
    positions = [page.index(f"<th>{step.label}</th>") for step in cycle.cycle_steps()]
    assert positions == sorted(positions)
    assert "<th>账龄更新</th>" in page
    assert f"开立案件 {run.counts['open']['cases_opened']:,}" in page


@pytest.mark.django_db
def test_the_command_hands_the_run_to_the_workers_when_asked(as_of, system_user, capsys, monkeypatch):
    from collection import tasks

    sent = []
    monkeypatch.setattr(
        tasks.collection_cycle_task,
        "delay",
        lambda **kwargs: sent.append(kwargs) or type("Result", (), {"id": "t-1"})(),
    )
    call_command("run_collection_cycle", "--on-workers", "--as-of", as_of.isoformat(), verbosity=0)
    assert sent == [{"as_of": as_of.isoformat()}]
    assert "t-1" in capsys.readouterr().out
    assert not JobRun.objects.exists()  # the worker takes the lock, not the command
    with pytest.raises(CommandError, match="dry-run"):
        call_command("run_collection_cycle", "--on-workers", "--dry-run")
