import dataclasses

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import lookup_spawns_duplicates, unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection, connections
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from accounts.admin_base import ViewOnlyAdmin

from .access import borrowers_visible, contacts_visible, loan_rows_visible, loans_visible
from .forms import PortfolioImportForm, ReasonForm
from .imports import portfolio_import
from .models import (
    Borrower,
    Contact,
    ContactChange,
    DelinquencyBucket,
    ImportRun,
    Installment,
    Loan,
    Payment,
    PaymentAllocation,
    PaymentReversal,
    PortfolioSnapshot,
    Product,
)
from .phones import mask_phone
from .search import search_conditions, search_term_read
from .selectors import borrowers_with_number, bucket_gaps, contacts_with_number
from .services import (
    borrower_national_id_reveal,
    contact_value_reveal,
    may_reveal,
    payment_reversal_approve,
    payment_reversal_reject,
    payment_reverse,
)

# --- searching and filtering a million rows ----------------------------------------------------


class PortfolioSearchMixin:
    """Searches a list by what the desk knows of a borrower: an account number, an e-mail address,
    a name (loans.search reads the term's shape and says which fields it can match). Each field is
    matched whole or by its start, through its index.

    Not by a national ID number or a phone number: the search box is a GET, and its term would sit
    in the URL, the browser's history and the access logs. Those are looked up by POST in the
    borrowers' and contacts' "Find by national ID or phone number" (MaskedNumberAdmin).

    The fields' matches are taken together as a UNION of the rows' keys rather than as one WHERE
    with OR: an OR across joined tables leaves PostgreSQL no index to use, which is what made a
    search of a million loans read them all. A list says how its rows reach their loan, borrower
    and contacts (a path, "" for the row itself) and which of its own codes a term may be."""

    search_loan: str | None = None
    search_borrower: str | None = None
    search_contact: str | None = None
    search_own_fields: tuple[str, ...] = ()
    search_help_text = _(
        "An account number, whole or its start; an e-mail address; or a borrower's name or its start. "
        'National ID and phone numbers are not searched here: use "Find by national ID or phone number" '
        "on the borrowers or contacts."
    )

    def get_search_fields(self, request):
        # What the search box searches, shown by the admin; the search itself is get_search_results.
        paths = (
            (self.search_loan, "account_number"),
            (self.search_contact, "value"),  # e-mail addresses
            (self.search_borrower, "name"),
        )
        fields = [f"{path}__{field}" if path else field for path, field in paths if path is not None]
        return [f"^{field}" for field in (*fields, *self.search_own_fields)]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        # Never by a national ID or phone number (see the class).
        term = dataclasses.replace(search_term_read(search_term), national_id=None, phone=None)
        conditions = search_conditions(
            term,
            loan=self.search_loan,
            borrower=self.search_borrower,
            contact=self.search_contact,
            own_fields=self.search_own_fields,
        )
        if not conditions:
            return queryset.none(), False
        if len(conditions) == 1 and not _spawns_duplicates(self.opts, conditions[0]):
            # One field along foreign keys: joined, so that the planner sees how few rows it finds.
            return queryset.filter(conditions[0]), False
        matches = [self.model._default_manager.filter(condition).order_by().values("pk") for condition in conditions]
        keys = matches[0].union(*matches[1:]) if len(matches) > 1 else matches[0]
        return queryset.filter(pk__in=keys), False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        if request.GET.get(SEARCH_VAR, "").strip():
            return SearchPaginator(queryset, per_page, orphans, allow_empty_first_page)
        return super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)


def _spawns_duplicates(opts, condition: Q) -> bool:
    return any(
        _spawns_duplicates(opts, child) if isinstance(child, Q) else lookup_spawns_duplicates(opts, child[0])
        for child in condition.children
    )


class AtLeast(int):
    """A count that stopped counting: shown as "1000+"."""

    def __str__(self) -> str:
        return f"{int(self)}+"


