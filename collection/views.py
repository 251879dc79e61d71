"""The collector's workspace: the queue, the case page and every action of the day. Thin views: a
role to require (accounts.decorators), a scoped read (collection.selectors through collection.web),
a form, one service call; the services decide."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Window
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import role_required
from loans.models import Contact

from . import forms, services
from .filters import QueueFilter
from .machine import HoldReason, Stage
from .models import Outcome
from .selectors import (
    case_timeline,
    case_workspace,
    next_case_for_collector,
    queue_counts,
    queue_for_collector,
    queue_priority_reasons,
)
from .services.plans import plan_policy_breaches
from .supervision.review_selectors import escalation_decisions_for_requester
from .web import back_to_case, case_or_404, form_run, query_without

QUEUE_PAGE_SIZE = 25
# Who opens a case page and its actions: anyone with a role, on the cases within their reach
# (collection.access); what each may do there, the services decide, and refuse in words.
CASE_ROLES = roles.ROLES
TIMELINE_LIMIT = 200


class _PageRows:
    """A paginator's object list for one page read already: its rows, and the total they carry."""

    def __init__(self, rows: list, total: int):
        self.rows, self.total = rows, total

    def count(self) -> int:
        return self.total

    def __getitem__(self, _slice) -> list:
        return self.rows


@require_GET
@role_required(roles.COLLECTOR)
def queue(request):
    """The collector's open cases, most pressing first, each row saying why; filters with counts."""
    now = timezone.now()
    cases = queue_for_collector(user=request.user, now=now)
    counts = queue_counts(queue=cases, now=now)
    queue_filter = QueueFilter(request.GET or None, queryset=cases, counts=counts, now=now)
    applied = queue_filter.is_bound and queue_filter.is_valid()
    filtered = queue_filter.qs if applied else cases
    number = request.GET.get("page") or 1
    try:
        number = max(int(number), 1)
    except ValueError:
        number = 1
    start = (number - 1) * QUEUE_PAGE_SIZE
    # The filtered total rides on the page's rows (a window count): no separate count query.
    rows = list(filtered.annotate(queue_total=Window(Count("pk")))[start : start + QUEUE_PAGE_SIZE])
    total = rows[0].queue_total if rows else (filtered.count() if number > 1 else 0)
    if not rows and total:  # a page past the last (the queue shrank since the link was made)
        query = request.GET.copy()
        query["page"] = (total - 1) // QUEUE_PAGE_SIZE + 1
        return redirect(f"{request.path}?{query.urlencode()}")
    paginator = Paginator(_PageRows(rows, total), QUEUE_PAGE_SIZE)
    page = paginator.page(number) if rows else None
    for case in rows:
        case.reasons = queue_priority_reasons(case, now=now)
        case.last_outcome_label = Outcome(case.last_outcome).label if case.last_outcome else ""
    form = queue_filter.form
    flags = [
        {
            "name": name,
            "label": form.fields[name].label,
            "count": counts.flags[name],
            "checked": bool(applied and form.cleaned_data.get(name)),
        }
        for name in QueueFilter.FLAGS
    ]
    query = query_without(request.GET, "page")
    return render(
        request,
        "collection/queue.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "paginator": paginator,
            "filter": queue_filter,
            "counts": counts,
            "flags": flags,
            "query": query.urlencode(),
            "filtered": queue_filter.is_bound,
            "decided_requests": escalation_decisions_for_requester(user=request.user, now=now),
        },
    )


@require_GET
@role_required(roles.COLLECTOR)
def next_case(request):
    """The work-the-queue flow: open the most pressing case not worked today."""
    case = next_case_for_collector(user=request.user)
    if case is None:
        messages.info(request, _("Every case of your queue has been worked today."))
        return redirect("collection:queue")
    return redirect("collection:case", pk=case.pk)


# --- the case page and its actions -----------------------------------------------------------


