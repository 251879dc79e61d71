"""The legal track's portfolio: the nightly cycle's benchmark portfolio, L of its open collection
cases moved into litigation, and on each a legal case with the records of the steps it has been
through, in every state of legal.machine, written with INSERT ... SELECT. The same N, L, seed and
day give the same rows."""

# ruff: noqa: S608 - the statements here are built from this module's own names and numbers;
# every value from outside (day, seed, ids) is bound as a parameter.

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts import roles
from bench.collection_cycle.portfolio import PortfolioBuilder, _by_share, _draw
from bench.collection_cycle.report import progress_bar
from bench.collection_cycle.server import BenchError
from bench.collection_cycle.sql import execute, insert
from collection.machine import OPEN_STAGES
from collection.models import CollectionCase
from legal.machine import LegalState
from legal.models import (
    Court,
    DeadlineReminder,
    Enforcement,
    EnforcementReceipt,
    Filing,
    FrozenAsset,
    Hearing,
    Judgment,
    LawFirm,
    LawyerLetter,
    LegalCase,
    LegalCost,
    Mediation,
    PaymentOrder,
)
from legal.services import ENFORCEMENT_SOURCE
from loans.models import Loan, Payment
from loans.services import portfolio_refresh_delinquency

# The legal officer whose pages are timed, the one who holds the rest, and the supervisor whose
# legal portfolio is timed.
OFFICER = "legal1"
OTHER_OFFICER = "legal2"
SUPERVISOR = "supervisor1"
# Loans the builder makes per legal case: about 15 % of its loans have an open case.
LOANS_PER_LEGAL_CASE = 7

COURTS = (
    ("上海市浦东新区人民法院", "basic", "上海"),
    ("上海市黄浦区人民法院", "basic", "上海"),
    ("上海市徐汇区人民法院", "basic", "上海"),
    ("上海市第一中级人民法院", "intermediate", "上海"),
    ("北京市朝阳区人民法院", "basic", "北京"),
    ("北京市海淀区人民法院", "basic", "北京"),
    ("北京市东城区人民法院", "basic", "北京"),
    ("北京互联网法院", "internet", "北京"),
    ("杭州互联网法院", "internet", "杭州"),
    ("广州市天河区人民法院", "basic", "广州"),
    ("深圳市南山区人民法院", "basic", "深圳"),
    ("成都市武侯区人民法院", "basic", "成都"),
)
FIRMS = (
    "金诚律师事务所",
    "中伦文德律师事务所",
    "汇业律师事务所",
    "德和衡律师事务所",
    "大成律师事务所",
    "天达共和律师事务所",
)

# The legal cases by state, in percent.
STATE_SHARES = (
    (14, LegalState.PREPARING),
    (12, LegalState.LETTER_SENT),
    (8, LegalState.MEDIATION),
    (10, LegalState.PAYMENT_ORDER),
    (10, LegalState.FILED),
    (12, LegalState.IN_HEARING),
    (10, LegalState.JUDGMENT),
    (12, LegalState.ENFORCEMENT),
    (7, LegalState.ENFORCEMENT_SUSPENDED),
    (5, LegalState.CLOSED),
)


def legal_build(*, loans: int, legal_cases: int, seed: int, as_of: datetime.date) -> dict[str, int]:
    """Build it all in the current database; returns the rows made, by kind."""
    PortfolioBuilder(loans=loans, seed=seed, as_of=as_of).build()
    # The night's ageing: the portfolio's day is the day (the nightly cycle's first step).
    portfolio_refresh_delinquency(as_of=as_of)
    officers = officers_ensure()
    courts, firms = courts_and_firms_ensure()
    params = {
        "seed": seed,
        "today": as_of,
        "now": timezone.now(),
        "officer": officers[0],
        "other_officer": officers[1],
        "courts": courts,
        "firms": firms,
        "legal_cases": legal_cases,
        "open_stages": list(OPEN_STAGES),
        "state_log_type": ContentType.objects.get_for_model(LegalCase).pk,
        "enforcement_source": ENFORCEMENT_SOURCE,
    }
    with transaction.atomic():
        litigation_enter(params)
    with progress_bar("legal records", len(_RECORDS), "table") as bar, transaction.atomic():
        for model, columns, source in _RECORDS:
            insert(model, columns, source, params)
            bar.update(1)
    # As a table the desk has worked on for a while: dead rows gone, statistics fresh.
    execute("VACUUM ANALYZE")
    return portfolio_rows()


