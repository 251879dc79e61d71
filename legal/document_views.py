"""The pages of a legal case's documents: the list (also an include of the legal case page,
templates/legal/_documents.html, filled by `documents_context`), an upload, a letter to render, and
the download. Thin: a scoped read (legal.access), a form, one service call.

A document is served only to those who may see its legal case (legal officers, supervisors of its
team, admins): to anyone else it does not exist (404). Each download is written to the audit trail
as an access entry (accounts.audit.audit_reveal), and the file goes as an attachment that the
browser may not sniff into anything else."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import audit_reveal
from collection.exceptions import CollectionError
from collection.web import refusal_message

from .access import legal_cases_visible_to
from .document_forms import LETTER_ERROR_FIELDS, UPLOAD_ERROR_FIELDS, DocumentUploadForm, LetterRenderForm
from .document_selectors import documents_of, documents_visible_to
from .document_services import document_upload, letter_render
from .models import LegalCase

__all__ = ["document_download", "document_upload_view", "documents_context", "documents_page", "letter_render_view"]


def _legal_case_or_404(request, pk: int) -> LegalCase:
    legal_case = (
        legal_cases_visible_to(request.user).select_related("case__loan__borrower", "firm").filter(pk=pk).first()
    )
    if legal_case is None:
        raise Http404(_("No such legal case among yours."))
    return legal_case


def documents_context(*, legal_case: LegalCase, user, upload_form=None, letter_form=None, next_url: str = "") -> dict:
    """What templates/legal/_documents.html reads: the case's documents and, for those who may add
    them, the upload and letter forms; `next_url` is where a form goes back to once done (the page
    that includes them when empty)."""
    may_add = user.has_perm("legal.add_legaldocument")
    return {
        "legal_case": legal_case,
        "documents_next": next_url,
        "legal_documents": documents_of(legal_case=legal_case, user=user),
        "may_add_documents": may_add,
        "may_render_letters": may_add and user.has_perm("legal.work_legal_case"),
        "document_upload_form": upload_form or DocumentUploadForm(),
        "letter_render_form": letter_form or LetterRenderForm(),
    }


def _next_url(request, legal_case: LegalCase) -> str:
    """Where the form was posted from (the legal case page) when that is on this site; the
    documents page otherwise."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("legal_documents:list", kwargs={"legal_case_pk": legal_case.pk})
    return target


def _page(request, legal_case: LegalCase, *, status: int = 200, **forms):
    """The documents page; after a refused form, with its errors, and still going back where the
    form came from once it succeeds."""
    next_url = _next_url(request, legal_case) if request.method == "POST" else ""
    context = documents_context(legal_case=legal_case, user=request.user, next_url=next_url, **forms)
    return render(request, "legal/documents_page.html", context, status=status)


def _back(request, legal_case: LegalCase):
    return redirect(_next_url(request, legal_case))


def _put_on_form(form, error: Exception, fields: dict[str, str]) -> None:
    """A service's refusal on the field it is about (by its code), or on the form."""
    field = fields.get(getattr(error, "code", None)) if isinstance(error, ValidationError) else None
    form.add_error(field, refusal_message(error))


@login_required
@require_GET
def documents_page(request, legal_case_pk: int):
    return _page(request, _legal_case_or_404(request, legal_case_pk))


@login_required
@require_POST
def document_upload_view(request, legal_case_pk: int):
    legal_case = _legal_case_or_404(request, legal_case_pk)
    form = DocumentUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            document = document_upload(
                legal_case=legal_case,
                by=request.user,
                uploaded_file=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
            )
        except (ValidationError, PermissionDenied, CollectionError) as error:
            _put_on_form(form, error, UPLOAD_ERROR_FIELDS)
        else:
            messages.success(request, _("“%(name)s” is kept with the legal case.") % {"name": document.original_name})
            return _back(request, legal_case)
    return _page(request, legal_case, status=422, upload_form=form)


@login_required
@require_POST
def letter_render_view(request, legal_case_pk: int):
    legal_case = _legal_case_or_404(request, legal_case_pk)
    form = LetterRenderForm(request.POST)
    if form.is_valid():
        try:
            document = letter_render(
                legal_case=legal_case,
                template=form.cleaned_data["template"],
                language=form.cleaned_data["language"],
                deadline=form.cleaned_data["deadline"],
                by=request.user,
            )
        except (ValidationError, PermissionDenied, CollectionError) as error:
            # A refusal by the conduct limits is kept by the service (a ConductRefusal).
            _put_on_form(form, error, LETTER_ERROR_FIELDS)
        else:
            messages.success(
                request,
                _("The letter is rendered, kept as “%(name)s” and recorded on the collection case.")
                % {"name": document.original_name},
            )
            return _back(request, legal_case)
    return _page(request, legal_case, status=422, letter_form=form)


@login_required
@require_GET
def document_download(request, pk: int):
    document = documents_visible_to(request.user).filter(pk=pk).first()
    if document is None:
        raise Http404(_("No such document among yours."))
    try:
        handle = document.file.open("rb")
    except FileNotFoundError as error:
        raise Http404(_("The document's file is missing.")) from error
    audit_reveal(document, field="file", by=request.user)
    response = FileResponse(
        handle, as_attachment=True, filename=document.original_name, content_type=document.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
