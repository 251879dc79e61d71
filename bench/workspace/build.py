"""The workspace's portfolio: the nightly cycle's benchmark portfolio, the contacts and the history
a desk that has worked it holds, and one collector's open cases with a worked history of their own.
The same N, C, seed and day give the same rows."""

# ruff: noqa: S608 - the statements here are built from this module's own names and numbers;
# every value from outside (day, seed, ids) is bound as a parameter.

import datetime
import random
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm_log.models import StateLog

from bench.collection_cycle.portfolio import GIVEN_NAMES, SURNAMES, PortfolioBuilder, _draw
from bench.collection_cycle.report import progress_bar
from bench.collection_cycle.sql import execute, insert
from collection.machine import OPEN_STAGES, Stage
from collection.models import (
    Callback,
    CaseAssignment,
    CaseNote,
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    PromiseToPay,
)
from loans.models import Borrower, Contact, Loan
from loans.services import portfolio_refresh_delinquency

# The collector whose workspace is timed, and who gives them the cases.
COLLECTOR = "collector1"
SUPERVISOR = "supervisor1"
DESK_ZONE = ZoneInfo("Asia/Shanghai")
CHUNK_BORROWERS = 100_000
CHUNK_CASES = 50_000
HISTORY_DAYS = 60


def workspace_build(*, loans: int, cases: int, seed: int, as_of: datetime.date) -> dict[str, int]:
    """Build it all in the current database; returns the rows made, by kind."""
    PortfolioBuilder(loans=loans, seed=seed, as_of=as_of).build()
    # The night's ageing: the portfolio's day is the day (the nightly cycle's first step).
    portfolio_refresh_delinquency(as_of=as_of)
    now = timezone.now()
    params = {"seed": seed, "today": as_of, "now": now}
    _insert_by_key_range(
        ("contacts", loans, "borrower"), Borrower, CHUNK_BORROWERS, params, (Contact, _CONTACT_COLUMNS, _CONTACT_SOURCE)
    )
    types = ContentType.objects.get_for_models(Loan, Contact)
    params.update(loan_type=types[Loan].pk, contact_type=types[Contact].pk)
    _insert_by_key_range(
        ("audit trail", loans, "loan"),
        Loan,
        CHUNK_BORROWERS,
        params,
        (LogEntry, _LOAN_CHANGE_COLUMNS, _LOAN_CHANGE_SOURCE),
        (LogEntry, _CONTACT_CHANGE_COLUMNS, _CONTACT_CHANGE_SOURCE),
    )
    collector, chosen = cases_give(cases=cases, seed=seed)
    params["collector"] = collector.pk
    _insert_by_key_range(
        ("attempts on the other cases", None, "case"),
        CollectionCase,
        CHUNK_CASES,
        params,
        (ContactAttempt, _ATTEMPT_COLUMNS, _ATTEMPT_SOURCE),
    )
    with transaction.atomic():
        histories_write(collector=collector, chosen=chosen, seed=seed, now=now)
    # As a table the desk has worked on for a while: dead rows gone, statistics fresh.
    execute("VACUUM ANALYZE")
    return portfolio_rows()


def workspace_rewrite(*, cases: int, seed: int) -> dict[str, int]:
    """Write the collector's cases' history anew, as of now, in a database built before: an
    earlier run logged calls on them, moved their borrowers and the clock has moved on (a promise
    due "today" was due then). The rest of the portfolio stays as it is."""
    collector, chosen = cases_give(cases=cases, seed=seed)
    with transaction.atomic():
        histories_clear(chosen)
        histories_write(collector=collector, chosen=chosen, seed=seed, now=timezone.now())
    execute("ANALYZE")
    return portfolio_rows()


