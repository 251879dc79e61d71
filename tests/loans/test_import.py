import datetime
import io
import random
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connections
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone, translation

from loans import imports
from loans.imports import portfolio_import
from loans.models import Borrower, Contact, ImportRun, Installment, Loan, Payment, PaymentAllocation
from loans.selectors import portfolio_day
from loans.services import balances_recompute, payment_record
from tests.accounts.factories import UserFactory
from tests.loans.factories import BorrowerFactory, ContactFactory, LoanFactory, ProductFactory, national_id

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
EXAMPLE_ORDER = ("loans", "schedule", "payments", "contacts")

LOAN_HEADER = (
    "account_number,national_id,borrower_name,date_of_birth,province,city,product_code,"
    "principal,annual_rate,disbursed_on,term_months"
)
SCHEDULE_HEADER = "account_number,sequence,due_date,principal_due,interest_due,fees_due,penalty_due"
PAYMENT_HEADER = "account_number,reference,amount,received_at,channel,source"
CONTACT_HEADER = "national_id,kind,value,name,relation,verification,do_not_contact"

# National IDs well above what BorrowerFactory's sequence reaches in one test.
ID_A, ID_B, ID_C = national_id(900_001), national_id(900_002), national_id(900_003)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


IMPORTER = "importer"


def importer():
    """The user the tests import as: one holding the admin role, which may import."""
    return UserFactory(username=IMPORTER, roles=["admin"])


def run(kind, text, *, encoding="auto", codec="utf-8", **kwargs):
    kwargs.setdefault("by", importer())
    return portfolio_import(stream=io.BytesIO(text.encode(codec)), kind=kind, encoding=encoding, **kwargs)


def csv_of(header, *rows):
    return "\n".join([header, *rows]) + "\n"


def loan_row(account="LN-1", nid=ID_A, name="王芳", **overrides):
    values = {
        "date_of_birth": "1988-03-12",
        "province": "北京市",
        "city": "北京市",
        "product_code": "CONSUMER",
        "principal": "1200.00",
        "annual_rate": "0.1200",
        "disbursed_on": "2026-01-15",
        "term_months": "3",
        **overrides,
    }
    return ",".join([account, nid, name, *values.values()])


def messages_of(result):
    return [str(error) for error in result.errors]


def only_error(result):
    assert not result.ok
    assert len(result.errors) == 1, messages_of(result)
    return result.errors[0]


def stored_loans():
    return list(
        Loan.objects.order_by("account_number").values_list(
            "account_number",
            "borrower__national_id",
            "product__code",
            "principal",
            "annual_rate",
            "disbursed_on",
            "term_months",
            "status",
            "days_past_due",
            "bucket__name",
            "outstanding_principal",
            "outstanding_interest",
            "overdue_amount",
        )
    )


def portfolio_snapshot():
    return {
        "borrowers": list(Borrower.objects.order_by("national_id").values_list("national_id", "name", "province")),
        "loans": stored_loans(),
        "installments": list(
            Installment.objects.order_by("loan__account_number", "sequence").values_list(
                "loan__account_number", "sequence", "due_date", "principal_due", "principal_paid", "is_paid"
            )
        ),
        "payments": list(Payment.objects.order_by("source", "reference").values_list("source", "reference", "amount")),
        "allocations": PaymentAllocation.objects.count(),
        "contacts": list(Contact.objects.order_by("value").values_list("value", "kind", "verification")),
    }


def import_examples():
    results = {}
    for kind in EXAMPLE_ORDER:
        with (EXAMPLES / f"{kind}.csv").open("rb") as stream:
            results[kind] = portfolio_import(stream=stream, kind=kind, by=importer())
        assert results[kind].ok, messages_of(results[kind])
    return results


def counts(result):
    return {what: (created, skipped) for what, created, skipped in result.summary()}


# ---------------------------------------------------------------------------------------------
# The example files
# ---------------------------------------------------------------------------------------------


def test_the_example_files_import_in_order_into_a_fresh_database(db):
    results = import_examples()

    assert counts(results["loans"]) == {"borrowers": (5, 0), "loans": (6, 0)}
    assert counts(results["schedule"]) == {"installments": (42, 0)}
    assert counts(results["payments"]) == {"payments": (16, 0)}
    assert counts(results["contacts"]) == {"contacts": (11, 0)}

    wang = Borrower.objects.get(national_id="110105198803121244")
    assert wang.name == "王芳"
    assert wang.address == "朝阳区建国路88号, 2单元1201"
    assert sorted(wang.loans.values_list("account_number", flat=True)) == ["CC2026000101", "CL2026000102"]

    # Six card payments pay CC2026000106 off; its balances and status follow.
    paid_off = Loan.objects.get(account_number="CC2026000106")
    assert paid_off.status == Loan.Status.PAID_OFF
    assert paid_off.total_outstanding == Decimal("0.00")
    assert Payment.objects.get(reference="CASH-1014-0021").source == "branch"

    # CC2026000101 paid three of six installments: stored balances equal the schedule's remaining.
    card = Loan.objects.get(account_number="CC2026000101")
    remaining = card.installments.aggregate(
        principal=Sum("principal_due") - Sum("principal_paid"), interest=Sum("interest_due") - Sum("interest_paid")
    )
    assert card.outstanding_principal == remaining["principal"] == Decimal("3000.00")
    assert card.outstanding_interest == remaining["interest"] == Decimal("216.00")
    assert (card.needs_ageing, portfolio_day()) == (False, timezone.localdate())
    oldest_unpaid = card.installments.filter(is_paid=False).order_by("due_date").first().due_date
    assert card.oldest_unpaid_due_on == oldest_unpaid == datetime.date(2026, 9, 10)

    # The partial app payment on OL2026000104 went to the penalty first.
    first = Installment.objects.get(loan__account_number="OL2026000104", sequence=1)
    assert (first.penalty_paid, first.interest_paid, first.principal_paid) == (
        Decimal("12.50"),
        Decimal("30.00"),
        Decimal("257.50"),
    )

    assert set(Contact.objects.values_list("value", flat=True)) >= {
        "+8613801381234",
        "+862150471234",
        "wang.fang@example.com",
    }
    friend = Contact.objects.get(value="+8613912345678")
    assert (friend.kind, friend.name, friend.do_not_contact) == ("other", "赵磊", True)


def test_importing_the_example_files_again_changes_nothing(db):
    import_examples()
    before = portfolio_snapshot()

    again = import_examples()

    assert portfolio_snapshot() == before
    assert counts(again["loans"]) == {"borrowers": (0, 5), "loans": (0, 6)}
    assert counts(again["schedule"]) == {"installments": (0, 42)}
    assert counts(again["payments"]) == {"payments": (0, 16)}
    assert counts(again["contacts"]) == {"contacts": (0, 11)}


def test_the_example_files_are_documented():
    documentation = (EXAMPLES.parent / "csv-formats.md").read_text(encoding="utf-8")
    for kind in EXAMPLE_ORDER:
        for column in imports.COLUMNS[kind]:
            assert f"`{column.name}`" in documentation, (kind, column.name)


