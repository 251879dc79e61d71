"""The legal track's documents: a letter rendered from its template to a PDF whose Chinese reads
back, recorded on the collection case as a letter to the borrower (and kept only when the conduct
limits let it go); a template naming what a letter does not know is refused; uploads kept only as
PDF, JPEG or PNG by their content and within the size limit; downloads per role, each audited."""

import datetime
import hashlib
import io
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from django.utils.translation import gettext
from PIL import Image
from pypdf import PdfReader

from collection.exceptions import ConductViolation
from collection.machine import Stage
from collection.models import CollectionCase, ConductRefusal, ContactAttempt, ContactChannel, Outcome
from legal.document_services import document_upload, letter_render
from legal.letters import letter_font_check
from legal.models import LegalDocument, LetterTemplate, legal_documents_root
from legal.validators import letter_template_validate
from loans.models import Borrower, Loan
from tests.accounts.factories import TeamFactory, UserFactory
from tests.legal.factories import LawFirmFactory, legal_case_in

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.legal.document_urls")]

LAWYER_LETTER_ZH = (
    "{{ borrower_name }}：\n\n"
    "本所受{{ company }}委托，就您的贷款（账号 {{ account_number }}）致函。逾期金额 {{ amount_overdue }}。\n"
    "{{ claim_items }}\n\n"
    "请于{{ deadline }}前还款 {{ claim_total }}。"
)
LAWYER_LETTER_EN = (
    "Dear {{ borrower_name }},\n\nAccount {{ account_number }}: please repay {{ claim_total }} by {{ deadline }}."
)
DEADLINE = timezone.localdate() + datetime.timedelta(days=10)


@pytest.fixture(autouse=True)
def documents_root(settings, tmp_path):
    settings.LEGAL_DOCUMENTS_ROOT = tmp_path / "legal-documents"
    return settings.LEGAL_DOCUMENTS_ROOT


def _stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.fixture
def legal_case(supervisor, collector):
    """A legal case of the desk team (so its supervisor's), with counsel, on a loan of 朱建国, who
    has a postal address, owing ¥10,000 principal and ¥523.40 interest, ¥1,523.40 of it overdue."""
    legal_case = legal_case_in()
    legal_case.firm = LawFirmFactory(name="上海明理律师事务所")
    legal_case.save(update_fields=["firm"])
    loan = legal_case.case.loan
    Borrower.objects.filter(pk=loan.borrower_id).update(
        name="朱建国", province="上海市", city="浦东新区", address="世纪大道100号"
    )
    Loan.objects.filter(pk=loan.pk).update(
        outstanding_principal="10000.00",
        outstanding_interest="523.40",
        outstanding_fees="0.00",
        outstanding_penalty="0.00",
        overdue_amount="1523.40",
    )
    return legal_case


@pytest.fixture
def lawyer_letter(db):
    return LetterTemplate.objects.create(
        kind=LetterTemplate.Kind.LAWYER_LETTER,
        name="律师函（测试）",
        body_zh_hans=LAWYER_LETTER_ZH,
        body_en=LAWYER_LETTER_EN,
    )


def _pdf_text(document: LegalDocument) -> str:
    with document.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return "".join(page.extract_text() for page in reader.pages)


# --- letters ---------------------------------------------------------------------------------------


def test_a_lawyers_letter_renders_to_a_pdf_whose_chinese_text_reads_back(legal_case, lawyer_letter, legal_officer):
    document = letter_render(
        legal_case=legal_case, template=lawyer_letter, language="zh-hans", by=legal_officer, deadline=DEADLINE
    )

    assert document.kind == LegalDocument.Kind.LETTER
    assert document.content_type == "application/pdf"
    text = _pdf_text(document)
    # The title, the firm as sender, the addressee at their postal address, the text with its figures.
    for expected in (
        "律师函",
        "上海明理律师事务所",
        "朱建国",
        "上海市浦东新区世纪大道100号",
        f"账号 {legal_case.case.loan.account_number}",
        "逾期金额 ¥1,523.40",
        f"请于{DEADLINE.year}年{DEADLINE.month}月{DEADLINE.day}日前还款 ¥10,523.40",
    ):
        assert expected in text, expected
    # The claim itemised a line each, in Chinese; items the borrower does not owe left out.
    with translation.override("zh-hans"):
        principal, interest, total, penalty = (gettext(word) for word in ("Principal", "Interest", "Total", "Penalty"))
    lines = text.splitlines()
    for label, amount in ((principal, "¥10,000.00"), (interest, "¥523.40"), (total, "¥10,523.40")):
        assert any(line.startswith(label) and line.endswith(amount) for line in lines), (label, amount)
    assert not any(line.startswith(penalty) for line in lines)
    # What is stored is what was rendered: its size and SHA-256, under a name the desk chose.
    with document.file.open("rb") as handle:
        content = handle.read()
    assert document.size == len(content)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.original_name.endswith(".pdf")
    assert Path(document.file.path).parent == Path(legal_documents_root()) / str(legal_case.pk)
    assert document.original_name not in document.file.name