def _case_forms(case, workspace=None, bound=None) -> dict:
    """Every action form of the case page, unbound, but for `bound` (the one just posted)."""
    contacts = [standing.contact for standing in workspace.contacts] if workspace else None
    made = {
        "attempt": forms.AttemptForm(case=case, contacts=contacts, **_form_kwargs(forms.AttemptForm, case)),
        "promise": forms.PromiseForm(case=case, initial={"due_date": timezone.localdate()}),
        "plan": forms.PlanForm(case=case, initial={"first_due_date": timezone.localdate()}),
        "escalation": forms.EscalationRequestForm(case=case),
        "hold": forms.HoldForm(case=case),
        "resume": forms.ResumeForm(case=case),
        "note": forms.NoteForm(case=case),
        "consent": forms.ConsentForm(case=case),
        "contact_add": forms.ContactAddForm(case=case),
        "lost_contact": forms.LostContactForm(
            case=case, initial={"lost": "0" if case.loan.borrower.lost_contact else "1"}
        ),
    }
    if bound is not None:
        name, form = bound
        made[name] = form
    return made


def _case_page(request, case, *, bound=None, status=200, extra=None, open_forms=None):
    """The case page; `bound` is the form just posted, (name, form), shown open with its errors;
    `open_forms` are forms to show open, filled in ({name: form})."""
    workspace = case_workspace(case=case, language=get_language())
    case_forms = _case_forms(case, workspace, bound)
    case_forms.update(open_forms or {})
    context = {
        "case": case,
        "ws": workspace,
        "forms": case_forms,
        "open_forms": set(open_forms or ()),
        "Stage": Stage,
        **(extra or {}),
    }
    return render(request, "collection/case.html", context, status=status)


@require_GET
@role_required(*CASE_ROLES)
def case_detail(request, pk):
    case = case_or_404(request, pk)
    offered = request.GET.get("offer_hold")
    if offered in HoldReason.values and case.stage != Stage.ON_HOLD:
        hold = forms.HoldForm(case=case, initial={"hold_reason": offered})
        return _case_page(request, case, open_forms={"hold": hold})
    return _case_page(request, case)


@require_GET
@role_required(*CASE_ROLES)
def case_timeline_view(request, pk):
    """The case's timeline, newest first: loaded into the case page by htmx once the page shows (so
    the page's own reads stay few whatever the history), or as a page of its own without script."""
    case = case_or_404(request, pk)
    context = {"case": case, "timeline": case_timeline(case=case, limit=TIMELINE_LIMIT)}
    template = "collection/_timeline.html" if request.htmx else "collection/timeline.html"
    return render(request, template, context)


def _case_action(form_name: str, form_class, action, done, then=None):
    """A POST view: bind `form_class` on the case, run `action(request, case, form, data)` through
    collection.web.form_run; back to the case page when done (with the query `then(result)` gives),
    else the page with the form's errors (422, which the page's htmx swaps in place like a success)."""

    @require_POST
    @role_required(*CASE_ROLES)
    def view(request, pk, **kwargs):
        case = case_or_404(request, pk)
        form = form_class(request.POST, case=case, **_form_kwargs(form_class, case))
        result = form_run(request, form, lambda data: action(request, case, form, data, **kwargs), done=done)
        if result is None:
            return _case_page(request, case, bound=(form_name, form), status=422)
        return back_to_case(case, query=then(result) if then else None)

    view.__name__ = f"{form_name}_view"
    return view


def _form_kwargs(form_class, case) -> dict:
    """What a form needs of the case besides the case: an attempt's possible second collector (a
    field visit needs two) is one of the case's team."""
    if form_class is forms.AttemptForm and case.team_id is not None:
        return {"colleagues": case.team.members.filter(is_active=True).exclude(username=roles.SYSTEM_USERNAME)}
    return {}


def _log_attempt(request, case, form, data):
    attempt = services.attempt_log(
        case=case,
        contact=data["contact"],
        channel=data["channel"],
        direction=data["direction"],
        by=request.user,
        at=timezone.now(),
        outcome=data["outcome"],
        note=data["note"],
        duration_seconds=data["duration_seconds"],
        second_collector=data["second_collector"],
        callback_at=data["callback_at"],
    )
    if getattr(attempt, "offers_hold", None):
        messages.warning(
            request,
            _("The borrower raised a %(reason)s: you may put the case on hold below.")
            % {"reason": attempt.get_outcome_display()},
        )
    return attempt


def _offer_hold(attempt) -> dict | None:
    """After a dispute or hardship claim, the case page opens the hold with its reason filled in."""
    reason = getattr(attempt, "offers_hold", None)
    return {"offer_hold": reason} if reason else None


def _take_promise(request, case, form, data):
    return services.promise_take(case=case, by=request.user, amount=data["amount"], due_date=data["due_date"])