def officers_ensure() -> tuple[int, int]:
    """The demo's legal officer, and a second one for the cases the first does not hold."""
    User = get_user_model()
    officer = User.objects.get(username=OFFICER)
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        other, created = User.objects.get_or_create(
            username=OTHER_OFFICER, defaults={"email": f"{OTHER_OFFICER}@demo.invalid", "last_name": "周"}
        )
        if created:
            other.set_unusable_password()
            other.save()
    other.groups.set([Group.objects.get(name=roles.LEGAL_OFFICER)])
    return officer.pk, other.pk


def courts_and_firms_ensure() -> tuple[list[int], list[int]]:
    for name, kind, city in COURTS:
        Court.objects.get_or_create(name=name, defaults={"kind": kind, "city": city})
    for name in FIRMS:
        LawFirm.objects.get_or_create(name=name)
    courts = list(
        Court.objects.filter(name__in=[name for name, *_ in COURTS]).order_by("pk").values_list("pk", flat=True)
    )
    firms = list(LawFirm.objects.filter(name__in=FIRMS).order_by("pk").values_list("pk", flat=True))
    return courts, firms


def litigation_enter(params: dict) -> None:
    """Move L open collection cases into litigation, those in litigation already first, then the
    longest overdue, and open a legal case on each."""
    execute(
        """CREATE UNLOGGED TABLE bench_legal_plan AS
           SELECT row_number() OVER (ORDER BY stage = 'litigation' DESC, opened_at, id) AS n, id AS case_id
           FROM collection_collectioncase WHERE stage = ANY(%(open_stages)s)
           ORDER BY stage = 'litigation' DESC, opened_at, id LIMIT %(legal_cases)s""",
        params,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_legal_plan")
        chosen = cursor.fetchone()[0]
    if chosen < params["legal_cases"]:
        raise BenchError(
            f"the portfolio has {chosen:,} open cases, fewer than the {params['legal_cases']:,} legal cases asked "
            "for: give more --loans"
        )
    execute(
        """UPDATE collection_collectioncase c SET stage = 'litigation', held_stage = '', hold_reason = ''
           FROM bench_legal_plan p WHERE c.id = p.case_id AND c.stage <> 'litigation'""",
        params,
    )
    insert(LegalCase, _LEGAL_CASE_COLUMNS, _LEGAL_CASE_SOURCE, params)
    execute("DROP TABLE bench_legal_plan")


def nightly_undo() -> None:
    """What the limitation step and the reminders wrote, undone: a reused database is timed as
    the night it was built."""
    LegalCase.objects.exclude(limitation_flagged_on=None).update(limitation_flagged_on=None)
    DeadlineReminder.objects.all().delete()
    execute("ANALYZE")


def portfolio_rows() -> dict[str, int]:
    """What the database holds: the portfolio's rows by kind and the legal track's."""
    rows = {
        "loans": Loan.objects.count(),
        "cases": CollectionCase.objects.count(),
        "open cases": CollectionCase.objects.filter(stage__in=OPEN_STAGES).count(),
        "legal cases": LegalCase.objects.count(),
        f"{OFFICER}'s": LegalCase.objects.filter(officer__username=OFFICER).count(),
    }
    named = {
        "letters": LawyerLetter,
        "mediations": Mediation,
        "payment orders": PaymentOrder,
        "filings": Filing,
        "hearings": Hearing,
        "judgments": Judgment,
        "enforcements": Enforcement,
        "receipts": EnforcementReceipt,
        "frozen assets": FrozenAsset,
        "costs": LegalCost,
    }
    rows.update({name: model.objects.count() for name, model in named.items()})
    return rows


# --- the rows, in SQL --------------------------------------------------------------------------

_STATE = _by_share(_draw("p.n", 60, 100), [(share, f"'{state}'") for share, state in STATE_SHARES])
_ENTERED = f"%(now)s::timestamptz - (1 + {_draw('p.n', 64, 120)}) * interval '1 day'"
_LEGAL_CASE_SOURCE = f"""FROM bench_legal_plan p
    CROSS JOIN LATERAL (SELECT {_STATE} AS state,
        %(now)s::timestamptz - (130 + {_draw("p.n", 63, 600)}) * interval '1 day' AS opened_at) AS s"""
_LEGAL_CASE_COLUMNS = {
    "case_id": "p.case_id",
    # Most cases the timed officer's, some the other officer's, a few nobody's yet.
    "officer_id": f"""CASE WHEN {_draw("p.n", 61, 100)} < 85 THEN %(officer)s
        WHEN {_draw("p.n", 61, 100)} < 95 THEN %(other_officer)s END""",
    "firm_id": f"""CASE WHEN {_draw("p.n", 62, 100)} < 90
        THEN (%(firms)s::bigint[])[1 + {_draw("p.n", 66, 6)}] END""",
    "opened_at": "s.opened_at",
    # Three years before the period ends: some ended, some close to it, most far from it.
    "limitation_from": f"%(today)s::date - {_draw('p.n', 65, 1200)}::int",
    "state": "s.state",
    "state_entered_at": _ENTERED,
    "closed_at": f"CASE WHEN s.state = 'closed' THEN {_ENTERED} END",
    "outcome": f"""CASE WHEN s.state = 'closed'
        THEN (ARRAY['paid', 'settled', 'uncollectible', 'withdrawn'])[1 + {_draw("p.n", 67, 4)}] ELSE '' END""",
}

# The legal cases with their loans, for the records below.
_CASES = """FROM legal_legalcase lc JOIN collection_collectioncase c ON c.id = lc.case_id
    JOIN loans_loan l ON l.id = c.loan_id"""
_RECORDED = {"recorded_by_id": "COALESCE(lc.officer_id, %(officer)s)"}
_COURT = "(%(courts)s::bigint[])[1 + {draw}]"

_LETTER_SOURCE = f"""{_CASES}
    WHERE lc.state = 'letter_sent' OR (lc.state <> 'preparing' AND {_draw("lc.id", 70, 100)} < 60)"""
_LETTER_COLUMNS = {
    **_RECORDED,
    "legal_case_id": "lc.id",
    "number": "'LS-' || lc.id",
    "firm_id": "COALESCE(lc.firm_id, (%(firms)s::bigint[])[1])",
    "sent_on": "lc.opened_at::date + 5",
    "delivered_on": f"CASE WHEN {_draw('lc.id', 71, 100)} < 80 THEN lc.opened_at::date + 8 END",
    "tracking_number": "'SF' || (1000000000 + lc.id)::text",
}

# In mediation: no agreement yet, agreed (the confirmation due 30 days on, some past), or confirmed.
_MEDIATION_DRAW = _draw("lc.id", 72, 100)
_AGREED = f"lc.state = 'mediation' AND {_MEDIATION_DRAW} >= 40"
_CONFIRMED = f"lc.state = 'mediation' AND {_MEDIATION_DRAW} >= 80"
_MEDIATION_SOURCE = f"""{_CASES}
    CROSS JOIN LATERAL (SELECT %(today)s::date - {_draw("lc.id", 73, 45)}::int AS agreed_on) AS m
    WHERE lc.state = 'mediation' OR (lc.state IN ('payment_order', 'filed') AND {_draw("lc.id", 74, 100)} < 30)"""
_MEDIATION_COLUMNS = {
    **_RECORDED,
    "legal_case_id": "lc.id",
    "mediator": "'人民调解委员会 ' || (1 + mod(lc.id, 9))",
    "started_on": "m.agreed_on - 20",
    "agreed_on": f"CASE WHEN {_AGREED} THEN m.agreed_on END",
    "agreed_amount": f"CASE WHEN {_AGREED} THEN round(l.principal * 0.6, 2) END",
    "confirmation_ruling": f"CASE WHEN {_CONFIRMED} THEN '(2026)调确' || lc.id ELSE '' END",
    "confirmed_on": f"CASE WHEN {_CONFIRMED} THEN m.agreed_on + 10 END",
}

# A payment order: served (the objection period 15 days on), some objected to; those of the cases
# that went on to sue, objected to.
_ORDER_DRAW = _draw("lc.id", 75, 100)
_ORDER_SOURCE = f"""{_CASES}
    CROSS JOIN LATERAL (SELECT %(today)s::date - 10 - {_draw("lc.id", 76, 80)}::int AS applied_on) AS o
    WHERE lc.state = 'payment_order' OR (lc.state IN ('filed', 'in_hearing') AND {_draw("lc.id", 77, 100)} < 15)"""
_ORDER_SERVED = f"CASE WHEN lc.state <> 'payment_order' OR {_ORDER_DRAW} < 85 THEN o.applied_on + 7 END"
_ORDER_COLUMNS = {
    **_RECORDED,
    "legal_case_id": "lc.id",
    "court_id": _COURT.format(draw=_draw("lc.id", 78, len(COURTS))),
    "applied_on": "o.applied_on",
    "served_on": _ORDER_SERVED,
    "objection_deadline": f"({_ORDER_SERVED}) + 15",
    "objected_on": f"CASE WHEN lc.state <> 'payment_order' OR {_ORDER_DRAW} < 25 THEN o.applied_on + 12 END",
}

# The suit, the claim itemised from the loan as it stands.
_SUED = "('filed', 'in_hearing', 'judgment', 'enforcement', 'enforcement_suspended')"
_FILING_SOURCE = f"""{_CASES}
    CROSS JOIN LATERAL (SELECT round(l.outstanding_principal * 0.01, 2) + 50 AS costs) AS f
    WHERE lc.state IN {_SUED} OR (lc.state = 'closed' AND {_draw("lc.id", 80, 100)} < 50)"""
_FILING_COLUMNS = {
    **_RECORDED,
    "legal_case_id": "lc.id",
    "court_id": _COURT.format(draw=_draw("lc.id", 81, len(COURTS))),
    "docket_number": "'(2026)民初' || lc.id || '号'",
    "filed_on": f"%(today)s::date - 20 - {_draw('lc.id', 82, 300)}::int",
    "procedure": f"CASE WHEN {_draw('lc.id', 83, 100)} < 75 THEN 'simplified' ELSE 'ordinary' END",
    "judge": "'审判员 ' || (1 + mod(lc.id, 40))",
    "clerk": "'书记员 ' || (1 + mod(lc.id, 60))",
    "claimed_principal": "l.outstanding_principal",
    "claimed_interest": "l.outstanding_interest",
    "claimed_fees": "l.outstanding_fees",
    "claimed_penalty": "l.outstanding_penalty",
    "claimed_costs": "f.costs",
    "claimed_amount": "l.outstanding_principal + l.outstanding_interest + l.outstanding_fees "
    "+ l.outstanding_penalty + f.costs",
}

# In hearing: a hearing held for some, one to come for most (at 9:30 in the desk's time); after
# it, the one held.
_HEARING_SOURCE = f"""{_CASES}
    CROSS JOIN LATERAL (VALUES
        (1, %(today)s::date - 15 - {_draw("lc.id", 84, 30)}::int,
            lc.state IN ('judgment', 'enforcement', 'enforcement_suspended')
            OR (lc.state = 'in_hearing' AND {_draw("lc.id", 85, 100)} < 50)),
        (2, %(today)s::date + {_draw("lc.id", 86, 40)}::int, lc.state = 'in_hearing' AND {_draw("lc.id", 87, 100)} < 90)
    ) AS h(k, day, wanted)
    WHERE h.wanted"""
_HEARING_COLUMNS = {
    **_RECORDED,
    "legal_case_id": "lc.id",
    "held_at": "(h.day + time '09:30') AT TIME ZONE 'Asia/Shanghai'",
    "place": "'第' || (1 + mod(lc.id, 12)) || '法庭'",
    "result": "CASE WHEN h.k = 1 THEN '已开庭审理' ELSE '' END",
}

# The judgment: served and awaiting its appeal period, or in effect; in effect for the cases in
# enforcement.
_JUDGMENT_DRAW = _draw("lc.id", 88, 100)
_JUDGMENT_SOURCE = f"""{_CASES}
    CROSS JOIN LATERAL (SELECT %(today)s::date - 5 - {_draw("lc.id", 89, 60)}::int AS ruled_on) AS j
    WHERE lc.state IN ('judgment', 'enforcement', 'enforcement_suspended')"""
_JUDGMENT_SERVED = f"CASE WHEN lc.state <> 'judgment' OR {_JUDGMENT_DRAW} < 80 THEN j.ruled_on + 5 END"
_JUDGMENT_COLUMNS = {
    **_RECORDED,
    "legal_case_id": "lc.id",
    "ruled_on": "j.ruled_on",
    "served_on": _JUDGMENT_SERVED,
    "awarded_amount": "l.outstanding_principal + l.outstanding_interest",
    "costs_awarded": "round(l.outstanding_principal * 0.01, 2) + 50",
    "appeal_deadline": f"({_JUDGMENT_SERVED}) + 15",
    "effective_on": f"""CASE WHEN lc.state <> 'judgment'
            OR ({_JUDGMENT_DRAW} < 50 AND j.ruled_on + 21 <= %(today)s::date)
        THEN j.ruled_on + 21 END""",
}

# Enforcement: applied for; the round ended for those suspended.
_ENFORCEMENT_SOURCE = f"""{_CASES}
    CROSS JOIN LATERAL (SELECT %(today)s::date - 30 - {_draw("lc.id", 90, 300)}::int AS applied_on) AS e
    WHERE lc.state IN ('enforcement', 'enforcement_suspended')"""
_ENFORCEMENT_COLUMNS = {
    **_RECORDED,
    "legal_case_id": "lc.id",
    "court_id": _COURT.format(draw=_draw("lc.id", 91, len(COURTS))),
    "docket_number": "'(2026)执' || lc.id || '号'",
    "applied_on": "e.applied_on",
    "amount_applied": "l.outstanding_principal + l.outstanding_interest + l.outstanding_fees + 100",
    "suspended_on": f"""CASE WHEN lc.state = 'enforcement_suspended'
        THEN LEAST(e.applied_on + 20 + {_draw("lc.id", 92, 200)}::int, %(today)s::date - 1) END""",
}

# Money from enforcement on half the cases in it: one to three payments, each a receipt.
_ENFORCED = """FROM legal_enforcement e JOIN legal_legalcase lc ON lc.id = e.legal_case_id
    JOIN collection_collectioncase c ON c.id = lc.case_id"""
_RECEIPT_SERIES = f"""{_ENFORCED}
    CROSS JOIN LATERAL generate_series(1, 1 + {_draw("e.id", 93, 3)}) AS k"""
_RECEIPT_WHERE = f"""
    WHERE {_draw("e.id", 94, 100)} < 50"""
_RECEIPT_PARTS = _RECEIPT_SERIES + _RECEIPT_WHERE
_PAYMENT_COLUMNS = {
    "loan_id": "c.loan_id",
    "amount": "GREATEST(round(e.amount_applied * 0.05, 2), 10)",
    "received_at": "(e.applied_on + 10 * k + time '12:00') AT TIME ZONE 'Asia/Shanghai'",
    "channel": "'bank_transfer'",
    "source": "%(enforcement_source)s",
    "reference": "'bench-legal-' || e.id || '-' || k",
    "recorded_by_id": "COALESCE(lc.officer_id, %(officer)s)",
}
# The same rows as _RECEIPT_PARTS, each with the payment written for it.
_RECEIPT_SOURCE = f"""{_RECEIPT_SERIES}
    JOIN loans_payment pay ON pay.source = %(enforcement_source)s
        AND pay.reference = 'bench-legal-' || e.id || '-' || k{_RECEIPT_WHERE}"""
_RECEIPT_COLUMNS = {
    "recorded_by_id": "COALESCE(lc.officer_id, %(officer)s)",
    "legal_case_id": "lc.id",
    "enforcement_id": "e.id",
    "received_on": "e.applied_on + 10 * k",
    "amount": "pay.amount",
    "payment_id": "pay.id",
}

# Assets frozen on most enforcements: a bank deposit (a year), movables (two), real estate
# (three); a few released.
_FREEZE_SOURCE = f"""{_ENFORCED}
    CROSS JOIN LATERAL generate_series(1, 1 + {_draw("e.id", 95, 2)}) AS k
    CROSS JOIN LATERAL (SELECT
        (ARRAY['bank_deposit', 'movable', 'real_estate'])[1 + mod(k + {_draw("e.id", 96, 3)}, 3)] AS kind,
        e.applied_on + 10 AS frozen_on) AS f
    WHERE {_draw("e.id", 97, 100)} < 65"""
_FREEZE_COLUMNS = {
    "recorded_by_id": "COALESCE(lc.officer_id, %(officer)s)",
    "legal_case_id": "lc.id",
    "enforcement_id": "e.id",
    "kind": "f.kind",
    "description": "f.kind || ' ' || e.id || '-' || k",
    "frozen_on": "f.frozen_on",
    "expires_on": """(f.frozen_on + CASE f.kind WHEN 'bank_deposit' THEN interval '1 year'
        WHEN 'movable' THEN interval '2 years' ELSE interval '3 years' END)::date""",
    "released_on": f"CASE WHEN {_draw('e.id * 4 + k', 98, 100)} < 10 THEN f.frozen_on + 90 END",
}

# The costs: counsel for the letters, the court fee for the suits, a preservation fee in
# enforcement, some awarded against the borrower.
_COST_SOURCE = f"""{_CASES}
    CROSS JOIN LATERAL (VALUES
        ('counsel', 800 + 100 * {_draw("lc.id", 100, 10)}, lc.state <> 'preparing'),
        ('court_fee', round(l.outstanding_principal * 0.01, 2) + 50, lc.state IN {_SUED}),
        ('preservation_fee', 520, lc.state IN ('enforcement', 'enforcement_suspended')),
        ('notary', 300, {_draw("lc.id", 101, 100)} < 10)
    ) AS k(kind, amount, wanted)
    WHERE k.wanted"""
_COST_COLUMNS = {
    **_RECORDED,
    "legal_case_id": "lc.id",
    "kind": "k.kind",
    "amount": "k.amount",
    "incurred_on": "lc.opened_at::date + 3",
    "borne_by": "CASE WHEN k.kind = 'court_fee' AND lc.state <> 'filed' THEN 'borrower' ELSE 'desk' END",
}

# The case's move into its state, for its timeline.
_LOG_SOURCE = "FROM legal_legalcase lc WHERE lc.state <> 'preparing'"
_LOG_COLUMNS = {
    "timestamp": "lc.state_entered_at",
    "by_id": "COALESCE(lc.officer_id, %(officer)s)",
    "source_state": "'preparing'",
    "state": "lc.state",
    "transition": "'move'",
    "content_type_id": "%(state_log_type)s",
    "object_id": "lc.id",
    "description": "''",
}

_RECORDS = (
    (LawyerLetter, _LETTER_COLUMNS, _LETTER_SOURCE),
    (Mediation, _MEDIATION_COLUMNS, _MEDIATION_SOURCE),
    (PaymentOrder, _ORDER_COLUMNS, _ORDER_SOURCE),
    (Filing, _FILING_COLUMNS, _FILING_SOURCE),
    (Hearing, _HEARING_COLUMNS, _HEARING_SOURCE),
    (Judgment, _JUDGMENT_COLUMNS, _JUDGMENT_SOURCE),
    (Enforcement, _ENFORCEMENT_COLUMNS, _ENFORCEMENT_SOURCE),
    (Payment, _PAYMENT_COLUMNS, _RECEIPT_PARTS),
    (EnforcementReceipt, _RECEIPT_COLUMNS, _RECEIPT_SOURCE),
    (FrozenAsset, _FREEZE_COLUMNS, _FREEZE_SOURCE),
    (LegalCost, _COST_COLUMNS, _COST_SOURCE),
    (StateLog, _LOG_COLUMNS, _LOG_SOURCE),
)