# ---------------------------------------------------------------------------------------------
# Loans
# ---------------------------------------------------------------------------------------------


def test_loans_create_their_borrowers_once(db):
    result = run(
        "loans",
        csv_of(
            LOAN_HEADER,
            loan_row("LN-1", ID_A, "王芳"),
            loan_row("LN-2", ID_A, "王芳", product_code="CCI"),
            loan_row("LN-3", ID_B, "李强", date_of_birth=""),
        ),
    )

    assert result.ok, messages_of(result)
    assert counts(result) == {"borrowers": (2, 0), "loans": (3, 0)}
    assert Borrower.objects.get(national_id=ID_A).loans.count() == 2
    assert Borrower.objects.get(national_id=ID_B).date_of_birth is None
    loan = Loan.objects.get(account_number="LN-2")
    assert (loan.product.code, loan.principal, loan.annual_rate, loan.disbursed_on, loan.term_months) == (
        "CCI",
        Decimal("1200.00"),
        Decimal("0.1200"),
        datetime.date(2026, 1, 15),
        3,
    )
    # No schedule yet: nothing outstanding, and not called paid off.
    assert loan.status == Loan.Status.CURRENT
    assert loan.total_outstanding == Decimal("0.00")


def test_a_loan_of_a_stored_borrower_uses_that_borrower(db):
    borrower = BorrowerFactory(national_id=ID_A, name="王芳", province="北京市", city="北京市")

    result = run("loans", csv_of(LOAN_HEADER, loan_row("LN-1", ID_A, "王芳", date_of_birth="1985-05-01")))

    assert result.ok, messages_of(result)
    assert counts(result) == {"borrowers": (0, 1), "loans": (1, 0)}
    assert Loan.objects.get().borrower == borrower


def test_an_unknown_product_is_an_error(db):
    result = run("loans", csv_of(LOAN_HEADER, loan_row(product_code="MORTGAGE")))

    error = only_error(result)
    assert (error.line, error.column) == (2, "product_code")
    assert '"MORTGAGE" is not a product code' in error.message
    assert "CONSUMER" in error.message
    assert not Loan.objects.exists()


def test_an_inactive_product_is_still_a_product(db):
    ProductFactory(code="OLD", is_active=False)

    assert run("loans", csv_of(LOAN_HEADER, loan_row(product_code="OLD"))).ok


def test_an_account_twice_in_the_file_is_an_error(db):
    result = run("loans", csv_of(LOAN_HEADER, loan_row("LN-1"), loan_row("LN-2"), loan_row("LN-1")))

    assert str(only_error(result)) == "line 4, column account_number: account LN-1 is already on line 2"
    assert not Loan.objects.exists()
    assert not Borrower.objects.exists()


def test_an_account_twice_in_the_file_is_found_across_chunks(db, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    rows = [loan_row(f"LN-{n}", national_id(900_100 + n), "张伟") for n in range(5)]

    result = run("loans", csv_of(LOAN_HEADER, *rows, loan_row("LN-0", national_id(900_100), "张伟")))

    assert str(only_error(result)) == "line 7, column account_number: account LN-0 is already on line 2"


def test_a_borrower_on_several_rows_across_chunks_is_created_once(db, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    rows = [loan_row(f"LN-{n}", ID_A, "王芳") for n in range(5)]

    result = run("loans", csv_of(LOAN_HEADER, *rows))

    assert counts(result) == {"borrowers": (1, 0), "loans": (5, 0)}
    assert Borrower.objects.get().loans.count() == 5


def test_a_borrower_whose_rows_disagree_is_an_error(db, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)

    result = run(
        "loans",
        csv_of(LOAN_HEADER, loan_row("LN-1", ID_A, "王芳"), loan_row("LN-2", ID_B), loan_row("LN-3", ID_A, "王芬")),
    )

    error = only_error(result)
    assert (error.line, error.column) == (4, "borrower_name")
    assert "already exists with borrower_name 王芳; the file says 王芬" in error.message
    assert not Borrower.objects.exists()


def test_a_stored_account_with_different_values_is_an_error_naming_the_field(db):
    LoanFactory(
        account_number="LN-1",
        borrower__national_id=ID_A,
        borrower__name="王芳",
        borrower__date_of_birth=datetime.date(1988, 3, 12),
        product=ProductFactory(code="CONSUMER"),
        principal=Decimal("1200.00"),
        annual_rate=Decimal("0.1200"),
        disbursed_on=datetime.date(2026, 1, 15),
        term_months=3,
    )

    result = run("loans", csv_of(LOAN_HEADER, loan_row("LN-1", principal="1300.00", term_months="6")))

    assert messages_of(result) == [
        "line 2, column principal: account LN-1 already exists with principal 1200.00; the file says 1300.00",
        "line 2, column term_months: account LN-1 already exists with term_months 3; the file says 6",
    ]
    assert Loan.objects.get().principal == Decimal("1200.00")


def test_a_stored_account_of_another_borrower_is_an_error(db):
    LoanFactory(
        account_number="LN-1", borrower__national_id=ID_B, product=ProductFactory(code="CONSUMER"), term_months=3
    )

    result = run("loans", csv_of(LOAN_HEADER, loan_row("LN-1", ID_A)))

    assert [(error.line, error.column) for error in result.errors] == [(2, "national_id")]
    assert not Borrower.objects.filter(national_id=ID_A).exists()


def test_nothing_is_imported_when_any_row_is_bad(db):
    result = run(
        "loans",
        csv_of(
            LOAN_HEADER,
            loan_row("LN-1", ID_A),
            loan_row("LN-2", ID_B, "李强"),
            loan_row("LN-3", ID_C, "张伟", principal="-5"),
            loan_row("LN-4", ID_C, "张伟"),
        ),
    )

    assert [(error.line, error.column) for error in result.errors] == [(4, "principal")]
    assert result.rows == 4
    assert counts(result) == {}
    assert not Loan.objects.exists()
    assert not Borrower.objects.exists()


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("date_of_birth", "1988-02-30", '"1988-02-30" is not a date (YYYY-MM-DD)'),
        ("disbursed_on", "15.01.2026", '"15.01.2026" is not a date (YYYY-MM-DD)'),
        ("principal", '"1,200.00"', '"1,200.00" is not an amount (yuan with up to two decimals, e.g. 1200.50)'),
        ("principal", "12.345", '"12.345" is not an amount (yuan with up to two decimals, e.g. 1200.50)'),
        ("principal", "0", "the amount must be more than zero"),
        ("principal", "1000000000000", '"1000000000000" is too large an amount'),
        ("annual_rate", "18", '"18" is not an annual rate (a fraction with up to four decimals, e.g. 0.1800 for 18%)'),
        ("term_months", "0", '"0" is not a whole number from 1 to 32767'),
        ("term_months", "", "a value is required"),
    ],
)
def test_a_bad_loan_value_is_reported_with_line_column_and_reason(db, column, value, message):
    result = run("loans", csv_of(LOAN_HEADER, loan_row("LN-1"), loan_row("LN-2", **{column: value})))

    assert messages_of(result) == [f"line 3, column {column}: {message}"]
    assert not Loan.objects.exists()