def _fonts(document: LegalDocument) -> list[dict]:
    """The fonts of the PDF's pages (a composite font's descendant in its place), but reportlab's
    Helvetica, a standard font that every reader has and that draws none of the letter."""
    with document.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            if font["/BaseFont"] != "/Helvetica":
                fonts.append(descendants[0].get_object() if descendants else font)
    return fonts


def test_the_letter_embeds_its_song_typeface_so_it_prints_the_same_everywhere(legal_case, lawyer_letter, legal_officer):
    document = letter_render(
        legal_case=legal_case, template=lawyer_letter, language="zh-hans", by=legal_officer, deadline=DEADLINE
    )

    fonts = _fonts(document)
    assert fonts
    for font in fonts:
        descriptor = font["/FontDescriptor"].get_object()
        # A subset of AR PL UMing's glyphs, in the file (a TrueType font program).
        assert "/FontFile2" in descriptor, font["/BaseFont"]
        assert str(font["/BaseFont"]).endswith("+UMingCN-0"), font["/BaseFont"]
    assert letter_font_check() == []


def test_without_the_font_file_the_letter_references_its_font_and_the_check_says_so(
    legal_case, lawyer_letter, legal_officer, settings
):
    settings.LEGAL_LETTER_FONT_FILE = Path("/nonexistent/uming.ttc")

    document = letter_render(
        legal_case=legal_case, template=lawyer_letter, language="zh-hans", by=legal_officer, deadline=DEADLINE
    )

    assert "律师函" in _pdf_text(document)
    (font,) = _fonts(document)
    assert font["/BaseFont"] == "/STSong-Light"
    assert "/FontFile2" not in font["/FontDescriptor"].get_object()
    (warning,) = letter_font_check()
    assert warning.id == "legal.W001" and "/nonexistent/uming.ttc" in warning.msg


def test_a_letter_in_english_is_written_in_english(legal_case, lawyer_letter, legal_officer):
    document = letter_render(
        legal_case=legal_case, template=lawyer_letter, language="en", by=legal_officer, deadline=DEADLINE
    )

    text = _pdf_text(document)
    assert "Lawyer's letter" in text
    assert "Dear 朱建国," in text
    assert "please repay ¥10,523.40 by" in text
    assert document.language == "en"


def test_the_letter_is_recorded_on_the_collection_case_as_a_letter_to_the_borrower(
    legal_case, lawyer_letter, legal_officer
):
    document = letter_render(legal_case=legal_case, template=lawyer_letter, language="zh-hans", by=legal_officer)

    attempt = ContactAttempt.objects.get(case=legal_case.case)
    assert document.attempt == attempt
    assert attempt.channel == ContactChannel.LAWYER_LETTER
    assert attempt.outcome == Outcome.SENT
    # To the borrower's own postal address: never a contact, so never a third party.
    assert attempt.contact is None
    assert "上海市浦东新区世纪大道100号" in attempt.note
    assert attempt.collector == legal_officer


def test_a_demand_notice_is_recorded_as_a_letter(legal_case, legal_officer):
    notice = LetterTemplate.objects.create(
        kind=LetterTemplate.Kind.DEMAND_NOTICE, name="催收通知", body_zh_hans="{{ borrower_name }}：请还款。"
    )

    letter_render(legal_case=legal_case, template=notice, language="zh-hans", by=legal_officer)

    assert ContactAttempt.objects.get(case=legal_case.case).channel == ContactChannel.LETTER


def test_a_letter_the_conduct_limits_refuse_is_kept_as_the_refusal_and_leaves_no_document(
    legal_case, lawyer_letter, desk_admin, documents_root
):
    CollectionCase.objects.filter(pk=legal_case.case_id).update(stage=Stage.ON_HOLD)

    with pytest.raises(ConductViolation):
        letter_render(legal_case=legal_case, template=lawyer_letter, language="zh-hans", by=desk_admin)

    refusal = ConductRefusal.objects.get(case=legal_case.case)
    assert refusal.rule == "case_on_hold"
    assert refusal.channel == ContactChannel.LAWYER_LETTER
    assert not ContactAttempt.objects.filter(case=legal_case.case).exists()
    assert not LegalDocument.objects.exists()
    assert _stored_files(documents_root) == []


