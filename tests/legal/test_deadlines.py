"""The deadlines of a legal case, worked by hand for each step; the earliest first; the SQL that
orders a list of cases by its next deadline agrees with them; and the legal officers are reminded
of each once per lead time, by e-mail, the limitation period 90 days ahead as well."""

import datetime
import random
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.db.models import F
from django.utils import translation
from django.utils.translation import ngettext
from django_celery_beat.models import PeriodicTask

from legal.deadlines import (
    legal_case_deadlines,
    legal_cases_with_deadline_days,
    legal_cases_with_next_deadline,
    next_asset_check,
    next_deadline,
    next_deadline_kind,
    with_deadline_records,
)
from legal.machine import LegalState
from legal.models import (
    DeadlineKind,
    DeadlineReminder,
    Enforcement,
    FrozenAsset,
    Hearing,
    Judgment,
    LegalCase,
    Mediation,
    PaymentOrder,
)
from legal.reminders import PASSED, deadline_reminders_send
from legal.tasks import deadline_reminders_send_task
from tests.accounts.factories import UserFactory
from tests.collection.factories import at
from tests.legal.factories import CourtFactory, legal_case_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

TODAY = datetime.date(2026, 12, 4)
Kind = DeadlineKind


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def kinds_and_days(legal_case, today=TODAY) -> list[tuple[str, datetime.date]]:
    return [(deadline.kind, deadline.due_on) for deadline in legal_case_deadlines(legal_case, today=today)]


def payment_order(legal_case, by, **fields) -> PaymentOrder:
    return PaymentOrder.objects.create(
        legal_case=legal_case, court=CourtFactory(), applied_on=day("2026-11-01"), recorded_by=by, **fields
    )


def judgment(legal_case, by, **fields) -> Judgment:
    return Judgment.objects.create(
        legal_case=legal_case,
        ruled_on=day("2026-11-20"),
        awarded_amount=Decimal("10000.00"),
        costs_awarded=Decimal("50.00"),
        recorded_by=by,
        **fields,
    )


def enforcement(legal_case, by, **fields) -> Enforcement:
    return Enforcement.objects.create(
        legal_case=legal_case,
        court=CourtFactory(),
        applied_on=day("2026-01-10"),
        amount_applied=Decimal("10000.00"),
        recorded_by=by,
        **fields,
    )


def freeze(legal_case, by, enforced, kind, frozen_on, description="工商银行账户 6222****1234", **fields):
    return FrozenAsset.objects.create(
        legal_case=legal_case,
        enforcement=enforced,
        kind=kind,
        description=description,
        frozen_on=frozen_on,
        recorded_by=by,
        **fields,
    )


# --- each step, worked by hand ------------------------------------------------------------------


def test_before_any_court_only_the_limitation_period_runs(legal_officer):
    # The factory's debt became due on 15 March 2026: time-barred three years on.
    for state in (LegalState.PREPARING, LegalState.LETTER_SENT, LegalState.MEDIATION):
        assert kinds_and_days(legal_case_in(state)) == [(Kind.LIMITATION, day("2029-03-15"))]
    for state in (LegalState.FILED, LegalState.IN_HEARING, LegalState.JUDGMENT, LegalState.ENFORCEMENT):
        assert kinds_and_days(legal_case_in(state)) == []


def test_a_limitation_period_from_29_february_ends_on_28_february(legal_officer):
    legal_case = legal_case_in(LegalState.PREPARING)
    LegalCase.objects.filter(pk=legal_case.pk).update(limitation_from=day("2028-02-29"))
    legal_case.refresh_from_db()

    assert kinds_and_days(legal_case) == [(Kind.LIMITATION, day("2031-02-28"))]
    assert legal_cases_with_next_deadline(
        LegalCase.objects.filter(pk=legal_case.pk), today=TODAY
    ).get().next_deadline_on == day("2031-02-28")


