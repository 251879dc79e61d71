"""A demo desk: a realistic zh_CN portfolio and the people who work it.

`demo_desk_seed` fills an empty database with borrowers and their contacts, loans of the three
products with their repayment schedules, and payment histories whose allocation is what
`payment_record` would have produced; then ages the portfolio with the real services, so that
balances, DPD, buckets and statuses follow the desk's own rules. It also creates two teams
(a supervisor and three collectors each), a legal officer and an admin.

Everything random comes from `random.Random(seed)` and a Faker seeded per instance, never from
global state or the clock, so one seed and one as-of day always give the same rows, with the
same primary keys. Rows are generated a chunk of loans at a time and written with COPY on
PostgreSQL (executemany elsewhere), so a million loans fit in flat memory."""

import random
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property, lru_cache
from math import gcd
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Count
from django.utils import timezone
from faker import Faker
from tqdm import tqdm

from accounts import roles
from accounts.models import Team

from .models import Borrower, Contact, Installment, Loan, Payment, PaymentAllocation, Product
from .services import balances_recompute, portfolio_refresh_delinquency
from .validators import national_id_check_char

SHANGHAI = ZoneInfo("Asia/Shanghai")
URUMQI = "Asia/Urumqi"
DEMO_SOURCE = "demo"
LOGINS_FILE_NAME = "demo_logins.txt"
CHUNK_LOANS = 5_000
AGE_BATCH = 20_000
# No loan is disbursed more than this many months before the as-of day.
MAX_HISTORY_MONTHS = 40

PORTFOLIO_MODELS = (Borrower, Contact, Loan, Installment, Payment, PaymentAllocation)


def today() -> date:
    """The as-of day when none is given: today on the desk's clock."""
    return timezone.localdate(timezone=SHANGHAI)


# ---------------------------------------------------------------------------------------------
# Places: where borrowers are registered (the first six digits of the national ID) and live
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    province: str
    name: str
    phone_area: str  # long-distance code without the trunk 0
    phone_digits: int  # digits of a local fixed-line number there (as libphonenumber knows it)
    weight: int  # how many borrowers live there, roughly
    districts: tuple[tuple[str, str], ...]  # (administrative division code, district name)


CITIES = (
    City(
        "北京市",
        "北京市",
        "10",
        8,
        9,
        (("110101", "东城区"), ("110102", "西城区"), ("110105", "朝阳区"), ("110106", "丰台区"), ("110108", "海淀区")),
    ),
    City(
        "上海市",
        "上海市",
        "21",
        8,
        9,
        (
            ("310101", "黄浦区"),
            ("310104", "徐汇区"),
            ("310105", "长宁区"),
            ("310110", "杨浦区"),
            ("310115", "浦东新区"),
        ),
    ),
    City("天津市", "天津市", "22", 8, 4, (("120101", "和平区"), ("120103", "河西区"))),
    City("重庆市", "重庆市", "23", 8, 6, (("500103", "渝中区"), ("500105", "江北区"), ("500106", "沙坪坝区"))),
    City(
        "广东省",
        "广州市",
        "20",
        8,
        8,
        (("440103", "荔湾区"), ("440104", "越秀区"), ("440105", "海珠区"), ("440106", "天河区")),
    ),
    City(
        "广东省",
        "深圳市",
        "755",
        8,
        8,
        (("440303", "罗湖区"), ("440304", "福田区"), ("440305", "南山区"), ("440306", "宝安区")),
    ),
    City("广东省", "东莞市", "769", 8, 4, (("441900", "南城街道"),)),
    City("广东省", "佛山市", "757", 8, 4, (("440604", "禅城区"), ("440606", "顺德区"))),
    City("浙江省", "杭州市", "571", 8, 6, (("330102", "上城区"), ("330106", "西湖区"), ("330108", "滨江区"))),
    City("浙江省", "宁波市", "574", 8, 3, (("330203", "海曙区"), ("330212", "鄞州区"))),
    City("江苏省", "南京市", "25", 8, 5, (("320102", "玄武区"), ("320106", "鼓楼区"))),
    City("江苏省", "苏州市", "512", 8, 5, (("320505", "虎丘区"), ("320506", "吴中区"))),
    City("江苏省", "无锡市", "510", 8, 3, (("320213", "梁溪区"),)),
    City("四川省", "成都市", "28", 8, 7, (("510104", "锦江区"), ("510105", "青羊区"), ("510107", "武侯区"))),
    City("湖北省", "武汉市", "27", 8, 6, (("420102", "江岸区"), ("420106", "武昌区"), ("420111", "洪山区"))),
    City("湖南省", "长沙市", "731", 8, 4, (("430102", "芙蓉区"), ("430104", "岳麓区"))),
    City("河南省", "郑州市", "371", 8, 5, (("410102", "中原区"), ("410105", "金水区"))),
    City("山东省", "济南市", "531", 8, 3, (("370102", "历下区"), ("370103", "市中区"))),
    City("山东省", "青岛市", "532", 8, 3, (("370202", "市南区"), ("370212", "崂山区"))),
    City("福建省", "福州市", "591", 8, 3, (("350102", "鼓楼区"),)),
    City("福建省", "厦门市", "592", 7, 3, (("350203", "思明区"), ("350206", "湖里区"))),
    City("陕西省", "西安市", "29", 8, 4, (("610102", "新城区"), ("610113", "雁塔区"))),
    City("河北省", "石家庄市", "311", 8, 3, (("130102", "长安区"), ("130104", "桥西区"))),
    City("安徽省", "合肥市", "551", 8, 3, (("340102", "瑶海区"), ("340104", "蜀山区"))),
    City("江西省", "南昌市", "791", 8, 2, (("360102", "东湖区"),)),
    City("辽宁省", "沈阳市", "24", 8, 3, (("210102", "和平区"), ("210103", "沈河区"))),
    City("吉林省", "长春市", "431", 8, 2, (("220102", "南关区"),)),
    City("黑龙江省", "哈尔滨市", "451", 8, 2, (("230102", "道里区"),)),
    City("云南省", "昆明市", "871", 8, 2, (("530102", "五华区"),)),
    City("广西壮族自治区", "南宁市", "771", 7, 2, (("450102", "兴宁区"),)),
    City("贵州省", "贵阳市", "851", 8, 2, (("520102", "南明区"),)),
    City("山西省", "太原市", "351", 7, 2, (("140105", "小店区"),)),
    City("内蒙古自治区", "呼和浩特市", "471", 7, 1, (("150102", "新城区"),)),
    City("新疆维吾尔自治区", "乌鲁木齐市", "991", 7, 1, (("650102", "天山区"),)),
    City("甘肃省", "兰州市", "931", 7, 1, (("620102", "城关区"),)),
    City("海南省", "海口市", "898", 8, 1, (("460105", "秀英区"), ("460106", "龙华区"))),
    City("宁夏回族自治区", "银川市", "951", 7, 1, (("640104", "兴庆区"),)),
    City("青海省", "西宁市", "971", 7, 1, (("630102", "城东区"),)),
    City("西藏自治区", "拉萨市", "891", 7, 1, (("540102", "城关区"),)),
)

