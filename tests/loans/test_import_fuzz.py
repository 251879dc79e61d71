"""Random rows for each kind of portfolio file (hypothesis): hostile text (control, bidi, zero-width,
full-width, superscript and other scripts' digits, quotes and line breaks), dates from year 1 to
9999 with any offset, amounts of any shape, rows of the wrong width. Whatever the file, the import
either takes it whole or refuses it with errors that name their line, leaving the database as it
was; it never raises, and its messages never print a control or direction character or a full
national ID."""

import csv
import datetime
import io
import unicodedata
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from loans.imports import COLUMNS, portfolio_import
from loans.imports.cells import BIDI_CONTROLS
from loans.models import Borrower, Contact, ImportRun, Installment, Loan, Payment, PaymentAllocation
from tests.accounts.factories import UserFactory
from tests.loans.factories import BorrowerFactory, LoanFactory, ProductFactory, national_id

pytestmark = pytest.mark.usefixtures("in_english")

ID_STORED = national_id(920_001)
ID_NEW = national_id(920_002)
IDS = (ID_STORED, ID_NEW)

HOSTILE = (
    "\x00\x01\x08\x0b\x1b\x7f\x85\x9b"  # C0 and C1 controls, escape
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"  # direction
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u2028\u2029\ue000"  # invisible, separators, private use
    "²³¹①⑩٣٤۵०೬"  # digits int() refuses or reads
    "０１２９ＡＸｘ＋－＝＠．，　"  # full width
    "\r\n\t,\"' =+-@.:/王芳é"
)
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(HOSTILE), st.characters(exclude_categories=("Cs",))), max_size=24
)


def full_width(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


dates = st.dates(min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31))
any_date = st.one_of(
    dates.map(datetime.date.isoformat),
    dates.map(lambda day: f"{day.year}/{day.month}/{day.day}"),
    dates.map(lambda day: full_width(day.isoformat())),
    st.sampled_from(["2026-02-30", "0000-01-01", "2026-1-5", "1989-12-31", "2101-01-01", "1899-12-31"]),
    hostile_text,
)
any_datetime = st.one_of(
    st.builds(
        lambda day, hour, minute, offset: f"{day.isoformat()} {hour:02d}:{minute:02d}{offset}",
        dates,
        st.integers(0, 25),
        st.integers(0, 61),
        st.sampled_from(["", "Z", "+08:00", "-05:00", "+14:00", "+14:01", "+25:00", "-23:59", "+0800", "+09:60"]),
    ),
    any_date,
)
any_amount = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-10, 10**20).map(str),
    st.sampled_from(["1,000.00", "1e5", "NaN", "-0", "+5", "0", "１０．００", "١٠", "5²", "0.001"]),
    hostile_text,
)
any_int = st.one_of(
    st.integers(-5, 10**6).map(str), st.sampled_from(["1²", "①", "３", "٣", "0", "99999999", "1" * 5000]), hostile_text
)
any_id = st.one_of(
    st.sampled_from([ID_STORED[:-1] + "²", "1101051990010112²X", ID_STORED[:-1] + "0", full_width(ID_NEW)[:-1]]),
    hostile_text,
)


def days(first: datetime.date, last: datetime.date) -> st.SearchStrategy[str]:
    return st.dates(min_value=first, max_value=last).map(datetime.date.isoformat)


def choices(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values)


small_amount = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("40"), places=2).map(str)

# Per column: (a value the import takes, values it may refuse). The rows are mostly good values
# with up to two bad ones, so that files are imported as well as refused.
COLUMN_VALUES: dict[str, tuple[st.SearchStrategy[str], st.SearchStrategy[str]]] = {
    "account_number": (choices("FZ-1", "FZ-2", "FZ-3", "FZ-4", "FZ-5", full_width("FZ-6")), hostile_text),
    "national_id": (choices(*IDS, full_width(ID_STORED), ID_NEW.lower()), any_id),
    # A borrower's columns must agree with the stored borrower's: blank ones are not compared.
    "borrower_name": (choices("王芳"), hostile_text),
    "date_of_birth": (choices("", "", "1900-01-01"), any_date),
    "province": (choices("", "北京市"), hostile_text),
    "city": (choices("", "北京市"), hostile_text),
    "address": (choices("", "", "", "第一行\n第二行"), hostile_text),
    "product_code": (choices("CONSUMER", full_width("CONSUMER")), hostile_text),
    "principal": (st.decimals(min_value=Decimal("1"), max_value=Decimal("10000"), places=2).map(str), any_amount),
    "annual_rate": (choices("0.1200", "1", "０.１"), any_amount),
    "disbursed_on": (days(datetime.date(1990, 1, 1), datetime.date(2026, 1, 15)), any_date),
    "term_months": (st.integers(1, 360).map(str), any_int),
    "sequence": (st.integers(4, 40).map(str), any_int),
    "due_date": (days(datetime.date(2026, 1, 15), datetime.date(2100, 12, 31)), any_date),
    "principal_due": (small_amount, any_amount),
    "interest_due": (small_amount, any_amount),
    "fees_due": (choices("0", "0.00", "1.50"), any_amount),
    "penalty_due": (choices("", "0.00"), any_amount),
    "reference": (st.from_regex(r"[A-Z]{1,3}-[0-9]{1,6}", fullmatch=True), hostile_text),
    "amount": (small_amount, any_amount),
    "received_at": (
        st.datetimes(min_value=datetime.datetime(2026, 1, 16), max_value=datetime.datetime(2026, 6, 1)).map(
            lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")
        ),
        any_datetime,
    ),
    "channel": (choices("app", "card", "ＡＰＰ"), hostile_text),
    "source": (choices("", "import", "icbc"), hostile_text),
    "kind": (choices("mobile", "emergency", "work"), hostile_text),
    "value": (
        st.integers(0, 99_999_999).map(lambda n: f"138{n:08d}"),
        st.one_of(choices("1380013800", "a@b", full_width("13800138001"), "+1 555"), hostile_text),
    ),
    "name": (choices("", "王建国", "=HYPERLINK(1)"), hostile_text),
    "relation": (choices("", "父亲"), hostile_text),
    "verification": (choices("", "verified"), hostile_text),
    "do_not_contact": (choices("", "是", "yes", "0"), hostile_text),
    "opt_out_call": (choices("", "0"), hostile_text),
    "opt_out_sms": (choices("", "1"), hostile_text),
    "opt_out_email": (choices("", "n"), hostile_text),
}