def test_hearings_to_come_on_their_day_in_shanghai(legal_officer):
    legal_case = legal_case_in(LegalState.IN_HEARING)
    Hearing.objects.create(
        legal_case=legal_case, held_at=at(day("2026-12-01"), 9), place="第1法庭", recorded_by=legal_officer
    )
    Hearing.objects.create(legal_case=legal_case, held_at=at(TODAY, 14, 30), place="第2法庭", recorded_by=legal_officer)
    # 00:30 in Shanghai on 10 December is still 9 December in UTC.
    late = Hearing.objects.create(
        legal_case=legal_case, held_at=at(day("2026-12-10"), 0, 30), place="第3法庭", recorded_by=legal_officer
    )

    deadlines = legal_case_deadlines(legal_case, today=TODAY)

    assert [(d.kind, d.due_on, d.what) for d in deadlines] == [
        (Kind.HEARING, TODAY, "14:30 第2法庭"),
        (Kind.HEARING, day("2026-12-10"), "00:30 第3法庭"),
    ]
    assert deadlines[1].record == late
    # The day after the hearing it is gone.
    assert kinds_and_days(legal_case, today=day("2026-12-11")) == []


def test_a_payment_order_served_has_its_objection_period_then_two_years_to_enforce(legal_officer):
    legal_case = legal_case_in(LegalState.PAYMENT_ORDER)
    payment_order(legal_case, legal_officer)  # not served yet: nothing runs
    served = payment_order(legal_case, legal_officer, served_on=day("2026-11-20"))

    # Served 20 November: 15 days to object, to 5 December; enforceable from then, for 2 years.
    assert kinds_and_days(legal_case) == [
        (Kind.OBJECTION, day("2026-12-05")),
        (Kind.ENFORCEMENT_APPLICATION, day("2028-12-05")),
    ]
    # The objection period ran out and nothing was recorded: it stays, overdue, until the desk acts.
    assert kinds_and_days(legal_case, today=day("2026-12-20"))[0] == (Kind.OBJECTION, day("2026-12-05"))

    served.objected_on = day("2026-11-30")
    served.save()

    # Objected to: the order is over, and the desk must sue before the debt is time-barred.
    assert kinds_and_days(legal_case) == [(Kind.LIMITATION, day("2029-03-15"))]


def test_a_mediated_agreement_is_confirmed_within_30_days_and_then_enforced_within_2_years(legal_officer):
    legal_case = legal_case_in(LegalState.MEDIATION)
    agreement = Mediation.objects.create(
        legal_case=legal_case,
        mediator="人民调解委员会",
        started_on=day("2026-11-01"),
        agreed_on=day("2026-11-20"),
        recorded_by=legal_officer,
    )

    assert kinds_and_days(legal_case) == [(Kind.CONFIRMATION, day("2026-12-20")), (Kind.LIMITATION, day("2029-03-15"))]

    agreement.confirmed_on = day("2026-11-25")
    agreement.confirmation_ruling = "(2026)沪0115民特123号"
    agreement.save()

    deadlines = legal_case_deadlines(legal_case, today=TODAY)
    assert [(d.kind, d.due_on, d.what) for d in deadlines] == [
        (Kind.ENFORCEMENT_APPLICATION, day("2028-11-25"), "(2026)沪0115民特123号"),
        (Kind.LIMITATION, day("2029-03-15"), "runs from 2026-03-15"),
    ]


def test_a_judgment_served_has_its_appeal_period_then_two_years_to_enforce_from_taking_effect(legal_officer):
    legal_case = legal_case_in(LegalState.JUDGMENT)
    ruled = judgment(legal_case, legal_officer)
    assert kinds_and_days(legal_case) == []  # not served: no period runs

    ruled.served_on = day("2026-11-25")
    ruled.save()
    assert kinds_and_days(legal_case) == [(Kind.APPEAL, day("2026-12-10"))]

    ruled.effective_on = day("2026-12-11")
    ruled.save()
    assert kinds_and_days(legal_case) == [(Kind.ENFORCEMENT_APPLICATION, day("2028-12-11"))]


