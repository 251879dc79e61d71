"""The benchmark's portfolio, built with SQL, and what the cycle left the night before."""

# ruff: noqa: S608 - the statements here are built from this module's own names and numbers;
# every value from outside (day, seed, ids) is bound as a parameter.

import datetime

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone

from .project import (
    OPEN_STAGES,
    TEAMS,
    Borrower,
    CaseRouting,
    CollectionCase,
    Contact,
    EscalationRequest,
    Installment,
    Loan,
    Payment,
    PromiseToPay,
    Team,
    demo_products,
    demo_users_ensure,
    desk_day_start,
    portfolio_refresh_delinquency,
)
from .report import progress_bar
from .sql import execute, insert

CHUNK_LOANS = 50_000


# What each loan is as of the day: share in thousandths, and the DPD band.
STATES = (
    ("current", 800, None),
    ("M1", 70, (1, 30)),
    ("M2", 30, (31, 60)),
    ("M3", 20, (61, 90)),
    ("M4+", 30, (91, 330)),
    ("paid_off", 50, None),
)
# Products by share in percent: (code, share, annual rate, monthly fee on the principal).
PRODUCT_MIX = (
    ("CCI", 30, "0.0000", "0.0060"),
    ("CONSUMER", 15, "0.0800", "0.0000"),
    ("ONLINE", 55, "0.1800", "0.0030"),
)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN_NAMES = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


class PortfolioBuilder:
    """Builds the benchmark's portfolio for a day in the current database: the desk, the loans, their
    ageing as of the day before and what the cycle left that night."""

    def __init__(self, *, loans: int, seed: int, as_of: datetime.date):
        self.loans, self.seed, self.as_of = loans, seed, as_of
        self.yesterday = as_of - datetime.timedelta(days=1)
        self.now = timezone.now()

    def params(self, **more) -> dict:
        return {"seed": self.seed, "as_of": self.as_of, "yesterday": self.yesterday, "now": self.now, **more}

    def build(self) -> dict[str, int]:
        """Build it all; returns the rows made, by kind."""
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            self.desk = self.desk_ensure()
        self.plan_create()
        self.loans_insert()
        with progress_bar("ageing the night before", self.loans, "loan") as bar:
            portfolio_refresh_delinquency(as_of=self.yesterday, progress=bar.update)
        with transaction.atomic():
            rows = self.cases_insert()
            rows.update(self.promises_insert())
        execute("DROP TABLE bench_plan")
        # As a table the desk has worked on for a while: dead rows gone, statistics fresh.
        execute("VACUUM ANALYZE")
        return {
            "borrowers": Borrower.objects.count(),
            "contacts": Contact.objects.count(),
            "loans": Loan.objects.count(),
            "installments": Installment.objects.count(),
            **rows,
        }

    def desk_ensure(self) -> dict:
        """The demo desk's teams and collectors; the credit-card product's cases go to the first
        team, every other product's to the second."""
        demo_users_ensure(seed=self.seed)
        products = demo_products()
        teams = [Team.objects.get(name=name) for name in TEAMS]
        CaseRouting.objects.update_or_create(product=products["CCI"], defaults={"team": teams[0]})
        CaseRouting.objects.update_or_create(product=None, defaults={"team": teams[1]})
        collectors = [
            list(
                team.members.filter(is_active=True, groups__name="collector")
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            for team in teams
        ]
        return {
            "products": products,
            "teams": [team.pk for team in teams],
            "collectors": collectors,
        }

    def plan_create(self) -> None:
        """bench_plan: per loan its state as of the day, product, principal and schedule anchor."""
        products = [self.desk["products"][code] for code, *_ in PRODUCT_MIX]
        execute(
            _PLAN,
            self.params(
                loans=self.loans,
                product_ids=[product.pk for product in products],
                graces=[product.grace_days for product in products],
                rates=[rate for _code, _share, rate, _fee in PRODUCT_MIX],
                fees=[fee for _code, _share, _rate, fee in PRODUCT_MIX],
            ),
        )

    def loans_insert(self) -> None:
        """The plan's loans with their borrowers, contacts and schedules, a chunk per transaction."""
        with progress_bar("portfolio", self.loans, "loan") as bar:
            for low in range(1, self.loans + 1, CHUNK_LOANS):
                high = min(low + CHUNK_LOANS, self.loans + 1)
                with transaction.atomic():
                    self.chunk_insert(low, high)
                bar.update(high - low)
        # The rows were inserted with their ids: the sequences go on after them.
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Borrower, Contact, Loan, Installment]):
                cursor.execute(statement)

    def chunk_insert(self, low: int, high: int) -> None:
        """Loans low to high - 1: a borrower with a mobile number each, 12 installments, the loan."""
        params = self.params(low=low, high=high, surnames=list(SURNAMES), given_names=list(GIVEN_NAMES))
        insert(Borrower, _BORROWER_COLUMNS, _CHUNK_NUMBERS, params)
        insert(Contact, _CONTACT_COLUMNS, _CHUNK_NUMBERS, params)
        insert(Installment, _INSTALLMENT_COLUMNS, _INSTALLMENT_SOURCE, params)
        insert(Loan, _LOAN_COLUMNS, _LOAN_SOURCE, params)

    def cases_insert(self) -> dict[str, int]:
        """The cases the cycle left last night, from the loans as aged then, with their broken
        promises and the pending requests to move escalation cases past DPD 90 to litigation."""
        params = self.params(
            team_ids=self.desk["teams"],
            first_team=self.desk["collectors"][0],
            second_team=self.desk["collectors"][1],
            cci=self.desk["products"]["CCI"].pk,
        )
        cases = insert(CollectionCase, _CASE_COLUMNS, _CASE_LOANS, params)
        promises = insert(PromiseToPay, _BROKEN_PROMISE_COLUMNS, _BROKEN_PROMISE_CASES, params)
        requests = insert(EscalationRequest, _REQUEST_COLUMNS, _REQUEST_CASES, params)
        return {"cases": cases, "broken promises": promises, "escalation requests": requests}

    def promises_insert(self) -> dict[str, int]:
        """Pending promises to pay for the cycle's promise step to settle, and the loans' payments
        in and around their windows, received before the day."""
        params = self.params(day_start=desk_day_start(self.as_of))
        promises = insert(PromiseToPay, _PENDING_PROMISE_COLUMNS, _PENDING_PROMISE_CASES, params)
        payments = insert(Payment, _PAYMENT_COLUMNS, _PAYMENT_SOURCE, params)
        return {"pending promises": promises, "payments": payments}