def histories_clear(case_ids) -> None:
    """Remove what the collector's cases' history wrote (and what an earlier run's calls added)."""
    ids = list(case_ids)
    Callback.objects.filter(case__in=ids).delete()
    CaseNote.objects.filter(case__in=ids).delete()
    PromiseToPay.objects.filter(case__in=ids).delete()
    ConductRefusal.objects.filter(case__in=ids).delete()
    ContactAttempt.objects.filter(case__in=ids).delete()
    StateLog.objects.filter(content_type=ContentType.objects.get_for_model(CollectionCase), object_id__in=ids).delete()
    borrowers = CollectionCase.objects.filter(pk__in=ids).values("loan__borrower")
    Borrower.objects.filter(pk__in=borrowers).update(
        time_zone=DESK_ZONE.key, lost_contact=False, lost_contact_since=None
    )


def _insert_by_key_range(bar: tuple, keyed, size: int, params: dict, *statements) -> None:
    """Run each (model, columns, source) insert over `keyed`'s keys in ranges of `size`, a range a
    transaction, with a progress bar of (description, total, unit)."""
    high_id = keyed.objects.aggregate(high=Max("pk"))["high"] or 0
    with progress_bar(*bar) as progress:
        for low in range(1, high_id + 1, size):
            with transaction.atomic():
                for model, columns, source in statements:
                    insert(model, columns, source, _chunk(params, low, size))
            progress.update(min(size, high_id + 1 - low))


def _chunk(params: dict, low: int, size: int) -> dict:
    return {
        **params,
        "low": low,
        "high": low + size,
        "surnames": list(SURNAMES),
        "given_names": list(GIVEN_NAMES),
        "open_stages": list(OPEN_STAGES),
    }


def portfolio_rows() -> dict[str, int]:
    """What the database holds: the portfolio's rows by kind, and the collector's."""
    collector = get_user_model().objects.get(username=COLLECTOR)
    mine = CollectionCase.objects.filter(assigned_to=collector, stage__in=OPEN_STAGES)
    rows = {
        "loans": Loan.objects.count(),
        "borrowers": Borrower.objects.count(),
        "contacts": Contact.objects.count(),
        "cases": CollectionCase.objects.count(),
        "open cases": CollectionCase.objects.filter(stage__in=OPEN_STAGES).count(),
        "attempts": ContactAttempt.objects.count(),
        "promises": PromiseToPay.objects.count(),
        f"{COLLECTOR}'s open cases": mine.count(),
        "their attempts": ContactAttempt.objects.filter(case__in=mine).count(),
        "their promises": PromiseToPay.objects.filter(case__in=mine).count(),
        "pending": PromiseToPay.objects.filter(case__in=mine, status="pending").count(),
        "broken": PromiseToPay.objects.filter(case__in=mine, status="broken").count(),
    }
    rows["their callbacks"] = Callback.objects.filter(case__in=mine).count()
    rows["pending callbacks"] = Callback.objects.filter(case__in=mine, status="pending").count()
    rows["their notes"] = CaseNote.objects.filter(case__in=mine).count()
    return rows


# --- the collector's cases ------------------------------------------------------------------------