def _propose_plan(request, case, form, data):
    return services.plan_propose(
        case=case, by=request.user, installments=form.installments(), waive_penalty=data["waive_penalty"]
    )


def _plan_done(plan) -> str:  # called per request: gettext reads the user's language
    if plan.status == plan.Status.PENDING_APPROVAL:
        return _("The plan is beyond policy and waits for a supervisor's approval.")
    return _("The repayment plan is agreed and active.")


def _request_escalation(request, case, form, data):
    return services.escalation_request_create(
        case=case, target_stage=data["target_stage"], reason=data["reason"], by=request.user
    )


def _hold(request, case, form, data):
    return services.case_hold(case=case, by=request.user, reason=data["hold_reason"], note=data["reason"])


def _resume(request, case, form, data):
    return services.case_resume(case=case, by=request.user, reason=data["reason"])


def _add_note(request, case, form, data):
    return services.case_note_add(case=case, by=request.user, text=data["text"])


def _record_consent(request, case, form, data):
    return services.call_consent_record(
        case=case, by=request.user, given_at=timezone.now(), valid_until=data["valid_until"], note=data["note"]
    )


def _add_contact(request, case, form, data):
    contact = Contact(
        borrower_id=case.loan.borrower_id,
        kind=data["kind"],
        value=data["value"],
        name=data["name"],
        relation=data["relation"],
        source=data["source"],
    )
    return services.contact_add(contact=contact, by=request.user, reason=data["reason"])


def _mark_contact(request, case, form, data, contact_pk):
    contact = get_object_or_404(Contact, pk=contact_pk, borrower_id=case.loan.borrower_id)
    return services.contact_update(
        contact=contact,
        by=request.user,
        reason=data["reason"],
        expected_version=data["version"],
        verification=data["verification"],
    )


def _set_lost_contact(request, case, form, data):
    return services.borrower_lost_contact_set(
        borrower=case.loan.borrower, by=request.user, lost=data["lost"], reason=data["reason"]
    )


attempt_log = _case_action(
    "attempt", forms.AttemptForm, _log_attempt, gettext_lazy("Contact attempt logged."), then=_offer_hold
)
promise_take = _case_action("promise", forms.PromiseForm, _take_promise, gettext_lazy("Promise to pay recorded."))
_plan_propose = _case_action("plan", forms.PlanForm, _propose_plan, _plan_done)


@require_POST
@role_required(*CASE_ROLES)
def plan_propose(request, pk):
    """Propose the plan, or with "check" only show how it stands against the product's policy."""
    if "check" not in request.POST:
        return _plan_propose(request, pk)
    case = case_or_404(request, pk)
    form = forms.PlanForm(request.POST, case=case)
    breaches = None
    if form.is_valid():
        loan = case.loan
        breaches = plan_policy_breaches(
            product=loan.product,
            outstanding_penalty=loan.outstanding_penalty,
            schedule=form.installments(),
            waiver=form.cleaned_data["waive_penalty"],
        )
    return _case_page(
        request,
        case,
        bound=("plan", form),
        status=200 if breaches is not None else 422,
        extra={"plan_check": breaches, "plan_schedule": form.installments() if breaches is not None else None},
    )


escalation_request = _case_action(
    "escalation",
    forms.EscalationRequestForm,
    _request_escalation,
    gettext_lazy("Escalation requested: a supervisor decides."),
)
case_hold = _case_action("hold", forms.HoldForm, _hold, gettext_lazy("The case is on hold."))
case_resume = _case_action("resume", forms.ResumeForm, _resume, gettext_lazy("The case is resumed."))
note_add = _case_action("note", forms.NoteForm, _add_note, gettext_lazy("Note added."))
consent_record = _case_action("consent", forms.ConsentForm, _record_consent, gettext_lazy("Consent to calls recorded."))
contact_add = _case_action("contact_add", forms.ContactAddForm, _add_contact, gettext_lazy("Contact added."))
contact_mark = _case_action("contact_mark", forms.ContactMarkForm, _mark_contact, gettext_lazy("Contact marked."))
lost_contact = _case_action(
    "lost_contact",
    forms.LostContactForm,
    _set_lost_contact,
    gettext_lazy("What the desk knows of the borrower's reach is saved."),
)