def test_a_bad_national_id_is_an_error(db):
    wrong_check_digit = ID_A[:17] + ("0" if ID_A[17] != "0" else "1")

    result = run("loans", csv_of(LOAN_HEADER, loan_row(nid=wrong_check_digit)))

    error = only_error(result)
    assert (error.line, error.column) == (2, "national_id")
    assert "check digit" in error.message


def test_slashed_dates_and_a_lower_case_x_are_read(db):
    nid_with_x = next(national_id(n) for n in range(900_000, 901_000) if national_id(n).endswith("X"))

    result = run("loans", csv_of(LOAN_HEADER, loan_row(nid=nid_with_x.lower(), disbursed_on="2026/1/5")))

    assert result.ok, messages_of(result)
    assert Loan.objects.get().disbursed_on == datetime.date(2026, 1, 5)
    assert Borrower.objects.get().national_id == nid_with_x


def test_the_error_list_is_capped_and_the_rest_counted(db):
    rows = [loan_row(f"LN-{n}", national_id(900_200 + n), "张伟", principal="abc") for n in range(250)]

    result = run("loans", csv_of(LOAN_HEADER, *rows))

    assert result.error_count == 250
    assert len(result.errors) == imports.MAX_REPORTED_ERRORS == 200
    assert result.unreported_error_count == 50
    assert result.errors[-1].line == 201


def test_a_row_with_the_wrong_number_of_values_is_an_error(db):
    result = run("loans", csv_of(LOAN_HEADER, loan_row("LN-1") + ",extra"))

    assert messages_of(result) == ["line 2: 12 values for 11 columns"]


def test_broken_csv_quoting_is_an_error_with_its_line(db):
    result = run("loans", csv_of(LOAN_HEADER, loan_row("LN-1"), '"LN-2,unterminated'))

    error = only_error(result)
    assert error.line == 3
    assert "not valid CSV" in error.message


def test_a_quoted_value_over_two_lines_keeps_the_line_numbers_of_later_rows(db):
    text = csv_of(
        "account_number,national_id,borrower_name,address,product_code,principal,annual_rate,disbursed_on,term_months",
        f'LN-1,{ID_A},王芳,"朝阳区建国路88号\n2单元",CONSUMER,1200.00,0.12,2026-01-15,3',
        f"LN-2,{ID_B},李强,,CONSUMER,abc,0.12,2026-01-15,3",
    )

    result = run("loans", text)

    assert messages_of(result)[0].startswith("line 4, column principal:")


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------


def test_a_missing_column_is_an_error_naming_it(db):
    header = LOAN_HEADER.replace(",principal", "")
    row = loan_row().replace(",1200.00,", ",")

    result = run("loans", csv_of(header, row))

    assert messages_of(result) == ["line 1, column principal: the column principal is missing"]
    assert result.rows == 0


def test_an_unknown_column_is_an_error_naming_it(db):
    result = run("loans", csv_of(LOAN_HEADER.replace("principal", "principle"), loan_row()))

    assert messages_of(result) == [
        "line 1, column principle: principle is not a column of a loans file",
        "line 1, column principal: the column principal is missing",
    ]


def test_header_names_are_read_without_case_or_spaces_and_optional_columns_may_be_left_out(db):
    header = " Account_Number , NATIONAL_ID,borrower_name,product_code,principal,annual_rate,disbursed_on,term_months"

    result = run("loans", csv_of(header, f"LN-1,{ID_A},王芳,CONSUMER,1200,0.12,2026-01-15,3"))

    assert result.ok, messages_of(result)
    assert Borrower.objects.get().province == ""


def test_a_header_of_another_kind_says_which_kind_it_looks_like(db):
    result = run("loans", csv_of(PAYMENT_HEADER, "LN-1,PAY-1,100.00,2026-03-01 10:00,app,"))

    assert messages_of(result)[0] == "line 1: these are the columns of a payments file, not of a loans file"
    assert "line 1, column reference: reference is not a column of a loans file" in messages_of(result)
    assert result.rows == 0


def test_an_empty_file_is_an_error(db):
    assert messages_of(run("payments", "")) == ["line 1: The file is empty: the first line must name the columns."]


def test_a_file_with_only_the_header_imports_nothing_and_is_fine(db):
    result = run("schedule", csv_of(SCHEDULE_HEADER))

    assert result.ok
    assert counts(result) == {"installments": (0, 0)}


# ---------------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "encoding", "read_as"),
    [
        ("utf-8", "auto", "utf-8-sig"),
        ("utf-8-sig", "auto", "utf-8-sig"),
        ("gbk", "auto", "gb18030"),
        ("utf-8-sig", "utf-8", "utf-8-sig"),
        ("gbk", "gb18030", "gb18030"),
        ("gbk", "gbk", "gb18030"),
    ],
)
def test_utf8_with_or_without_bom_and_gbk_are_read(db, codec, encoding, read_as):
    text = csv_of(LOAN_HEADER, loan_row("LN-1", ID_A, "王芳", province="广东省", city="广州市"))

    result = run("loans", text, codec=codec, encoding=encoding)

    assert result.ok, messages_of(result)
    assert result.encoding == read_as
    borrower = Borrower.objects.get()
    assert (borrower.name, borrower.province, borrower.city) == ("王芳", "广东省", "广州市")


def test_a_gbk_file_read_as_utf8_is_an_error_with_the_line_number(db):
    text = csv_of(
        LOAN_HEADER, loan_row("LN-1", ID_A, "Wang Fang", province="", city=""), loan_row("LN-2", ID_B, "李强")
    )

    result = run("loans", text, codec="gbk", encoding="utf-8")

    error = only_error(result)
    assert error.line == 3
    assert "cannot be read as utf-8-sig" in error.message
    assert "GB18030" in error.message
    assert not Loan.objects.exists()


def test_gbk_after_the_first_chunk_of_bytes_is_still_an_error_not_a_traceback(db):
    """Auto-detection looks at the first bytes only; a file that turns to GBK later fails cleanly."""
    ascii_rows = [loan_row(f"LN-{n}", national_id(900_300 + n), "Zhang", province="", city="") for n in range(1500)]
    text = csv_of(LOAN_HEADER, *ascii_rows)
    data = text.encode("ascii") + loan_row("LN-X", ID_A, "王芳").encode("gbk") + b"\n"
    assert len(text) > imports.SNIFF_BYTES

    result = portfolio_import(stream=io.BytesIO(data), kind="loans", by=importer())

    assert result.encoding == "utf-8-sig"
    assert [error.line for error in result.errors] == [1502]
    assert not Loan.objects.exists()


def test_an_unknown_encoding_is_an_error(db):
    assert messages_of(run("loans", csv_of(LOAN_HEADER), encoding="klingon")) == ["klingon is not a known encoding."]


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def bare_loan(db):
    """A loan of 300.00 over three months from 15 January 2026, with no schedule yet."""
    return LoanFactory(
        account_number="LN-1",
        principal=Decimal("300.00"),
        term_months=3,
        disbursed_on=datetime.date(2026, 1, 15),
        product=ProductFactory(code="CONSUMER", grace_days=0),
        installments=False,
    )


