"""The admin of the collection app: where admins configure stage rules, reminder steps and the
conduct policy, and where supervisors can decide escalation requests in bulk.

Records that the services write with their rules (contact attempts and the conduct check,
promises, plans, the transition log, assignments) are shown here, not edited: changing them
here would get around those rules. The case's stage is never edited: it moves by transitions."""

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import Case, When
from django.forms.models import construct_instance
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loans.admin import EstimatedCountPaginator, IndexedValuesFilter, PortfolioSearchMixin
from loans.phones import mask_contact_value

from .exceptions import CollectionError
from .jobs import counts_in_words
from .machine import WORKING_STAGES
from .models import (
    CallConsent,
    CaseAssignment,
    CaseRouting,
    CollectionCase,
    ConductPolicy,
    ConductRefusal,
    ContactAttempt,
    ContactChannel,
    EscalationRequest,
    JobRun,
    OutboundMessage,
    PlanInstallment,
    PromiseToPay,
    ReminderStep,
    RepaymentPlan,
    StageRule,
)
from .selectors import case_timeline
from .services import case_assign, escalation_request_approve, escalation_request_reject
from .stage_rules import stage_rule_validate, stage_rules_in_force, stage_rules_problems
from .tasks import JOB_STEPS


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, changed or deleted here: the services write these rows."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- cases -----------------------------------------------------------------------------------


@admin.register(CollectionCase)
class CollectionCaseAdmin(PortfolioSearchMixin, admin.ModelAdmin):
    """Cases open through case_open_for_loan, not here. The admin may reassign a case (through
    case_assign, which keeps the assignment history); everything else is shown only."""

    list_display = (
        "loan",
        "stage",
        "assigned_to",
        "team",
        "stage_entered_at",
        "broken_promises",
        "last_right_party_contact_at",
        "opened_at",
    )
    list_filter = ("stage", "team", "hold_reason")
    search_loan, search_borrower, search_contact = "loan", "loan__borrower", "loan__borrower__contacts"
    list_select_related = ("loan", "assigned_to", "team")
    raw_id_fields = ("loan", "assigned_to", "team")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "loan",
        "stage",
        "assigned_to",
        "team",
        "opened_at",
        "stage_entered_at",
        "closed_at",
        "held_stage",
        "hold_reason",
        "last_right_party_contact_at",
        "broken_promises",
        "attention_since",
        "settlement_amount",
        "settlement_agreed_at",
        "close_reason",
        "timeline",
    )
    readonly_fields = tuple(name for name in fields if name not in ("assigned_to", "team"))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("loan", "assigned_to", "team")

    @admin.display(description=_("history (newest first)"))
    def timeline(self, obj):
        entries = case_timeline(case=obj, limit=30)
        if not entries:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} · {} · {}</li>",
                (
                    (f"{entry.time:%Y-%m-%d %H:%M}", entry.actor or gettext("system"), entry.summary)
                    for entry in entries
                ),
            ),
        )

    def save_model(self, request, obj, form, change):
        """A changed collector or team is an assignment: it goes through case_assign."""
        if not {"assigned_to", "team"} & set(form.changed_data):
            return
        if obj.assigned_to is None:  # the form requires a collector (get_form); a case is not unassigned here
            return
        case = CollectionCase.objects.get(pk=obj.pk)
        reason = gettext("Changed in the admin")
        case_assign(case=case, to=obj.assigned_to, by=request.user, team=obj.team, reason=reason)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "assigned_to" in form.base_fields:
            form.base_fields["assigned_to"].required = True
        return form


@admin.register(CaseAssignment)
class CaseAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("case", "assigned_to", "previous", "team", "assigned_by", "assigned_at")
    list_filter = ("team",)
    search_fields = ("=case__loan__account_number", "assigned_to__username", "assigned_by__username")
    list_select_related = ("case__loan", "assigned_to", "previous", "team", "assigned_by")
    date_hierarchy = "assigned_at"
    show_full_result_count = False


# --- stage rules and reminder steps ----------------------------------------------------------


class StageRuleForm(forms.ModelForm):
    class Meta:
        model = StageRule
        fields = "__all__"  # noqa: DJ007 - every setting of a rule is the admin's to set

    def clean(self):
        cleaned_data = super().clean()
        if not self.errors:
            # The rule as it would be saved, checked against the other stages' rules.
            stage_rule_validate(construct_instance(self, copy.copy(self.instance)))
        return cleaned_data