def test_each_freeze_in_force_is_to_be_renewed_before_it_lapses(legal_officer):
    legal_case = legal_case_in(LegalState.ENFORCEMENT)
    enforced = enforcement(legal_case, legal_officer)
    account = freeze(legal_case, legal_officer, enforced, FrozenAsset.Kind.BANK_DEPOSIT, day("2025-12-01"))
    flat = freeze(
        legal_case,
        legal_officer,
        enforced,
        FrozenAsset.Kind.REAL_ESTATE,
        day("2026-01-20"),
        description="浦东新区某路1号",
    )
    freeze(
        legal_case,
        legal_officer,
        enforced,
        FrozenAsset.Kind.MOVABLE,
        day("2026-01-20"),
        description="沪A12345",
        released_on=day("2026-06-01"),
    )

    # The account's freeze lapsed on 1 December and was neither renewed nor released: overdue.
    assert [(d.kind, d.due_on, d.record) for d in legal_case_deadlines(legal_case, today=TODAY)] == [
        (Kind.FREEZE_RENEWAL, day("2026-12-01"), account),
        (Kind.FREEZE_RENEWAL, day("2029-01-20"), flat),
    ]

    renewal = freeze(legal_case, legal_officer, enforced, FrozenAsset.Kind.BANK_DEPOSIT, day("2026-11-30"))

    assert [(d.due_on, d.record) for d in legal_case_deadlines(legal_case, today=TODAY)] == [
        (day("2027-11-30"), renewal),
        (day("2029-01-20"), flat),
    ]


def test_after_a_round_of_enforcement_ends_assets_are_checked_every_six_months(legal_officer):
    legal_case = legal_case_in(LegalState.ENFORCEMENT_SUSPENDED)
    enforcement(legal_case, legal_officer, suspended_on=day("2026-08-31"))

    # Six months after 31 August is 28 February; the checks after it keep counting from 31 August.
    assert kinds_and_days(legal_case) == [(Kind.ASSET_CHECK, day("2027-02-28"))]
    assert kinds_and_days(legal_case, today=day("2027-02-28")) == [(Kind.ASSET_CHECK, day("2027-02-28"))]
    assert kinds_and_days(legal_case, today=day("2027-03-01")) == [(Kind.ASSET_CHECK, day("2027-08-31"))]
    assert kinds_and_days(legal_case, today=day("2028-01-05")) == [(Kind.ASSET_CHECK, day("2028-02-29"))]
    assert next_asset_check(day("2026-08-31"), today=day("2026-08-31")) == day("2027-02-28")


def test_a_closed_case_has_no_deadlines(legal_officer):
    legal_case = legal_case_in(LegalState.CLOSED)
    enforced = enforcement(legal_case, legal_officer, suspended_on=day("2026-08-31"))
    freeze(legal_case, legal_officer, enforced, FrozenAsset.Kind.BANK_DEPOSIT, day("2026-11-30"))
    judgment(legal_case, legal_officer, served_on=day("2026-11-25"))

    assert legal_case_deadlines(legal_case, today=TODAY) == []
    assert next_deadline(legal_case, today=TODAY) is None
    assert legal_cases_with_next_deadline(LegalCase.objects.all(), today=TODAY).get().next_deadline_on is None


def test_the_next_deadline_is_the_earliest_an_overdue_one_first(legal_officer):
    legal_case = legal_case_in(LegalState.PAYMENT_ORDER)
    payment_order(legal_case, legal_officer, served_on=day("2026-11-25"))  # objection to 10 December
    payment_order(legal_case, legal_officer, served_on=day("2026-11-10"))  # ran out on 25 November

    deadline = next_deadline(legal_case, today=TODAY)

    assert (deadline.kind, deadline.due_on, deadline.days_left(TODAY)) == (Kind.OBJECTION, day("2026-11-25"), -9)
    assert [d.due_on for d in legal_case_deadlines(legal_case, today=TODAY)] == [
        day("2026-11-25"),
        day("2026-12-10"),
        day("2028-11-25"),
        day("2028-12-10"),
    ]


def test_a_list_of_cases_orders_by_its_next_deadline_in_one_query(legal_officer, django_assert_num_queries):
    later = legal_case_in(LegalState.PREPARING)  # 15 March 2029
    sooner = legal_case_in(LegalState.JUDGMENT)
    judgment(sooner, legal_officer, served_on=day("2026-11-25"))  # 10 December
    none = legal_case_in(LegalState.FILED)

    with django_assert_num_queries(1):
        ordered = list(
            legal_cases_with_next_deadline(LegalCase.objects.all(), today=TODAY).order_by(
                F("next_deadline_on").asc(nulls_last=True)
            )
        )

    assert [(c, c.next_deadline_on) for c in ordered] == [
        (sooner, day("2026-12-10")),
        (later, day("2029-03-15")),
        (none, None),
    ]


