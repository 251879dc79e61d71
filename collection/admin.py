"""The admin of the collection app: where admins configure stage rules, reminder steps and the
conduct policy, and where supervisors can decide escalation requests in bulk.

Records that the services write with their rules (contact attempts and the conduct check,
promises, plans, the transition log, assignments) are shown here, not edited: changing them
here would get around those rules. The case's stage is never edited: it moves by transitions."""

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Count, F, Sum, When
from django.forms.models import construct_instance
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.admin_base import ViewOnlyAdmin
from accounts.models import Team, User
from loans.admin import ContactAdmin as PortfolioContactAdmin
from loans.admin import EstimatedCountPaginator, IndexedValuesFilter, PortfolioSearchMixin
from loans.models import Contact
from loans.phones import mask_phone
from loans.templatetags.money import yuan

from .access import case_scope, may_act_on
from .exceptions import CollectionError
from .jobs import counts_in_words
from .machine import WORKING_STAGES, Stage
from .models import (
    Callback,
    CallConsent,
    CallScript,
    CaseAssignment,
    CaseNote,
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
    SettlementAgreement,
    StageRule,
)
from .selectors import case_timeline
from .services import (
    case_assign,
    case_assign_check,
    cases_reassign,
    contact_add,
    contact_add_check,
    contact_update,
    escalation_request_approve,
    escalation_request_reject,
)
from .services.reassignment import no_contact_reassignment_cases
from .stage_rules import stage_rule_preview, stage_rule_validate, stage_rules_in_force, stage_rules_problems
from .tasks import job_steps
from .validators import VARIABLE_MEANINGS, reminder_preview


class ReadOnlyAdmin(ViewOnlyAdmin, admin.ModelAdmin):
    """Shown, never added, changed or deleted here: the services write these rows."""


class CaseScopedAdmin:
    """An admin of rows that belong to a case: each user sees only the rows of the cases within
    their reach (collection.access): the list, the change and history pages, the actions. `case_path`
    is the path from the row to its case ("" for the case itself, "case__", "plan__case__")."""

    case_path = "case__"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        scope = case_scope(request.user, self.case_path)
        return queryset if scope is None else queryset.filter(scope)

    def _case_of(self, obj):
        for name in self.case_path.split("__"):
            if name:
                obj = getattr(obj, name)
        return obj

    def _within_reach(self, request, obj) -> bool:
        return obj is None or may_act_on(request.user, self._case_of(obj))

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._within_reach(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._within_reach(request, obj)


# --- cases -----------------------------------------------------------------------------------

# The most cases one reassignment takes (the list's action and the page), and lists by name.
REASSIGN_AT_ONCE = 1_000
REASSIGN_LISTED = 20


class CaseAssignmentForm(forms.ModelForm):
    """The case's page: its collector and team, and why they change (required when they do)."""

    reassign_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Required when the collector or the team changes: kept with the assignment."),
    )

    class Meta:
        model = CollectionCase
        fields = ("assigned_to", "team")