def cases_give(*, cases: int, seed: int):
    """Give the collector `cases` open cases drawn across the portfolio (every stage, bucket and
    product), and the open cases they held beyond those to their team's other collectors. Returns
    the collector and the chosen cases' ids with who held them before. The same cases again in a
    database built before (an assignment is recorded for a case newly given only)."""
    User = get_user_model()
    collector = User.objects.get(username=COLLECTOR)
    supervisor = User.objects.get(username=SUPERVISOR)
    team = collector.teams.order_by("pk").first()
    others = list(
        team.members.filter(groups__name="collector")
        .exclude(pk=collector.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT id, assigned_to_id FROM collection_collectioncase
                WHERE stage = ANY(%(open_stages)s)
                ORDER BY {_draw("id", 50, 1000000007)}, id LIMIT %(cases)s""",
            {"seed": seed, "open_stages": list(OPEN_STAGES), "cases": cases},
        )
        chosen = dict(cursor.fetchall())
    with transaction.atomic():
        execute(
            """UPDATE collection_collectioncase SET assigned_to_id = (%(others)s::bigint[])[1 + mod(id, %(many)s)]
               WHERE assigned_to_id = %(collector)s AND stage = ANY(%(open_stages)s) AND NOT id = ANY(%(chosen)s)""",
            {
                "others": others,
                "many": len(others),
                "collector": collector.pk,
                "open_stages": list(OPEN_STAGES),
                "chosen": list(chosen),
            },
        )
        execute(
            "UPDATE collection_collectioncase SET assigned_to_id = %(collector)s, team_id = %(team)s "
            "WHERE id = ANY(%(chosen)s)",
            {"collector": collector.pk, "team": team.pk, "chosen": list(chosen)},
        )
        CaseAssignment.objects.bulk_create(
            CaseAssignment(
                case_id=case_id,
                assigned_to=collector,
                previous_id=previous,
                team=team,
                assigned_by=supervisor,
                assigned_at=timezone.now() - datetime.timedelta(days=20),
                reason="Workload balancing",
            )
            for case_id, previous in chosen.items()
            if previous != collector.pk
        )
    return collector, chosen


# --- the other open cases' history, in SQL ---------------------------------------------------------

# Every borrower's other contacts: an emergency contact (a relative), and for some a work phone, a
# home phone, an employer (one switchboard for about 40 borrowers) and an e-mail address.
_RELATIONS = "ARRAY['配偶', '父亲', '母亲', '兄弟', '姐妹', '朋友']"
_COMPANIES = "ARRAY['华信', '东方', '新远', '恒达', '宏图', '联创', '金桥', '天宇']"
_CONTACT_SOURCE = f"""FROM generate_series(%(low)s, %(high)s - 1) AS n
    JOIN loans_borrower b ON b.id = n
    CROSS JOIN LATERAL (VALUES
        ('emergency', '+86' || (15900000000 + n)::text,
            (%(surnames)s::text[])[1 + mod(n / 7, 20)] || (%(given_names)s::text[])[1 + mod(n / 3, 20)],
            ({_RELATIONS})[1 + mod(n, 6)], 'unverified', true),
        ('work', '+8610' || (60000000 + n)::text, '', '', 'unverified', {_draw("n", 31, 100)} < 50),
        ('home', '+8610' || (50000000 + n)::text, '', '', 'unverified', {_draw("n", 32, 100)} < 30),
        ('employer', '+8610' || (80000000 + n / 40)::text,
            '北京' || ({_COMPANIES})[1 + mod(n / 40, 8)] || '科技有限公司', '雇主',
            CASE WHEN mod(n, 2) = 0 THEN 'verified' ELSE 'unverified' END, {_draw("n", 33, 100)} < 40),
        ('email', 'b' || n || '@example.com', '', '', 'unverified', {_draw("n", 34, 100)} < 20)
    ) AS c(kind, value, name, relation, verification, wanted)
    WHERE c.wanted"""
_CONTACT_COLUMNS = {
    "borrower_id": "n",
    "kind": "c.kind",
    "value": "c.value",
    "name": "c.name",
    "relation": "c.relation",
    "verification": "c.verification",
    "source": "'application'",
}

# The audit trail of a desk that has run for a while: a change of status on three loans in ten, a
# change of verification on one contact in seven (of the borrowers of the same loan ids).
_LOAN_CHANGE_SOURCE = (
    f"""FROM loans_loan l WHERE l.id >= %(low)s AND l.id < %(high)s AND {_draw("l.id", 35, 100)} < 30"""
)
_LOAN_CHANGE_COLUMNS = {
    "content_type_id": "%(loan_type)s",
    "object_pk": "l.id::text",
    "object_id": "l.id",
    "object_repr": "l.account_number",
    "action": "1",
    "changes": """jsonb_build_object('status', jsonb_build_array('current', l.status))""",
    "changes_text": "''",
    "timestamp": f"%(now)s::timestamptz - {_draw('l.id', 36, 400)} * interval '1 day'",
}
_CONTACT_CHANGE_SOURCE = f"""FROM loans_contact c
    WHERE c.borrower_id >= %(low)s AND c.borrower_id < %(high)s AND {_draw("c.id", 37, 100)} < 15"""
_CONTACT_CHANGE_COLUMNS = {
    "content_type_id": "%(contact_type)s",
    "object_pk": "c.id::text",
    "object_id": "c.id",
    "object_repr": "c.kind",
    "action": "1",
    "changes": """jsonb_build_object('verification', jsonb_build_array('unverified', c.verification))""",
    "changes_text": "''",
    "timestamp": f"%(now)s::timestamptz - {_draw('c.id', 38, 400)} * interval '1 day'",
}

# Each open case of the other collectors: up to 12 attempts over the last 60 days, on working days'
# hours, to the borrower's own mobile: mostly calls left unanswered, some conversations, some SMS.
_ATTEMPT_NUMBER = "(c.id * 16 + k)"
_ATTEMPT_SOURCE = f"""FROM (
        SELECT c.id, c.assigned_to_id, m.id AS contact_id
        FROM collection_collectioncase c
        JOIN loans_loan l ON l.id = c.loan_id
        JOIN loans_contact m ON m.borrower_id = l.borrower_id AND m.kind = 'mobile'
        WHERE c.id >= %(low)s AND c.id < %(high)s AND c.stage = ANY(%(open_stages)s)
            AND c.assigned_to_id IS DISTINCT FROM %(collector)s
    ) AS c
    CROSS JOIN LATERAL generate_series(1, {_draw("c.id", 40, 13)}) AS k
    CROSS JOIN LATERAL (SELECT
        {_draw(_ATTEMPT_NUMBER, 41, 100)} AS what,
        (%(today)s::date - 1 - {_draw(_ATTEMPT_NUMBER, 42, HISTORY_DAYS)}::int)::timestamp
            + interval '9 hours' + {_draw(_ATTEMPT_NUMBER, 43, 690)} * interval '1 minute' AS local_time
    ) AS a"""
_ATTEMPT_COLUMNS = {
    "case_id": "c.id",
    "contact_id": "c.contact_id",
    "channel": "CASE WHEN a.what < 85 THEN 'call' ELSE 'sms' END",
    "direction": "'outbound'",
    "attempted_at": "a.local_time AT TIME ZONE 'Asia/Shanghai'",
    "duration_seconds": "CASE WHEN a.what >= 55 AND a.what < 85 THEN 60 + a.what * 5 END",
    "outcome": """CASE WHEN a.what >= 85 THEN 'sent' WHEN a.what < 45 THEN 'no_answer' WHEN a.what < 55 THEN 'busy'
        WHEN a.what < 70 THEN 'rpc' WHEN a.what < 76 THEN 'promise_to_pay' ELSE 'refused' END""",
    "collector_id": "c.assigned_to_id",
}


# --- the collector's cases' history, in Python ---------------------------------------------------

# Outcomes of a call on the borrower's own number, and on a third party's (weights in percent).
OWN_OUTCOMES = (
    ("no_answer", 55),
    ("busy", 15),
    ("rpc", 9),
    ("promise_to_pay", 5),
    ("refused", 4),
    ("hardship", 1),
    ("already_paid", 0.5),
    ("dispute", 0.5),
)
THIRD_PARTY_OUTCOMES = (("no_answer", 50), ("third_party", 35), ("refused", 15))
CONVERSATIONS = {"rpc", "promise_to_pay", "refused", "hardship", "already_paid", "dispute"}
UNANSWERED = {"no_answer", "busy"}
PAUSE = datetime.timedelta(days=7)
WINDOW = datetime.timedelta(days=7)
# Calls a case gets at most in any 7 days of the history: below the limit of 7, so that the
# benchmark's own call on the case is not refused for it.
MOST_CALLS_IN_WINDOW = 5
NOTES = (
    "借款人称工资月底发放，届时还款。",
    "家属接听，表示会转告借款人。",
    "借款人情绪激动，要求暂缓联系。",
    "已发送还款账户信息短信。",
    "借款人表示正在筹款，下周再联系。",
    "单位前台称借款人已离职。",
)
STAGE_TRANSITIONS = {
    Stage.NEGOTIATION: "negotiate",
    Stage.ESCALATION: "escalate",
    Stage.LITIGATION: "litigate",
    Stage.ON_HOLD: "hold",
}


@dataclass
class Story:
    """One case's history as written: its rows and what it leaves on the case."""

    case: CollectionCase
    attempts: list = field(default_factory=list)
    promises: list = field(default_factory=list)
    callbacks: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    stage: str = ""
    last_conversation: datetime.datetime | None = None
    attention_since: datetime.datetime | None = None
    lost_contact: bool = False


def histories_write(*, collector, chosen: dict[int, int | None], seed: int, now: datetime.datetime) -> None:
    """Write the collector's cases' history and what it leaves on them."""
    cases = list(CollectionCase.objects.filter(pk__in=chosen).select_related("loan__borrower").order_by("pk"))
    contacts: dict[int, list[Contact]] = {}
    for contact in Contact.objects.filter(borrower__loans__collection_cases__in=cases).order_by("pk").distinct():
        contacts.setdefault(contact.borrower_id, []).append(contact)
    # The cases' earlier promises, from the cycle's portfolio, give way to their history's.
    PromiseToPay.objects.filter(case__in=cases).delete()
    stories = []
    with progress_bar(f"{COLLECTOR}'s cases", len(cases), "case") as bar:
        for case in cases:
            rng = random.Random(f"workspace-{seed}-{case.pk}")
            story = Story(case=case, stage=case.stage)
            _story_tell(story, contacts.get(case.loan.borrower_id, []), rng, collector, now)
            stories.append(story)
            bar.update(1)
    ContactAttempt.objects.bulk_create([a for s in stories for a in s.attempts], batch_size=2000)
    PromiseToPay.objects.bulk_create([p for s in stories for p in s.promises], batch_size=2000)
    ConductRefusal.objects.bulk_create([r for s in stories for r in s.refusals], batch_size=2000)
    Callback.objects.bulk_create([c for s in stories for c in s.callbacks], batch_size=2000)
    # A callback is set at its attempt (created_at is stamped now on the way in).
    execute(
        """UPDATE collection_callback b SET created_at = a.attempted_at FROM collection_contactattempt a
           WHERE a.id = b.attempt_id AND b.case_id = ANY(%(ids)s)""",
        {"ids": [s.case.pk for s in stories]},
    )
    CaseNote.objects.bulk_create([n for s in stories for n in s.notes], batch_size=2000)
    content_type = ContentType.objects.get_for_model(CollectionCase)
    for story in stories:
        for log in story.logs:
            log.content_type, log.object_id = content_type, story.case.pk
    StateLog.objects.bulk_create([log for s in stories for log in s.logs], batch_size=2000)
    execute(
        """UPDATE collection_collectioncase c SET stage = s.stage, last_right_party_contact_at = s.last_conversation,
                broken_promises = s.broken, attention_since = s.attention_since
           FROM unnest(%(ids)s::bigint[], %(stages)s::text[], %(conversations)s::timestamptz[], %(broken)s::int[],
                       %(attention)s::timestamptz[]) AS s(id, stage, last_conversation, broken, attention_since)
           WHERE c.id = s.id""",
        {
            "ids": [s.case.pk for s in stories],
            "stages": [s.stage for s in stories],
            "conversations": [s.last_conversation for s in stories],
            "broken": [sum(1 for p in s.promises if p.status == "broken") for s in stories],
            "attention": [s.attention_since for s in stories],
        },
    )
    lost = [s.case.loan.borrower_id for s in stories if s.lost_contact]
    Borrower.objects.filter(pk__in=lost).update(lost_contact=True, lost_contact_since=now.date())


def _local(day: datetime.date, minutes: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=DESK_ZONE) + datetime.timedelta(minutes=minutes)


def _pick(rng: random.Random, weighted) -> str:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _story_tell(story: Story, contacts: list, rng, collector, now) -> None:
    """A case's last weeks as a collector would have worked them within the conduct limits: a call
    most days, an SMS now and then; a conversation pauses calls for 7 days; a promise is kept,
    broken or superseded by a later one, or still pending. Some cases end on a scenario the
    queue's filters look for: a promise due today, a recent conversation, a broken promise."""
    case = story.case
    own = [c for c in contacts if not c.is_third_party and c.kind != "email"]
    mobile = next((c for c in own if c.kind == "mobile"), None)
    third = [c for c in contacts if c.is_third_party]
    story.lost_contact = bool(third) and rng.random() < 0.03
    today = timezone.localdate(now)
    start = max(timezone.localtime(case.opened_at, DESK_ZONE).date(), today - datetime.timedelta(days=HISTORY_DAYS))
    scenario = rng.random()
    if scenario < 0.10:
        ending = ("promise due today", today - datetime.timedelta(days=rng.randint(2, 6)))
    elif scenario < 0.22:
        ending = ("recent conversation", today - datetime.timedelta(days=rng.randint(1, 5)))
    elif scenario < 0.32:
        ending = ("broken promise", today - datetime.timedelta(days=rng.randint(9, 12)))
    else:
        ending = (None, today)
    if case.stage == Stage.ON_HOLD:
        ending = (None, today)
    calls: deque = deque()
    pause_until = None

    def attempt(at, contact, channel, outcome):
        nonlocal pause_until
        row = ContactAttempt(
            case=case,
            contact=contact,
            channel=channel,
            direction="outbound",
            attempted_at=at,
            duration_seconds=rng.randint(30, 600) if outcome in CONVERSATIONS else None,
            outcome=outcome,
            collector=collector,
        )
        story.attempts.append(row)
        if channel == "call":
            calls.append(at)
        if outcome in CONVERSATIONS and (contact is None or not contact.is_third_party):
            story.last_conversation = at
            pause_until = at + PAUSE
        if outcome == "promise_to_pay":
            promise_take(at, row)
        return row

    def promise_take(at, row):
        for earlier in story.promises:
            if earlier.status == "pending":
                earlier.status = "superseded"
        due = timezone.localtime(at, DESK_ZONE).date() + datetime.timedelta(days=rng.randint(1, 7))
        story.promises.append(
            PromiseToPay(
                case=case,
                amount=Decimal(rng.randrange(200, 3000, 50)),
                due_date=due,
                promised_at=at,
                taken_by=collector,
                attempt=row,
                status="pending",
            )
        )

    last_day = ending[1] if ending[0] else today
    day = start
    while day <= last_day and mobile is not None:
        opening, closing = 9 * 60, 20 * 60 + 30
        if day == today:
            closing = min(
                closing, int((timezone.localtime(now, DESK_ZONE) - _local(day, 0)).total_seconds() // 60) - 30
            )
        if ending[0] and day >= ending[1] - datetime.timedelta(days=8):
            break  # the ending's scenario needs the week before it quiet
        if rng.random() < 0.08 and closing > 10 * 60:
            attempt(_local(day, 10 * 60), mobile, "sms", "sent")
        if rng.random() < 0.4 and closing > opening + 60:
            at = _local(day, rng.randint(opening, closing - 1))
            while calls and calls[0] <= at - WINDOW:
                calls.popleft()
            if (pause_until is None or at >= pause_until) and len(calls) < MOST_CALLS_IN_WINDOW:
                if story.lost_contact:
                    contact = rng.choice(third)
                    attempt(at, contact, "call", _pick(rng, THIRD_PARTY_OUTCOMES))
                else:
                    contact = mobile if rng.random() < 0.8 or len(own) == 1 else rng.choice(own)
                    outcome = _pick(rng, OWN_OUTCOMES)
                    row = attempt(at, contact, "call", outcome)
                    if outcome in UNANSWERED and rng.random() < 0.15 and len(calls) < MOST_CALLS_IN_WINDOW:
                        later = at + datetime.timedelta(minutes=rng.randint(60, 180))
                        if timezone.localtime(later, DESK_ZONE).time() < datetime.time(21) and later < now:
                            attempt(later, contact, "call", _pick(rng, OWN_OUTCOMES[:2]))
                    if row.outcome in UNANSWERED and rng.random() < 0.15:
                        story.callbacks.append(
                            Callback(
                                case=case,
                                due_at=at + datetime.timedelta(days=1),
                                status="done",
                                attempt=row,
                                set_by=collector,
                                closed_at=at + datetime.timedelta(days=1, minutes=5),
                            )
                        )
        day += datetime.timedelta(days=1)

    if mobile is not None and ending[0] is not None:
        at = _local(ending[1], rng.randint(10 * 60, 17 * 60))
        if ending[0] == "recent conversation":
            attempt(at, mobile, "call", rng.choice(("rpc", "refused", "rpc")))
        else:
            attempt(at, mobile, "call", "promise_to_pay")
            promise = story.promises[-1]
            promise.due_date = today if ending[0] == "promise due today" else ending[1] + datetime.timedelta(days=3)
            promise.broken_for_the_scenario = ending[0] == "broken promise"
    promises_settle(story, rng, now)
    if story.last_conversation is not None and story.stage == Stage.REMINDER:
        story.stage = Stage.NEGOTIATION
    _story_extras(story, rng, collector, now, today, mobile)


def promises_settle(story: Story, rng, now) -> None:
    """Each promise not superseded whose window has ended (the night after the day after its due
    date) is kept, partly kept or broken; the last broken one not yet worked needs attention."""
    for promise in story.promises:
        if promise.status != "pending":
            continue
        evaluated = _local(promise.due_date + datetime.timedelta(days=2), 2 * 60)
        if evaluated > now:
            continue
        draw = 1.0 if getattr(promise, "broken_for_the_scenario", False) else rng.random()
        promise.status = "kept" if draw < 0.4 else "partially_kept" if draw < 0.5 else "broken"
        promise.amount_paid = promise.amount if draw < 0.4 else (promise.amount / 2 if draw < 0.5 else 0)
        promise.evaluated_at = evaluated
        if promise.status == "broken":
            worked = any(a.attempted_at > evaluated for a in story.attempts)
            story.attention_since = None if worked else evaluated


def _story_extras(story: Story, rng, collector, now, today, mobile) -> None:
    case = story.case
    last = story.attempts[-1] if story.attempts else None
    if last is not None and rng.random() < 0.3:
        local_now = timezone.localtime(now, DESK_ZONE)
        if rng.random() < 0.4:  # due: earlier today if the day has begun, else yesterday afternoon
            day = today if local_now.hour >= 10 else today - datetime.timedelta(days=1)
            latest = local_now.hour * 60 + local_now.minute - 5 if day == today else 19 * 60
            due_at = _local(day, rng.randint(9 * 60, max(9 * 60, latest)))
        else:
            due_at = _local(today + datetime.timedelta(days=rng.randint(1, 3)), rng.randint(10 * 60, 18 * 60))
        story.callbacks.append(Callback(case=case, due_at=due_at, status="pending", attempt=last, set_by=collector))
    for _number in range(rng.choice((0, 0, 1, 1, 2, 3))):
        written = last.attempted_at if last is not None and rng.random() < 0.7 else case.opened_at
        story.notes.append(CaseNote(case=case, text=rng.choice(NOTES), written_by=collector, written_at=written))
    if mobile is not None and rng.random() < 0.05:
        at = _local(today - datetime.timedelta(days=rng.randint(1, 20)), 22 * 60 + rng.randint(5, 90))
        story.refusals.append(
            ConductRefusal(
                case=case,
                contact=mobile,
                channel="call",
                attempted_at=at,
                attempted_by=collector,
                rule="quiet_hours",
                detail="No contact between 22:00 and 08:00 in the borrower's time zone.",
                next_allowed_at=_local(timezone.localtime(at, DESK_ZONE).date() + datetime.timedelta(days=1), 8 * 60),
            )
        )
    story.logs.append(
        StateLog(timestamp=case.opened_at, by=None, source_state=None, state=Stage.REMINDER, transition="open")
    )
    if story.stage != Stage.REMINDER:
        entered = case.stage_entered_at or case.opened_at
        story.logs.append(
            StateLog(
                timestamp=max(entered, case.opened_at),
                by=collector if story.stage == Stage.NEGOTIATION else None,
                source_state=Stage.REMINDER,
                state=story.stage,
                transition=STAGE_TRANSITIONS.get(story.stage, "move"),
                description="",
            )
        )
