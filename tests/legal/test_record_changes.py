"""Changes to a legal case's records once made: a freeze released or renewed, a hearing the court
moved. Each is refused in words where the rules say (a freeze no longer in force, a day before
the freeze or still to come, a renewal after the lapse, a hearing already held), recorded in the
audit trail with its before and after, and felt by the deadlines (legal.deadlines) in Python and
in SQL alike."""

import datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from collection.exceptions import CollectionError
from legal import services
from legal.deadlines import (
    freezes_in_force,
    frozen_assets_in_force,
    legal_case_deadlines,
    legal_cases_with_deadline_days,
)
from legal.machine import LegalState
from legal.models import DeadlineKind, Enforcement, FrozenAsset, Hearing, LegalCase
from tests.accounts.factories import UserFactory
from tests.collection.factories import at
from tests.legal.factories import CourtFactory, legal_case_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

ACCOUNT = "工商银行账户 6222****1234"


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def frozen(by, *, frozen_on: datetime.date, kind=FrozenAsset.Kind.BANK_DEPOSIT, state=LegalState.ENFORCEMENT):
    legal_case = legal_case_in(state)
    enforcement = Enforcement.objects.create(
        legal_case=legal_case,
        court=CourtFactory(),
        applied_on=frozen_on - datetime.timedelta(days=10),
        amount_applied=Decimal("10000.00"),
        recorded_by=by,
    )
    return FrozenAsset.objects.create(
        legal_case=legal_case,
        enforcement=enforcement,
        kind=kind,
        description=ACCOUNT,
        frozen_on=frozen_on,
        recorded_by=by,
    )


def renewal_deadlines(legal_case) -> list[tuple[datetime.date, FrozenAsset]]:
    """The case's freeze renewal deadlines (Python), after checking the SQL has the same first."""
    today = timezone.localdate()
    found = [
        (deadline.due_on, deadline.record)
        for deadline in legal_case_deadlines(LegalCase.objects.get(pk=legal_case.pk), today=today)
        if deadline.kind == DeadlineKind.FREEZE_RENEWAL
    ]
    in_sql = legal_cases_with_deadline_days(LegalCase.objects.filter(pk=legal_case.pk), today=today).get()
    assert in_sql.freeze_renewal_due_on == (found[0][0] if found else None)
    return found


def entries_of(record) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(record).order_by("pk"))


# --- a freeze released ---------------------------------------------------------------------------


def test_a_released_freeze_no_longer_needs_renewing_and_the_release_is_audited(legal_officer):
    freeze = frozen(legal_officer, frozen_on=days_ago(200))
    assert renewal_deadlines(freeze.legal_case) == [(freeze.expires_on, freeze)]

    released = services.frozen_asset_release(frozen_asset=freeze, by=legal_officer, released_on=days_ago(3))

    freeze.refresh_from_db()
    assert released.released_on == freeze.released_on == days_ago(3)
    assert renewal_deadlines(freeze.legal_case) == []
    assert freezes_in_force([freeze]) == [] and not frozen_assets_in_force().exists()
    entry = entries_of(freeze)[-1]
    assert entry.action == LogEntry.Action.UPDATE and entry.actor == legal_officer
    assert entry.changes_dict == {"released_on": ["None", str(days_ago(3))]}


def test_a_freeze_is_released_on_or_after_the_day_it_was_frozen_and_not_in_the_future(legal_officer):
    freeze = frozen(legal_officer, frozen_on=days_ago(30))

    with pytest.raises(ValidationError) as before:
        services.frozen_asset_release(frozen_asset=freeze, by=legal_officer, released_on=days_ago(31))
    with pytest.raises(ValidationError) as future:
        services.frozen_asset_release(frozen_asset=freeze, by=legal_officer, released_on=in_days(1))

    assert before.value.message_dict == {
        "released_on": [f"A freeze is released on or after the day it was frozen, {days_ago(30)}."]
    }
    assert future.value.message_dict == {"released_on": ["The day of the release cannot be a day still to come."]}
    freeze.refresh_from_db()
    assert freeze.released_on is None and len(renewal_deadlines(freeze.legal_case)) == 1
    # The day it was frozen will do.
    services.frozen_asset_release(frozen_asset=freeze, by=legal_officer, released_on=days_ago(30))