# --- the SQL agrees with the Python, on random cases ---------------------------------------------


def _random_day(rng: random.Random, around: datetime.date, spread: int = 800) -> datetime.date:
    # Month ends and 29 February come up often: that is where adding months and years differ.
    if rng.random() < 0.3:
        return rng.choice(
            [day("2024-02-29"), day("2025-08-31"), day("2026-08-31"), day("2026-05-31"), day("2025-12-31")]
        )
    return around + datetime.timedelta(days=rng.randint(-spread, spread // 4))


def _random_case(rng: random.Random, by) -> LegalCase:
    state = rng.choice(LegalState.values)
    legal_case = legal_case_in(state)
    LegalCase.objects.filter(pk=legal_case.pk).update(limitation_from=_random_day(rng, TODAY, 1500))
    for _ in range(rng.randint(1, 2)):
        served = rng.choice([None, _random_day(rng, TODAY)])
        objected = served + datetime.timedelta(days=rng.randint(1, 15)) if served and rng.random() < 0.4 else None
        payment_order(legal_case, by, served_on=served, objected_on=objected)
    for _ in range(rng.randint(1, 2)):
        agreed = rng.choice([None, _random_day(rng, TODAY)])
        confirmed = agreed + datetime.timedelta(days=rng.randint(0, 30)) if agreed and rng.random() < 0.5 else None
        Mediation.objects.create(
            legal_case=legal_case,
            mediator="调解员",
            started_on=day("2024-01-01"),
            agreed_on=agreed,
            confirmed_on=confirmed,
            recorded_by=by,
        )
    for _ in range(rng.randint(1, 2)):
        served = rng.choice([None, _random_day(rng, TODAY)])
        effective = served + datetime.timedelta(days=16) if served and rng.random() < 0.5 else None
        judgment(legal_case, by, served_on=served, effective_on=effective)
    for _ in range(rng.randint(0, 3)):
        Hearing.objects.create(
            legal_case=legal_case,
            held_at=at(TODAY + datetime.timedelta(days=rng.randint(-20, 40)), rng.choice([0, 9, 15, 23]), 30),
            place="法庭",
            recorded_by=by,
        )
    for _ in range(rng.randint(1, 2)):
        enforced = enforcement(legal_case, by, suspended_on=rng.choice([None, _random_day(rng, TODAY, 1200)]))
        for _ in range(rng.randint(0, 3)):
            freeze(
                legal_case,
                by,
                enforced,
                rng.choice(FrozenAsset.Kind.values),
                _random_day(rng, TODAY, 1000),
                description=rng.choice(["账户", "房产", "车辆"]),
                released_on=rng.choice([None, None, TODAY]),
            )
    return legal_case


DAYS_TO_COMPARE = (TODAY, day("2027-02-28"), day("2027-03-01"), day("2028-02-29"), day("2025-06-15"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sql_next_deadline_agrees_with_the_python_one_on_random_cases(seed, legal_officer):
    rng = random.Random(seed)
    for _ in range(40):
        _random_case(rng, legal_officer)

    for today in DAYS_TO_COMPARE:
        in_sql = dict(
            legal_cases_with_next_deadline(LegalCase.objects.all(), today=today).values_list("pk", "next_deadline_on")
        )
        by_kind = legal_cases_with_next_deadline(LegalCase.objects.all(), today=today, by_kind=True)
        kinds_in_sql = {legal_case.pk: next_deadline_kind(legal_case) for legal_case in by_kind}
        in_python, kinds_in_python = {}, {}
        for legal_case in with_deadline_records(LegalCase.objects.all()):
            deadline = next_deadline(legal_case, today=today)
            in_python[legal_case.pk] = deadline.due_on if deadline else None
            kinds_in_python[legal_case.pk] = deadline.kind if deadline else None

        assert in_sql == in_python
        assert kinds_in_sql == kinds_in_python
        assert {legal_case.pk: legal_case.next_deadline_on for legal_case in by_kind} == in_python
        assert any(in_python.values()) and None in in_python.values()


@pytest.mark.parametrize("seed", [4, 5])
def test_each_kind_of_deadline_in_sql_agrees_with_the_python_one_on_random_cases(seed, legal_officer):
    rng = random.Random(seed)
    for _ in range(60):
        _random_case(rng, legal_officer)
    fields = [f"{kind}_due_on" for kind in Kind.values]

    kinds_seen = set()
    for today in DAYS_TO_COMPARE:
        in_sql = {
            row[0]: dict(zip(Kind.values, row[1:], strict=True))
            for row in legal_cases_with_deadline_days(LegalCase.objects.all(), today=today).values_list("pk", *fields)
        }
        in_python = {}
        for legal_case in with_deadline_records(LegalCase.objects.all()):
            earliest = dict.fromkeys(Kind.values)
            for deadline in legal_case_deadlines(legal_case, today=today):
                if earliest[deadline.kind] is None:
                    earliest[deadline.kind] = deadline.due_on
                    kinds_seen.add(deadline.kind)
            in_python[legal_case.pk] = earliest

        assert in_sql == in_python
    # Every rule was compared on some case.
    assert kinds_seen == set(Kind.values)


# --- reminders -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def desk_in_english(request, settings):
    """The reminder tests read the e-mails in English: the desk's language (which the e-mails are
    written in) is English for them; their Chinese is checked by the catalogue."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def officer(legal_officer):
    legal_officer.email = "officer@example.com"
    legal_officer.save(update_fields=["email"])
    return legal_officer


def judgment_case(officer, *, appeal_deadline: datetime.date, assigned: bool = True) -> LegalCase:
    """A case whose one deadline is its judgment's appeal period, ending on `appeal_deadline`."""
    legal_case = legal_case_in(LegalState.JUDGMENT)
    if assigned:
        LegalCase.objects.filter(pk=legal_case.pk).update(officer=officer)
    judgment(legal_case, officer, served_on=appeal_deadline - datetime.timedelta(days=Judgment.APPEAL_DAYS))
    return LegalCase.objects.get(pk=legal_case.pk)


def sent(legal_case) -> list[tuple[str, int, str]]:
    return sorted(
        (row.kind, row.days_before, row.to.username)
        for row in DeadlineReminder.objects.filter(legal_case=legal_case, sent_at__isnull=False)
    )


def test_the_officer_is_reminded_7_days_and_1_day_before_once_each(officer):
    legal_case = judgment_case(officer, appeal_deadline=day("2026-12-20"))

    deadline_reminders_send(today=day("2026-12-12"))  # 8 days before: nothing yet
    assert mail.outbox == []

    counts = deadline_reminders_send(today=day("2026-12-13"))

    assert counts == {"planned": 1, "emails": 1, "deadlines": 1, "failed": 0}
    (email,) = mail.outbox
    assert email.to == ["officer@example.com"]
    assert email.subject == "Legal case deadline: 1 to watch"
    assert (
        f"2026-12-20 (in 7 days) Appeal period of the judgment: Judgment of 2026-11-20; legal case {legal_case.pk}, "
        f"loan {legal_case.case.loan.account_number}"
    ) in email.body

    # Again the same day, and the days after: nothing more until a day before.
    for today in ("2026-12-13", "2026-12-14", "2026-12-18"):
        deadline_reminders_send(today=day(today))
    assert len(mail.outbox) == 1

    deadline_reminders_send(today=day("2026-12-19"))
    assert len(mail.outbox) == 2
    assert "2026-12-20 (in 1 day)" in mail.outbox[1].body

    # On the day and after it: reminded already.
    for today in ("2026-12-20", "2026-12-21", "2026-12-22"):
        deadline_reminders_send(today=day(today))
    assert len(mail.outbox) == 2
    assert sent(legal_case) == [(Kind.APPEAL, 1, officer.username), (Kind.APPEAL, 7, officer.username)]


def test_a_deadline_learnt_late_is_reminded_at_once_then_a_day_before(officer):
    legal_case = judgment_case(officer, appeal_deadline=day("2026-12-20"))

    deadline_reminders_send(today=day("2026-12-16"))  # 4 days before: the 7-day reminder, late
    deadline_reminders_send(today=day("2026-12-17"))
    deadline_reminders_send(today=day("2026-12-19"))

    assert [email.body.count("2026-12-20 (in") for email in mail.outbox] == [1, 1]
    assert "(in 4 days)" in mail.outbox[0].body
    assert sent(legal_case) == [(Kind.APPEAL, 1, officer.username), (Kind.APPEAL, 7, officer.username)]


def test_a_deadline_that_passed_without_a_reminder_is_reminded_once(officer):
    legal_case = judgment_case(officer, appeal_deadline=day("2026-12-01"))

    deadline_reminders_send(today=TODAY)
    deadline_reminders_send(today=TODAY + datetime.timedelta(days=1))

    (email,) = mail.outbox
    assert "2026-12-01 (3 days overdue)" in email.body
    assert sent(legal_case) == [(Kind.APPEAL, PASSED, officer.username)]


def test_one_email_per_officer_lists_all_their_deadlines(officer):
    first = judgment_case(officer, appeal_deadline=day("2026-12-11"))
    second = judgment_case(officer, appeal_deadline=day("2026-12-05"))

    deadline_reminders_send(today=TODAY)

    (email,) = mail.outbox
    assert email.subject == "Legal case deadlines: 2 to watch"
    lines = [line for line in email.body.splitlines() if "; legal case" in line]
    assert [line.split(" ")[0] for line in lines] == ["2026-12-05", "2026-12-11"]
    assert f"legal case {second.pk}," in lines[0] and f"legal case {first.pk}," in lines[1]


def test_a_case_without_an_officer_reminds_every_active_legal_officer_with_an_email(officer, supervisor):
    other = UserFactory(roles=["legal_officer"], email="other@example.com")
    UserFactory(roles=["legal_officer"], email="gone@example.com", is_active=False)
    UserFactory(roles=["legal_officer"], email="")
    supervisor.email = "supervisor@example.com"
    supervisor.save(update_fields=["email"])
    legal_case = judgment_case(officer, appeal_deadline=day("2026-12-11"), assigned=False)

    deadline_reminders_send(today=TODAY)

    assert sorted(email.to[0] for email in mail.outbox) == ["officer@example.com", "other@example.com"]
    assert sent(legal_case) == sorted([(Kind.APPEAL, 7, officer.username), (Kind.APPEAL, 7, other.username)])


def test_an_officer_without_an_email_has_their_cases_reminded_to_the_other_legal_officers(legal_officer):
    other = UserFactory(roles=["legal_officer"], email="other@example.com")
    judgment_case(legal_officer, appeal_deadline=day("2026-12-11"))

    deadline_reminders_send(today=TODAY)

    assert [email.to for email in mail.outbox] == [[other.email]]


@pytest.mark.postgres  # its row locks settle the race
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_runs_at_once_send_each_reminder_once(officer, at_once):
    other = UserFactory(roles=["legal_officer"], email="other@example.com")
    judgment_case(officer, appeal_deadline=day("2026-12-11"))
    judgment_case(other, appeal_deadline=day("2026-12-05"))

    results = at_once(lambda _run: deadline_reminders_send(today=TODAY), [1, 2, 3])

    assert sorted(email.to[0] for email in mail.outbox) == ["officer@example.com", "other@example.com"]
    assert sum(result["emails"] for result in results) == 2
    assert DeadlineReminder.objects.filter(sent_at__isnull=False).count() == 2


def test_an_email_that_fails_is_sent_by_the_next_run_and_keeps_no_other_from_going_out(officer, monkeypatch):
    other = UserFactory(roles=["legal_officer"], email="other@example.com")
    mine = judgment_case(officer, appeal_deadline=day("2026-12-11"))
    theirs = judgment_case(other, appeal_deadline=day("2026-12-11"))
    real_send = EmailMessage.send

    def refused_for_the_officer(message, fail_silently=False):
        if message.to == [officer.email]:
            raise OSError("the mail server refused")
        return real_send(message, fail_silently=fail_silently)

    monkeypatch.setattr(EmailMessage, "send", refused_for_the_officer)
    counts = deadline_reminders_send(today=TODAY)

    assert counts["failed"] == 1 and counts["emails"] == 1
    assert [email.to for email in mail.outbox] == [[other.email]]
    assert sent(mine) == [] and sent(theirs) == [(Kind.APPEAL, 7, other.username)]

    monkeypatch.setattr(EmailMessage, "send", real_send)
    deadline_reminders_send(today=TODAY + datetime.timedelta(days=1))

    assert [email.to for email in mail.outbox] == [[other.email], [officer.email]]
    assert "2026-12-11 (in 6 days)" in mail.outbox[1].body
    assert sent(mine) == [(Kind.APPEAL, 7, officer.username)]


def test_a_reminder_not_yet_sent_whose_deadline_was_answered_is_dropped(officer, monkeypatch):
    legal_case = judgment_case(officer, appeal_deadline=day("2026-12-11"))
    monkeypatch.setattr(EmailMessage, "send", lambda message, fail_silently=False: (_ for _ in ()).throw(OSError()))
    deadline_reminders_send(today=TODAY)
    Judgment.objects.filter(legal_case=legal_case).update(effective_on=day("2026-12-06"))
    monkeypatch.undo()

    deadline_reminders_send(today=TODAY + datetime.timedelta(days=1))

    # The judgment took effect before the reminder went out: no appeal period to remind of.
    assert mail.outbox == []
    assert not DeadlineReminder.objects.filter(kind=Kind.APPEAL).exists()


def test_a_closed_case_is_never_reminded(officer):
    legal_case = judgment_case(officer, appeal_deadline=day("2026-12-11"))
    LegalCase.objects.filter(pk=legal_case.pk).update(state=LegalState.CLOSED)

    assert deadline_reminders_send(today=TODAY)["planned"] == 0
    assert mail.outbox == []


def test_a_debt_is_flagged_90_days_before_its_limitation_period_ends(officer):
    legal_case = legal_case_in(LegalState.LETTER_SENT)
    # Limitation runs from 5 March 2024: it ends on 5 March 2027, 91 days after 4 December 2026.
    LegalCase.objects.filter(pk=legal_case.pk).update(officer=officer, limitation_from=day("2024-03-05"))

    deadline_reminders_send(today=TODAY)
    assert mail.outbox == [] and not DeadlineReminder.objects.exists()

    deadline_reminders_send(today=day("2026-12-05"))

    (email,) = mail.outbox
    assert "2027-03-05 (in 90 days) Limitation period of the debt: runs from 2024-03-05" in email.body
    warning = DeadlineReminder.objects.get()
    assert (warning.kind, warning.days_before, warning.due_on) == (Kind.LIMITATION, 90, day("2027-03-05"))
    assert warning.sent_at is not None

    # Then the usual lead times; a demand that restarts the period re-arms the warning.
    deadline_reminders_send(today=day("2027-02-26"))
    assert len(mail.outbox) == 2
    LegalCase.objects.filter(pk=legal_case.pk).update(limitation_from=day("2024-03-20"))
    deadline_reminders_send(today=day("2027-02-27"))
    assert len(mail.outbox) == 3 and "2027-03-20 (in 21 days)" in mail.outbox[2].body


def test_the_daily_job_sends_the_reminders_and_is_scheduled_at_7_in_shanghai(officer):
    judgment_case(officer, appeal_deadline=day("2026-12-11"))

    assert deadline_reminders_send_task.run(as_of="2026-12-04")["emails"] == 1
    assert deadline_reminders_send_task.run(as_of="2026-12-04")["emails"] == 0

    task = PeriodicTask.objects.get(task="legal.tasks.legal_deadlines")
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("7", "0", "Asia/Shanghai")


def test_the_emails_are_in_the_desk_language_whoever_runs_the_job(officer, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    judgment_case(officer, appeal_deadline=day("2026-12-11"))

    deadline_reminders_send(today=TODAY)  # run while English is active (in_english)

    with translation.override("zh-hans"):
        subject = ngettext("Legal case deadline: %(count)d to watch", "Legal case deadlines: %(count)d to watch", 1)
        kind = str(Kind.APPEAL.label)
    (email,) = mail.outbox
    assert email.subject == subject % {"count": 1}
    assert kind in email.body