class SearchPaginator(Paginator):
    """Pages a search's results counting them up to COUNT_UP_TO: a family name finds a hundred
    thousand payments, and counting them all through four joins would cost more than the page; a
    desk user narrows such a search rather than read ten pages on. Beyond it the list says "1000+"."""

    COUNT_UP_TO = 1_000

    @cached_property
    def count(self):
        found = self.object_list.order_by().values("pk")[: self.COUNT_UP_TO + 1].count()
        return found if found <= self.COUNT_UP_TO else AtLeast(self.COUNT_UP_TO)


class EstimatedCountPaginator(Paginator):
    """Pages a list of millions of rows without counting them all: unfiltered and unsearched, on
    PostgreSQL, a table of more than ESTIMATE_ABOVE rows is said to hold as many rows as the
    planner's statistics say (kept by autovacuum), where COUNT(*) would read an index of millions of
    entries on every page. Filtered or searched lists are counted exactly: their counts are read
    through the filter's or the search's index."""

    ESTIMATE_ABOVE = 100_000

    @cached_property
    def count(self):
        queryset = self.object_list
        unfiltered = isinstance(queryset, QuerySet) and not queryset.query.where and not queryset.query.combinator
        if unfiltered and connections[queryset.db].vendor == "postgresql":
            return _rows_estimated_or_counted(queryset, above=self.ESTIMATE_ABOVE)
        return super().count


def _rows_estimated_or_counted(queryset: QuerySet, *, above: int) -> int:
    """The planner's estimate of a table's rows when over `above`, else its count: one query, the
    count (a subplan) run only when needed. A table never analysed (-1) is counted."""
    quote = connections[queryset.db].ops.quote_name
    table = queryset.model._meta.db_table
    # The table's name from the model's own metadata, quoted; its value as a parameter besides.
    sql = f"""
        SELECT CASE WHEN reltuples > %s THEN reltuples::bigint ELSE (SELECT COUNT(*) FROM {quote(table)}) END
        FROM pg_class WHERE oid = %s::regclass
    """  # noqa: S608
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, [above, quote(table)])
        return int(cursor.fetchone()[0])


class IndexedValuesFilter(admin.AllValuesFieldListFilter):
    """A filter by the values a column holds, for a column of many rows and few values (a
    province, a payment's source). Django reads them with SELECT DISTINCT, every row of the table
    on every page; on PostgreSQL they are read here from the column's index instead, one probe per
    value (a loose index scan). The column must lead an index."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        if connection.vendor == "postgresql" and field_path == field.name and field.model is model:
            self.lookup_choices = _values_by_index(model._meta.db_table, field.column)


def _values_by_index(table: str, column: str) -> list:
    quote = connection.ops.quote_name
    table, column = quote(table), quote(column)
    # Identifiers from the model's own metadata, quoted; no value is put into the SQL.
    sql = f"""
        WITH RECURSIVE found(value) AS (
            (SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {column} LIMIT 1)
            UNION ALL
            SELECT (SELECT {column} FROM {table} WHERE {column} > found.value ORDER BY {column} LIMIT 1)
            FROM found WHERE found.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [value for (value,) in cursor.fetchall()]


# --- national ID and phone numbers: masked, shown in full on request, found by POST ----------------


class NumberFinderForm(forms.Form):
    number = forms.CharField(label=_("National ID or phone number"), max_length=40)


class MaskedNumberAdmin:
    """A list whose rows hold a personal number (`number_field`: a borrower's national ID, a
    contact's number). Its change page shows the number masked, read only, with a button for the
    roles allowed to see it in full (an admin, a supervisor: loans.services.may_reveal), which POSTs
    to the reveal view: it records the reveal in the audit trail and shows the number. The list
    finds rows by a full national ID or phone number through a POSTed form (the finder), which
    redirects to the rows found by their keys: the number is never in a URL."""

    number_field: str
    number_masked: str  # the read-only display of the masked number
    reveal_label = _("Show the full number")
    change_form_template = "admin/loans/masked_number_change_form.html"
    change_list_template = "admin/loans/number_finder_change_list.html"

    def numbers_found(self, number: str) -> list[int]:
        raise NotImplementedError

    def number_revealed(self, obj, by) -> str:
        raise NotImplementedError

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        return [*exclude, self.number_field] if obj is not None else exclude

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, self.number_masked) if obj is not None else readonly

    def get_urls(self):
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        return [
            path("find/", self.admin_site.admin_view(self.find_view), name=f"{prefix}_find"),
            path("<path:object_id>/reveal/", self.admin_site.admin_view(self.reveal_view), name=f"{prefix}_reveal"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_reveal": may_reveal(request.user),
            "reveal_label": self.reveal_label,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator(never_cache)
    def reveal_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        value = self.number_revealed(obj, request.user)  # PermissionDenied for the other roles
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": self.reveal_label,
            "field": self.model._meta.get_field(self.number_field).verbose_name,
            "value": value,
        }
        response = TemplateResponse(request, "admin/loans/number_revealed.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def find_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        form = NumberFinderForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            found = self.numbers_found(form.cleaned_data["number"])
            # Only the rows this user's list holds: the others are not theirs to know of.
            keys = sorted(self.get_queryset(request).filter(pk__in=found).values_list("pk", flat=True))
            prefix = f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}"
            if len(keys) == 1:
                return HttpResponseRedirect(reverse(f"{prefix}_change", args=[keys[0]]))
            if keys:
                changelist = reverse(f"{prefix}_changelist")
                return HttpResponseRedirect(f"{changelist}?id__in={','.join(map(str, keys))}")
            messages.warning(request, _("Nothing has that number."))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Find by national ID or phone number"),
            "form": form,
        }
        return TemplateResponse(request, "admin/loans/number_finder.html", context)