SCHEDULE_ROWS = (
    "LN-1,1,2026-02-15,100.00,10.00,2.00,",
    "LN-1,2,2026-03-15,100.00,10.00,2.00,",
    "LN-1,3,2026-04-15,100.00,10.00,2.00,1.50",
)


def test_a_schedule_import_stores_installments_balances_and_delinquency(bare_loan):
    result = run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS))

    assert result.ok, messages_of(result)
    assert counts(result) == {"installments": (3, 0)}
    assert list(bare_loan.installments.values_list("sequence", "due_date", "penalty_due")) == [
        (1, datetime.date(2026, 2, 15), Decimal("0.00")),
        (2, datetime.date(2026, 3, 15), Decimal("0.00")),
        (3, datetime.date(2026, 4, 15), Decimal("1.50")),
    ]
    bare_loan.refresh_from_db()
    today = timezone.localdate()
    assert bare_loan.outstanding_principal == Decimal("300.00")
    assert bare_loan.outstanding_interest == Decimal("30.00")
    assert bare_loan.outstanding_fees == Decimal("6.00")
    assert bare_loan.outstanding_penalty == Decimal("1.50")
    assert bare_loan.oldest_unpaid_due_on == datetime.date(2026, 2, 15)
    assert bare_loan.days_past_due == (today - datetime.date(2026, 2, 15)).days
    assert bare_loan.status == Loan.Status.DELINQUENT
    assert bare_loan.bucket.name == "M4+"
    assert bare_loan.overdue_amount == Decimal("337.50")


def test_a_large_schedule_import_ages_the_whole_portfolio_the_same_way(bare_loan, monkeypatch):
    monkeypatch.setattr(imports, "AGE_ONE_BY_ONE_UP_TO", 0)

    assert run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS)).ok

    bare_loan.refresh_from_db()
    assert bare_loan.oldest_unpaid_due_on == datetime.date(2026, 2, 15)
    assert bare_loan.status == Loan.Status.DELINQUENT
    assert bare_loan.bucket.name == "M4+"
    assert bare_loan.overdue_amount == Decimal("337.50")
    assert (bare_loan.needs_ageing, portfolio_day()) == (False, timezone.localdate())
    assert bare_loan.days_past_due == (timezone.localdate() - datetime.date(2026, 2, 15)).days


def test_reimporting_a_schedule_changes_nothing(bare_loan):
    run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS))
    before = portfolio_snapshot()

    result = run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS))

    assert counts(result) == {"installments": (0, 3)}
    assert portfolio_snapshot() == before


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("LN-1,1,2026-13-01,100.00,10.00,2.00,", 'line 2, column due_date: "2026-13-01" is not a date (YYYY-MM-DD)'),
        ("LN-1,1,2026-02-15,100.00,-10.00,2.00,", "line 2, column interest_due: "),
        ("LN-1,x,2026-02-15,100.00,10.00,2.00,", 'line 2, column sequence: "x" is not a whole number'),
        ("LN-9,1,2026-02-15,100.00,10.00,2.00,", "line 2, column account_number: there is no loan LN-9"),
        ("LN-1,1,2025-12-15,100.00,10.00,2.00,", "line 2, column due_date: 2025-12-15 is before the loan"),
        ("LN-1,1,2026-02-15,0,0.00,0,", "line 2, column principal_due: an installment must have something due"),
    ],
)
def test_a_bad_schedule_row_is_reported(bare_loan, row, expected):
    result = run("schedule", csv_of(SCHEDULE_HEADER, row))

    assert str(only_error(result)).startswith(expected)
    assert not Installment.objects.exists()


def test_an_installment_twice_in_the_file_is_an_error(bare_loan):
    result = run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS, "LN-1,2,2026-03-15,100.00,10.00,2.00,"))

    assert messages_of(result) == ["line 5, column sequence: installment 2 of account LN-1 is already on line 3"]
    assert not Installment.objects.exists()


def test_a_stored_installment_with_different_values_is_an_error_naming_the_field(bare_loan):
    run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS))

    result = run("schedule", csv_of(SCHEDULE_HEADER, "LN-1,2,2026-03-16,100.00,10.00,2.00,"))

    assert messages_of(result) == [
        "line 2, column due_date: installment 2 of account LN-1 already exists with due_date 2026-03-15; "
        "the file says 2026-03-16"
    ]


def test_a_blank_penalty_is_not_compared_with_a_penalty_charged_since(bare_loan):
    run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS))
    Installment.objects.filter(loan=bare_loan, sequence=1).update(penalty_due=Decimal("4.20"))

    blank = run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS))
    given = run("schedule", csv_of(SCHEDULE_HEADER, "LN-1,1,2026-02-15,100.00,10.00,2.00,0.00"))

    assert counts(blank) == {"installments": (0, 3)}
    assert messages_of(given) == [
        "line 2, column penalty_due: installment 1 of account LN-1 already exists with penalty_due 4.20; "
        "the file says 0.00"
    ]


def test_a_schedule_file_may_add_installments_to_a_stored_schedule(bare_loan):
    run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS[:2]))

    result = run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS))

    assert counts(result) == {"installments": (1, 2)}
    bare_loan.refresh_from_db()
    assert bare_loan.outstanding_principal == Decimal("300.00")


# ---------------------------------------------------------------------------------------------
# Payments
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def scheduled_loan(bare_loan):
    assert run("schedule", csv_of(SCHEDULE_HEADER, *SCHEDULE_ROWS)).ok
    bare_loan.refresh_from_db()
    return bare_loan


def test_payments_are_recorded_and_allocated_like_payment_record(scheduled_loan):
    twin = LoanFactory(
        account_number="LN-2",
        principal=Decimal("300.00"),
        term_months=3,
        disbursed_on=datetime.date(2026, 1, 15),
        product=scheduled_loan.product,
        installments=False,
    )
    assert run("schedule", csv_of(SCHEDULE_HEADER, *[row.replace("LN-1", "LN-2") for row in SCHEDULE_ROWS])).ok
    received = timezone.make_aware(datetime.datetime(2026, 3, 1, 10, 0))
    payment_record(loan=twin, amount=Decimal("150.00"), received_at=received, reference="T-1", channel="app")
    payment_record(loan=twin, amount=Decimal("20.00"), received_at=received, reference="T-2", channel="app")

    result = run(
        "payments",
        csv_of(PAYMENT_HEADER, "LN-1,P-1,150.00,2026-03-01 10:00:00,app,", "LN-1,P-2,20,2026-03-01 10:00,app,"),
    )

    assert result.ok, messages_of(result)
    assert counts(result) == {"payments": (2, 0)}
    payment = Payment.objects.get(reference="P-1")
    assert (payment.source, payment.channel, payment.received_at) == ("import", "app", received)

    def allocations(loan):
        return list(
            PaymentAllocation.objects.filter(payment__loan=loan)
            .order_by("payment__reference", "installment__sequence", "id")
            .values_list("installment__sequence", "component", "amount")
        )

    assert allocations(scheduled_loan) == allocations(twin)
    scheduled_loan.refresh_from_db()
    twin.refresh_from_db()
    for name in ("outstanding_principal", "outstanding_interest", "outstanding_fees", "overdue_amount", "status"):
        assert getattr(scheduled_loan, name) == getattr(twin, name), name
    assert scheduled_loan.outstanding_principal == Decimal("154.00")


