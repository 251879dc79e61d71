"""The legal case machine: a case sent to litigation opens its legal case; every transition runs
from each of its sources and nowhere else, needs its permission, holds to its conditions and
refuses a stale copy; the documented diagram is the code's; who sees which legal case."""

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django_fsm_log.models import StateLog

from collection.exceptions import CollectionError, StaleCase
from collection.fsm import MACHINES, mermaid_block
from collection.machine import Stage
from collection.models import CollectionCase
from collection.services import case_litigate
from legal.access import legal_cases_visible_to
from legal.machine import ACTIVE_STATES, LEGAL_MACHINE, LegalState, Outcome
from legal.models import Judgment, LegalCase, Mediation, PaymentOrder
from legal.services import legal_case_open
from loans.models import Loan
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import SHANGHAI, case_in
from tests.legal.factories import CourtFactory, legal_case_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

TODAY = datetime.date.today()
LONG_AGO = datetime.date(2026, 1, 5)


def test_sending_a_case_to_litigation_opens_its_legal_case(supervisor, collector):
    case = case_in(Stage.ESCALATION)
    Loan.objects.filter(pk=case.loan_id).update(oldest_unpaid_due_on=datetime.date(2026, 2, 15))

    case_litigate(case=case, by=supervisor, reason="No payment after the final notice")

    legal_case = LegalCase.objects.get(case=case)
    assert legal_case.state == LegalState.PREPARING
    # The limitation period runs from the day the debt was first unpaid, three years on.
    assert legal_case.limitation_from == datetime.date(2026, 2, 15)
    assert legal_case.limitation_ends == datetime.date(2029, 2, 15)
    # Opened once: the collection case keeps the legal case it has.
    assert legal_case_open(case=case, by=supervisor) == legal_case


def test_without_an_unpaid_due_date_the_limitation_period_runs_from_the_day_the_case_opened(supervisor, collector):
    case = case_in(Stage.ESCALATION)
    CollectionCase.objects.filter(pk=case.pk).update(opened_at=datetime.datetime(2026, 4, 1, 9, tzinfo=SHANGHAI))
    case.refresh_from_db()

    case_litigate(case=case, by=supervisor, reason="No payment")

    assert LegalCase.objects.get(case=case).limitation_from == datetime.date(2026, 4, 1)


def test_a_failing_legal_case_undoes_the_move_to_litigation(supervisor, collector, monkeypatch):
    case = case_in(Stage.ESCALATION)

    def broken(**_kwargs):
        raise RuntimeError("the legal track is down")

    monkeypatch.setattr("legal.receivers.legal_case_open", broken)
    with pytest.raises(RuntimeError):
        case_litigate(case=case, by=supervisor, reason="No payment")

    case.refresh_from_db()
    assert case.stage == Stage.ESCALATION
    assert not LegalCase.objects.exists()


# --- every transition ----------------------------------------------------------------------------


def _grounds(name: str, legal_case: LegalCase, officer) -> dict:
    """What transition `name` needs besides its source state: records meeting its conditions,
    and its arguments."""
    court = CourtFactory()
    if name == "sue_after_objection":
        PaymentOrder.objects.create(
            legal_case=legal_case,
            court=court,
            applied_on=LONG_AGO,
            served_on=LONG_AGO,
            objected_on=LONG_AGO,
            recorded_by=officer,
        )
    if name == "enforce_payment_order":
        PaymentOrder.objects.create(
            legal_case=legal_case, court=court, applied_on=LONG_AGO, served_on=LONG_AGO, recorded_by=officer
        )
    if name == "enforce_agreement":
        Mediation.objects.create(
            legal_case=legal_case,
            mediator="人民调解委员会",
            started_on=LONG_AGO,
            agreed_on=LONG_AGO,
            confirmed_on=LONG_AGO,
            recorded_by=officer,
        )
    if name == "enforce_judgment":
        Judgment.objects.create(
            legal_case=legal_case,
            ruled_on=LONG_AGO,
            awarded_amount=1000,
            costs_awarded=50,
            effective_on=LONG_AGO,
            recorded_by=officer,
        )
    return {"outcome": Outcome.UNCOLLECTIBLE} if name == "close" else {}


EDGES = LEGAL_MACHINE.edges()


@pytest.mark.parametrize(("source", "target", "name"), EDGES, ids=[f"{s}-{n}" for s, _t, n in EDGES])
def test_each_transition_moves_a_case_from_its_source_and_logs_who_and_why(
    source, target, name, legal_officer, supervisor
):
    legal_case = legal_case_in(source)
    by = supervisor if name == "withdraw" else legal_officer
    arguments = _grounds(name, legal_case, legal_officer)

    LEGAL_MACHINE.run(legal_case, name, by=by, reason="reason given", **arguments)

    legal_case.refresh_from_db()
    assert legal_case.state == target
    log = StateLog.objects.get(object_id=legal_case.pk, transition=name)
    assert (log.source_state, log.state, log.by, log.description) == (source, target, by, "reason given")
    if target == LegalState.CLOSED:
        assert legal_case.closed_at is not None and legal_case.outcome