# --- the portfolio -----------------------------------------------------------------------------


class ContactInline(admin.TabularInline):
    """The borrower's contacts, numbers masked. Who is reached (kind, number, flags) changes on the
    contact's own page, through the contact service; contacts are added there too."""

    model = Contact
    extra = 0
    fields = (
        "kind",
        "masked_value",
        "name",
        "relation",
        "verification",
        "do_not_contact",
        "opt_out_call",
        "opt_out_sms",
    )
    readonly_fields = ("masked_value", *(field for field in fields if field in Contact.PROTECTED_FIELDS))

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("number or address"))
    def masked_value(self, contact: Contact) -> str:
        return contact.masked_value


@admin.register(Borrower)
class BorrowerAdmin(MaskedNumberAdmin, PortfolioSearchMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "masked_national_id",
        "province",
        "city",
        "lost_contact",
        "lost_contact_since",
        "created_at",
    )
    list_filter = ("lost_contact", ("province", IndexedValuesFilter))
    search_loan, search_borrower, search_contact = "loans", "", "contacts"
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = [ContactInline]

    number_field, number_masked = "national_id", "masked_national_id"
    reveal_label = _("Show the full national ID number")

    @admin.display(description=_("national ID number"))
    def masked_national_id(self, obj):
        return obj.masked_national_id

    def numbers_found(self, number: str) -> list[int]:
        return borrowers_with_number(number)

    def number_revealed(self, obj, by) -> str:
        return borrower_national_id_reveal(borrower=obj, by=by)

    def get_queryset(self, request):
        # Only the borrowers behind the cases the user may see (loans.access).
        return borrowers_visible(request.user, super().get_queryset(request))

    def has_delete_permission(self, request, obj=None):
        # A borrower is the lender's record, with its loans and contacts: never deleted here.
        return False


class ContactChangeInline(ViewOnlyAdmin, admin.TabularInline):
    """The contact's recorded changes, newest first: who, when, why, old and new values."""

    model = ContactChange
    extra = 0
    fields = ("version", "changed_at", "changed_by", "reason", "changes_in_words")
    readonly_fields = fields

    @admin.display(description=_("changes"))
    def changes_in_words(self, change: ContactChange) -> str:
        def shown(field, value):
            return mask_phone(value) if field == "value" and isinstance(value, str) else value

        return "; ".join(
            f"{field}: {shown(field, old)} → {shown(field, new)}" for field, (old, new) in change.changes.items()
        )