# (city, district code, district name) for every district: the place part of a national ID.
REGISTRATION_AREAS = tuple((city, code, name) for city in CITIES for code, name in city.districts)

# Mobile prefixes of the three carriers in everyday use; libphonenumber accepts any eight digits after them.
MOBILE_PREFIXES = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "172",
    "178",
    "182",
    "183",
    "184",
    "187",
    "188",
    "198",  # China Mobile
    "130",
    "131",
    "132",
    "145",
    "155",
    "156",
    "166",
    "175",
    "176",
    "185",
    "186",
    "196",  # China Unicom
    "133",
    "153",
    "173",
    "177",
    "180",
    "181",
    "189",
    "190",
    "191",
    "193",
    "199",  # China Telecom
)

STREETS = (
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "和平路",
    "新华路",
    "长江路",
    "黄河路",
    "文化路",
    "胜利路",
    "朝阳路",
    "青年路",
    "光明路",
    "东风路",
    "幸福路",
    "健康路",
    "学院路",
    "工业路",
    "科技路",
    "滨江路",
    "南京路",
    "北京路",
    "延安路",
    "复兴路",
    "团结路",
    "民主路",
    "花园路",
    "振兴路",
    "金桥路",
    "世纪大道",
    "迎宾大道",
    "府前街",
)

RELATIVES = (
    # relation, kind, same surname as the borrower, sex of the relative (None: either)
    ("配偶", Contact.Kind.EMERGENCY.value, False, None),
    ("父亲", Contact.Kind.EMERGENCY.value, True, "M"),
    ("母亲", Contact.Kind.EMERGENCY.value, False, "F"),
    ("兄弟", Contact.Kind.EMERGENCY.value, True, "M"),
    ("姐妹", Contact.Kind.EMERGENCY.value, True, "F"),
    ("子女", Contact.Kind.EMERGENCY.value, True, None),
    ("朋友", Contact.Kind.OTHER.value, False, None),
    ("同事", Contact.Kind.OTHER.value, False, None),
)
RELATIVE_WEIGHTS = (30, 22, 18, 9, 8, 5, 5, 3)


# ---------------------------------------------------------------------------------------------
# Products and the delinquency the portfolio should show
# ---------------------------------------------------------------------------------------------

EQUAL_INSTALLMENT = "equal_installment"  # 等额本息
EQUAL_PRINCIPAL = "equal_principal"  # 等额本金


@dataclass(frozen=True)
class ProductProfile:
    """How loans of one product look. Amounts in yuan, rates in ten-thousandths a year, fees in
    ten-thousandths of the principal a month."""

    code: str
    name: str
    kind: str
    grace_days: int
    daily_penalty_rate: Decimal
    share: int
    account_prefix: str
    principal_yuan: tuple[int, int]
    principal_step: int
    terms: tuple[int, ...]
    term_weights: tuple[int, ...]
    annual_rate: tuple[int, int]
    monthly_fee: tuple[int, int]
    fee_share: float
    equal_principal_share: float


PROFILES = (
    # Credit-card installments: no interest, a monthly installment fee on the original principal.
    ProductProfile(
        "CCI",
        "信用卡分期",
        Product.Kind.CREDIT_CARD_INSTALLMENT,
        3,
        Decimal("0.000500"),
        30,
        "CC",
        (3_000, 50_000),
        100,
        (3, 6, 9, 12, 18, 24),
        (15, 25, 10, 30, 10, 10),
        (0, 0),
        (55, 75),
        1.0,
        1.0,
    ),
    # Consumer loans (car, renovation): bank rates, mostly equal installments.
    ProductProfile(
        "CONSUMER",
        "消费贷款",
        Product.Kind.CONSUMER_LOAN,
        0,
        Decimal("0.000500"),
        15,
        "CL",
        (20_000, 300_000),
        1_000,
        (12, 18, 24, 36),
        (30, 15, 35, 20),
        (400, 1_500),
        (0, 0),
        0.0,
        0.3,
    ),
    # Online consumer credit: small amounts, short terms, rates up to the 24% ceiling, often a service fee.
    ProductProfile(
        "ONLINE",
        "线上消费金融",
        Product.Kind.ONLINE_CREDIT,
        1,
        Decimal("0.000600"),
        55,
        "OL",
        (500, 20_000),
        100,
        (3, 6, 9, 12),
        (30, 35, 10, 25),
        (1_200, 2_400),
        (10, 30),
        0.3,
        0.0,
    ),
)

CURRENT, PAID_OFF = "current", "paid_off"
# What share of loans ends in which state as of the as-of day, and the DPD band of each.
TARGET_STATES = (
    (CURRENT, 82, None),
    ("M1", 7, (1, 30)),
    ("M2", 3, (31, 60)),
    ("M3", 2, (61, 90)),
    ("M4+", 3, (91, None)),
    (PAID_OFF, 3, None),
)