def test_a_freeze_released_or_renewed_is_past_releasing_or_renewing(legal_officer):
    released = frozen(legal_officer, frozen_on=days_ago(100))
    services.frozen_asset_release(frozen_asset=released, by=legal_officer, released_on=days_ago(2))
    renewed = frozen(legal_officer, frozen_on=days_ago(300))
    services.frozen_asset_renew(frozen_asset=renewed, by=legal_officer, renewed_on=days_ago(2))

    for service, day_field in (
        (services.frozen_asset_release, "released_on"),
        (services.frozen_asset_renew, "renewed_on"),
    ):
        with pytest.raises(ValidationError) as again:
            service(frozen_asset=released, by=legal_officer, **{day_field: days_ago(1)})
        assert again.value.message_dict == {"frozen_asset": [f"This freeze was released on {days_ago(2)}."]}
        with pytest.raises(ValidationError) as old:
            service(frozen_asset=renewed, by=legal_officer, **{day_field: days_ago(1)})
        assert old.value.message_dict == {"frozen_asset": ["This freeze was renewed: act on its renewal."]}
    released.refresh_from_db()
    assert released.released_on == days_ago(2)
    assert FrozenAsset.objects.filter(legal_case=renewed.legal_case).count() == 2


# --- a freeze renewed ----------------------------------------------------------------------------


def test_a_renewal_is_a_new_freeze_of_the_asset_from_that_day_and_the_deadline_moves_to_its_lapse(legal_officer):
    freeze = frozen(legal_officer, frozen_on=days_ago(360))  # a bank deposit: a year

    renewal = services.frozen_asset_renew(frozen_asset=freeze, by=legal_officer, renewed_on=days_ago(1))

    assert (renewal.enforcement, renewal.kind, renewal.description) == (freeze.enforcement, freeze.kind, ACCOUNT)
    assert renewal.frozen_on == days_ago(1) and renewal.expires_on == days_ago(1).replace(year=days_ago(1).year + 1)
    assert renewal_deadlines(freeze.legal_case) == [(renewal.expires_on, renewal)]
    assert list(frozen_assets_in_force()) == [renewal]
    entry = entries_of(renewal)[-1]
    assert entry.action == LogEntry.Action.CREATE and entry.actor == legal_officer
    assert entry.changes_dict["frozen_on"] == ["None", str(days_ago(1))]
    assert entry.changes_dict["expires_on"] == ["None", str(renewal.expires_on)]
    freeze.refresh_from_db()
    assert freeze.released_on is None  # renewed, not released: its record stays as it was


def test_a_freeze_is_renewed_after_it_was_frozen_by_its_lapse_and_not_in_the_future(legal_officer):
    lapsed = frozen(legal_officer, frozen_on=days_ago(400))  # lapsed some 35 days ago
    current = frozen(legal_officer, frozen_on=days_ago(10))

    refusals = {}
    for name, freeze, day in (
        ("lapsed", lapsed, days_ago(1)),
        ("same day", current, days_ago(10)),
        ("before", current, days_ago(11)),
        ("future", current, in_days(1)),
    ):
        with pytest.raises(ValidationError) as refused:
            services.frozen_asset_renew(frozen_asset=freeze, by=legal_officer, renewed_on=day)
        refusals[name] = refused.value.message_dict

    assert refusals == {
        "lapsed": {"renewed_on": [f"This freeze lapsed on {lapsed.expires_on}: record the asset as frozen anew."]},
        "same day": {"renewed_on": [f"A freeze is renewed after the day it was frozen, {days_ago(10)}."]},
        "before": {"renewed_on": [f"A freeze is renewed after the day it was frozen, {days_ago(10)}."]},
        "future": {"renewed_on": ["The day of the renewal cannot be a day still to come."]},
    }
    assert FrozenAsset.objects.count() == 2
    # On the day it lapses at the latest.
    on_the_day = frozen(legal_officer, frozen_on=days_ago(1).replace(year=days_ago(1).year - 1))
    assert on_the_day.expires_on == days_ago(1)
    services.frozen_asset_renew(frozen_asset=on_the_day, by=legal_officer, renewed_on=days_ago(1))


def test_a_freeze_on_a_closed_case_is_not_renewed(legal_officer):
    freeze = frozen(legal_officer, frozen_on=days_ago(100), state=LegalState.CLOSED)

    with pytest.raises(CollectionError):
        services.frozen_asset_renew(frozen_asset=freeze, by=legal_officer, renewed_on=days_ago(1))

    assert FrozenAsset.objects.count() == 1


def test_only_those_who_work_the_case_release_or_renew_its_freezes(legal_officer, collector):
    other_supervisor = UserFactory(roles=["supervisor"])
    freeze = frozen(legal_officer, frozen_on=days_ago(100))  # the desk's team, not theirs

    for user in (collector, other_supervisor):
        with pytest.raises(PermissionDenied):
            services.frozen_asset_release(frozen_asset=freeze, by=user, released_on=days_ago(1))
        with pytest.raises(PermissionDenied):
            services.frozen_asset_renew(frozen_asset=freeze, by=user, renewed_on=days_ago(1))

    freeze.refresh_from_db()
    assert freeze.released_on is None and FrozenAsset.objects.count() == 1