def random_portfolio(rng, *, loans, prefix):
    """`loans` loans with random schedules (some with fees and penalties), the same for any
    prefix when rng starts from the same seed."""
    product = ProductFactory(code="CCI")
    for number in range(loans):
        # Before the first payment (2026-02-01): a payment before its loan was disbursed is refused.
        disbursed_on = datetime.date(2025, 10, 1) + datetime.timedelta(days=rng.randrange(120))
        loan = LoanFactory(
            account_number=f"{prefix}-{number}",
            product=product,
            principal=Decimal("1000.00"),
            disbursed_on=disbursed_on,
            term_months=6,
            installments=False,
        )
        Installment.objects.bulk_create(
            Installment(
                loan=loan,
                sequence=sequence,
                due_date=disbursed_on + datetime.timedelta(days=30 * sequence),
                principal_due=Decimal(rng.randrange(1, 50_000)) / 100,
                interest_due=Decimal(rng.choice([0, rng.randrange(1, 5_000)])) / 100,
                fees_due=Decimal(rng.choice([0, 0, rng.randrange(1, 2_000)])) / 100,
                penalty_due=Decimal(rng.choice([0, 0, 0, rng.randrange(1, 1_000)])) / 100,
            )
            for sequence in range(1, rng.randrange(2, 7))
        )
    ours = Loan.objects.filter(account_number__startswith=f"{prefix}-").order_by("pk")
    balances_recompute(loans=ours)
    return list(ours)


def random_payments(rng, loans, *, overpay_sometimes):
    """(loan number, reference number, amount, received_at, channel) in the order received."""
    outstanding = {number: loan.total_outstanding for number, loan in enumerate(loans)}
    payments = []
    moment = timezone.make_aware(datetime.datetime(2026, 2, 1, 9, 0))
    for reference in range(120):
        number = rng.randrange(len(loans))
        moment += datetime.timedelta(hours=rng.randrange(1, 60), minutes=rng.randrange(60))
        left = outstanding[number]
        if left == 0 and not overpay_sometimes:
            continue
        if overpay_sometimes and rng.random() < 0.15:
            amount = left + Decimal("0.01")
        elif left and rng.random() < 0.2:
            amount = left
        elif left:
            amount = max(Decimal(rng.randrange(1, int(left * 100) + 1)) / 100 / rng.choice([1, 2, 3]), Decimal("0.01"))
            amount = amount.quantize(Decimal("0.01"))
        else:
            continue
        if amount <= left:
            outstanding[number] = left - amount
        payments.append((number, reference, amount, moment, rng.choice(["app", "card", "bank_transfer"])))
    return payments


def outcome(prefix):
    loans = Loan.objects.filter(account_number__startswith=f"{prefix}-").order_by("pk")
    return {
        "loans": [
            (
                loan.account_number.split("-")[1],
                loan.outstanding_principal,
                loan.outstanding_interest,
                loan.outstanding_fees,
                loan.outstanding_penalty,
                loan.overdue_amount,
                loan.days_past_due,
                loan.status,
                loan.bucket_id,
                loan.oldest_unpaid_due_on,
                loan.grace_ends_on,
                loan.needs_ageing,
            )
            for loan in loans
        ],
        "installments": list(
            Installment.objects.filter(loan__in=loans)
            .order_by("loan_id", "sequence")
            .values_list(
                "sequence", "principal_paid", "interest_paid", "fees_paid", "penalty_paid", "is_paid", "paid_on"
            )
        ),
        "payments": [
            (reference.split("-")[1], amount, received_at, channel)
            for reference, amount, received_at, channel in Payment.objects.filter(loan__in=loans)
            .order_by("pk")
            .values_list("reference", "amount", "received_at", "channel")
        ],
        "allocations": [
            (reference.split("-")[1], sequence, component, amount)
            for reference, sequence, component, amount in PaymentAllocation.objects.filter(payment__loan__in=loans)
            .order_by("payment_id", "installment__sequence", "pk")
            .values_list("payment__reference", "installment__sequence", "component", "amount")
        ],
    }


