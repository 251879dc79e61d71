"""The legal track's documents: letters rendered from a template to PDF, and files uploaded to a
legal case (docs/legal-documents.md).

A rendered letter is a contact with the borrower: it is recorded on the collection case through
collection.services.attempts.attempt_log (channel letter, or lawyer's letter), so the conduct
limits decide whether it may go; a refused letter is kept as the conduct refusal and no document
is kept. A letter goes to the borrower's own postal address, never to a contact (a third party
would learn of the debt).

An upload is kept only when its content is a PDF, a JPEG or a PNG (read from its bytes, whatever
its name says) and within LEGAL_DOCUMENT_MAX_BYTES; it is stored under a generated name outside
anything the web server serves (legal.models.LegalDocumentStorage), with its size and SHA-256."""

import datetime
import hashlib
import os
import unicodedata

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collection.exceptions import ConductViolation
from collection.models import Outcome
from collection.services.attempts import attempt_log

from .access import legal_case_access_check
from .letters import LetterContent, letter_pdf
from .machine import LegalState
from .models import LegalCase, LegalCost, LegalDocument, LetterTemplate
from .validators import letter_context, letter_text

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LETTER_DEADLINE_DAYS",
    "document_content_type",
    "document_max_bytes",
    "document_upload",
    "letter_render",
    "postal_address",
]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# The deadline a letter gives when the officer names none: days from today.
LETTER_DEADLINE_DAYS = 15

_SIGNATURES = (
    (b"%PDF-", LegalDocument.PDF),
    (b"\x89PNG\r\n\x1a\n", LegalDocument.PNG),
    (b"\xff\xd8\xff", LegalDocument.JPEG),
)
_NAMED_AS = {
    ".pdf": LegalDocument.PDF,
    ".png": LegalDocument.PNG,
    ".jpg": LegalDocument.JPEG,
    ".jpeg": LegalDocument.JPEG,
    ".jpe": LegalDocument.JPEG,
}
# What else a file may turn out to be, to say so when it is refused.
_OTHER_SIGNATURES = (
    (b"PK\x03\x04", gettext_lazy("a ZIP archive (or an Office document)")),
    (b"GIF8", gettext_lazy("a GIF image")),
    (b"\xd0\xcf\x11\xe0", gettext_lazy("an old Office document")),
    (b"MZ", gettext_lazy("a Windows program")),
    (b"\x7fELF", gettext_lazy("a Linux program")),
    (b"II*\x00", gettext_lazy("a TIFF image")),
    (b"MM\x00*", gettext_lazy("a TIFF image")),
    (b"RIFF", gettext_lazy("a RIFF file (WebP, WAV, AVI)")),
    (b"<", gettext_lazy("HTML or XML")),
)


def _type_label(content_type: str) -> str:
    return {LegalDocument.PDF: _("a PDF"), LegalDocument.PNG: _("a PNG image"), LegalDocument.JPEG: _("a JPEG image")}[
        content_type
    ]