class CaseReassignForm(forms.Form):
    """Whom the selected cases go to, and why."""

    collector = forms.ModelChoiceField(
        label=_("Collector"),
        queryset=User.objects.none(),
        required=False,
        help_text=_("Empty: each case goes to whoever of its team's other collectors carries least."),
    )
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.all(),
        required=False,
        help_text=_("Empty: each case stays in its team. Chosen: the cases join it (the collector must be in it)."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept with each move, in the case's assignment history."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Chosen by name through the admin's autocomplete, as on the case's page.
        self.fields["collector"].queryset = User.objects.filter(is_active=True, groups__name=roles.COLLECTOR).exclude(
            username=roles.SYSTEM_USERNAME
        )
        for name, model_field in (("collector", "assigned_to"), ("team", "team")):
            field = self.fields[name]
            field.widget = AutocompleteSelect(CollectionCase._meta.get_field(model_field), admin.site)
            field.widget.choices = field.choices


@admin.register(CollectionCase)
class CollectionCaseAdmin(CaseScopedAdmin, PortfolioSearchMixin, admin.ModelAdmin):
    """Cases open through case_open_for_loan, not here. Users allowed to assign cases reassign
    them here, with a reason: on the case's page (through case_assign, which keeps the assignment
    history), or a selection of the list, or one case, through the reassignment page
    (cases_reassign); everything else is shown only."""

    case_path = ""
    form = CaseAssignmentForm

    class Media:
        css = {"all": ["collection/css/admin-configuration.css"]}
        js = ["desk/js/admin-autocomplete-labels.js"]

    actions = ["reassign_cases"]

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
    raw_id_fields = ("loan",)
    # Chosen by name (the user admin's and the team admin's search), never by typing an id.
    autocomplete_fields = ("assigned_to", "team")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "loan",
        "stage",
        "assigned_to",
        "team",
        "reassign_reason",
        "reassign_link",
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
        "settlement_agreed_by",
        "settlement_awaits_approval",
        "settlement_history",
        "close_reason",
        "timeline",
    )
    readonly_fields = tuple(name for name in fields if name not in ("assigned_to", "team", "reassign_reason"))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("loan", "assigned_to", "team")

    @admin.display(description=_("settlements (newest first)"))
    def settlement_history(self, obj):
        """Every settlement agreed on the case, with who agreed, approved, replaced or turned it down."""
        agreements = SettlementAgreement.objects.filter(case=obj).select_related("agreed_by", "approved_by", "ended_by")
        if not agreements:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} · {} / {} · {} {} · {} {} · {} {}</li>",
                (
                    (
                        agreement.get_status_display(),
                        agreement.amount,
                        agreement.outstanding,
                        f"{agreement.agreed_at:%Y-%m-%d %H:%M}",
                        agreement.agreed_by or "-",
                        gettext("approved by") if agreement.approved_by else "",
                        agreement.approved_by or "",
                        agreement.ended_by or "",
                        agreement.end_reason,
                    )
                    for agreement in agreements
                ),
            ),
        )

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
        reason = form.cleaned_data["reassign_reason"]
        case_assign(case=case, to=obj.assigned_to, by=request.user, team=obj.team, reason=reason)

    def has_change_permission(self, request, obj=None):
        # Who may assign cases may change the case's page: its collector and team are all it edits.
        allowed = admin.ModelAdmin.has_change_permission(self, request, obj) or self.has_assign_permission(request)
        return allowed and self._within_reach(request, obj)

    def has_assign_permission(self, request):
        return request.user.has_perm("collection.assign_case")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.has_change_permission(request, obj):
            return fields
        # Shown only: no reason to give, no reassignment to open.
        return tuple(name for name in fields if name not in ("reassign_reason", "reassign_link"))

    @admin.display(description=_("reassign"))
    def reassign_link(self, obj):
        url = reverse("admin:collection_collectioncase_reassign")
        return format_html(
            '<a href="{}?ids={}">{}</a>', url, obj.pk, gettext("Reassign this case, balanced over a team or by name")
        )

    def get_urls(self):
        return [
            path(
                "reassign/", self.admin_site.admin_view(self.reassign_view), name="collection_collectioncase_reassign"
            ),
            *super().get_urls(),
        ]

    @admin.action(description=_("Reassign the selected cases"), permissions=["assign"])
    def reassign_cases(self, request, queryset):
        """The intermediate page of reassign_view for the selection, at most REASSIGN_AT_ONCE cases."""
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: REASSIGN_AT_ONCE + 1])
        if len(ids) > REASSIGN_AT_ONCE:
            self.message_user(
                request,
                gettext("Select at most %(limit)s cases to reassign at once.") % {"limit": f"{REASSIGN_AT_ONCE:,}"},
                messages.ERROR,
            )
            return None
        return self._reassign_page(request, ids, CaseReassignForm(user=request.user))

    def reassign_view(self, request):
        """Reassign the cases named by id (`ids`, comma-separated, in the query or posted from the
        list's action's page) with a collector, or balanced over a team, and a reason: through
        cases_reassign, which re-reads them within the user's reach, checks each move and records
        it with the reason (the assignment history and the audit trail)."""
        if not self.has_assign_permission(request):
            raise PermissionDenied
        # One field of ids, not a field per case: a thousand fields would pass Django's limit on them.
        ids = (request.POST if request.method == "POST" else request.GET).get("ids", "").split(",")
        ids = list(dict.fromkeys(int(pk) for pk in ids if pk.strip().isdigit()))
        if len(ids) > REASSIGN_AT_ONCE:
            raise PermissionDenied(
                gettext("At most %(limit)s cases are reassigned at once.") % {"limit": REASSIGN_AT_ONCE}
            )
        form = CaseReassignForm(request.POST if request.method == "POST" else None, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                done = cases_reassign(
                    cases=ids, by=request.user, reason=data["reason"], to=data["collector"], team=data["team"]
                )
            except (CollectionError, PermissionDenied) as error:
                form.add_error(None, getattr(error, "message", None) or str(error))
            else:
                self._say_what_moved(request, done)
                if len(ids) == 1 and request.POST.get("from_case"):
                    return redirect(reverse("admin:collection_collectioncase_change", args=[ids[0]]))
                return redirect(reverse("admin:collection_collectioncase_changelist"))
        return self._reassign_page(request, ids, form)

    def _reassign_page(self, request, ids, form):
        cases = self.get_queryset(request).filter(pk__in=ids).select_related("loan", "assigned_to", "team")
        shown = list(cases.order_by(F("loan__overdue_amount").desc(), "pk")[:REASSIGN_LISTED])
        totals = cases.aggregate(count=Count("pk"), overdue=Sum("loan__overdue_amount"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Reassign cases"),
            "form": form,
            "media": self.media + form.media,
            "ids": ",".join(str(case_id) for case_id in ids),
            "cases": shown,
            "count": totals["count"],
            "overdue": totals["overdue"] or 0,
            "more": max(totals["count"] - len(shown), 0),
            # Opened from a case's page: back there when done.
            "from_case": (len(ids) == 1 and request.method == "GET") or bool(request.POST.get("from_case")),
        }
        return TemplateResponse(request, "admin/collection/collectioncase/reassign.html", context)

    def _say_what_moved(self, request, done):
        if done.moves:
            self.message_user(
                request,
                ngettext(
                    "Reassigned %(count)d case (%(overdue)s overdue).",
                    "Reassigned %(count)d cases (%(overdue)s overdue).",
                    len(done.moves),
                )
                % {"count": len(done.moves), "overdue": yuan(done.overdue)},
                messages.SUCCESS,
            )
        if done.unchanged:
            self.message_user(
                request,
                ngettext(
                    "%(count)d case was already with that collector.",
                    "%(count)d cases were already with that collector.",
                    len(done.unchanged),
                )
                % {"count": len(done.unchanged)},
                messages.INFO,
            )
        for case, why in done.refused:
            self.message_user(request, gettext("%(case)s: %(why)s") % {"case": case, "why": why}, messages.ERROR)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "assigned_to" in form.base_fields:
            form.base_fields["assigned_to"].required = True

        class AssignmentForm(form):
            def clean(self):
                """Say on the form what case_assign would refuse (a collector outside the user's
                teams, the system account), instead of failing on save."""
                cleaned_data = super().clean()
                to = cleaned_data.get("assigned_to")
                changed = {"assigned_to", "team"} & set(self.changed_data)
                if changed and not cleaned_data.get("reassign_reason", "").strip():
                    self.add_error(
                        "reassign_reason", gettext("Say why the case changes hands: it is kept with the move.")
                    )
                if obj is not None and to is not None and changed and not self.errors:
                    team = cleaned_data.get("team") if "team" in cleaned_data else obj.team
                    try:
                        case_assign_check(case=obj, to=to, by=request.user, team=team or obj.team)
                    except (CollectionError, PermissionDenied) as error:
                        raise forms.ValidationError(str(error.args[0]) if error.args else str(error)) from error
                return cleaned_data

        return AssignmentForm


@admin.register(CaseAssignment)
class CaseAssignmentAdmin(CaseScopedAdmin, ReadOnlyAdmin):
    list_display = ("case", "assigned_to", "previous", "team", "assigned_by", "assigned_at")
    list_filter = ("team",)
    search_fields = ("=case__loan__account_number", "assigned_to__username", "assigned_by__username")
    list_select_related = ("case__loan", "assigned_to", "previous", "team", "assigned_by")
    date_hierarchy = "assigned_at"
    show_full_result_count = False


# --- stage rules and reminder steps ----------------------------------------------------------


class PreviewBeforeSaving:
    """A "Preview" button on the change form (templates/admin/collection/preview_change_form.html):
    the form is checked as for saving, and what the change would do is shown beside it; nothing
    is saved. The bound form then reports itself not valid, so that the admin renders it again
    with what was typed (and any errors), as it does for a form with errors."""

    change_form_template = "admin/collection/preview_change_form.html"
    preview_help = ""

    class Media:
        css = {"all": ["collection/css/admin-configuration.css"]}

    def preview(self, request, form) -> str:
        """What the change in the (valid, unsaved) `form` would do, as HTML."""
        raise NotImplementedError

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if request.method != "POST" or "_preview" not in request.POST:
            return form_class
        model_admin = self

        class PreviewForm(form_class):
            preview = ""

            def is_valid(self):
                if super().is_valid():
                    self.preview = model_admin.preview(request, self)
                return False  # never saved: rendered again, bound, with the preview

        return PreviewForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "preview_help": self.preview_help}
        return super().changeform_view(request, object_id, form_url, extra_context)


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
class StageRuleAdmin(PreviewBeforeSaving, admin.ModelAdmin):
    """The form checks the changed rule against the other stages' rules
    (collection.stage_rules.stage_rule_validate) and shows each problem in words. Its preview
    says how many cases the rule, as typed, would move on or propose moving tonight, and move to
    another collector, counted by the nightly cycle's own rule (stage_rules.rule_actions)."""

    form = StageRuleForm
    preview_help = _(
        "Preview shows how many cases now in this stage the rule, as typed, would move on (or propose "
        "moving, when the next stage needs a supervisor's approval) and reassign if the nightly cycle ran "
        "today, before you save it."
    )

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

    def preview(self, request, form) -> str:
        rule = construct_instance(form, copy.copy(form.instance))
        today = timezone.localdate()
        preview = stage_rule_preview(rule, as_of=today)
        words = {
            "day": f"{today:%Y-%m-%d}",
            "count": preview.cases,
            "stage": Stage(rule.stage).label,
            "target": Stage(preview.target).label if preview.target else "",
        }
        if preview.target is None:
            moves = gettext("%(stage)s is the last stage: the rule moves no case on.") % words
        elif preview.needs_approval:
            moves = (
                ngettext(
                    "Run today (%(day)s), the rule would propose moving %(count)d case now in %(stage)s on to "
                    "%(target)s (an escalation request for a supervisor).",
                    "Run today (%(day)s), the rule would propose moving %(count)d cases now in %(stage)s on to "
                    "%(target)s (escalation requests for a supervisor).",
                    preview.cases,
                )
                % words
            )
        else:
            moves = (
                ngettext(
                    "Run today (%(day)s), the rule would move %(count)d case now in %(stage)s on to %(target)s.",
                    "Run today (%(day)s), the rule would move %(count)d cases now in %(stage)s on to %(target)s.",
                    preview.cases,
                )
                % words
            )
        lines = [moves]
        if rule.reassign_after_days_without_contact is not None:
            reassigned = no_contact_reassignment_cases(rule, as_of=today).count()
            lines.append(
                ngettext(
                    "It would move %(count)d case to another collector of its team (no right-party contact "
                    "for %(days)d days); those with nobody else in the team stay.",
                    "It would move %(count)d cases to another collector of their team (no right-party contact "
                    "for %(days)d days); those with nobody else in the team stay.",
                    reassigned,
                )
                % {"count": reassigned, "days": rule.reassign_after_days_without_contact}
            )
        return format_html_join("", '<p class="desk-preview-result">{}</p>', ((line,) for line in lines))


class ReminderStepForm(forms.ModelForm):
    class Meta:
        model = ReminderStep
        fields = "__all__"  # noqa: DJ007 - every setting of a step is the admin's to set

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = ", ".join(f"{{{{ {name} }}}}" for name in VARIABLE_MEANINGS)
        for name in ("template_zh", "template_en"):
            if name not in self.fields:  # shown read-only to those who may not change steps
                continue
            self.fields[name].help_text = gettext(
                "A Django template that may use only the variables listed above (%(names)s); any other name is refused."
            ) % {"names": names}


@admin.register(ReminderStep)
class ReminderStepAdmin(PreviewBeforeSaving, admin.ModelAdmin):
    """Templates are Django templates rendered by a restricted engine (collection.validators):
    the variables they may use are listed beside them (VARIABLE_MEANINGS), clean() shows a syntax
    error or an unknown variable on the field that has it, and the preview renders the step for
    a sample case in both of the desk's languages before saving."""

    form = ReminderStepForm
    preview_help = _(
        "Preview renders the texts as typed for a sample case (张三, account ending 1234, 30 days past due, "
        "1080.59 overdue) in Chinese and in English, before you save them."
    )
    fieldsets = (
        (None, {"fields": ("stage", "day_offset", "offset_from", "channel", "is_active")}),
        (_("When it is sent"), {"fields": ("send_window_start", "send_window_end")}),
        (_("Message"), {"fields": ("variables", "template_zh", "template_en")}),
    )
    readonly_fields = ("variables",)
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

    @admin.display(description=_("variables a message may use"))
    def variables(self, obj=None):
        return format_html(
            '<dl class="desk-variables">{}</dl>',
            format_html_join(
                "",
                "<dt><code>{{{{ {} }}}}</code></dt><dd>{}</dd>",
                ((name, meaning) for name, meaning in VARIABLE_MEANINGS.items()),
            ),
        )

    def preview(self, request, form) -> str:
        languages = {"zh-hans": gettext("Chinese (zh-Hans)"), "en": gettext("English")}
        rendered = reminder_preview(
            template_zh=form.cleaned_data.get("template_zh", ""), template_en=form.cleaned_data.get("template_en", "")
        )
        return format_html(
            '<table class="desk-preview-result desk-reminder-preview"><thead><tr><th scope="col">{}</th>'
            '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table>',
            gettext("Language"),
            gettext("The reminder for the sample case"),
            format_html_join(
                "",
                '<tr><th scope="row">{}</th><td lang="{}">{}</td></tr>',
                (
                    (languages[language], language, text or format_html("<strong>{}</strong>", problem))
                    for language, text, problem in rendered
                ),
            ),
        )


# --- escalation requests ---------------------------------------------------------------------


class DecisionActionForm(ActionForm):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        help_text=_("Required to reject; kept with the decision."),
        widget=forms.TextInput(attrs={"size": 40}),
    )