@pytest.mark.parametrize(("chunk_rows", "age_one_by_one_up_to"), [(7, 0), (1000, 200)])
def test_imported_payments_end_exactly_as_payment_record_leaves_them(db, monkeypatch, chunk_rows, age_one_by_one_up_to):
    """The import allocates a chunk at a time; payment_record one payment at a time. Given the
    same schedules and the same payments in the same order, everything stored is the same."""
    monkeypatch.setattr(imports, "CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(imports, "AGE_ONE_BY_ONE_UP_TO", age_one_by_one_up_to)
    by_service = random_portfolio(random.Random(7), loans=8, prefix="SV")
    random_portfolio(random.Random(7), loans=8, prefix="IM")
    payments = random_payments(random.Random(11), by_service, overpay_sometimes=False)
    assert len(payments) > 30

    for number, reference, amount, received_at, channel in payments:
        payment_record(
            loan=by_service[number],
            amount=amount,
            received_at=received_at,
            reference=f"SV-{reference}",
            channel=channel,
            source="import",
        )
    result = run(
        "payments",
        csv_of(
            PAYMENT_HEADER,
            *[
                f"IM-{number},IM-{reference},{amount},{received_at.isoformat()},{channel},"
                for number, reference, amount, received_at, channel in payments
            ],
        ),
    )

    assert result.ok, messages_of(result)
    assert counts(result) == {"payments": (len(payments), 0)}
    assert outcome("IM") == outcome("SV")
    assert Installment.objects.filter(loan__account_number__startswith="IM-", is_paid=True).exists()


def test_imported_payments_are_refused_on_the_lines_payment_record_refuses(db, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 5)
    by_service = random_portfolio(random.Random(3), loans=5, prefix="SV")
    random_portfolio(random.Random(3), loans=5, prefix="IM")
    payments = random_payments(random.Random(5), by_service, overpay_sometimes=True)
    before = outcome("IM")

    refused_by_service = []
    for line, (number, reference, amount, received_at, channel) in enumerate(payments, start=2):
        try:
            payment_record(
                loan=by_service[number],
                amount=amount,
                received_at=received_at,
                reference=f"SV-{reference}",
                channel=channel,
                source="import",
            )
        except ValidationError as error:
            refused_by_service.append((line, error.messages[0].replace("SV-", "IM-")))
    result = run(
        "payments",
        csv_of(
            PAYMENT_HEADER,
            *[
                f"IM-{number},IM-{reference},{amount},{received_at.isoformat()},{channel},"
                for number, reference, amount, received_at, channel in payments
            ],
        ),
    )

    assert len(refused_by_service) >= 3
    assert [(error.line, error.message) for error in result.errors] == refused_by_service
    assert {error.column for error in result.errors} == {"amount"}
    assert outcome("IM") == before


def test_a_payment_already_stored_is_skipped_and_a_changed_one_is_an_error(scheduled_loan):
    rows = ("LN-1,P-1,50.00,2026-03-01 10:00:00,bank_transfer,", "LN-1,P-2,20.00,2026-03-02 10:00:00,app,bank")
    run("payments", csv_of(PAYMENT_HEADER, *rows))
    before = portfolio_snapshot()

    again = run("payments", csv_of(PAYMENT_HEADER, *rows))
    changed = run("payments", csv_of(PAYMENT_HEADER, "LN-1,P-1,55.00,2026-03-01 10:00:00,bank_transfer,"))

    assert counts(again) == {"payments": (0, 2)}
    assert messages_of(changed) == [
        "line 2, column amount: payment P-1 from import already exists with amount 50.00; the file says 55.00"
    ]
    assert portfolio_snapshot() == before


def test_the_same_reference_from_another_source_is_another_payment(scheduled_loan):
    result = run(
        "payments",
        csv_of(PAYMENT_HEADER, "LN-1,P-1,10.00,2026-03-01 10:00,app,alipay", "LN-1,P-1,10.00,2026-03-01 10:00,app,"),
    )

    assert counts(result) == {"payments": (2, 0)}


def test_a_payment_twice_in_the_file_is_an_error(scheduled_loan):
    result = run(
        "payments",
        csv_of(PAYMENT_HEADER, "LN-1,P-1,10.00,2026-03-01 10:00,app,", "LN-1,P-1,10.00,2026-03-01 10:00,app,import"),
    )

    assert messages_of(result) == ["line 3, column reference: payment P-1 from import is already on line 2"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("LN-1,P-1,12.3.4,2026-03-01 10:00,app,", 'line 2, column amount: "12.3.4" is not an amount'),
        ("LN-1,P-1,-5.00,2026-03-01 10:00,app,", 'line 2, column amount: "-5.00" is not an amount'),
        ("LN-1,P-1,10.00,2026-03-01 25:00,app,", 'line 2, column received_at: "2026-03-01 25:00" is not a date and'),
        ("LN-1,P-1,10.00,2026-03-01 10:00,wechat,", 'line 2, column channel: "wechat" is not one of bank_transfer'),
        ("LN-9,P-1,10.00,2026-03-01 10:00,app,", "line 2, column account_number: there is no loan LN-9"),
        ("LN-1,P-1,10.00,2099-01-01 10:00,app,", "line 2, column received_at: 2099-01-01 10:00:00+08:00 is in the"),
        (
            "LN-1,P-1,337.51,2026-03-01 10:00,app,",
            "line 2, column amount: The payment of 337.51 is more than the 337.50",
        ),
    ],
)
def test_a_bad_payment_row_is_reported(scheduled_loan, row, expected):
    result = run("payments", csv_of(PAYMENT_HEADER, row))

    assert str(only_error(result)).startswith(expected)
    assert not Payment.objects.exists()


def test_an_overpayment_counts_the_payments_before_it_in_the_file_and_nothing_stays(scheduled_loan):
    before = portfolio_snapshot()

    result = run(
        "payments",
        csv_of(PAYMENT_HEADER, "LN-1,P-1,300.00,2026-03-01 10:00,app,", "LN-1,P-2,40.00,2026-03-02 10:00,app,"),
    )

    assert [(error.line, error.column) for error in result.errors] == [(3, "amount")]
    assert "more than the 37.50 outstanding" in result.errors[0].message
    assert portfolio_snapshot() == before


def test_received_at_with_an_offset_or_without_a_time(scheduled_loan):
    result = run(
        "payments",
        csv_of(PAYMENT_HEADER, "LN-1,P-1,10.00,2026-03-01T02:00:00Z,card,", "LN-1,P-2,10.00,2026/3/2,cash,"),
    )

    assert result.ok, messages_of(result)
    assert Payment.objects.get(reference="P-1").received_at == datetime.datetime(2026, 3, 1, 2, 0, tzinfo=datetime.UTC)
    assert timezone.localtime(Payment.objects.get(reference="P-2").received_at).isoformat() == (
        "2026-03-02T00:00:00+08:00"
    )


def test_payments_are_recorded_by_the_importing_user(scheduled_loan):
    user = UserFactory(roles=["admin"])

    result = run(
        "payments",
        csv_of(PAYMENT_HEADER, "LN-1,P-1,10.00,2026-03-01 10:00,app,", "LN-1,P-2,5.00,2026-03-02 10:00,app,"),
        by=user,
        file_name="payments.csv",
        file_size=123,
    )

    assert result.ok
    assert set(Payment.objects.values_list("recorded_by", flat=True)) == {user.pk}
    run_row = ImportRun.objects.get(kind="payments")
    assert run_row == result.run
    assert (run_row.ran_by, run_row.kind, run_row.file_name, run_row.file_size, run_row.via) == (
        user,
        "payments",
        "payments.csv",
        123,
        ImportRun.Via.COMMAND,
    )
    assert (run_row.outcome, run_row.rows_read, run_row.records_created, run_row.error_count) == ("imported", 2, 2, 0)
    assert run_row.started_at <= run_row.finished_at


def test_a_refused_import_is_recorded_with_its_first_errors_masked(db):
    ID_D = national_id(900_004)
    result = run("loans", csv_of(LOAN_HEADER, loan_row("LN-1"), loan_row("LN-2", nid=ID_D[:-1] + "Z")))

    run_row = ImportRun.objects.get()
    assert not result.ok
    assert (run_row.outcome, run_row.rows_read, run_row.records_created, run_row.error_count) == ("refused", 2, 0, 1)
    assert run_row.errors.startswith("line 3, column national_id:")
    assert ID_D[:-1] not in run_row.errors
    assert not Loan.objects.exists()


def test_an_import_that_fails_on_the_way_is_recorded_as_failed(db, monkeypatch):
    def broken(self, rows):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(imports._LoanImporter, "process_chunk", broken)

    with pytest.raises(RuntimeError):
        run("loans", csv_of(LOAN_HEADER, loan_row("LN-1")))

    assert ImportRun.objects.get().outcome == ImportRun.Outcome.FAILED
    assert not Loan.objects.exists()


@pytest.mark.parametrize(
    "user",
    [
        pytest.param(lambda: None, id="nobody"),
        pytest.param(lambda: UserFactory(roles=["collector"]), id="collector"),
        pytest.param(lambda: UserFactory(roles=["supervisor"]), id="supervisor"),
        pytest.param(lambda: UserFactory(roles=["admin"], is_active=False), id="inactive-admin"),
    ],
)
def test_only_an_active_user_allowed_to_import_may_import(db, user):
    with pytest.raises(PermissionDenied):
        run("loans", csv_of(LOAN_HEADER, loan_row("LN-1")), by=user())

    assert not Loan.objects.exists()
    assert not ImportRun.objects.exists()