@pytest.mark.usefixtures("in_english")
def test_a_lawyers_letter_needs_the_cases_law_firm_and_the_borrowers_address(legal_case, lawyer_letter, legal_officer):
    legal_case.firm = None
    legal_case.save(update_fields=["firm"])
    with pytest.raises(ValidationError, match="law firm"):
        letter_render(legal_case=legal_case, template=lawyer_letter, language="zh-hans", by=legal_officer)

    notice = LetterTemplate.objects.create(
        kind=LetterTemplate.Kind.DEMAND_NOTICE, name="催收通知", body_zh_hans="{{ borrower_name }}"
    )
    Borrower.objects.filter(pk=legal_case.case.loan.borrower_id).update(address="")
    with pytest.raises(ValidationError, match="no postal address"):
        letter_render(legal_case=legal_case, template=notice, language="zh-hans", by=legal_officer)
    assert not ContactAttempt.objects.exists()
    assert not LegalDocument.objects.exists()


def test_neither_a_supervisor_nor_a_collector_renders_letters(legal_case, lawyer_letter, supervisor, collector):
    for user in (supervisor, collector):
        with pytest.raises(PermissionDenied):
            letter_render(legal_case=legal_case, template=lawyer_letter, language="zh-hans", by=user)
    assert not LegalDocument.objects.exists()


# --- templates ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("in_english")
def test_a_template_naming_what_a_letter_does_not_know_is_refused_naming_it(db):
    template = LetterTemplate(
        kind=LetterTemplate.Kind.LAWYER_LETTER,
        name="Bad",
        body_zh_hans="{{ borrower_name }}，身份证 {{ national_id }}",
        body_en="{{ borrower_name }} {{ deadline|date:'Y-m-d' }}",
    )

    with pytest.raises(ValidationError) as refused:
        template.full_clean()

    errors = refused.value.message_dict
    assert list(errors) == ["body_zh_hans"]
    assert "{{ national_id }}" in errors["body_zh_hans"][0]
    assert "{{ borrower_name }}" not in errors["body_zh_hans"][0].split("it may use")[0]


@pytest.mark.usefixtures("in_english")
def test_a_name_in_single_braces_is_refused_with_how_to_write_it():
    with pytest.raises(ValidationError, match=r"\{\{ borrower_name \}\} \(not \{borrower_name\}\)"):
        letter_template_validate("尊敬的{borrower_name}：")


def test_the_templates_the_desk_starts_with_are_valid():
    templates = LetterTemplate.objects.all()
    assert {template.kind for template in templates} == set(LetterTemplate.Kind.values)
    for template in templates:
        template.full_clean()


# --- uploads ------------------------------------------------------------------------------------------


def _pdf_bytes() -> bytes:
    from reportlab.pdfgen import canvas

    output = io.BytesIO()
    page = canvas.Canvas(output)
    page.drawString(100, 750, "Judgment")
    page.save()
    return output.getvalue()


def _image_bytes(format: str) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(output, format=format)
    return output.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "content_type", "extension"),
    [
        ("判决书.pdf", _pdf_bytes, "application/pdf", ".pdf"),
        ("receipt.PNG", lambda: _image_bytes("PNG"), "image/png", ".png"),
        ("scan.jpeg", lambda: _image_bytes("JPEG"), "image/jpeg", ".jpg"),
        ("no-extension", lambda: _image_bytes("PNG"), "image/png", ".png"),
    ],
)
def test_real_pdf_png_and_jpeg_files_are_kept_under_a_generated_name(
    legal_case, legal_officer, name, content, content_type, extension
):
    data = content()

    document = document_upload(
        legal_case=legal_case,
        by=legal_officer,
        uploaded_file=SimpleUploadedFile(name, data, content_type="application/octet-stream"),
        kind=LegalDocument.Kind.JUDGMENT,
    )

    assert document.content_type == content_type
    assert document.original_name == name
    assert document.size == len(data)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.file.name.startswith(f"{legal_case.pk}/")
    assert document.file.name.endswith(extension)
    assert name.split(".")[0] not in document.file.name
    assert Path(document.file.path).read_bytes() == data
    assert document.uploaded_by == legal_officer