@pytest.mark.parametrize("name", LEGAL_MACHINE.transition_names())
def test_each_transition_is_refused_from_a_state_it_does_not_leave(name, legal_officer, supervisor, in_english):
    sources = {source for source, _target, edge in EDGES if edge == name}
    elsewhere = next(state for state in LegalState.values if state not in sources)
    legal_case = legal_case_in(elsewhere)
    by = supervisor if name == "withdraw" else legal_officer

    with pytest.raises(CollectionError, match=r"^Cannot .*: the case is in stage "):
        LEGAL_MACHINE.run(legal_case, name, by=by, reason="r", **_grounds(name, legal_case, legal_officer))

    legal_case.refresh_from_db()
    assert legal_case.state == elsewhere


def test_a_collector_may_not_move_a_legal_case_and_a_legal_officer_may_not_withdraw_one(collector, legal_officer):
    legal_case = legal_case_in(LegalState.PREPARING)

    with pytest.raises(PermissionDenied):
        LEGAL_MACHINE.run(legal_case, "send_letter", by=collector, reason="r")
    with pytest.raises(PermissionDenied, match="You may not withdraw the legal case"):
        LEGAL_MACHINE.run(legal_case, "withdraw", by=legal_officer, reason="r")
    legal_case.refresh_from_db()
    assert legal_case.state == LegalState.PREPARING


@pytest.mark.parametrize(
    ("state", "name", "unmet"),
    [
        (LegalState.PAYMENT_ORDER, "sue_after_objection", "the borrower has not objected to the payment order"),
        (LegalState.PAYMENT_ORDER, "enforce_payment_order", "the payment order is not enforceable yet"),
        (LegalState.MEDIATION, "enforce_agreement", "no mediated agreement has been judicially confirmed"),
        (LegalState.JUDGMENT, "enforce_judgment", "no judgment has taken effect"),
    ],
)
def test_a_transition_whose_condition_does_not_hold_says_what_is_missing(state, name, unmet, legal_officer):
    legal_case = legal_case_in(state)

    with pytest.raises(CollectionError, match=re.escape(unmet)):
        LEGAL_MACHINE.run(legal_case, name, by=legal_officer, reason="r")


def test_a_payment_order_whose_objection_period_still_runs_is_not_enforceable(legal_officer):
    legal_case = legal_case_in(LegalState.PAYMENT_ORDER)
    PaymentOrder.objects.create(
        legal_case=legal_case, court=CourtFactory(), applied_on=TODAY, served_on=TODAY, recorded_by=legal_officer
    )

    with pytest.raises(CollectionError, match="objection period still runs"):
        LEGAL_MACHINE.run(legal_case, "enforce_payment_order", by=legal_officer, reason="r")


def test_a_copy_someone_else_moved_first_is_stale(legal_officer):
    legal_case = legal_case_in(LegalState.PREPARING)
    other_copy = LegalCase.objects.get(pk=legal_case.pk)
    LEGAL_MACHINE.run(legal_case, "mediate", by=legal_officer, reason="first")

    with pytest.raises(StaleCase), transaction.atomic():
        LEGAL_MACHINE.run(other_copy, "file_suit", by=legal_officer, reason="second")

    legal_case.refresh_from_db()
    assert legal_case.state == LegalState.MEDIATION


def test_every_active_state_can_be_settled_withdrawn_and_closed():
    for name in ("settle", "withdraw", "close"):
        sources = {source for source, _target, edge in EDGES if edge == name}
        assert sources == set(ACTIVE_STATES), name


# --- the document ------------------------------------------------------------------------------


def test_the_documented_diagram_and_transitions_match_the_code():
    text = LEGAL_MACHINE.doc.read_text(encoding="utf-8")

    assert mermaid_block(text) == LEGAL_MACHINE.mermaid(), (
        "run `python manage.py case_machine_diagram --machine legal.LegalCase --write`"
    )
    explained = text.split("## Transitions", 1)[1]
    for name in LEGAL_MACHINE.transition_names():
        permission = LEGAL_MACHINE.transitions(name)[0].permission
        assert re.search(rf"^- `{name}` \(`{re.escape(permission)}`\)", explained, re.MULTILINE), name
    assert MACHINES["legal.LegalCase"] is LEGAL_MACHINE


# --- who sees which legal case -----------------------------------------------------------------


def test_who_sees_which_legal_case(collector, supervisor, legal_officer, desk_admin):
    ours = legal_case_in(LegalState.FILED)
    other_supervisor = UserFactory(roles=["supervisor"])
    theirs = legal_case_in(LegalState.FILED, team=TeamFactory(supervisor=other_supervisor), assigned_to=None)

    assert set(legal_cases_visible_to(legal_officer)) == {ours, theirs}
    assert set(legal_cases_visible_to(desk_admin)) == {ours, theirs}
    assert set(legal_cases_visible_to(supervisor)) == {ours}
    assert set(legal_cases_visible_to(other_supervisor)) == {theirs}
    assert not legal_cases_visible_to(collector).exists()