def night_before_spread() -> dict[str, int]:
    """The loans by status and bucket, and the open cases, as the build left them."""
    spread = {}
    for status, bucket, count in (
        Loan.objects.values_list("status", "bucket__name")
        .annotate(count=Count("pk"))
        .order_by("status", "bucket__min_dpd")
    ):
        spread[f"{status} {bucket or '-'}"] = count
    spread["open cases"] = CollectionCase.objects.filter(stage__in=OPEN_STAGES).count()
    return spread


# ---------------------------------------------------------------------------------------------
# The rows, as SQL. Every draw comes from the seed and the row's number, so the same N, seed and
# day give the same rows.
# ---------------------------------------------------------------------------------------------


def _draw(number: str, salt: int, modulo: int) -> str:
    """A deterministic pseudo-random integer in [0, modulo) for row `number`, from the seed."""
    return f"mod(hashint8(%(seed)s::bigint * 1000003 + ({number}) * 97 + {salt}) & 2147483647, {modulo})"


def _by_share(draw: str, values: list[tuple[int, str]]) -> str:
    """A CASE giving each value for its share of `draw`'s range, from (share, SQL value) pairs."""
    arms, bound = [], 0
    for share, value in values:
        bound += share
        arms.append(f"WHEN {draw} < {bound} THEN {value}")
    return f"CASE {' '.join(arms)} END"


# The plan, per loan: its draws; its state and product kind; its amounts, DPD and installments
# paid; its schedule's anchor (the due date of installment anchor_number).
_PLAN_DRAWS = f"""SELECT n,
        {_draw("n", 1, 1000)} AS state_draw,
        {_draw("n", 2, 100)} AS product_draw,
        {_draw("n", 3, 491)} AS size_draw,
        {_draw("n", 4, 1000000)} AS day_draw,
        {_draw("n", 5, 1000000)} AS paid_draw,
        {_draw("n", 6, 100)} AS partial_draw
    FROM generate_series(1, %(loans)s) AS n"""