# ---------------------------------------------------------------------------------------------
# Contacts
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def borrower(db):
    return BorrowerFactory(national_id=ID_A)


def test_contacts_are_stored_with_normalised_values(borrower):
    result = run(
        "contacts",
        csv_of(
            CONTACT_HEADER,
            f"{ID_A},mobile,138 0013 8000,,,verified,",
            f"{ID_A},emergency,+86 139-1012-3456,王建国,父亲,,是",
            f"{ID_A},email, Wang@Example.COM ,,,,no",
        ),
    )

    assert result.ok, messages_of(result)
    assert list(borrower.contacts.order_by("value").values_list("value", "kind", "verification", "do_not_contact")) == [
        ("+8613800138000", "mobile", "verified", False),
        ("+8613910123456", "emergency", "unverified", True),
        ("wang@example.com", "email", "unverified", False),
    ]
    assert set(Contact.objects.values_list("source", flat=True)) == {"import"}


def test_a_bad_phone_number_is_an_error(borrower):
    result = run(
        "contacts", csv_of(CONTACT_HEADER, f"{ID_A},mobile,138 0013 800,,,,", f"{ID_A},email,not-an-email,,,,")
    )

    assert [(error.line, error.column) for error in result.errors] == [(2, "value"), (3, "value")]
    assert "is not a valid phone number" in result.errors[0].message
    assert not Contact.objects.exists()


def test_a_contact_of_an_unknown_borrower_is_an_error(db):
    result = run("contacts", csv_of(CONTACT_HEADER, f"{ID_B},mobile,13800138000,,,,"))

    assert str(only_error(result)).startswith("line 2, column national_id: there is no borrower")


def test_the_same_number_written_two_ways_is_a_duplicate(borrower):
    result = run(
        "contacts", csv_of(CONTACT_HEADER, f"{ID_A},mobile,13800138000,,,,", f"{ID_A},home,+86 138 0013 8000,,,,")
    )

    assert messages_of(result) == ["line 3, column value: +86138****8000 of this borrower is already on line 2"]


def test_reimporting_contacts_keeps_what_the_desk_learned_since(borrower):
    rows = (f"{ID_A},mobile,13800138000,,,verified,", f"{ID_A},emergency,13910123456,王建国,父亲,,")
    run("contacts", csv_of(CONTACT_HEADER, *rows))
    Contact.objects.filter(value="+8613800138000").update(verification="wrong", do_not_contact=True)

    again = run("contacts", csv_of(CONTACT_HEADER, *rows))

    assert counts(again) == {"contacts": (0, 2)}
    stored = Contact.objects.get(value="+8613800138000")
    assert (stored.verification, stored.do_not_contact) == ("wrong", True)


