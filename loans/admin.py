from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from .forms import PortfolioImportForm
from .imports import portfolio_import
from .models import (
    Borrower,
    Contact,
    DelinquencyBucket,
    Installment,
    Loan,
    Payment,
    PaymentAllocation,
    PortfolioSnapshot,
    Product,
)
from .selectors import bucket_gaps
from .services import balances_recompute, loan_refresh_delinquency


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("kind", "value", "name", "relation", "verification", "do_not_contact", "opt_out_call", "opt_out_sms")


@admin.register(Borrower)
class BorrowerAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "masked_national_id",
        "province",
        "city",
        "lost_contact",
        "lost_contact_since",
        "created_at",
    )
    list_filter = ("lost_contact", "province")
    search_fields = ("name", "=national_id", "contacts__value")
    inlines = [ContactInline]

    @admin.display(description=_("national ID number"))
    def masked_national_id(self, obj):
        return obj.masked_national_id


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("value", "kind", "borrower", "relation", "verification", "do_not_contact")
    list_filter = ("kind", "verification", "do_not_contact", "opt_out_call", "opt_out_sms", "opt_out_email")
    search_fields = ("value", "name", "borrower__name", "=borrower__national_id")
    list_select_related = ("borrower",)
    raw_id_fields = ("borrower",)


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
class LoanAdmin(admin.ModelAdmin):
    list_display = (
        "account_number",
        "borrower",
        "product",
        "principal",
        "status",
        "days_past_due",
        "bucket",
        "overdue_amount",
    )
    list_filter = ("status", "bucket", "product")
    search_fields = ("=account_number", "borrower__name", "=borrower__national_id")
    list_select_related = ("borrower", "product", "bucket")
    raw_id_fields = ("borrower",)
    readonly_fields = (
        "status",
        "days_past_due",
        "bucket",
        "oldest_unpaid_due_on",
        "grace_ends_on",
        "outstanding_principal",
        "outstanding_interest",
        "outstanding_fees",
        "outstanding_penalty",
        "overdue_amount",
    )
    inlines = [InstallmentInline]
    show_full_result_count = False
    # Adds the "Import portfolio file" button for users allowed to import.
    change_list_template = "admin/loans/loan/change_list.html"

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
                result = portfolio_import(
                    stream=form.cleaned_data["file"],
                    kind=form.cleaned_data["kind"],
                    encoding=form.cleaned_data["encoding"],
                    recorded_by=request.user,
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
class InstallmentAdmin(admin.ModelAdmin):
    list_display = ("loan", "sequence", "due_date", "principal_due", "interest_due", "is_paid", "paid_on")
    list_filter = ("is_paid",)
    search_fields = ("=loan__account_number",)
    raw_id_fields = ("loan",)
    list_select_related = ("loan",)
    date_hierarchy = "due_date"
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        """A changed schedule line changes its loan's balances and ageing: both follow at once."""
        super().save_model(request, obj, form, change)
        balances_recompute(loans=Loan.objects.filter(pk=obj.loan_id))
        loan_refresh_delinquency(loan=Loan.objects.get(pk=obj.loan_id))


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


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Payments are recorded through payment_record (imports, integrations); the admin shows them
    and how each was allocated, and does not edit them."""

    list_display = ("reference", "source", "loan", "amount", "channel", "received_at")
    list_filter = ("channel", "source")
    search_fields = ("=reference", "=loan__account_number")
    list_select_related = ("loan",)
    date_hierarchy = "received_at"
    inlines = [PaymentAllocationInline]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(admin.ModelAdmin):
    list_display = ("payment", "installment", "component", "amount")
    list_filter = ("component",)
    search_fields = ("=payment__reference", "=installment__loan__account_number")
    list_select_related = ("payment", "installment__loan")
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