@pytest.mark.usefixtures("in_english")
@pytest.mark.parametrize(
    ("name", "content", "refusal"),
    [
        ("判决书.pdf", lambda: _image_bytes("PNG"), "“判决书.pdf” is named as a PDF but its content is a PNG image"),
        ("判决书.pdf", lambda: b"\x13\x37" + bytes(range(256)) * 4, "“判决书.pdf” is none of PDF, JPEG or PNG"),
        (
            "判决书.pdf",
            lambda: b"PK\x03\x04" + b"\x00" * 100,
            "is a ZIP archive (or an Office document) by its content",
        ),
        ("scan.png", lambda: b"\x89PNG\r\n\x1a\n" + b"not an image", "starts as a PNG image but is not a readable one"),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_refused_saying_what_it_is(
    legal_case, legal_officer, documents_root, name, content, refusal
):
    with pytest.raises(ValidationError) as refused:
        document_upload(
            legal_case=legal_case,
            by=legal_officer,
            uploaded_file=SimpleUploadedFile(name, content(), content_type="application/pdf"),
            kind=LegalDocument.Kind.JUDGMENT,
        )

    assert refusal in refused.value.messages[0]
    assert refused.value.code == "type"
    assert not LegalDocument.objects.exists()
    assert _stored_files(documents_root) == []


@pytest.mark.usefixtures("in_english")
def test_a_file_over_the_size_limit_is_refused_naming_the_limit(legal_case, legal_officer, settings, documents_root):
    settings.LEGAL_DOCUMENT_MAX_BYTES = 2048
    data = b"%PDF-1.4\n" + b"%" * (5 * 1024 - 9)

    with pytest.raises(ValidationError) as refused:
        document_upload(
            legal_case=legal_case,
            by=legal_officer,
            uploaded_file=SimpleUploadedFile("big.pdf", data),
            kind=LegalDocument.Kind.FILING,
        )

    assert refused.value.messages[0].replace("\xa0", " ") == "“big.pdf” is 5.0 KB: a document may be at most 2.0 KB."
    assert refused.value.code == "size"
    assert _stored_files(documents_root) == []


def test_the_size_limit_is_ten_megabytes_unless_set(legal_case, legal_officer, settings):
    from legal.document_services import document_max_bytes

    assert document_max_bytes() == 10 * 1024 * 1024


def test_only_those_who_add_documents_upload_them(legal_case, supervisor, collector):
    for user in (supervisor, collector):
        with pytest.raises(PermissionDenied):
            document_upload(
                legal_case=legal_case,
                by=user,
                uploaded_file=SimpleUploadedFile("a.pdf", _pdf_bytes()),
                kind=LegalDocument.Kind.FILING,
            )


def test_the_documents_folder_may_not_be_one_the_web_server_serves(settings):
    settings.LEGAL_DOCUMENTS_ROOT = Path(settings.MEDIA_ROOT) / "legal"
    with pytest.raises(ImproperlyConfigured):
        legal_documents_root()
    settings.LEGAL_DOCUMENTS_ROOT = settings.STATIC_ROOT
    with pytest.raises(ImproperlyConfigured):
        legal_documents_root()


# --- pages --------------------------------------------------------------------------------------------


@pytest.fixture
def document(legal_case, legal_officer):
    return document_upload(
        legal_case=legal_case,
        by=legal_officer,
        uploaded_file=SimpleUploadedFile("判决书.pdf", _pdf_bytes()),
        kind=LegalDocument.Kind.JUDGMENT,
    )


def _downloads(document) -> int:
    return LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS,
        content_type=ContentType.objects.get_for_model(LegalDocument),
        object_id=document.pk,
    ).count()


def test_a_legal_officer_and_the_cases_team_supervisor_download_a_document_each_download_audited(
    client, document, legal_officer, supervisor
):
    url = f"/legal/documents/{document.pk}/download/"
    for number, user in enumerate((legal_officer, supervisor, supervisor), start=1):
        client.force_login(user)
        response = client.get(url)

        assert response.status_code == 200
        assert b"".join(response.streaming_content) == Path(document.file.path).read_bytes()
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "filename*=utf-8''%E5%88%A4%E5%86%B3%E4%B9%A6.pdf" in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert _downloads(document) == number
        entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
        assert entry.actor == user
        assert entry.additional_data == {"revealed": "file"}


def test_another_teams_supervisor_and_a_collector_are_told_the_document_does_not_exist(client, document, collector):
    other_supervisor = UserFactory(roles=["supervisor"])
    TeamFactory(supervisor=other_supervisor)
    for user in (other_supervisor, collector):
        client.force_login(user)
        assert client.get(f"/legal/documents/{document.pk}/download/").status_code == 404
        assert client.get(f"/legal/{document.legal_case_id}/documents/").status_code == 404
    assert _downloads(document) == 0


def test_a_visitor_not_logged_in_is_sent_to_log_in(client, document):
    response = client.get(f"/legal/documents/{document.pk}/download/")
    assert response.status_code == 302
    assert _downloads(document) == 0


def test_the_documents_page_lists_the_documents_with_their_forms(client, document, legal_officer, supervisor):
    client.force_login(legal_officer)
    page = client.get(f"/legal/{document.legal_case_id}/documents/").content.decode()
    assert f"/legal/documents/{document.pk}/download/" in page
    assert "判决书.pdf" in page
    assert 'enctype="multipart/form-data"' in page
    assert 'name="letter-template"' in page
    assert "csrfmiddlewaretoken" in page

    # A supervisor reads them: no forms.
    client.force_login(supervisor)
    page = client.get(f"/legal/{document.legal_case_id}/documents/").content.decode()
    assert "判决书.pdf" in page
    assert 'name="upload-file"' not in page
    assert 'name="letter-template"' not in page


@pytest.mark.usefixtures("in_english")
def test_an_upload_refused_shows_why_on_the_file_field(client, legal_case, legal_officer):
    client.force_login(legal_officer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        response = client.post(
            f"/legal/{legal_case.pk}/documents/upload/",
            {"upload-kind": "judgment", "upload-file": SimpleUploadedFile("x.pdf", _image_bytes("PNG"))},
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_upload-file_error"' in page
    assert "is named as a PDF but its content is a PNG image" in page
    assert not LegalDocument.objects.exists()


def test_an_upload_and_a_letter_through_the_pages_go_back_where_they_came_from(
    client, legal_case, legal_officer, lawyer_letter
):
    client.force_login(legal_officer)
    back = f"/legal/{legal_case.pk}/"

    response = client.post(
        f"/legal/{legal_case.pk}/documents/upload/",
        {"upload-kind": "receipt", "upload-file": SimpleUploadedFile("收据.png", _image_bytes("PNG")), "next": back},
    )
    assert response.status_code == 302
    assert response["Location"] == back

    response = client.post(
        f"/legal/{legal_case.pk}/documents/letter/",
        {"letter-template": lawyer_letter.pk, "letter-language": "zh-hans", "next": "https://elsewhere.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/legal/{legal_case.pk}/documents/"
    assert sorted(LegalDocument.objects.values_list("kind", flat=True)) == ["letter", "receipt"]


@pytest.mark.usefixtures("in_english")
def test_the_admin_refuses_a_template_naming_an_unknown_name_on_its_field(client, desk_admin):
    desk_admin.is_staff = True
    desk_admin.save(update_fields=["is_staff"])
    client.force_login(desk_admin)
    with translation.override("en"):
        response = client.post(
            "/admin/legal/lettertemplate/add/",
            {
                "kind": "demand_notice",
                "name": "With an ID",
                "body_zh_hans": "{{ borrower_name }}，身份证 {{ national_id }}",
                "body_en": "",
                "active": "on",
            },
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 200
    assert "{{ national_id }}" in response.context["adminform"].form.errors["body_zh_hans"][0]
    assert not LetterTemplate.objects.filter(name="With an ID").exists()


def test_a_form_posted_without_its_csrf_token_is_refused(document, legal_officer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(legal_officer)
    response = client.post(
        f"/legal/{document.legal_case_id}/documents/upload/",
        {"upload-kind": "receipt", "upload-file": SimpleUploadedFile("收据.png", _image_bytes("PNG"))},
    )
    assert response.status_code == 403
    assert LegalDocument.objects.count() == 1


def test_a_document_whose_file_is_gone_is_not_found(client, document, legal_officer):
    Path(document.file.path).unlink()
    client.force_login(legal_officer)
    assert client.get(f"/legal/documents/{document.pk}/download/").status_code == 404
    assert _downloads(document) == 0


def test_a_refused_form_still_goes_back_to_the_page_it_came_from(client, legal_case, legal_officer):
    client.force_login(legal_officer)
    back = f"/legal/{legal_case.pk}/"

    refused = client.post(
        f"/legal/{legal_case.pk}/documents/upload/",
        {"upload-kind": "receipt", "upload-file": SimpleUploadedFile("x.pdf", b"not a pdf"), "next": back},
    )

    assert refused.status_code == 422
    page = refused.content.decode()
    assert f'name="next" value="{back}"' in page
