"""The admin of the legal track: the lists admins keep (courts, law firms) and the letter templates
legal officers render letters from. A letter template's text is checked when saved
(legal.validators.letter_template_validate: an unknown name is refused, named, on its field); the
names it may use are listed beside it. Documents are not edited here: they are added through the
services (legal.document_services), which check their content and record letters as contact
attempts.

The legal cases themselves are shown here, never added, changed or deleted: a case opens when its
collection case enters litigation, moves by its transitions and keeps its records through the
services (legal.services), which check the state, write the audit rows and the money's payments.
Each user sees the cases within their reach (legal.access), as on the legal pages; the list is
searched by account number, borrower's name or docket number."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ViewOnlyAdmin
from loans.admin import PortfolioSearchMixin

from .access import legal_case_scope, may_act_on_legal_case
from .models import (
    Court,
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
    LetterTemplate,
    LimitationEvent,
    Mediation,
    PaymentOrder,
)
from .validators import LETTER_VARIABLES


@admin.register(Court)
class CourtAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "city", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "city", "address")
    ordering = ("name",)


@admin.register(LawFirm)
class LawFirmAdmin(admin.ModelAdmin):
    list_display = ("name", "contact_person", "phone", "email", "active")
    list_filter = ("active",)
    search_fields = ("name", "contact_person", "email")
    ordering = ("name",)


@admin.register(LetterTemplate)
class LetterTemplateAdmin(admin.ModelAdmin):
    fieldsets = (
        (None, {"fields": ("kind", "name", "active")}),
        (_("Text"), {"fields": ("variables", "body_zh_hans", "body_en")}),
    )
    readonly_fields = ("variables",)
    list_display = ("name", "kind", "active", "updated_at")
    list_filter = ("kind", "active")
    search_fields = ("name", "body_zh_hans", "body_en")
    ordering = ("kind", "name")

    @admin.display(description=_("names a letter may use"))
    def variables(self, obj=None):
        return format_html(
            '<dl class="desk-variables">{}</dl>',
            format_html_join(
                "",
                "<dt><code>{{{{ {} }}}}</code></dt><dd>{}</dd>",
                ((name, meaning) for name, meaning in LETTER_VARIABLES.items()),
            ),
        )


# --- legal cases, shown ------------------------------------------------------------------------


class RecordInline(ViewOnlyAdmin, admin.TabularInline):
    """A stage's records on the legal case's admin page, shown as the services wrote them."""

    extra = 0
    can_delete = False
    show_change_link = False


def _record_inline(model, **options):
    return type(f"{model.__name__}Inline", (RecordInline,), {"model": model, **options})


# The records in the order of the route through the courts; a receipt's payment is the loan's.
RECORD_INLINES = tuple(
    _record_inline(model, **({"exclude": ("payment",)} if model is EnforcementReceipt else {}))
    for model in (
        LawyerLetter,
        Mediation,
        PaymentOrder,
        Filing,
        Hearing,
        Judgment,
        Enforcement,
        EnforcementReceipt,
        FrozenAsset,
        LegalCost,
        LimitationEvent,
    )
)


@admin.register(LegalCase)
class LegalCaseAdmin(ViewOnlyAdmin, PortfolioSearchMixin, admin.ModelAdmin):
    list_display = ("__str__", "case", "state", "officer", "firm", "opened_at", "limitation_flagged_on")
    list_filter = ("state", "firm", ("officer", admin.RelatedOnlyFieldListFilter), "limitation_flagged_on")
    list_select_related = ("case__loan", "officer", "firm")
    search_loan, search_borrower = "case__loan", "case__loan__borrower"
    search_own_fields = ("filings__docket_number", "enforcements__docket_number")
    search_help_text = _("An account number, whole or its start; a borrower's name or its start; or a docket number.")
    show_full_result_count = False
    date_hierarchy = "opened_at"
    fields = (
        "case_page",
        "case",
        "state",
        "state_entered_at",
        "outcome",
        "officer",
        "firm",
        "opened_at",
        "closed_at",
        "limitation_from",
        "limitation_flagged_on",
    )
    readonly_fields = fields
    inlines = RECORD_INLINES

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        scope = legal_case_scope(request.user)
        return queryset if scope is None else queryset.filter(scope)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and (obj is None or may_act_on_legal_case(request.user, obj))

    @admin.display(description=_("case page"))
    def case_page(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("legal:case", args=[obj.pk]), _("Open the legal case's page"))