_PLAN_STATE = _by_share("state_draw", [(share, f"'{name}'") for name, share, _band in STATES])
_PLAN_KIND = _by_share("product_draw", [(share, str(kind)) for kind, (_code, share, *_) in enumerate(PRODUCT_MIX, 1)])
_PLAN_DPD = " ".join(
    f"WHEN '{name}' THEN {band[0]} + mod(day_draw, {band[1] - band[0] + 1})" for name, _share, band in STATES if band
)
_PLAN_SIZES = f"""SELECT kinded.*,
        (%(product_ids)s::bigint[])[kind] AS product_id,
        (%(graces)s::int[])[kind] AS grace,
        (%(rates)s::numeric[])[kind] AS rate,
        (%(fees)s::numeric[])[kind] AS fee_rate,
        (1000 + size_draw * 100)::numeric(14, 2) AS principal,
        CASE state {_PLAN_DPD} END AS dpd,
        CASE WHEN state = 'paid_off' THEN 12
             WHEN state = 'current' THEN mod(paid_draw, 12)
             ELSE mod(paid_draw, 6) END AS paid_through
    FROM kinded"""
_PLAN_ROWS = """SELECT n AS loan_id, state, product_id, rate, fee_rate, principal, paid_through,
        trunc(principal / 12, 2) AS each,
        LEAST(paid_through + 1, 12) AS anchor_number,
        CASE WHEN state = 'paid_off' THEN %(as_of)s::date - 1 - mod(day_draw, 400)::int
             WHEN state = 'current' THEN %(as_of)s::date - grace + mod(day_draw, 31)::int
             ELSE %(as_of)s::date - dpd::int - grace END AS anchor,
        CASE WHEN state = 'current' THEN partial_draw < 10
             WHEN state = 'paid_off' THEN false
             ELSE partial_draw < 30 END AS partial,
        CASE WHEN state = 'M4+' AND partial_draw >= 90 THEN 'charged_off' ELSE 'current' END AS status
    FROM sized"""
_PLAN = f"""
    CREATE UNLOGGED TABLE bench_plan AS
    WITH drawn AS ({_PLAN_DRAWS}),
        kinded AS (SELECT drawn.*, {_PLAN_STATE} AS state, {_PLAN_KIND} AS kind FROM drawn),
        sized AS ({_PLAN_SIZES})
    {_PLAN_ROWS};
    ALTER TABLE bench_plan ADD PRIMARY KEY (loan_id);
    """

# Borrower n, born n / 1000 days after 1960-01-01, with a Beijing national id number: 17 digits
# and the check character.
_CHUNK_NUMBERS = "FROM generate_series(%(low)s, %(high)s - 1) AS n"
_BIRTH = "(DATE '1960-01-01' + (n / 1000)::int)"
_ID_FIRST17 = f"('110101' || to_char({_BIRTH}, 'YYYYMMDD') || lpad(mod(n, 1000)::text, 3, '0'))"
_ID_CHECK = (
    f"substr('10X98765432', 1 + mod((SELECT sum(substr({_ID_FIRST17}, i, 1)::int * "
    f"(ARRAY{list(ID_WEIGHTS)})[i]) FROM generate_series(1, 17) AS i)::int, 11), 1)"
)
_BORROWER_COLUMNS = {
    "id": "n",
    "name": "(%(surnames)s::text[])[1 + mod(n, 20)] || (%(given_names)s::text[])[1 + mod(n / 20, 20)]",
    "national_id": f"{_ID_FIRST17} || {_ID_CHECK}",
    "date_of_birth": _BIRTH,
    "province": "'北京市'",
    "city": "'北京市'",
}
_CONTACT_COLUMNS = {
    "id": "n",
    "borrower_id": "n",
    "kind": "'mobile'",
    "value": "'+86' || (13800000000 + n)::text",
    "verification": "CASE WHEN mod(n, 10) < 6 THEN 'verified' ELSE 'unverified' END",
    "source": "'application'",
}