# --- a hearing moved -----------------------------------------------------------------------------


def hearing_on(day: datetime.date, by, *, result: str = "") -> Hearing:
    return Hearing.objects.create(
        legal_case=legal_case_in(LegalState.IN_HEARING),
        held_at=at(day, 9, 30),
        place="第三法庭",
        result=result,
        recorded_by=by,
    )


def test_a_hearing_moved_has_its_deadline_on_the_new_day_and_the_move_is_audited(legal_officer):
    hearing = hearing_on(in_days(3), legal_officer)

    moved = services.hearing_reschedule(
        hearing=hearing, by=legal_officer, held_at=at(in_days(20), 14, 0), place="第五法庭", reason="法院通知延期"
    )

    hearing.refresh_from_db()
    assert (moved.held_at, moved.place) == (hearing.held_at, hearing.place) == (at(in_days(20), 14, 0), "第五法庭")
    today = timezone.localdate()
    deadlines = legal_case_deadlines(LegalCase.objects.get(pk=hearing.legal_case_id), today=today)
    assert [(d.kind, d.due_on, d.what) for d in deadlines] == [(DeadlineKind.HEARING, in_days(20), "14:00 第五法庭")]
    in_sql = legal_cases_with_deadline_days(LegalCase.objects.filter(pk=hearing.legal_case_id), today=today).get()
    assert in_sql.hearing_due_on == in_days(20)
    entry = entries_of(hearing)[-1]
    assert entry.action == LogEntry.Action.UPDATE and entry.actor == legal_officer
    assert entry.changes_dict == {
        "held_at": [str(at(in_days(3), 9, 30)), str(at(in_days(20), 14, 0))],
        "place": ["第三法庭", "第五法庭"],
    }
    assert entry.additional_data == {"reason": "法院通知延期"}


def test_a_hearing_moved_without_a_place_keeps_its_place(legal_officer):
    hearing = hearing_on(in_days(3), legal_officer)

    services.hearing_reschedule(hearing=hearing, by=legal_officer, held_at=at(in_days(4), 9, 30))

    hearing.refresh_from_db()
    assert (hearing.held_at, hearing.place) == (at(in_days(4), 9, 30), "第三法庭")
    assert set(entries_of(hearing)[-1].changes_dict) == {"held_at"}


def test_a_hearing_with_a_result_or_to_a_time_gone_by_or_unchanged_is_not_moved(legal_officer):
    held = hearing_on(days_ago(3), legal_officer, result="庭审结束，择期宣判")
    to_come = hearing_on(in_days(3), legal_officer)

    refusals = {}
    for name, hearing, held_at in (
        ("held", held, at(in_days(10))),
        ("past", to_come, timezone.now() - datetime.timedelta(minutes=1)),
        ("unchanged", to_come, at(in_days(3), 9, 30)),
    ):
        with pytest.raises(ValidationError) as refused:
            services.hearing_reschedule(hearing=hearing, by=legal_officer, held_at=held_at)
        refusals[name] = refused.value.message_dict

    assert refusals == {
        "held": {"hearing": ["This hearing was held: its result is recorded."]},
        "past": {"held_at": ["A hearing is moved to a time still to come; record what came of one already held."]},
        "unchanged": {"held_at": ["The hearing is already at that time and place."]},
    }
    to_come.refresh_from_db()
    assert to_come.held_at == at(in_days(3), 9, 30)


def test_a_hearing_is_moved_only_while_the_case_is_in_hearing_and_by_those_who_work_it(legal_officer, collector):
    hearing = hearing_on(in_days(3), legal_officer)
    LegalCase.objects.filter(pk=hearing.legal_case_id).update(state=LegalState.JUDGMENT)

    with pytest.raises(CollectionError):
        services.hearing_reschedule(hearing=hearing, by=legal_officer, held_at=at(in_days(5)))
    LegalCase.objects.filter(pk=hearing.legal_case_id).update(state=LegalState.IN_HEARING)
    with pytest.raises(PermissionDenied):
        services.hearing_reschedule(hearing=hearing, by=collector, held_at=at(in_days(5)))

    hearing.refresh_from_db()
    assert hearing.held_at == at(in_days(3), 9, 30) and entries_of(hearing)[-1].action == LogEntry.Action.CREATE