@admin.register(EscalationRequest)
class EscalationRequestAdmin(CaseScopedAdmin, admin.ModelAdmin):
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
class ContactAttemptAdmin(CaseScopedAdmin, PortfolioSearchMixin, ReadOnlyAdmin):
    """Attempts are recorded by attempt_log after the conduct check: never added here. Contacts
    are shown masked (Contact.__str__)."""

    list_display = ("attempted_at", "case", "channel", "direction", "outcome", "contact", "collector")
    list_filter = ("channel", "direction", "outcome")
    search_loan, search_borrower, search_contact = "case__loan", "case__loan__borrower", "contact"
    list_select_related = ("case__loan", "contact", "collector")
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(ConductRefusal)
class ConductRefusalAdmin(CaseScopedAdmin, ReadOnlyAdmin):
    """The compliance record of what the conduct limits refused: read-only."""

    list_display = ("attempted_at", "case", "channel", "rule", "attempted_by", "next_allowed_at")
    list_filter = ("rule", "channel")
    search_fields = ("=case__loan__account_number", "attempted_by__username", "detail")
    list_select_related = ("case__loan", "attempted_by")
    date_hierarchy = "attempted_at"
    show_full_result_count = False


@admin.register(CallConsent)
class CallConsentAdmin(CaseScopedAdmin, ReadOnlyAdmin):
    """A consent lifts the pause on calls after a conversation: collectors record it on the desk."""

    list_display = ("case", "given_at", "valid_until", "recorded_by")
    search_fields = ("=case__loan__account_number", "recorded_by__username", "note")
    list_select_related = ("case__loan", "recorded_by")
    date_hierarchy = "given_at"
    show_full_result_count = False