# Installment k falls due (k - anchor_number) months from the anchor; those before the anchor
# number are paid, the anchor's itself partly when the plan says so.
_PAID = "k <= p.paid_through"
_PART = "k = p.paid_through + 1 AND p.partial"
_INSTALLMENT_COLUMNS = {
    "id": "(p.loan_id - 1) * 12 + k",
    "loan_id": "p.loan_id",
    "sequence": "k",
    "due_date": "due",
    "principal_due": "principal_due",
    "interest_due": "interest_due",
    "fees_due": "fees_due",
    "penalty_due": "0",
    "principal_paid": f"CASE WHEN {_PAID} THEN principal_due WHEN {_PART} THEN round(principal_due / 2, 2) ELSE 0 END",
    "interest_paid": f"CASE WHEN {_PAID} OR ({_PART}) THEN interest_due ELSE 0 END",
    "fees_paid": f"CASE WHEN {_PAID} OR ({_PART}) THEN fees_due ELSE 0 END",
    "penalty_paid": "0",
    "is_paid": _PAID,
    "paid_on": f"CASE WHEN {_PAID} THEN due END",
}
_INSTALLMENT_SOURCE = """FROM bench_plan p
    CROSS JOIN generate_series(1, 12) AS k
    CROSS JOIN LATERAL (SELECT
        (p.anchor + (k - p.anchor_number) * interval '1 month')::date AS due,
        CASE WHEN k = 12 THEN p.principal - 11 * p.each ELSE p.each END AS principal_due,
        round(p.principal * p.rate / 12, 2) AS interest_due,
        round(p.principal * p.fee_rate, 2) AS fees_due
    ) AS amounts
    WHERE p.loan_id >= %(low)s AND p.loan_id < %(high)s"""

# The loan: disbursed a month before its first installment, owing what its schedule has unpaid.
_LOAN_COLUMNS = {
    "id": "p.loan_id",
    "account_number": "'BL' || lpad(p.loan_id::text, 10, '0')",
    "borrower_id": "p.loan_id",
    "product_id": "p.product_id",
    "principal": "p.principal",
    "annual_rate": "p.rate",
    "disbursed_on": "(p.anchor - p.anchor_number * interval '1 month')::date",
    "term_months": "12",
    "status": "p.status",
    "outstanding_principal": "s.principal",
    "outstanding_interest": "s.interest",
    "outstanding_fees": "s.fees",
    "outstanding_penalty": "s.penalty",
}
_LOAN_SOURCE = """FROM bench_plan p JOIN (
        SELECT loan_id,
            sum(principal_due - principal_paid) AS principal,
            sum(interest_due - interest_paid) AS interest,
            sum(fees_due - fees_paid) AS fees,
            sum(penalty_due - penalty_paid) AS penalty
        FROM loans_installment WHERE loan_id >= %(low)s AND loan_id < %(high)s
        GROUP BY loan_id
    ) AS s ON s.loan_id = p.loan_id
    WHERE p.loan_id >= %(low)s AND p.loan_id < %(high)s"""

# The cases the cycle left last night: an open case for each delinquent loan (reminder or
# negotiation to DPD 30, then escalation; past 90 some in litigation, some on hold, the rest
# escalation with a pending litigation request), some with one or two broken promises; open cases
# of loans paid since (the cycle resolves them); resolved cases in the history of current loans;
# a settled case instead of an open one for a few delinquent loans; written-off cases of
# charged-off loans.
_CASE_KIND = _draw("l.id", 10, 1000)
_CASE_STAGE = f"""CASE
    WHEN l.status = 'charged_off' THEN 'written_off'
    WHEN l.status = 'delinquent' AND {_CASE_KIND} < 5 THEN 'settled'
    WHEN l.status <> 'delinquent' AND {_CASE_KIND} >= 15 THEN 'resolved'
    WHEN l.status <> 'delinquent' OR l.days_past_due <= 30 THEN
        CASE WHEN {_draw("l.id", 11, 100)} < 65 THEN 'reminder' ELSE 'negotiation' END
    WHEN l.days_past_due <= 90 THEN
        CASE WHEN {_draw("l.id", 11, 100)} < 90 THEN 'escalation' ELSE 'on_hold' END
    ELSE CASE WHEN {_draw("l.id", 11, 100)} < 60 THEN 'escalation'
              WHEN {_draw("l.id", 11, 100)} < 90 THEN 'litigation' ELSE 'on_hold' END
    END"""