@admin.register(StageRule)
class StageRuleAdmin(admin.ModelAdmin):
    """The form checks the changed rule against the other stages' rules
    (collection.stage_rules.stage_rule_validate) and shows each problem in words."""

    form = StageRuleForm

    list_display = (
        "stage",
        "entry_dpd",
        "escalate_at_dpd",
        "escalate_after_broken_promises",
        "escalate_after_days_without_contact",
        "requires_approval",
    )

    def get_queryset(self, request):
        # In the order a case walks the stages, not alphabetically.
        walk = Case(*(When(stage=stage, then=index) for index, stage in enumerate(WORKING_STAGES)))
        return super().get_queryset(request).order_by(walk)

    def changelist_view(self, request, extra_context=None):
        problems = stage_rules_problems(stage_rules_in_force())
        for problem in problems:
            messages.warning(request, problem)
        return super().changelist_view(request, extra_context)


@admin.register(ReminderStep)
class ReminderStepAdmin(admin.ModelAdmin):
    """Templates are Django templates: clean() shows a syntax error on the field that has it."""

    list_display = (
        "stage",
        "day_offset",
        "offset_from",
        "channel",
        "send_window_start",
        "send_window_end",
        "is_active",
    )
    list_filter = ("stage", "channel", "offset_from", "is_active")
    search_fields = ("template_zh", "template_en")
    ordering = ("stage", "offset_from", "day_offset")


# --- escalation requests ---------------------------------------------------------------------


class DecisionActionForm(ActionForm):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        help_text=_("Required to reject; kept with the decision."),
        widget=forms.TextInput(attrs={"size": 40}),
    )


@admin.register(EscalationRequest)
class EscalationRequestAdmin(admin.ModelAdmin):
    """Requests are filed from the desk or proposed by the stage rules, and decided here with
    the actions, which call the services: approving runs the case's transition."""

    list_display = ("case", "target_stage", "status", "requested_by", "created_at", "decided_by", "decided_at")
    list_filter = ("status", "target_stage")
    search_fields = ("=case__loan__account_number", "case__loan__borrower__name", "reason")
    list_select_related = ("case__loan", "requested_by", "decided_by")
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = (
        "case",
        "target_stage",
        "requested_by",
        "reason",
        "status",
        "decided_by",
        "decided_at",
        "decision_reason",
        "created_at",
    )
    action_form = DecisionActionForm
    actions = ["approve_requests", "reject_requests"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request):
        return request.user.has_perm("collection.decide_escalation")

    @admin.action(description=_("Approve the selected escalation requests"), permissions=["decide"])
    def approve_requests(self, request, queryset):
        self._decide(request, queryset, escalation_request_approve, gettext("Approved %(count)d escalation requests."))

    @admin.action(description=_("Reject the selected escalation requests"), permissions=["decide"])
    def reject_requests(self, request, queryset):
        if not request.POST.get("reason", "").strip():
            self.message_user(
                request,
                gettext("Type the reason for the rejection in the reason box next to the action."),
                messages.ERROR,
            )
            return
        self._decide(request, queryset, escalation_request_reject, gettext("Rejected %(count)d escalation requests."))

    def _decide(self, request, queryset, service, done_message):
        reason = request.POST.get("reason", "").strip()
        done = 0
        for escalation_request in queryset.select_related("case__loan").order_by("created_at", "pk"):
            try:
                service(request=escalation_request, by=request.user, reason=reason)
            except (CollectionError, PermissionDenied) as error:
                self.message_user(
                    request,
                    gettext("%(request)s: %(error)s") % {"request": escalation_request, "error": error},
                    messages.ERROR,
                )
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)


# --- conduct limits and contact attempts -----------------------------------------------------


@admin.register(ConductPolicy)
class ConductPolicyAdmin(admin.ModelAdmin):
    """One row (a check constraint keeps it so): it can be changed, not added twice or deleted."""

    list_display = (
        "__str__",
        "quiet_hours_start",
        "quiet_hours_end",
        "max_unanswered_calls_per_number_per_day",
        "max_calls_per_case_in_window",
        "call_window_days",
        "days_without_calls_after_conversation",
        "updated_at",
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not ConductPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContactAttempt)
class ContactAttemptAdmin(PortfolioSearchMixin, ReadOnlyAdmin):
    """Attempts are recorded by attempt_log after the conduct check: never added here. Contacts
    are shown masked (Contact.__str__)."""

    list_display = ("attempted_at", "case", "channel", "direction", "outcome", "contact", "collector")
    list_filter = ("channel", "direction", "outcome")
    search_loan, search_borrower, search_contact = "case__loan", "case__loan__borrower", "contact"
    list_select_related = ("case__loan", "contact", "collector")
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(ConductRefusal)
class ConductRefusalAdmin(ReadOnlyAdmin):
    """The compliance record of what the conduct limits refused: read-only."""

    list_display = ("attempted_at", "case", "channel", "rule", "attempted_by", "next_allowed_at")
    list_filter = ("rule", "channel")
    search_fields = ("=case__loan__account_number", "attempted_by__username", "detail")
    list_select_related = ("case__loan", "attempted_by")
    date_hierarchy = "attempted_at"
    show_full_result_count = False