@admin.register(Contact)
class ContactAdmin(MaskedNumberAdmin, PortfolioSearchMixin, admin.ModelAdmin):
    """Contacts are added here with any fields. Once a contact exists, the fields that decide who
    the desk reaches (Contact.PROTECTED_FIELDS) are shown, not edited: saving this form over them
    would skip the reason, the supervisor's say and the version check. They change on the page
    collection's admin adds (collection.services.contact_update), since loans may not import
    collection."""

    list_display = ("masked_value", "kind", "borrower", "relation", "verification", "do_not_contact")
    list_filter = ("kind", "verification", "do_not_contact", "opt_out_call", "opt_out_sms", "opt_out_email")
    search_loan, search_borrower, search_contact = "borrower__loans", "borrower", ""
    list_select_related = ("borrower",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    raw_id_fields = ("borrower",)
    inlines = [ContactChangeInline]
    number_field, number_masked = "value", "masked_value"
    reveal_label = _("Show the full number")

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        # The number itself stays out of the page (MaskedNumberAdmin shows it masked).
        protected = tuple(field for field in Contact.PROTECTED_FIELDS if field != self.number_field)
        return (*readonly, *protected, "verified_at", "version")

    def get_queryset(self, request):
        return contacts_visible(request.user, super().get_queryset(request))

    def has_delete_permission(self, request, obj=None):
        # A contact is part of the case's record (attempts, refusals and messages name it), and
        # deleting a do-not-contact number and adding it again would lift the flag: never deleted.
        return False

    @admin.display(description=_("number or address"), ordering="value")
    def masked_value(self, contact: Contact) -> str:
        return contact.masked_value

    def numbers_found(self, number: str) -> list[int]:
        return contacts_with_number(number)

    def number_revealed(self, obj, by) -> str:
        return contact_value_reveal(contact=obj, by=by)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "grace_days", "daily_penalty_rate", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")


@admin.register(DelinquencyBucket)
class DelinquencyBucketAdmin(admin.ModelAdmin):
    list_display = ("name", "min_dpd", "max_dpd")
    ordering = ("min_dpd",)

    def changelist_view(self, request, extra_context=None):
        for low, high in bucket_gaps():
            messages.warning(
                request,
                _("No bucket covers DPD %(range)s: loans there will have no bucket.")
                % {"range": f"{low}-{high}" if high is not None else f"{low}+"},
            )
        return super().changelist_view(request, extra_context)


class InstallmentInline(admin.TabularInline):
    model = Installment
    extra = 0
    fields = (
        "sequence",
        "due_date",
        "principal_due",
        "interest_due",
        "fees_due",
        "penalty_due",
        "principal_paid",
        "interest_paid",
        "fees_paid",
        "penalty_paid",
        "is_paid",
        "paid_on",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Loan)
class LoanAdmin(PortfolioSearchMixin, admin.ModelAdmin):
    list_display = (
        "account_number",
        "borrower",
        "product",
        "principal",
        "status",
        "dpd",
        "bucket",
        "overdue_amount",
    )
    list_filter = ("status", "bucket", "product")
    search_loan, search_borrower, search_contact = "", "borrower", "borrower__contacts"
    list_select_related = ("borrower", "product", "bucket")
    raw_id_fields = ("borrower",)
    readonly_fields = (
        "status",
        "dpd",
        "bucket",
        "oldest_unpaid_due_on",
        "grace_ends_on",
        "outstanding_principal",
        "outstanding_interest",
        "outstanding_fees",
        "outstanding_penalty",
        "overdue_amount",
    )
    # Once the loan exists its money and terms are the contract's: read only, like its balances.
    readonly_once_stored = (
        "account_number",
        "borrower",
        "product",
        "principal",
        "annual_rate",
        "disbursed_on",
        "term_months",
    )
    inlines = [InstallmentInline]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # Adds the "Import portfolio file" button for users allowed to import.
    change_list_template = "admin/loans/loan/change_list.html"

    @admin.display(description=_("days past due"), ordering="-grace_ends_on")
    def dpd(self, loan: Loan) -> int:
        """Sorted through the index on where grace ends: more days past due is an earlier end."""
        return loan.days_past_due

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return (*self.readonly_once_stored, *readonly) if obj is not None else readonly

    def has_delete_permission(self, request, obj=None):
        # A loan is the lender's record: it is never deleted here, with or without its schedule.
        return False

    def get_queryset(self, request):
        return loans_visible(request.user, super().get_queryset(request))

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_portfolio_view),
                name=f"{opts.app_label}_{opts.model_name}_import_portfolio",
            ),
            *super().get_urls(),
        ]

    def import_portfolio_view(self, request):
        """Upload a CSV file of loans, schedules, payments or contacts; show the counts, or every
        bad row when nothing was imported."""
        if not request.user.has_perm("loans.import_portfolio"):
            raise PermissionDenied
        result = None
        if request.method == "POST":
            form = PortfolioImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                result = portfolio_import(
                    stream=upload,
                    kind=form.cleaned_data["kind"],
                    by=request.user,
                    encoding=form.cleaned_data["encoding"],
                    file_name=upload.name,
                    file_size=upload.size,
                    via=ImportRun.Via.ADMIN,
                )
        else:
            form = PortfolioImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import portfolio file"),
            "form": form,
            "result": result,
            "file_name": request.FILES["file"].name if result is not None else "",
        }
        return TemplateResponse(request, "admin/loans/import_portfolio.html", context)