PAYMENT_CHANNELS = (
    Payment.Channel.CARD.value,  # auto-debit on the due date
    Payment.Channel.APP.value,
    Payment.Channel.BANK_TRANSFER.value,
    Payment.Channel.CASH.value,
    Payment.Channel.OTHER.value,
)
VERIFIED = Contact.Verification.VERIFIED.value
VERIFICATIONS = (
    VERIFIED,
    Contact.Verification.UNVERIFIED.value,
    Contact.Verification.STALE.value,
    Contact.Verification.WRONG.value,
)
CURRENT_STATUS = Loan.Status.CURRENT.value
PAYMENT_CHANNEL_WEIGHTS = (30, 45, 20, 3, 2)


# ---------------------------------------------------------------------------------------------
# Small helpers: money in integer fen, months without dateutil (days are always 1-28)
# ---------------------------------------------------------------------------------------------

ZERO_YUAN = "0.00"
ZERO_TEXTS = (ZERO_YUAN,) * 4
DAYS = tuple(timedelta(days=days) for days in range(32))


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}" if fen else ZERO_YUAN


def _utc_text(moment: datetime) -> str:
    """An aware datetime as UTC ISO text: COPY reads it, and without its "+00:00" it is what
    Django stores on SQLite."""
    return moment.astimezone(UTC).isoformat(" ")


def _plain(texts: list[str]) -> list[str]:
    """Drop any text COPY would need escaped (a tab, a newline, a backslash): none is expected."""
    return [text for text in texts if not any(char in text for char in "\t\n\r\\")]


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, day.day)


def _months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, cumulative = 0.0, []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return cumulative


def _coprime_multiplier(rng: random.Random, modulus: int) -> int:
    """A multiplier that makes i -> (i * a + b) % modulus a bijection that looks random."""
    while True:
        candidate = rng.randrange(modulus // 3, 2 * modulus // 3)
        if gcd(candidate, modulus) == 1:
            return candidate


ONE = Decimal(1)


@lru_cache(maxsize=8192)
def _annuity_factor(annual_rate: int, term_months: int) -> Decimal:
    """The level monthly payment per unit of principal: r (1 + r)^n / ((1 + r)^n - 1)."""
    monthly_rate = Decimal(annual_rate) / 120_000
    growth = (1 + monthly_rate) ** term_months
    return monthly_rate * growth / (growth - 1)


def schedule_amounts(
    *, principal_fen: int, term_months: int, annual_rate: int, monthly_fee_fen: int, method: str
) -> list[tuple[int, int, int]]:
    """(principal, interest, fees) in fen for each month. Interest is the monthly rate
    (annual_rate ten-thousandths / 12) on the balance, rounded half up; equal installments
    keep principal + interest level, equal principal keeps the principal level. The last
    month takes whatever rounding left, so the principal parts add up to the principal exactly."""
    rows = []
    balance = principal_fen
    if method == EQUAL_PRINCIPAL or annual_rate == 0:
        level_principal = principal_fen // term_months
        level_payment = None
    else:
        level_payment = int((principal_fen * _annuity_factor(annual_rate, term_months)).quantize(ONE, ROUND_HALF_UP))
    for month in range(1, term_months + 1):
        interest = (balance * annual_rate * 2 + 120_000) // 240_000
        if month == term_months:
            principal = balance
        elif level_payment is None:
            principal = level_principal
        else:
            principal = min(max(level_payment - interest, 0), balance)
        balance -= principal
        rows.append((principal, interest, monthly_fee_fen))
    return rows


# ---------------------------------------------------------------------------------------------
# Writing rows: COPY on PostgreSQL, executemany elsewhere
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    model: type[models.Model]
    fields: tuple[str, ...]

    @cached_property
    def columns(self) -> list[str]:
        return [self.model._meta.get_field(name).column for name in self.fields]

    @cached_property
    def datetime_positions(self) -> list[int]:
        return [
            position
            for position, name in enumerate(self.fields)
            if isinstance(self.model._meta.get_field(name), models.DateTimeField)
        ]


BORROWERS = _Table(
    Borrower,
    (
        "id",
        "name",
        "national_id",
        "date_of_birth",
        "province",
        "city",
        "address",
        "time_zone",
        "lost_contact",
        "lost_contact_since",
        "created_at",
        "updated_at",
    ),
)
CONTACTS = _Table(
    Contact,
    (
        "id",
        "borrower",
        "kind",
        "value",
        "name",
        "relation",
        "verification",
        "verified_at",
        "do_not_contact",
        "opt_out_call",
        "opt_out_sms",
        "opt_out_email",
        "source",
        "created_at",
        "updated_at",
    ),
)
LOANS = _Table(
    Loan,
    (
        "id",
        "account_number",
        "borrower",
        "product",
        "principal",
        "annual_rate",
        "disbursed_on",
        "term_months",
        "status",
        "days_past_due",
        "outstanding_principal",
        "outstanding_interest",
        "outstanding_fees",
        "outstanding_penalty",
        "overdue_amount",
        "created_at",
        "updated_at",
    ),
)
# The amounts in Installment.COMPONENTS order, as the generator keeps them.
INSTALLMENTS = _Table(
    Installment,
    (
        "id",
        "loan",
        "sequence",
        "due_date",
        *(f"{component}_due" for component in Installment.COMPONENTS),
        *(f"{component}_paid" for component in Installment.COMPONENTS),
        "is_paid",
        "paid_on",
    ),
)
PAYMENTS = _Table(
    Payment,
    (
        "id",
        "loan",
        "amount",
        "received_at",
        "channel",
        "source",
        "reference",
        "created_at",
    ),
)
ALLOCATIONS = _Table(PaymentAllocation, ("id", "payment", "installment", "component", "amount"))
TABLES = (BORROWERS, CONTACTS, LOANS, INSTALLMENTS, PAYMENTS, ALLOCATIONS)


class _RowWriter:
    """Appends a chunk's rows to the portfolio tables through one cursor. On PostgreSQL each
    table's rows go in one COPY, on a worker thread, so that the server stores one chunk while
    Python generates the next (the main thread does not touch the connection meanwhile)."""

    def __init__(self, cursor):
        self.postgres = connection.vendor == "postgresql"
        # Django's cursor wrapper around psycopg's: the worker thread uses psycopg's directly.
        self.cursor = cursor.cursor if self.postgres else cursor
        self.executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-demo-copy") if self.postgres else None
        )
        self.pending: Future | None = None
        self.sql = {}
        for table in TABLES:
            columns = ", ".join(connection.ops.quote_name(column) for column in table.columns)
            name = connection.ops.quote_name(table.model._meta.db_table)
            if self.postgres:
                # Rows go as text built with str(): None reads as NULL, "True"/"False" are booleans,
                # str() of dates and aware datetimes is ISO 8601. Generated text never holds a tab,
                # a newline or a backslash (COPY's special characters).
                self.sql[table] = f"COPY {name} ({columns}) FROM STDIN WITH (NULL 'None')"
            else:
                placeholders = ", ".join(["%s"] * len(table.fields))
                self.sql[table] = f"INSERT INTO {name} ({columns}) VALUES ({placeholders})"  # noqa: S608

    def __enter__(self) -> "_RowWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.wait()
        finally:
            if self.executor is not None:
                self.executor.shutdown()

    def write(self, rows: dict["_Table", list[tuple]]) -> None:
        if self.executor is None:
            self._write(rows)
            return
        self.wait()
        self.pending = self.executor.submit(self._write, rows)

    def wait(self) -> None:
        """Until the chunk being written is stored; raises what writing it raised."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def _write(self, rows: dict["_Table", list[tuple]]) -> None:
        for table in TABLES:
            if not rows[table]:
                continue
            if self.postgres:
                with self.cursor.copy(self.sql[table]) as copy:
                    copy.write("\n".join(["\t".join(map(str, row)) for row in rows[table]]) + "\n")
            else:
                self.cursor.executemany(self.sql[table], self._adapted(table, rows[table]))

    @staticmethod
    def _adapted(table: "_Table", rows: list[tuple]) -> list[tuple]:
        """Datetimes come as UTC text ending in "+00:00"; SQLite stores them without it."""
        positions = table.datetime_positions
        if not positions:
            return rows
        return [
            tuple(value[:-6] if index in positions and value is not None else value for index, value in enumerate(row))
            for row in rows
        ]


@contextmanager
def _bulk_load(cursor):
    """On PostgreSQL, take the foreign keys and the secondary indexes off the (empty) portfolio
    tables while they are filled, and put back exactly what was there afterwards, the way
    pg_restore loads data: one set-based check and one index build instead of one per row.
    It all happens in the caller's transaction, so a failure restores the schema too.
    Primary keys, unique and check constraints stay and are checked row by row."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in PORTFOLIO_MODELS]
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY conrelid::regclass::text, conname",
        [tables],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisunique AND NOT indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid) "
        "ORDER BY indexrelid::regclass::text",
        [tables],
    )
    indexes = cursor.fetchall()
    quote = connection.ops.quote_name
    # Checks still queued in this transaction (say, from deleting an earlier portfolio) must run
    # before the tables can be altered.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table, name, _definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    # Room to sort in memory while building the indexes, for this transaction only.
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _name, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
    # Back to Django's default for the rest of an enclosing transaction: foreign keys deferred.
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    cursor.execute("ANALYZE " + ", ".join(quote(table) for table in tables))


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