# Which loans had a case: every delinquent or charged-off one; of the current and paid-off ones,
# 1.5 % with a case still open (paid yesterday) and 3 % with a resolved one.
_CASE_LOANS = f"""FROM (
        SELECT l.*, {_CASE_STAGE} AS stage,
            CASE WHEN l.product_id = %(cci)s THEN 0 ELSE 1 END AS team_index,
            (%(yesterday)s::date - l.days_past_due)::timestamp + interval '9 hours' AS opened_on
        FROM (SELECT loans_loan.*, COALESCE(GREATEST(%(yesterday)s::date - grace_ends_on, 0), 0) AS days_past_due
              FROM loans_loan) AS l
        WHERE l.status IN ('delinquent', 'charged_off')
            OR (l.status IN ('current', 'paid_off') AND {_CASE_KIND} < 45)
    ) AS l"""
_CASE_COLLECTOR = (
    "CASE WHEN l.team_index = 0 "
    "THEN (%(first_team)s::bigint[])[1 + mod(l.id, cardinality(%(first_team)s::bigint[]))] "
    "ELSE (%(second_team)s::bigint[])[1 + mod(l.id, cardinality(%(second_team)s::bigint[]))] END"
)
_CASE_BROKEN_PROMISES = (
    f"CASE WHEN l.stage NOT IN ('reminder', 'negotiation') THEN 0 WHEN {_draw('l.id', 12, 100)} < 4 THEN 2 "
    f"WHEN {_draw('l.id', 12, 100)} < 14 THEN 1 ELSE 0 END"
)
_CASE_OPENED = "l.opened_on - CASE WHEN l.stage = 'resolved' THEN interval '200 days' ELSE interval '0' END"
_CASE_ENTERED = """l.opened_on + CASE l.stage
        WHEN 'escalation' THEN GREATEST(l.days_past_due - 31, 0)
        WHEN 'litigation' THEN GREATEST(l.days_past_due - 91, 0)
        WHEN 'on_hold' THEN GREATEST(l.days_past_due - 40, 0)
        WHEN 'resolved' THEN -180
        WHEN 'settled' THEN l.days_past_due / 3
        WHEN 'written_off' THEN l.days_past_due / 2
        ELSE 0 END * interval '1 day'"""
_CASE_COLUMNS = {
    "loan_id": "l.id",
    "stage": "l.stage",
    "assigned_to_id": _CASE_COLLECTOR,
    "team_id": "(%(team_ids)s::bigint[])[l.team_index + 1]",
    "opened_at": _CASE_OPENED,
    "stage_entered_at": _CASE_ENTERED,
    "closed_at": f"CASE WHEN l.stage IN ('resolved', 'settled', 'written_off') THEN {_CASE_ENTERED} END",
    "held_stage": "CASE WHEN l.stage = 'on_hold' THEN 'escalation' ELSE '' END",
    "hold_reason": "CASE WHEN l.stage = 'on_hold' THEN 'hardship' ELSE '' END",
    "last_right_party_contact_at": f"""CASE WHEN l.stage = 'negotiation'
        THEN %(yesterday)s::date - {_draw("l.id", 13, 10)}::int + interval '10 hours' END""",
    "broken_promises": _CASE_BROKEN_PROMISES,
    "settlement_amount": "CASE WHEN l.stage = 'settled' THEN round(l.outstanding_principal / 2, 2) END",
    "settlement_agreed_at": "CASE WHEN l.stage = 'settled' THEN l.opened_on END",
}
# A case's broken promises, a week apart, the last due ten days before the day.
_BROKEN_PROMISE_COLUMNS = {
    "case_id": "c.id",
    "amount": "GREATEST(round(l.overdue_amount / 2, 2), 100)",
    "due_date": "%(yesterday)s::date - 3 - 7 * k",
    "promised_at": "(%(yesterday)s::date - 10 - 7 * k)::timestamp + interval '11 hours'",
    "taken_by_id": "c.assigned_to_id",
    "status": "'broken'",
    "evaluated_at": "(%(yesterday)s::date - 1 - 7 * k)::timestamp + interval '2 hours'",
}
_BROKEN_PROMISE_CASES = """FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
    CROSS JOIN LATERAL generate_series(1, c.broken_promises) AS k"""