@st.composite
def files(draw, kind: str) -> bytes:
    """A header of the kind's columns, then rows of good values with up to two bad ones, some rows
    one or more cells short or long, and now and then a line of raw text that may not be CSV at all."""
    header = [column.name for column in COLUMNS[kind]]
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 4))):
        row = [draw(COLUMN_VALUES[name][0]) for name in header]
        for position in draw(st.sets(st.integers(0, len(header) - 1), max_size=2)):
            row[position] = draw(COLUMN_VALUES[header[position]][1])
        width = draw(st.sampled_from([0] * 12 + [-1, 1, 2, 1 - len(row)]))
        if width < 0:
            row = row[:width]
        elif width > 0:
            row += [draw(hostile_text) for _ in range(width)]
        if draw(st.integers(0, 19)) == 0:
            output.write(draw(hostile_text) + "\n")
        else:
            writer.writerow(row)
    return output.getvalue().encode("utf-8")


@pytest.fixture
def portfolio(db):
    """A product, a borrower with a disbursed loan and its schedule, whom the rows may name."""
    product = ProductFactory(code="CONSUMER", grace_days=0)
    borrower = BorrowerFactory(national_id=ID_STORED, name="王芳", province="北京市", city="北京市")
    loan = LoanFactory(
        account_number="FZ-1",
        borrower=borrower,
        product=product,
        principal=Decimal("300.00"),
        annual_rate=Decimal("0.1200"),
        term_months=3,
        disbursed_on=datetime.date(2026, 1, 15),
        installments=False,
    )
    for sequence in (1, 2, 3):
        Installment.objects.create(
            loan=loan,
            sequence=sequence,
            due_date=datetime.date(2026, 1 + sequence, 15),
            principal_due=Decimal("100.00"),
            interest_due=Decimal("10.00"),
        )
    return UserFactory(username="importer", roles=["admin"])


def fingerprint():
    """Row counts, paid and outstanding sums, the latest change: what the review compared."""
    return (
        Borrower.objects.count(),
        Loan.objects.count(),
        Installment.objects.count(),
        Payment.objects.count(),
        PaymentAllocation.objects.count(),
        Contact.objects.count(),
        sorted(Installment.objects.values_list("pk", "principal_paid", "interest_paid", "is_paid", "paid_on")),
        sorted(Loan.objects.values_list("pk", "outstanding_principal", "status", "days_past_due", "updated_at")),
        sorted(Borrower.objects.values_list("pk", "national_id", "name", "updated_at")),
    )


def unprinted(text: str) -> list[str]:
    return [char for char in text if char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Zl", "Zp")]


def check_import(kind: str, data: bytes, by) -> None:
    # One transaction per example, rolled back: every example starts from the same portfolio.
    with transaction.atomic():
        before = fingerprint()
        result = portfolio_import(stream=io.BytesIO(data), kind=kind, by=by)
        run = ImportRun.objects.latest("pk")
        event("imported" if result.ok else "refused")
        if result.ok:
            assert run.outcome == ImportRun.Outcome.IMPORTED
            assert Loan.objects.count() == before[1] + result.created.get(Loan, 0)
            assert Payment.objects.count() == before[3] + result.created.get(Payment, 0)
            assert Contact.objects.count() == before[5] + result.created.get(Contact, 0)
        else:
            assert run.outcome == ImportRun.Outcome.REFUSED
            assert fingerprint() == before, "a refused file left rows behind"
            assert result.errors
            for error in result.errors:
                message = str(error)
                assert error.line is not None and error.line >= 1, message
                assert error.message, message
                assert not unprinted(message), message
                assert not any(nid in message for nid in IDS), message
        transaction.set_rollback(True)


FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(data=files("loans"))
def test_random_loans_files_import_whole_or_not_at_all(portfolio, data):
    check_import("loans", data, portfolio)


@FUZZ
@given(data=files("schedule"))
def test_random_schedule_files_import_whole_or_not_at_all(portfolio, data):
    check_import("schedule", data, portfolio)


@FUZZ
@given(data=files("payments"))
def test_random_payments_files_import_whole_or_not_at_all(portfolio, data):
    check_import("payments", data, portfolio)


@FUZZ
@given(data=files("contacts"))
def test_random_contacts_files_import_whole_or_not_at_all(portfolio, data):
    check_import("contacts", data, portfolio)