@dataclass
class _Chunk:
    rows: dict[_Table, list[tuple]] = field(default_factory=lambda: {table: [] for table in TABLES})
    loans: int = 0


@dataclass
class _Ids:
    borrower: int = 1
    contact: int = 1
    loan: int = 1
    installment: int = 1
    payment: int = 1
    allocation: int = 1


class _PortfolioGenerator:
    """Produces borrowers with their contacts and loans, one borrower at a time, as rows."""

    def __init__(self, *, seed: int, as_of: date, products: dict[str, Product], now: datetime):
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.now = _utc_text(now)
        self.cumulative: dict[tuple[int, ...], list[float]] = {}
        self.ids = _Ids()
        self.borrower_index = 0
        self.products = products
        self.profile_weights = _cumulative([profile.share for profile in PROFILES])
        self.term_weights = {profile.code: _cumulative(profile.term_weights) for profile in PROFILES}
        self.state_weights = _cumulative([share for _name, share, _band in TARGET_STATES])
        self.channel_weights = _cumulative(PAYMENT_CHANNEL_WEIGHTS)
        self.relative_weights = _cumulative(RELATIVE_WEIGHTS)
        self.city_weights = _cumulative([city.weight for city in CITIES])
        self.penalty_rates = {code: int(product.daily_penalty_rate * 1_000_000) for code, product in products.items()}

        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        # Pools drawn from a seeded Faker: its surnames come weighted by how common they are.
        self.surnames = _plain([fake.last_name() for _ in range(3_000)])
        self.given_male = _plain([fake.first_name_male() for _ in range(1_000)])
        self.given_female = _plain([fake.first_name_female() for _ in range(1_000)])
        self.companies = _plain([fake.company() for _ in range(1_500)])
        self.email_names = _plain([fake.user_name() for _ in range(2_000)])
        self.email_domains = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com", "outlook.com")

        # National IDs: borrower i gets registration area, birthday and sequence number from a
        # bijection of i, so they are unique without remembering the ones already issued.
        self.birth_first = date(as_of.year - 60, as_of.month, min(as_of.day, 28))
        self.birth_days = (date(as_of.year - 22, as_of.month, min(as_of.day, 28)) - self.birth_first).days
        self.id_space = len(REGISTRATION_AREAS) * self.birth_days * 1000
        self.id_multiplier = _coprime_multiplier(self.rng, self.id_space)
        self.id_offset = self.rng.randrange(self.id_space)
        # Own mobile numbers: the last eight digits come from another bijection, so no two
        # borrowers share their own number.
        self.mobile_multiplier = _coprime_multiplier(self.rng, 10**8)
        self.mobile_offset = self.rng.randrange(10**8)

    # --- people ---

    def _between(self, low: int, high: int) -> int:
        """A whole number from low to high, both included (cheaper than Random.randint)."""
        return low + int(self.rng.random() * (high - low + 1))

    def _any(self, choices: Sequence):
        return choices[int(self.rng.random() * len(choices))]

    def _name(self, male: bool, surname: str | None = None) -> str:
        return (surname or self._any(self.surnames)) + self._any(self.given_male if male else self.given_female)

    def _mobile(self) -> str:
        return f"+86{self._any(MOBILE_PREFIXES)}{int(self.rng.random() * 10**8):08d}"

    def _landline(self, city: City) -> str:
        rest = int(self.rng.random() * 10 ** (city.phone_digits - 1))
        return f"+86{city.phone_area}{self._between(2, 7)}{rest:0{city.phone_digits - 1}d}"

    def _verification(self, weights: tuple[int, int, int, int]) -> str:
        """verified, unverified, stale or wrong, with these weights."""
        return VERIFICATIONS[self._pick(self._cumulative_cache(weights))]

    def _cumulative_cache(self, weights: tuple[int, ...]) -> list[float]:
        cumulative = self.cumulative.get(weights)
        if cumulative is None:
            cumulative = self.cumulative[weights] = _cumulative(weights)
        return cumulative

    def borrower(self, chunk: _Chunk, max_loans: int) -> None:
        """One borrower, their contacts and 1-3 loans (never more than max_loans), into chunk."""
        rng = self.rng
        index = self.borrower_index
        self.borrower_index += 1
        if index >= self.id_space:
            raise ValueError("more borrowers than distinct national ID numbers for this as-of day")

        code = (index * self.id_multiplier + self.id_offset) % self.id_space
        sequence = code % 1000
        code //= 1000
        born = self.birth_first + timedelta(days=code % self.birth_days)
        home_city, area_code, district = REGISTRATION_AREAS[code // self.birth_days]
        first17 = f"{area_code}{born.year:04d}{born.month:02d}{born.day:02d}{sequence:03d}"
        national_id = first17 + national_id_check_char(first17)
        male = sequence % 2 == 1  # the sequence number is odd for men (GB 11643)
        surname = self._any(self.surnames)
        name = self._name(male, surname)

        if rng.random() < 0.7:
            city = home_city
        else:  # moved away for work: the big cities draw most
            city = CITIES[self._pick(self.city_weights)]
            district = self._any(city.districts)[1]
        address = (
            f"{district}{self._any(STREETS)}{self._between(1, 999)}号"
            f"{self._between(1, 30)}栋{self._between(1, 4)}单元{self._between(1, 33)}{self._between(1, 8):02d}室"
        )
        time_zone = URUMQI if city.phone_area == "991" and rng.random() < 0.5 else "Asia/Shanghai"

        borrower_id = self.ids.borrower
        self.ids.borrower += 1
        loan_count = min(max_loans, 1 if rng.random() < 0.82 else (2 if rng.random() < 0.78 else 3))
        worst_dpd, first_disbursed = 0, None
        for _ in range(loan_count):
            disbursed_on, dpd = self.loan(chunk, borrower_id)
            worst_dpd = max(worst_dpd, dpd)
            first_disbursed = disbursed_on if first_disbursed is None else min(first_disbursed, disbursed_on)
        applied_at = self._moment(first_disbursed - timedelta(days=self._between(1, 7)))
        applied_text = _utc_text(applied_at)

        # Borrowers long in arrears are the ones the desk has lost.
        lost_contact = worst_dpd > 60 and rng.random() < 0.35
        lost_contact_since = self.as_of - timedelta(days=self._between(5, worst_dpd - 30)) if lost_contact else None
        chunk.rows[BORROWERS].append(
            (
                borrower_id,
                name,
                national_id,
                born,
                city.province,
                city.name,
                address,
                time_zone,
                lost_contact,
                lost_contact_since,
                applied_text,
                applied_text,
            )
        )
        self._contacts(chunk, borrower_id, city, surname, male, born, lost_contact, applied_at, applied_text)

    def _contacts(
        self,
        chunk: _Chunk,
        borrower_id: int,
        city: City,
        surname: str,
        male: bool,
        born: date,
        lost_contact: bool,
        applied_at: datetime,
        applied_text: str,
    ) -> None:
        rng = self.rng
        rows = chunk.rows[CONTACTS]
        used: set[str] = set()

        def add(kind, value, *, name="", relation="", verification, dnc=False, call=False, sms=False, email=False):
            used.add(value)
            verified_at = (
                applied_at + timedelta(days=self._between(0, 20), seconds=int(rng.random() * 36_000))
                if verification == VERIFIED
                else None
            )
            if verified_at is not None and verified_at.date() > self.as_of:
                verified_at = applied_at
            rows.append(
                (
                    self.ids.contact,
                    borrower_id,
                    kind,
                    value,
                    name,
                    relation,
                    verification,
                    verified_at and _utc_text(verified_at),
                    dnc,
                    call,
                    sms,
                    email,
                    "application",
                    applied_text,
                    applied_text,
                )
            )
            self.ids.contact += 1

        def fresh(make: Callable[[], str]) -> str:
            value = make()
            while value in used:
                value = make()
            return value

        lost = (0, 0, 2, 3) if lost_contact else None
        own_suffix = ((borrower_id - 1) * self.mobile_multiplier + self.mobile_offset) % 10**8
        add(
            Contact.Kind.MOBILE.value,
            f"+86{self._any(MOBILE_PREFIXES)}{own_suffix:08d}",
            verification=self._verification(lost or (60, 28, 6, 6)),
            dnc=rng.random() < 0.005,
            call=rng.random() < 0.015,
            sms=rng.random() < 0.03,
        )
        if rng.random() < 0.3:
            add(
                Contact.Kind.HOME.value,
                fresh(lambda: self._landline(city)),
                verification=self._verification(lost or (20, 55, 15, 10)),
            )
        if rng.random() < 0.35:
            add(
                Contact.Kind.WORK.value,
                fresh(lambda: self._landline(city)),
                verification=self._verification(lost or (25, 50, 15, 10)),
            )
        if rng.random() < 0.45:
            company = city.name.removesuffix("市") + self._any(self.companies)
            add(
                Contact.Kind.EMPLOYER.value,
                fresh(lambda: self._landline(city)),
                name=company,
                relation="雇主",
                verification=self._verification((30, 50, 12, 8)),
                dnc=rng.random() < 0.02,
            )
        if rng.random() < 0.25:
            address = f"{self._any(self.email_names)}{self._between(1, 9999)}@{self._any(self.email_domains)}"
            add(
                Contact.Kind.EMAIL.value,
                address,
                verification=self._verification((35, 60, 5, 0)),
                email=rng.random() < 0.05,
            )
        age = self.as_of.year - born.year
        for _ in range(1 if rng.random() < 0.6 else 2):
            relation, kind, same_surname, sex = RELATIVES[self._pick(self.relative_weights)]
            if relation == "子女" and age < 42:
                relation, kind, same_surname, sex = RELATIVES[1]
            if relation == "配偶":
                sex = "F" if male else "M"
            relative_male = rng.random() < 0.5 if sex is None else sex == "M"
            add(
                kind,
                fresh(self._mobile),
                name=self._name(relative_male, surname if same_surname else None),
                relation=relation,
                verification=self._verification((20, 65, 7, 8)),
                dnc=rng.random() < 0.04,
            )

    def _pick(self, cumulative: list[float]) -> int:
        pick = self.rng.random() * cumulative[-1]
        for position, bound in enumerate(cumulative):
            if pick < bound:
                return position
        return len(cumulative) - 1

    def _moment(self, day: date) -> datetime:
        """A time during the desk's working day (08:00-22:00 Beijing time) on `day`."""
        seconds = 8 * 3600 + int(self.rng.random() * 14 * 3600)
        return datetime(
            day.year, day.month, day.day, seconds // 3600, seconds // 60 % 60, seconds % 60, tzinfo=SHANGHAI
        )

    def _moment_text(self, day: date) -> str:
        """_moment as _utc_text, made directly: 08:00-22:00 in Beijing is 00:00-14:00 UTC that day."""
        seconds = int(self.rng.random() * 14 * 3600)
        return f"{day.isoformat()} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}+00:00"

    # --- loans ---

    def _target(self, profile: ProductProfile, term: int) -> tuple[date, int, int]:
        """Where the loan stands as of the as-of day: its disbursement date, the number of the
        oldest installment not paid (term + 1 when paid off) and the DPD aimed at."""
        rng, as_of = self.rng, self.as_of
        state, _share, band = TARGET_STATES[self._pick(self.state_weights)]
        grace = self.products[profile.code].grace_days
        if state == CURRENT:
            due_day = self._between(1, 28)
            last_due = date(as_of.year, as_of.month, due_day)
            if due_day > as_of.day:
                last_due = _add_months(last_due, -1)
            oldest_unpaid = self._between(1, term)
            return _add_months(last_due, 1 - oldest_unpaid), oldest_unpaid, 0
        if state == PAID_OFF:
            last_due = as_of - timedelta(days=self._between(0, 300))
            while last_due.day > 28:
                last_due -= timedelta(days=self._between(1, 5))
            return _add_months(last_due, -term), term + 1, 0
        low, high = band
        while True:
            if high is None:  # the long tail of M4+
                days_past_due = min(low + int(rng.expovariate(1 / 150)), 900)
            elif low == 1:  # most of M1 is a few days late
                days_past_due = 1 + int(30 * rng.random() ** 1.6)
            else:
                days_past_due = self._between(low, high)
            oldest_due = as_of - timedelta(days=days_past_due + grace)
            if oldest_due.day <= 28:
                break
        latest = min(term, MAX_HISTORY_MONTHS - _months_between(oldest_due, as_of))
        oldest_unpaid = self._between(1, max(1, latest))
        return _add_months(oldest_due, -oldest_unpaid), oldest_unpaid, days_past_due

    def loan(self, chunk: _Chunk, borrower_id: int) -> tuple[date, int]:
        """One loan with its schedule and payments, into chunk. Returns (disbursed on, target DPD)."""
        rng = self.rng
        profile = PROFILES[self._pick(self.profile_weights)]
        product = self.products[profile.code]
        low, high = profile.principal_yuan
        # Log-uniform amounts: many small loans, a few large ones.
        principal_yuan = int(low * (high / low) ** rng.random())
        principal_fen = max(low, principal_yuan - principal_yuan % profile.principal_step) * 100
        term = profile.terms[self._pick(self.term_weights[profile.code])]
        annual_rate = self._between(*profile.annual_rate) if profile.annual_rate[1] else 0
        monthly_fee = 0
        if profile.monthly_fee[1] and rng.random() < profile.fee_share:
            monthly_fee = (principal_fen * self._between(*profile.monthly_fee) + 5_000) // 10_000
        method = EQUAL_PRINCIPAL if rng.random() < profile.equal_principal_share else EQUAL_INSTALLMENT
        amounts = schedule_amounts(
            principal_fen=principal_fen,
            term_months=term,
            annual_rate=annual_rate,
            monthly_fee_fen=monthly_fee,
            method=method,
        )
        disbursed_on, oldest_unpaid, days_past_due = self._target(profile, term)
        due_dates = [_add_months(disbursed_on, month) for month in range(1, term + 1)]

        loan_id = self.ids.loan
        self.ids.loan += 1
        first_installment_id = self.ids.installment
        self.ids.installment += term
        # Per installment, what is due in allocation order: penalty, fees, interest, principal.
        due = [[0, fees, interest, principal] for principal, interest, fees in amounts]

        grace = product.grace_days
        penalty_rate = self.penalty_rates[profile.code]
        rand = rng.random
        as_of = self.as_of
        settled = oldest_unpaid - 1  # installments before this one are paid in full
        # (day, first installment paid in full, how many, part payment towards the next one in fen)
        payments: list[tuple[date, int, int, int]] = []
        position = 0
        while position < settled:
            due_day = due_dates[position]
            roll = rand()
            covered = 1
            if roll < 0.03 and position + 1 < settled:
                # Missed one and paid it together with the next one.
                paid_day = due_dates[position + 1] - DAYS[int(rand() * 4)]
                covered = 2
            elif roll < 0.11:
                paid_day = min(due_day + DAYS[1 + int(rand() * 20)], as_of)
            else:
                early = rand()
                paid_day = due_day if early < 0.45 else due_day - DAYS[1 if early < 0.65 else 2 + int(rand() * 4)]
            if paid_day > due_day:
                days_late = (paid_day - due_day).days - grace
                if days_late > 0:  # the late fee, on the principal of the late installment
                    owed = due[position]
                    owed[0] = (owed[3] * penalty_rate * days_late + 500_000) // 1_000_000
            payments.append((paid_day, position, covered, 0))
            position += covered
        if days_past_due and settled < term and rand() < 0.3:
            # A part payment towards the oldest installment still open.
            open_fen = sum(due[settled])
            part = int(open_fen * (0.1 + 0.8 * rand())) // 100 * 100
            if 0 < part < open_fen:
                start = max(due_dates[settled] - DAYS[5], disbursed_on + DAYS[1])
                if payments:
                    start = max(start, payments[-1][0] + DAYS[1])
                if start <= as_of:
                    payments.append(
                        (start + timedelta(days=int(rand() * ((as_of - start).days + 1))), settled, 0, part)
                    )

        fee_text = _yuan(monthly_fee)
        texts = [(_yuan(owed[0]), fee_text, _yuan(owed[2]), _yuan(owed[3])) for owed in due]
        paid_on: list[date | None] = [None] * term
        part_paid = None
        ids = self.ids
        allocation_id = ids.allocation
        payment_rows = chunk.rows[PAYMENTS]
        allocation_rows = chunk.rows[ALLOCATIONS]
        components = Installment.COMPONENTS
        for day, first, covered, part in payments:
            payment_id = ids.payment
            ids.payment += 1
            total = part
            for position in range(first, first + covered):
                owed, text, installment_id = due[position], texts[position], first_installment_id + position
                for component in range(4):
                    if owed[component]:
                        allocation_rows.append(
                            (allocation_id, payment_id, installment_id, components[component], text[component])
                        )
                        allocation_id += 1
                total += owed[0] + owed[1] + owed[2] + owed[3]
                paid_on[position] = day
            if part:
                part_paid, left = [0, 0, 0, 0], part
                for component, owed in enumerate(due[first]):
                    share = min(left, owed)
                    if share:
                        allocation_rows.append(
                            (
                                allocation_id,
                                payment_id,
                                first_installment_id + first,
                                components[component],
                                _yuan(share),
                            )
                        )
                        allocation_id += 1
                        part_paid[component] = share
                        left -= share
            received_at = self._moment_text(day)
            payment_rows.append(
                (
                    payment_id,
                    loan_id,
                    _yuan(total),
                    received_at,
                    PAYMENT_CHANNELS[self._pick(self.channel_weights)],
                    DEMO_SOURCE,
                    f"DM{day.year}{day.month:02d}{day.day:02d}{payment_id:010d}",
                    received_at,
                )
            )
        ids.allocation = allocation_id

        installment_rows = chunk.rows[INSTALLMENTS]
        for position in range(term):
            text = texts[position]
            if position < settled:
                paid_text, is_paid = text, True
            elif position == settled and part_paid is not None:
                paid_text, is_paid = tuple(_yuan(share) for share in part_paid), part_paid == due[position]
            else:
                paid_text, is_paid = ZERO_TEXTS, not any(due[position])
            installment_rows.append(
                (
                    first_installment_id + position,
                    loan_id,
                    position + 1,
                    due_dates[position],
                    *text,
                    *paid_text,
                    is_paid,
                    paid_on[position],
                )
            )

        created_at = self._moment_text(disbursed_on)
        chunk.rows[LOANS].append(
            (
                loan_id,
                f"{profile.account_prefix}{disbursed_on.year}{disbursed_on.month:02d}{loan_id:010d}",
                borrower_id,
                product.pk,
                _yuan(principal_fen),
                f"0.{annual_rate:04d}",
                disbursed_on,
                term,
                CURRENT_STATUS,
                0,
                ZERO_YUAN,
                ZERO_YUAN,
                ZERO_YUAN,
                ZERO_YUAN,
                ZERO_YUAN,
                created_at,
                self.now,
            )
        )
        chunk.loans += 1
        return disbursed_on, days_past_due


# ---------------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------------


@dataclass
class SeedSummary:
    rows: dict[str, int]
    buckets: list[tuple[str, int]]
    statuses: list[tuple[str, int]]
    seconds: dict[str, float]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    team: str
    password: str


def portfolio_counts() -> dict[str, int]:
    """How many borrowers and loans the database holds."""
    return {"loans": Loan.objects.count(), "borrowers": Borrower.objects.count()}


def demo_products() -> dict[str, Product]:
    """The three products the desk ships with (the migration creates them; admins may have
    changed grace days or penalty rates, which the demo then follows)."""
    products = {}
    for profile in PROFILES:
        products[profile.code], _created = Product.objects.get_or_create(
            code=profile.code,
            defaults={
                "name": profile.name,
                "kind": profile.kind,
                "grace_days": profile.grace_days,
                "daily_penalty_rate": profile.daily_penalty_rate,
            },
        )
    return products


def _progress(description: str, total: int, enabled: bool, unit: str = "loan") -> tqdm:
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        disable=not enabled,
        mininterval=0.5,
        dynamic_ncols=True,
    )