_REQUEST_COLUMNS = {
    "case_id": "c.id",
    "target_stage": "'litigation'",
    "reason": "'Stage rule: escalation moves on at DPD 91.'",
    "status": "'pending'",
    "created_at": "%(yesterday)s::timestamp + interval '2 hours'",
}
_REQUEST_CASES = """FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
    WHERE c.stage = 'escalation' AND l.grace_ends_on <= %(yesterday)s::date - 91"""

# A pending promise for a fifth of the open cases in negotiation, escalation or on hold (those on
# hold stay pending), due one to six days before the day (those due the day before are not
# settled yet), promised two to nine days before that.
_PENDING_PROMISE_COLUMNS = {
    "case_id": "c.id",
    "amount": "GREATEST(round(c.overdue_amount / 2, 2), 100)",
    "due_date": "%(as_of)s::date - c.due_days",
    "promised_at": "(%(as_of)s::date - c.due_days - c.lead_days)::timestamp "
    "AT TIME ZONE 'Asia/Shanghai' + interval '10 hours'",
    "taken_by_id": "c.assigned_to_id",
}
_PENDING_PROMISE_CASES = f"""FROM (
        SELECT c.id, c.assigned_to_id, l.overdue_amount,
            (1 + {_draw("c.loan_id", 15, 6)})::int AS due_days, (2 + {_draw("c.loan_id", 16, 8)})::int AS lead_days
        FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
        WHERE c.stage IN ('negotiation', 'escalation', 'on_hold')
            AND {_draw("c.loan_id", 14, 100)} < 20
    ) AS c"""

# The loan's payments around each pending promise's window (from the promise to the end of the
# day after its due date, in the desk's time zone): 35 % of the promises get the whole amount
# (half of them in two payments, at the very start and in the last second of the window), 25 % a
# part (half of them with the rest just after the window), 40 % nothing in the window (some of
# them a payment just before the promise or just after the window). The payments are not
# allocated to installments: the cycle reads them only to settle promises.
_KEPT, _PARTLY, _TWO = "p.outcome < 35", "p.outcome >= 35 AND p.outcome < 60", "p.split < 50"
_PAYMENT_PARTS = f"""(VALUES
        (1, CASE WHEN {_KEPT} AND {_TWO} THEN round(p.amount / 2, 2)
                 WHEN {_KEPT} THEN p.amount
                 WHEN {_PARTLY} THEN round(p.amount * 0.4, 2)
                 WHEN p.split < 30 THEN p.amount END,
            CASE WHEN {_KEPT} AND {_TWO} THEN p.promised_at
                 WHEN p.outcome < 60 THEN p.promised_at + interval '1 day'
                 ELSE p.promised_at - interval '1 second' END),
        (2, CASE WHEN {_KEPT} AND {_TWO} THEN p.amount - round(p.amount / 2, 2)
                 WHEN {_PARTLY} AND {_TWO} THEN p.amount - round(p.amount * 0.4, 2)
                 WHEN p.outcome >= 60 AND p.split >= 70 THEN p.amount END,
            CASE WHEN {_KEPT} THEN p.window_end - interval '1 second' ELSE p.window_end END)
    ) AS pay(part, amount, received_at)"""
_PAYMENT_COLUMNS = {
    "loan_id": "p.loan_id",
    "amount": "pay.amount",
    "received_at": "pay.received_at",
    "channel": "CASE WHEN pay.part = 1 THEN 'app' ELSE 'bank_transfer' END",
    "source": "'bench'",
    "reference": "'bench-' || p.id || '-' || pay.part",
    "recorded_by_id": "NULL",
}
_PAYMENT_SOURCE = f"""FROM (
        SELECT p.id, p.amount, p.promised_at, c.loan_id,
            (p.due_date + 2)::timestamp AT TIME ZONE 'Asia/Shanghai' AS window_end,
            {_draw("c.loan_id", 17, 100)} AS outcome, {_draw("c.loan_id", 18, 100)} AS split
        FROM collection_promisetopay p JOIN collection_collectioncase c ON c.id = p.case_id
        WHERE p.status = 'pending'
    ) AS p
    CROSS JOIN LATERAL {_PAYMENT_PARTS}
    WHERE pay.amount IS NOT NULL AND pay.received_at < %(day_start)s"""