def test_a_stored_contact_with_another_name_is_an_error(borrower):
    ContactFactory(borrower=borrower, kind="emergency", value="+8613910123456", name="王建国", relation="父亲")

    result = run("contacts", csv_of(CONTACT_HEADER, f"{ID_A},emergency,13910123456,王建华,父亲,,"))

    assert messages_of(result) == [
        "line 2, column name: contact +86139****3456 already exists with name 王建国; the file says 王建华"
    ]


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def write(tmp_path, text, name="loans.csv", codec="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(codec))
    return path


def test_the_command_prints_a_summary(db, tmp_path):
    path = write(tmp_path, csv_of(LOAN_HEADER, loan_row("LN-1"), loan_row("LN-2")))
    out, err = io.StringIO(), io.StringIO()

    call_command("import_portfolio", "--by", importer().username, str(path), stdout=out, stderr=err)

    assert out.getvalue().splitlines() == [
        "Imported loans.csv (loans, read as utf-8-sig): 2 rows.",
        "  borrowers: 1 created, 0 skipped (already stored)",
        "  loans: 2 created, 0 skipped (already stored)",
    ]
    assert Loan.objects.count() == 2


def test_the_command_shows_progress_on_stderr(db, tmp_path):
    path = write(tmp_path, csv_of(LOAN_HEADER, loan_row("LN-1")))
    err = io.StringIO()

    call_command("import_portfolio", "--by", importer().username, str(path), stdout=io.StringIO(), stderr=err)

    assert "loans.csv (loans)" in err.getvalue()


def test_the_command_lists_the_errors_and_fails(db, tmp_path):
    text = csv_of(SCHEDULE_HEADER, "LN-9,1,2026-13-01,1,1,1,", "LN-9,2,2026-02-01,1,1,1,")
    path = write(tmp_path, text, "schedule.csv", codec="gbk")
    err = io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command(
            "import_portfolio",
            "--by",
            importer().username,
            str(path),
            "--kind",
            "schedule",
            "--encoding",
            "gbk",
            stderr=err,
        )

    assert str(failure.value) == "2 error(s) in schedule.csv (schedule, read as gb18030): nothing was imported."
    assert err.getvalue().splitlines()[-2:] == [
        'line 2, column due_date: "2026-13-01" is not a date (YYYY-MM-DD)',
        "line 3, column account_number: there is no loan LN-9 (import the loans file first)",
    ]


def test_the_command_says_which_kind_the_header_looks_like(db, tmp_path):
    path = write(tmp_path, csv_of(SCHEDULE_HEADER, "LN-9,1,2026-01-01,1,1,1,"))
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_portfolio", "--by", importer().username, str(path), stderr=err)

    assert "line 1: these are the columns of a schedule file, not of a loans file" in err.getvalue()


def test_the_command_refuses_an_unknown_encoding_or_a_missing_file(db, tmp_path):
    path = write(tmp_path, csv_of(LOAN_HEADER))

    with pytest.raises(CommandError, match="klingon is not a known encoding"):
        call_command("import_portfolio", "--by", importer().username, str(path), "--encoding", "klingon")
    with pytest.raises(CommandError, match="Cannot open"):
        call_command("import_portfolio", "--by", importer().username, str(tmp_path / "missing.csv"))


def test_the_command_needs_an_active_user_allowed_to_import(db, tmp_path):
    path = write(tmp_path, csv_of(LOAN_HEADER, loan_row("LN-1")))
    UserFactory(username="collector9", roles=["collector"])
    UserFactory(username="gone", roles=["admin"], is_active=False)

    with pytest.raises(CommandError, match="--by"):
        call_command("import_portfolio", str(path))
    with pytest.raises(CommandError, match="There is no active user nobody"):
        call_command("import_portfolio", "--by", "nobody", str(path))
    with pytest.raises(CommandError, match="There is no active user gone"):
        call_command("import_portfolio", "--by", "gone", str(path))
    with pytest.raises(CommandError, match="collector9 is not allowed to import portfolio files"):
        call_command("import_portfolio", "--by", "collector9", str(path))

    assert not Loan.objects.exists()
    assert not ImportRun.objects.exists()


def test_the_command_records_who_ran_it(db, tmp_path):
    path = write(tmp_path, csv_of(LOAN_HEADER, loan_row("LN-1")))

    call_command("import_portfolio", "--by", importer().username, str(path), stdout=io.StringIO(), verbosity=0)

    run_row = ImportRun.objects.get()
    assert (run_row.ran_by.username, run_row.via, run_row.file_name, run_row.file_size, run_row.outcome) == (
        IMPORTER,
        "command",
        "loans.csv",
        path.stat().st_size,
        "imported",
    )
    assert (run_row.rows_read, run_row.records_created, run_row.encoding) == (1, 2, "utf-8-sig")


def test_the_command_exit_status(db, tmp_path, capsys, monkeypatch):
    # run_from_argv closes the connections when it is done; keep the test's transaction open.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    good = write(tmp_path, csv_of(LOAN_HEADER, loan_row("LN-1")), "good.csv")
    bad = write(tmp_path, csv_of(LOAN_HEADER, loan_row("LN-2", principal="x")), "bad.csv")

    execute_from_command_line(
        ["manage.py", "import_portfolio", "--by", importer().username, str(good), "--verbosity", "0"]
    )
    with pytest.raises(SystemExit) as exit_status:
        execute_from_command_line(
            ["manage.py", "import_portfolio", "--by", importer().username, str(bad), "--verbosity", "0"]
        )

    assert exit_status.value.code == 1
    captured = capsys.readouterr()
    assert "Imported good.csv" in captured.out
    assert 'line 2, column principal: "x" is not an amount' in captured.err
    assert "CommandError: 1 error(s) in bad.csv" in captured.err
    assert list(Loan.objects.values_list("account_number", flat=True)) == ["LN-1"]


# ---------------------------------------------------------------------------------------------
# The admin upload page
# ---------------------------------------------------------------------------------------------


IMPORT_URL = "admin:loans_loan_import_portfolio"


def upload(client, text, *, kind="loans", encoding="auto", codec="utf-8", name="loans.csv"):
    stream = io.BytesIO(text.encode(codec))
    stream.name = name
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the pages are read in English below
    return client.post(reverse(IMPORT_URL), {"file": stream, "kind": kind, "encoding": encoding})


@pytest.fixture
def superuser_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_page_imports_a_file_and_shows_the_counts(superuser_client):
    response = upload(superuser_client, csv_of(LOAN_HEADER, loan_row("LN-1"), loan_row("LN-2", ID_B, "李强")))

    assert response.status_code == 200
    assert Loan.objects.count() == 2
    counts_table = response.content.decode().split('id="import-counts"')[1].split("</table>")[0]
    assert "<td>Borrowers</td><td>2</td><td>0</td>" in counts_table
    assert "<td>Loans</td><td>2</td><td>0</td>" in counts_table


def test_the_admin_page_shows_every_error_and_imports_nothing(superuser_client):
    text = csv_of(LOAN_HEADER, loan_row("LN-1"), loan_row("LN-2", product_code="NOPE"), loan_row("LN-1"))

    response = upload(superuser_client, text, codec="gbk")

    assert response.status_code == 200
    page = response.content.decode()
    errors_table = page.split('id="import-errors"')[1].split("</table>")[0]
    assert "<td>3</td><td>product_code</td><td>&quot;NOPE&quot; is not a product code" in errors_table
    assert "<td>4</td><td>account_number</td><td>account LN-1 is already on line 2</td>" in errors_table
    assert "2 errors: nothing was imported" in page
    assert not Loan.objects.exists()


def test_the_admin_page_records_payments_as_the_uploading_user(superuser_client, scheduled_loan):
    response = upload(superuser_client, csv_of(PAYMENT_HEADER, "LN-1,P-1,10.00,2026-03-01 10:00,app,"), kind="payments")

    assert response.status_code == 200
    payment = Payment.objects.get()
    assert payment.recorded_by.is_superuser
    run_row = ImportRun.objects.get(kind="payments")
    assert (run_row.ran_by, run_row.via, run_row.kind, run_row.file_name, run_row.outcome) == (
        payment.recorded_by,
        "admin",
        "payments",
        "loans.csv",
        "imported",
    )


def test_the_admin_page_needs_a_file(superuser_client):
    response = superuser_client.post(reverse(IMPORT_URL), {"kind": "loans", "encoding": "auto"})

    assert response.status_code == 200
    assert response.context["form"].errors["file"]


def test_a_staff_user_without_the_import_permission_gets_403(client, db):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_loan"))
    client.force_login(user)

    assert client.get(reverse(IMPORT_URL)).status_code == 403
    assert upload(client, csv_of(LOAN_HEADER, loan_row("LN-1"))).status_code == 403
    assert not Loan.objects.exists()
    changelist = client.get(reverse("admin:loans_loan_changelist"))
    assert changelist.status_code == 200
    assert reverse(IMPORT_URL) not in changelist.content.decode()


def test_the_admin_role_may_import_and_sees_the_button(client, db):
    client.force_login(UserFactory(is_staff=True, roles=["admin"]))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    changelist = client.get(reverse("admin:loans_loan_changelist"))
    page = client.get(reverse(IMPORT_URL))

    assert f'href="{reverse(IMPORT_URL)}"' in changelist.content.decode()
    assert "Import portfolio file" in changelist.content.decode()
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.content.decode()


def test_the_import_page_is_for_staff_only(client, db):
    client.force_login(UserFactory(is_staff=False, roles=["admin"]))

    response = client.get(reverse(IMPORT_URL))

    assert response.status_code == 302
    assert reverse("admin:login") in response.url


# ---------------------------------------------------------------------------------------------
# Volume
# ---------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_100000_row_loans_file_is_streamed_in_chunks(db, tmp_path, monkeypatch):
    """Two loans per borrower, the pairs split across chunk boundaries now and then."""
    path = tmp_path / "loans.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(LOAN_HEADER + "\n")
        for n in range(100_000):
            borrower = n // 2
            file.write(
                f"LN{n:010d},{national_id(borrower)},借款人{borrower},,广东省,深圳市,ONLINE,"
                f"{1000 + n % 5000}.00,0.2400,2026-0{1 + n % 9}-15,{3 + n % 10}\n"
            )
    chunks = []
    monkeypatch.setattr(imports, "CHUNK_ROWS", 1999)
    original = imports._LoanImporter.process_chunk
    monkeypatch.setattr(
        imports._LoanImporter, "process_chunk", lambda self, rows: (chunks.append(len(rows)), original(self, rows))
    )
    read = []

    with path.open("rb") as stream:
        result = portfolio_import(stream=stream, kind="loans", by=importer(), progress=read.append)

    assert result.ok, messages_of(result)
    assert result.rows == 100_000
    assert counts(result) == {"borrowers": (50_000, 0), "loans": (100_000, 0)}
    assert Loan.objects.count() == 100_000
    assert Borrower.objects.count() == 50_000
    assert max(chunks) == 1999
    assert sum(chunks) == 100_000
    assert sum(read) == path.stat().st_size
    assert Loan.objects.get(account_number="LN0000099999").borrower.name == "借款人49999"