def portfolio_seed(*, loans: int, seed: int, as_of: date, progress: bool = False) -> SeedSummary:
    """Write a demo portfolio of `loans` loans into an empty portfolio, then age it as of `as_of`
    with balances_recompute and portfolio_refresh_delinquency. Runs in the caller's transaction
    (demo_desk_seed wraps everything in one)."""
    if loans < 1:
        raise ValueError("the demo portfolio needs at least one loan")
    # Primary keys start at 1 in every table: that is only right in an empty portfolio.
    if any(model.objects.exists() for model in PORTFOLIO_MODELS):
        raise ValueError("the demo portfolio only goes into an empty portfolio")
    seconds = {}
    started = time.monotonic()
    generator = _PortfolioGenerator(seed=seed, as_of=as_of, products=demo_products(), now=timezone.now())
    with connection.cursor() as cursor:
        with _bulk_load(cursor):
            with _RowWriter(cursor) as writer, _progress("portfolio", loans, progress) as bar:
                left = loans
                while left:
                    chunk = _Chunk()
                    while chunk.loans < CHUNK_LOANS and chunk.loans < left:
                        generator.borrower(chunk, max_loans=left - chunk.loans)
                    writer.write(chunk.rows)
                    left -= chunk.loans
                    bar.update(chunk.loans)
            seconds["generate and write"] = time.monotonic() - started
            started = time.monotonic()
        for statement in connection.ops.sequence_reset_sql(no_style(), list(PORTFOLIO_MODELS)):
            cursor.execute(statement)
    seconds["keys and indexes"] = time.monotonic() - started

    started = time.monotonic()
    last_id = generator.ids.loan - 1
    with _progress("balances", last_id, progress) as bar:
        for low in range(1, last_id + 1, AGE_BATCH):
            balances_recompute(loans=Loan.objects.filter(pk__gte=low, pk__lt=low + AGE_BATCH))
            bar.update(min(AGE_BATCH, last_id + 1 - low))
    seconds["balances"] = time.monotonic() - started

    started = time.monotonic()
    with _progress("delinquency", last_id, progress) as bar:
        portfolio_refresh_delinquency(as_of=as_of, progress=bar.update)
    seconds["delinquency"] = time.monotonic() - started

    ids = generator.ids
    rows = {
        "borrowers": ids.borrower - 1,
        "contacts": ids.contact - 1,
        "loans": ids.loan - 1,
        "installments": ids.installment - 1,
        "payments": ids.payment - 1,
        "allocations": ids.allocation - 1,
    }
    buckets = [
        (row["bucket__name"] or "-", row["count"])
        for row in Loan.objects.exclude(status=Loan.Status.PAID_OFF)
        .values("bucket__name", "bucket__min_dpd")
        .annotate(count=Count("id"))
        .order_by("bucket__min_dpd")
    ]
    statuses = sorted(Loan.objects.values_list("status").annotate(count=Count("id")).order_by())
    return SeedSummary(rows=rows, buckets=buckets, statuses=statuses, seconds=seconds)