@admin.register(CallConsent)
class CallConsentAdmin(ReadOnlyAdmin):
    """A consent lifts the pause on calls after a conversation: collectors record it on the desk."""

    list_display = ("case", "given_at", "valid_until", "recorded_by")
    search_fields = ("=case__loan__account_number", "recorded_by__username", "note")
    list_select_related = ("case__loan", "recorded_by")
    date_hierarchy = "given_at"
    show_full_result_count = False


# --- promises and plans ----------------------------------------------------------------------


@admin.register(PromiseToPay)
class PromiseToPayAdmin(ReadOnlyAdmin):
    """Promises are taken on the desk and settled by promises_evaluate against the payments."""

    list_display = ("case", "amount", "due_date", "status", "amount_paid", "taken_by", "promised_at")
    list_filter = ("status",)
    search_fields = ("=case__loan__account_number",)
    list_select_related = ("case__loan", "taken_by")
    date_hierarchy = "due_date"
    show_full_result_count = False


class PlanInstallmentInline(admin.TabularInline):
    model = PlanInstallment
    extra = 0
    fields = ("sequence", "due_date", "amount", "amount_paid", "status", "evaluated_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RepaymentPlan)
class RepaymentPlanAdmin(ReadOnlyAdmin):
    """Plans are proposed on the desk and approved by a supervisor when beyond the product's policy."""

    list_display = ("case", "status", "total_amount", "waived_penalty", "proposed_by", "proposed_at", "decided_by")
    list_filter = ("status",)
    search_fields = ("=case__loan__account_number",)
    list_select_related = ("case__loan", "proposed_by", "decided_by")
    date_hierarchy = "proposed_at"
    inlines = [PlanInstallmentInline]
    show_full_result_count = False


@admin.register(PlanInstallment)
class PlanInstallmentAdmin(ReadOnlyAdmin):
    list_display = ("plan", "sequence", "due_date", "amount", "amount_paid", "status")
    list_filter = ("status",)
    search_fields = ("=plan__case__loan__account_number",)
    list_select_related = ("plan__case__loan",)
    date_hierarchy = "due_date"
    show_full_result_count = False


# --- routing and scheduled jobs --------------------------------------------------------------


@admin.register(CaseRouting)
class CaseRoutingAdmin(admin.ModelAdmin):
    """Which team takes each product's new cases; without any row, new cases are spread over
    every team that has collectors."""

    list_display = ("product", "team")
    list_select_related = ("product", "team")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    """Every run of the scheduled jobs, for supervisors to see what ran, what it did and what
    failed. Written by the jobs only."""

    list_display = ("job", "as_of", "status", "dry_run", "started_at", "finished_at", "attempts")
    list_filter = ("job", "status", "dry_run")
    date_hierarchy = "started_at"
    readonly_fields = ("counts_table",)
    fields = (
        "job",
        "as_of",
        "status",
        "dry_run",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "attempts",
        "counts_table",
        "errors",
    )

    @admin.display(description=_("counts per step"))
    def counts_table(self, run):
        rows = counts_in_words(run.counts or {}, JOB_STEPS.get(run.job, ()))
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


# --- outbound messages -----------------------------------------------------------------------


@admin.register(OutboundMessage)
class OutboundMessageAdmin(PortfolioSearchMixin, ReadOnlyAdmin):
    """The reminders the desk planned and sent (collection.messaging), read-only. Supervisors
    follow up the failed ones (filter by status) and see why a message was blocked or held back."""

    list_display = (
        "scheduled_at",
        "case",
        "status",
        "channel",
        "masked_recipient",
        "attempts",
        "last_error",
        "blocked_rule",
        "sent_at",
    )
    list_filter = ("status", "channel", ("blocked_rule", IndexedValuesFilter))
    # An e-mail address finds the messages sent to it (phone numbers are not searched by URL, F10).
    search_loan, search_borrower, search_contact = "case__loan", "case__loan__borrower", "contact"
    search_own_fields = ("idempotency_key", "provider_reference")
    list_select_related = ("case__loan",)
    raw_id_fields = ("case", "contact", "step")
    # The number a message went to is shown masked, as everywhere in the admin.
    exclude = ("recipient",)
    readonly_fields = ("masked_recipient",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description=_("recipient"))
    def masked_recipient(self, message: OutboundMessage) -> str:
        if message.channel == ContactChannel.LETTER:
            return message.recipient  # a postal address, which the letter needs whole
        return mask_contact_value(message.recipient)