@admin.register(Installment)
class InstallmentAdmin(ViewOnlyAdmin, admin.ModelAdmin):
    """A schedule line's due and paid amounts move only through the services (payments, their
    reversals, imports): shown here, never edited."""

    list_display = ("loan", "sequence", "due_date", "principal_due", "interest_due", "is_paid", "paid_on")
    list_filter = ("is_paid",)
    search_fields = ("=loan__account_number",)
    raw_id_fields = ("loan",)
    list_select_related = ("loan",)
    date_hierarchy = "due_date"
    show_full_result_count = False

    def get_queryset(self, request):
        return loan_rows_visible(request.user, super().get_queryset(request), loan="loan")


class PaymentAllocationInline(admin.TabularInline):
    model = PaymentAllocation
    extra = 0
    fields = ("installment", "component", "amount")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        # Each row names its installment, and an installment is named after its loan.
        return super().get_queryset(request).select_related("installment__loan")

    def has_add_permission(self, request, obj=None):
        return False


def _action_with_reason(modeladmin, request, queryset, *, title, explanation, submit_label, apply):
    """An admin action that asks for a reason first (an intermediate page), then runs
    `apply(obj, reason)` (a service) on each selected row, saying what each did or why it was refused."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        context = {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.model._meta,
            "title": title,
            "explanation": explanation,
            "submit_label": submit_label,
            "queryset": queryset,
            "action": request.POST.get("action", ""),
            "form": form,
        }
        return TemplateResponse(request, "admin/loans/reason_action.html", context)
    for obj in queryset:
        try:
            message = apply(obj, form.cleaned_data["reason"])
        except (ValidationError, PermissionDenied) as refused:
            text = " ".join(refused.messages) if isinstance(refused, ValidationError) else str(refused)
            messages.error(request, f"{obj}: {text}")
        else:
            messages.success(request, message)
    return None


@admin.register(Payment)
class PaymentAdmin(ViewOnlyAdmin, PortfolioSearchMixin, admin.ModelAdmin):
    """Payments are recorded through payment_record (imports, integrations); the admin shows them
    and how each was allocated, and never edits or deletes them: a mistaken payment is reversed
    (payment_reverse), with a reason, and stays shown as reversed."""

    list_display = ("reference", "source", "loan", "amount", "channel", "received_at", "reversed_at")
    list_filter = ("channel", ("source", IndexedValuesFilter))
    search_loan, search_borrower, search_contact = "loan", "loan__borrower", "loan__borrower__contacts"
    search_own_fields = ("reference",)
    list_select_related = ("loan",)
    inlines = [PaymentAllocationInline]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ["reverse_payments"]

    def get_queryset(self, request):
        return loan_rows_visible(request.user, super().get_queryset(request), loan="loan")

    def has_reverse_permission(self, request):
        return request.user.has_perm("loans.reverse_payment")

    @admin.action(description=_("Reverse the selected payments"), permissions=["reverse"])
    def reverse_payments(self, request, queryset):
        def apply(payment, reason):
            reversal = payment_reverse(payment=payment, by=request.user, reason=reason)
            if reversal.status == PaymentReversal.Status.PENDING_APPROVAL:
                return gettext("%(payment)s: the reversal waits for a second person's approval.") % {"payment": payment}
            return gettext("%(payment)s: reversed.") % {"payment": payment}

        return _action_with_reason(
            self,
            request,
            queryset,
            title=gettext("Reverse payments"),
            explanation=ngettext(
                "The payment below will be reversed: what it paid goes back onto the installments and the "
                "loan is aged again. Reversals above the threshold wait for a second person's approval.",
                "The payments below will be reversed: what they paid goes back onto the installments and the "
                "loans are aged again. Reversals above the threshold wait for a second person's approval.",
                queryset.count(),
            ),
            submit_label=gettext("Reverse"),
            apply=apply,
        )


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(ViewOnlyAdmin, admin.ModelAdmin):
    list_display = ("payment", "installment", "component", "amount")
    list_filter = ("component",)
    search_fields = ("=payment__reference", "=installment__loan__account_number")
    list_select_related = ("payment", "installment__loan")
    show_full_result_count = False

    def get_queryset(self, request):
        return loan_rows_visible(request.user, super().get_queryset(request), loan="installment__loan")


@admin.register(PaymentReversal)
class PaymentReversalAdmin(ViewOnlyAdmin, admin.ModelAdmin):
    """Reversals are asked for from the payments' list (payment_reverse); those above the
    threshold are approved or turned down here, by someone other than who asked."""

    list_display = ("payment", "status", "requested_by", "requested_at", "decided_by", "decided_at", "reversed_at")
    list_filter = ("status",)
    search_fields = ("=payment__reference",)
    list_select_related = ("payment", "requested_by", "decided_by")
    raw_id_fields = ("payment",)
    actions = ["approve_reversals", "reject_reversals"]

    def get_queryset(self, request):
        return loan_rows_visible(request.user, super().get_queryset(request), loan="payment__loan")

    def has_approve_permission(self, request):
        return request.user.has_perm("loans.approve_payment_reversal")

    @admin.action(description=_("Approve the selected reversals"), permissions=["approve"])
    def approve_reversals(self, request, queryset):
        for reversal in queryset.select_related("payment"):
            try:
                payment_reversal_approve(reversal=reversal, by=request.user)
            except (ValidationError, PermissionDenied) as refused:
                text = " ".join(refused.messages) if isinstance(refused, ValidationError) else str(refused)
                messages.error(request, f"{reversal}: {text}")
            else:
                messages.success(request, gettext("%(reversal)s: approved, reversed.") % {"reversal": reversal})

    @admin.action(description=_("Turn down the selected reversals"), permissions=["approve"])
    def reject_reversals(self, request, queryset):
        def apply(reversal, reason):
            payment_reversal_reject(reversal=reversal, by=request.user, reason=reason)
            return gettext("%(reversal)s: turned down.") % {"reversal": reversal}

        return _action_with_reason(
            self,
            request,
            queryset.select_related("payment"),
            title=gettext("Turn down reversals"),
            explanation=gettext("The reversals below will be turned down: their payments stand."),
            submit_label=gettext("Turn down"),
            apply=apply,
        )


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ViewOnlyAdmin, admin.ModelAdmin):
    """The daily portfolio snapshots the nightly cycle takes: read only."""

    list_display = (
        "as_of",
        "product",
        "bucket",
        "loans",
        "delinquent_loans",
        "outstanding_principal",
        "total_outstanding",
        "overdue_amount",
    )
    list_filter = ("product", "bucket")
    date_hierarchy = "as_of"
    list_select_related = ("product", "bucket")


@admin.register(ImportRun)
class ImportRunAdmin(ViewOnlyAdmin, admin.ModelAdmin):
    """Who imported which file, when, and how it ended: a record, read only."""

    list_display = ("started_at", "kind", "file_name", "ran_by", "via", "outcome", "rows_read", "records_created")
    list_filter = ("kind", "outcome", "via")
    list_select_related = ("ran_by",)
    search_fields = ("file_name", "ran_by__username")
    date_hierarchy = "started_at"