@admin.register(Callback)
class CallbackAdmin(CaseScopedAdmin, ReadOnlyAdmin):
    """The next action on a case, set when an attempt is logged on the case page."""

    list_display = ("case", "due_at", "status", "set_by", "created_at")
    list_filter = ("status",)
    search_fields = ("=case__loan__account_number", "set_by__username")
    list_select_related = ("case__loan", "set_by")
    date_hierarchy = "due_at"
    show_full_result_count = False


@admin.register(CaseNote)
class CaseNoteAdmin(CaseScopedAdmin, ReadOnlyAdmin):
    """Collectors' notes, written on the case page and never edited: a correction is a new note."""

    list_display = ("case", "written_at", "written_by", "text")
    search_fields = ("=case__loan__account_number", "written_by__username")
    list_select_related = ("case__loan", "written_by")
    date_hierarchy = "written_at"
    show_full_result_count = False


@admin.register(CallScript)
class CallScriptAdmin(admin.ModelAdmin):
    """What collectors say in each working stage, shown on the case page in the reader's language.
    One per stage, seeded with the stages' strategies: edited, never added or deleted."""

    list_display = ("stage", "updated_at")
    readonly_fields = ("stage", "updated_at")
    fields = ("stage", "text_zh_hans", "text_en", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- promises and plans ----------------------------------------------------------------------


@admin.register(PromiseToPay)
class PromiseToPayAdmin(CaseScopedAdmin, ReadOnlyAdmin):
    """Promises are taken on the desk and settled by promises_evaluate against the payments."""

    list_display = ("case", "amount", "due_date", "status", "amount_paid", "taken_by", "promised_at")
    list_filter = ("status",)
    search_fields = ("=case__loan__account_number",)
    list_select_related = ("case__loan", "taken_by")
    date_hierarchy = "due_date"
    show_full_result_count = False


class PlanInstallmentInline(ViewOnlyAdmin, admin.TabularInline):
    model = PlanInstallment
    extra = 0
    fields = ("sequence", "due_date", "amount", "amount_paid", "status", "evaluated_at")
    readonly_fields = fields


@admin.register(RepaymentPlan)
class RepaymentPlanAdmin(CaseScopedAdmin, ReadOnlyAdmin):
    """Plans are proposed on the desk and approved by a supervisor when beyond the product's policy."""

    list_display = ("case", "status", "total_amount", "waived_penalty", "proposed_by", "proposed_at", "decided_by")
    list_filter = ("status",)
    search_fields = ("=case__loan__account_number",)
    list_select_related = ("case__loan", "proposed_by", "decided_by")
    date_hierarchy = "proposed_at"
    inlines = [PlanInstallmentInline]
    show_full_result_count = False


@admin.register(PlanInstallment)
class PlanInstallmentAdmin(CaseScopedAdmin, ReadOnlyAdmin):
    case_path = "plan__case__"
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
        rows = counts_in_words(run.counts or {}, job_steps(run.job))
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


# --- outbound messages -----------------------------------------------------------------------


@admin.register(OutboundMessage)
class OutboundMessageAdmin(CaseScopedAdmin, PortfolioSearchMixin, ReadOnlyAdmin):
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
        return mask_phone(message.recipient)


# --- contacts: who the desk reaches ----------------------------------------------------------


def _contact_field(name: str):
    return Contact._meta.get_field(name).verbose_name


class ContactProtectedChangeForm(forms.Form):
    """The fields that decide who the desk reaches, the version they were read at, and why they change."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    borrower = forms.IntegerField(label=_("borrower (id)"), min_value=1)
    kind = forms.ChoiceField(label=_contact_field("kind"), choices=Contact.Kind.choices)
    value = forms.CharField(
        label=_contact_field("value"),
        max_length=254,
        required=False,
        help_text=_("Leave empty to keep the current number; the page never shows it in full."),
    )
    verification = forms.ChoiceField(label=_contact_field("verification"), choices=Contact.Verification.choices)
    do_not_contact = forms.BooleanField(label=_contact_field("do_not_contact"), required=False)
    opt_out_call = forms.BooleanField(label=_contact_field("opt_out_call"), required=False)
    opt_out_sms = forms.BooleanField(label=_contact_field("opt_out_sms"), required=False)
    opt_out_email = forms.BooleanField(label=_contact_field("opt_out_email"), required=False)
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ContactAddForm(forms.ModelForm):
    """A new contact, with why it is added; refused for a borrower outside the user's cases."""

    by = None  # the user adding, set by ContactAdmin.get_form
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Contact
        fields = ("borrower", "kind", "value", "name", "relation", "verification", "source")

    def clean(self):
        cleaned = super().clean()
        borrower = cleaned.get("borrower")
        try:
            contact_add_check(borrower_id=borrower.pk if borrower else None, by=self.by, reason=cleaned.get("reason"))
        except (CollectionError, PermissionDenied) as error:
            raise ValidationError(str(getattr(error, "message", "") or error)) from error
        return cleaned


class ContactAdmin(PortfolioContactAdmin):
    """The portfolio's contact admin (loans.admin), with the page where the fields it shows
    read-only change: through contact_update, which loans may not import, hence here. A contact is
    added through contact_add, with a reason, to a borrower of the user's own cases."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type("ContactAddFormFor", (ContactAddForm,), {"by": request.user})
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return (*ContactAddForm._meta.fields, "reason")
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        contact_add(contact=obj, by=request.user, reason=form.cleaned_data["reason"])

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/who-is-reached/",
                self.admin_site.admin_view(self.protected_change_view),
                name=f"{opts.app_label}_{opts.model_name}_protected_change",
            ),
            *super().get_urls(),
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "protected_change_link") if obj is not None else fields

    @admin.display(description=_("who is reached"))
    def protected_change_link(self, contact: Contact) -> str:
        url = reverse("admin:loans_contact_protected_change", args=[contact.pk])
        return format_html('<a href="{}">{}</a>', url, _("Change the kind, owner, number or flags, with a reason"))

    def protected_change_view(self, request, object_id):
        """Change the protected fields on the version the form was opened at; a newer change made
        meanwhile refuses the save instead of being undone by it."""
        contact = self.get_object(request, unquote(object_id))
        if contact is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, contact):
            raise PermissionDenied
        if request.method == "POST":
            form = ContactProtectedChangeForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    contact_update(
                        contact=contact,
                        by=request.user,
                        reason=data["reason"],
                        expected_version=data["version"],
                        **{field: data[field] for field in Contact.PROTECTED_FIELDS if field != "value"},
                        value=data["value"] or contact.value,
                    )
                except CollectionError as error:
                    form.add_error(None, error.message)
                except PermissionDenied as error:
                    form.add_error(None, str(error) or gettext("You may not make this change."))
                except ValidationError as error:
                    form.add_error(None, error.messages)
                else:
                    messages.success(request, gettext("The contact was changed; the change is on its history."))
                    return redirect(reverse("admin:loans_contact_change", args=[contact.pk]))
        else:
            form = ContactProtectedChangeForm(
                initial={
                    **{
                        field: getattr(contact, field)
                        for field in Contact.PROTECTED_FIELDS
                        if field not in ("borrower", "value")
                    },
                    "borrower": contact.borrower_id,
                    "version": contact.version,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": contact,
            "title": gettext("Who is reached: %(contact)s")
            % {"contact": f"{contact.get_kind_display()} {mask_phone(contact.value)}"},
            "form": form,
        }
        return TemplateResponse(request, "admin/loans/contact/protected_change.html", context)


admin.site.unregister(Contact)
admin.site.register(Contact, ContactAdmin)