def document_max_bytes() -> int:
    return int(getattr(settings, "LEGAL_DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _add_check(by) -> None:
    if not by.has_perm("legal.add_legaldocument"):
        raise PermissionDenied(_("You may not add documents to legal cases."))


def _safe_name(name: str) -> str:
    """The uploaded file's name as the desk shows it (and offers it on download): its last path
    part, without control characters, at most 255 characters. Never used as a path."""
    name = os.path.basename((name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[-255:] or "document"


def document_content_type(uploaded_file, name: str) -> str:
    """What the file is by its content: a PDF, a PNG or a JPEG (an image must also open as one).
    Refused (ValidationError, code "type") when it is none of them, and when its name says it is
    one of them and its content another."""
    uploaded_file.seek(0)
    head = uploaded_file.read(16)
    uploaded_file.seek(0)
    content_type = next((kind for signature, kind in _SIGNATURES if head.startswith(signature)), None)
    if content_type is None:
        what = next((label for signature, label in _OTHER_SIGNATURES if head.startswith(signature)), None)
        if what is None:
            raise ValidationError(
                _("“%(name)s” is none of PDF, JPEG or PNG by its content: only these are kept.") % {"name": name},
                code="type",
            )
        raise ValidationError(
            _("“%(name)s” is %(what)s by its content, not a PDF, JPEG or PNG: only these are kept.")
            % {"name": name, "what": what},
            code="type",
        )
    claimed = _NAMED_AS.get(os.path.splitext(name)[1].lower())
    if claimed is not None and claimed != content_type:
        raise ValidationError(
            _("“%(name)s” is named as %(claimed)s but its content is %(actual)s: upload it under its true name.")
            % {"name": name, "claimed": _type_label(claimed), "actual": _type_label(content_type)},
            code="type",
        )
    if content_type in (LegalDocument.PNG, LegalDocument.JPEG):
        _image_check(uploaded_file, name, content_type)
    return content_type


def _image_check(uploaded_file, name: str, content_type: str) -> None:
    """An image must open as what it starts as (its header and structure; the pixels are not decoded)."""
    from PIL import Image

    try:
        with Image.open(uploaded_file) as image:
            image.verify()
            opened = Image.MIME.get(image.format)
    except Exception as error:  # whatever Pillow raises for a broken or hostile image
        raise ValidationError(
            _("“%(name)s” starts as %(what)s but is not a readable one.")
            % {"name": name, "what": _type_label(content_type)},
            code="type",
        ) from error
    finally:
        uploaded_file.seek(0)
    if opened != content_type:
        raise ValidationError(
            _("“%(name)s” starts as %(what)s but is not a readable one.")
            % {"name": name, "what": _type_label(content_type)},
            code="type",
        )


def _keep(
    *, legal_case: LegalCase, by, content: File, kind: str, name: str, content_type: str, **fields
) -> LegalDocument:
    """Store the file (under a generated name) and its row; the file is removed again if the row
    cannot be written."""
    digest = hashlib.sha256()
    size = 0
    content.seek(0)
    for chunk in content.chunks():
        digest.update(chunk)
        size += len(chunk)
    content.seek(0)
    document = LegalDocument(
        legal_case=legal_case,
        kind=kind,
        original_name=name,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
        uploaded_by=by,
        **fields,
    )
    document.file.save(name, content, save=False)
    try:
        document.save()
    except BaseException:
        document.file.storage.delete(document.file.name)
        raise
    return document


def document_upload(*, legal_case: LegalCase, by, uploaded_file, kind: str) -> LegalDocument:
    """Keep a file on a legal case: by someone who may add documents and reaches this one
    (legal.access), of a known kind, within LEGAL_DOCUMENT_MAX_BYTES (the limit is named when
    refused), a PDF, JPEG or PNG by its content (see document_content_type). The file's name is
    kept to show and offer on download, never as a path."""
    _add_check(by)
    legal_case_access_check(legal_case=legal_case, by=by)
    if kind not in LegalDocument.Kind.values:
        raise ValidationError(_("Unknown kind of document %(kind)s.") % {"kind": kind}, code="kind")
    name = _safe_name(getattr(uploaded_file, "name", ""))
    limit = document_max_bytes()
    size = getattr(uploaded_file, "size", None)
    if size is None or size > limit:
        raise ValidationError(
            _("“%(name)s” is %(size)s: a document may be at most %(limit)s.")
            % {"name": name, "size": filesizeformat(size or 0), "limit": filesizeformat(limit)},
            code="size",
        )
    if size == 0:
        raise ValidationError(_("“%(name)s” is empty.") % {"name": name}, code="size")
    content_type = document_content_type(uploaded_file, name)
    with transaction.atomic():
        return _keep(
            legal_case=legal_case,
            by=by,
            content=File(uploaded_file, name=name),
            kind=kind,
            name=name,
            content_type=content_type,
        )


def postal_address(borrower) -> str:
    """The borrower's postal address as a letter is addressed (as collection.messaging writes it)."""
    return f"{borrower.province}{borrower.city}{borrower.address.strip()}"


def _claim_items(legal_case: LegalCase) -> list[tuple[str, object]]:
    """The debt as of today, itemised: the loan's outstanding balances and the legal costs the
    borrower bears."""
    from django.db.models import Sum

    loan = legal_case.case.loan
    costs = legal_case.costs.filter(
        borne_by=LegalCost.BorneBy.BORROWER, incurred_on__lte=timezone.localdate()
    ).aggregate(total=Sum("amount"))["total"]
    return [
        ("principal", loan.outstanding_principal),
        ("interest", loan.outstanding_interest),
        ("fees", loan.outstanding_fees),
        ("penalty", loan.outstanding_penalty),
        ("costs", costs or 0),
    ]


def letter_render(
    *, legal_case: LegalCase, template: LetterTemplate, language: str, by, deadline: datetime.date | None = None
) -> LegalDocument:
    """Render `template` for the legal case's borrower in `language` ("zh-hans" or "en") to a PDF,
    record it on the collection case as a contact attempt (channel letter, or lawyer's letter;
    outcome "sent"; to the borrower's own postal address, no contact) and keep it as the case's
    document, in one transaction. The conduct limits decide first: a refused letter is kept as
    the conduct refusal, raises ConductViolation, and leaves no document. Needs: a template in
    use with a text in that language, a legal case not closed and within `by`'s reach, a postal
    address, a law firm on the case for a lawyer's letter, and a deadline after today (default:
    LETTER_DEADLINE_DAYS from today)."""
    _add_check(by)
    if not by.has_perm("legal.work_legal_case"):
        raise PermissionDenied(_("You may not work legal cases."))
    legal_case = LegalCase.objects.select_related("case__loan__borrower", "firm").get(pk=legal_case.pk)
    legal_case_access_check(legal_case=legal_case, by=by)
    if legal_case.state == LegalState.CLOSED:
        raise ValidationError(_("The legal case is closed: no more letters go out on it."), code="closed")
    template = LetterTemplate.objects.get(pk=template.pk)
    if not template.active:
        raise ValidationError(_("The template “%(name)s” is no longer in use.") % {"name": template}, code="template")
    if language not in dict(settings.LANGUAGES):
        raise ValidationError(_("Unknown language %(language)s.") % {"language": language}, code="language")
    source = template.body_for(language)
    if not source.strip():
        raise ValidationError(
            _("The template “%(name)s” has no text in this language.") % {"name": template}, code="language"
        )
    if template.kind == LetterTemplate.Kind.LAWYER_LETTER and legal_case.firm is None:
        raise ValidationError(
            _("A lawyer's letter is written by the case's law firm: assign a law firm to the case first."),
            code="firm",
        )
    borrower = legal_case.case.loan.borrower
    if not borrower.address.strip():
        raise ValidationError(_("The borrower has no postal address to send a letter to."), code="address")
    today = timezone.localdate()
    deadline = deadline or today + datetime.timedelta(days=LETTER_DEADLINE_DAYS)
    if deadline <= today:
        raise ValidationError(_("The deadline must be a day after today."), code="deadline")

    loan = legal_case.case.loan
    address = postal_address(borrower)
    firm = legal_case.firm.name if legal_case.firm else ""
    with translation.override(language):
        context = letter_context(
            firm=firm,
            borrower_name=borrower.name,
            account_number=loan.account_number,
            days_past_due=loan.days_past_due or 0,
            amount_overdue=loan.overdue_amount,
            items=_claim_items(legal_case),
            deadline=deadline,
            today=today,
        )
        try:
            body = letter_text(source, context)
        except Exception as error:  # the template was checked when saved; a failure now is its own
            raise ValidationError(
                _("The template “%(name)s” cannot be rendered: %(error)s") % {"name": template, "error": error},
                code="template",
            ) from error
        kind_label = str(LetterTemplate.Kind(template.kind).label)
        pdf = letter_pdf(
            LetterContent(
                title=kind_label,
                sender=firm if template.kind == LetterTemplate.Kind.LAWYER_LETTER else settings.COLLECTION_COMPANY_NAME,
                addressee=borrower.name,
                address=address,
                body=body,
                dated=date_format(today),
                language=language,
            )
        )
        name = f"{kind_label}-{loan.account_number}-{today:%Y%m%d}.pdf"
        note = _("%(kind)s “%(template)s” (PDF) to the borrower's postal address %(address)s") % {
            "kind": kind_label,
            "template": template.name,
            "address": address,
        }

    violation = None
    with transaction.atomic():
        try:
            attempt = attempt_log(
                case=legal_case.case,
                contact=None,
                channel=template.channel,
                by=by,
                at=timezone.now(),
                outcome=Outcome.SENT,
                note=note,
            )
        except ConductViolation as error:
            # attempt_log has written the refusal; leaving the block normally keeps it.
            violation = error
        else:
            document = _keep(
                legal_case=legal_case,
                by=by,
                content=ContentFile(pdf, name=name),
                kind=LegalDocument.Kind.LETTER,
                name=_safe_name(name),
                content_type=LegalDocument.PDF,
                template=template,
                language=language,
                attempt=attempt,
            )
    if violation is not None:
        raise violation
    return document