# ---------------------------------------------------------------------------------------------
# The people: two teams, a legal officer and an admin
# ---------------------------------------------------------------------------------------------

TEAMS = ("一组", "二组")
DEMO_USERS = (
    # username, role, team (index into TEAMS) or None
    ("supervisor1", roles.SUPERVISOR, 0),
    ("collector1", roles.COLLECTOR, 0),
    ("collector2", roles.COLLECTOR, 0),
    ("collector3", roles.COLLECTOR, 0),
    ("supervisor2", roles.SUPERVISOR, 1),
    ("collector4", roles.COLLECTOR, 1),
    ("collector5", roles.COLLECTOR, 1),
    ("collector6", roles.COLLECTOR, 1),
    ("legal1", roles.LEGAL_OFFICER, None),
    ("admin", roles.ADMIN, None),
)


def demo_users_ensure(*, seed: int) -> list[DemoLogin]:
    """Create (or reset) the demo users in their role groups and teams. Passwords are readable
    and follow from the seed; supervisors and the admin may use the admin site."""
    rng = random.Random(f"demo-users-{seed}")
    fake = Faker("zh_CN")
    fake.seed_instance(rng.randrange(2**32))
    User = get_user_model()
    logins, members = [], {name: [] for name in TEAMS}
    supervisors = {}
    for username, role, team_index in DEMO_USERS:
        password = f"{username}-{rng.randint(1000, 9999)}"
        user, _created = User.objects.get_or_create(username=username)
        user.last_name, user.first_name = fake.last_name(), fake.first_name()
        user.email = f"{username}@demo.invalid"
        user.is_active = True
        user.is_staff = role in (roles.SUPERVISOR, roles.ADMIN)
        user.is_superuser = role == roles.ADMIN
        user.set_password(password)
        user.save()
        group, _created = Group.objects.get_or_create(name=role)
        user.groups.set([group])
        team = TEAMS[team_index] if team_index is not None else ""
        if role == roles.SUPERVISOR:
            supervisors[team] = user
        elif role == roles.COLLECTOR:
            members[team].append(user)
        logins.append(DemoLogin(username=username, role=role, team=team, password=password))
    for name in TEAMS:
        team, _created = Team.objects.update_or_create(name=name, defaults={"supervisor": supervisors[name]})
        team.members.set(members[name])
    return logins


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def demo_logins_table(logins: Iterable[DemoLogin]) -> str:
    rows = [("username", "role", "team", "password")] + [
        (login.username, login.role, login.team or "-", login.password) for login in logins
    ]
    widths = [max(_width(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join(value + " " * (widths[column] - _width(value)) for column, value in enumerate(row)).rstrip()
        for row in rows
    )


def demo_logins_path() -> Path:
    """var/demo_logins.txt, which `make run` prints on every start."""
    return Path(settings.VAR_DIR) / LOGINS_FILE_NAME


def demo_logins_write(logins: Iterable[DemoLogin], *, seed: int, as_of: date) -> Path:
    """Write the demo logins to demo_logins_path()."""
    path = demo_logins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"Demo logins (seed_demo --seed {seed}, as of {as_of.isoformat()}; demo passwords, not for real use):\n"
        + demo_logins_table(logins)
        + "\n",
        encoding="utf-8",
    )
    return path


def demo_desk_seed(
    *, loans: int, seed: int, as_of: date, progress: bool = False
) -> tuple[SeedSummary, list[DemoLogin]]:
    """Seed the demo desk, all in one transaction: an interrupted run leaves nothing behind.
    The portfolio must be empty (the caller checks, so that two demo portfolios never mix)."""
    with transaction.atomic():
        logins = demo_users_ensure(seed=seed)
        summary = portfolio_seed(loans=loans, seed=seed, as_of=as_of, progress=progress)
    return summary, logins
