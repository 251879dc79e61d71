"""The review pages: the escalation requests and the off-policy repayment plans awaiting a
supervisor's decision, each with what the decision needs in view, decided one by one or (the
requests) in bulk after a confirmation. Supervisors see their own teams' cases, admins every case;
anyone else is told the pages do not exist, and a request or plan out of reach does not exist
either. A decision taken on what the page showed, when that is no longer true (decided meanwhile,
or the case moved), is refused as a conflict (409) and nothing changes. Thin views: the reads are
review_selectors', the decisions the services' (collection.services.escalations, .plans)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import role_required
from loans.models import ZERO
from loans.templatetags.money import yuan

from ..access import case_scope
from ..exceptions import CollectionError
from ..machine import Stage
from ..models import CollectionCase, EscalationRequest, RepaymentPlan
from ..selectors import escalation_request_for_user, plan_for_user
from ..services import escalation_request_approve, escalation_request_reject, plan_approve, plan_reject
from ..web import SERVICE_REFUSALS, query_without, refusal_message, url_with_query
from .review_filters import EscalationFilter
from .review_forms import APPROVE, EscalationBulkForm, EscalationDecisionForm, PlanDecisionForm, posted_ids
from .review_selectors import (
    BULK_DECISION_CAP,
    escalations_by_target,
    escalations_for_review,
    escalations_totals,
    plan_reviews,
    plans_for_review,
    with_last_contacts,
)
from .team_selectors import team_collectors, teams_for_board
from .team_views import chosen_teams

REVIEW_ROLES = (roles.SUPERVISOR, roles.ADMIN)
PAGE_SIZE = 50


def _back(name: str, filters: QueryDict):
    return redirect(url_with_query(name, filters))


# --- escalation requests ---------------------------------------------------------------------------


def _escalation_filter(request, query: QueryDict) -> EscalationFilter:
    teams = teams_for_board(user=request.user)
    return EscalationFilter(
        query or None,
        queryset=escalations_for_review(user=request.user),
        teams=teams,
        collectors=team_collectors(teams=teams),
    )


def _escalations_page(request, query: QueryDict, *, bulk=None, bound=None, status=200):
    """The list of pending requests, filtered; `bound` is a row's decision just refused (its errors
    shown on its row), `bulk` the bulk form just refused."""
    request_filter = _escalation_filter(request, query)
    applied = request_filter.is_bound and request_filter.is_valid()
    requests = request_filter.qs if applied else escalations_for_review(user=request.user)
    totals = escalations_totals(requests)
    paginator = Paginator(range(totals.requests), PAGE_SIZE)
    page = paginator.get_page(query.get("page"))
    rows = with_last_contacts(list(requests[page.start_index() - 1 : page.end_index()])) if totals.requests else []
    listing = query_without(query, "page")
    if bulk is None:
        bulk = EscalationBulkForm(initial={"filters": listing.urlencode()})
    return render(
        request,
        "collection/supervision/escalations.html",
        {
            "rows": rows,
            "totals": totals,
            "page": page,
            "paginator": paginator,
            "filter": request_filter,
            "filtered": bool(listing),
            "query": listing.urlencode(),
            "bulk": bulk,
            "bound": bound,
            "bound_id": bound.data.get("request") if bound is not None else None,
        },
        status=status,
    )


@require_GET
@role_required(*REVIEW_ROLES, hidden=True)
def escalations_view(request):
    """The escalation requests awaiting a decision, each with its case in view."""
    return _escalations_page(request, request.GET)


def _request_or_404(request, pk: int) -> EscalationRequest:
    try:
        return escalation_request_for_user(user=request.user, pk=pk)
    except (EscalationRequest.DoesNotExist, PermissionDenied) as error:
        raise Http404(_("No such escalation request among yours.")) from error


def _already_decided(escalation: EscalationRequest) -> str:
    if escalation.status == EscalationRequest.Status.WITHDRAWN:
        return _("The collector withdrew this request: nothing was changed.")
    decider = escalation.decided_by
    who = (decider.get_full_name() or decider.username) if decider else "-"
    return _("This request was already %(status)s by %(who)s: nothing was changed.") % {
        "status": str(escalation.get_status_display()).lower(),
        "who": who,
    }


def _stale_escalation(escalation: EscalationRequest, seen_stage: str) -> str | None:
    """Why a decision on what the page showed no longer holds (None when it still does)."""
    if escalation.status != EscalationRequest.Status.PENDING:
        return _already_decided(escalation)
    if escalation.case.stage != seen_stage:
        return _(
            "The case has moved from %(seen)s to %(now)s since the page showed it: nothing was changed. "
            "Look at the request again before deciding."
        ) % {"seen": Stage(seen_stage).label, "now": escalation.case.get_stage_display()}
    return None


def _decide_escalation(escalation: EscalationRequest, *, by, decision: str, reason: str) -> EscalationRequest:
    if decision == APPROVE:
        return escalation_request_approve(request=escalation, by=by, reason=reason)
    return escalation_request_reject(request=escalation, by=by, reason=reason)


def _decision_done(escalation: EscalationRequest) -> str:
    values = {"loan": escalation.case.loan.account_number, "stage": escalation.get_target_stage_display()}
    if escalation.status == EscalationRequest.Status.APPROVED:
        return _("Approved: the case of %(loan)s moved to %(stage)s.") % values
    return _("Rejected: the case of %(loan)s stays where it is; the collector sees why.") % values


@require_POST
@role_required(*REVIEW_ROLES, hidden=True)
def escalation_decide_view(request):
    """Approve one request (the case moves, with the supervisor as the actor) or reject it with a
    reason. Decided meanwhile, or its case moved since the page showed it: 409, nothing changes."""
    form = EscalationDecisionForm(request.POST)
    filters = QueryDict(request.POST.get("filters", ""))
    if not form.is_valid():
        if form.has_error("request"):
            raise Http404(_("No such escalation request among yours."))
        return _escalations_page(request, filters, bound=form, status=422)
    data = form.cleaned_data
    escalation = _request_or_404(request, data["request"])
    stale = _stale_escalation(escalation, data["stage"])
    if stale is None:
        try:
            decided = _decide_escalation(escalation, by=request.user, decision=data["decision"], reason=data["reason"])
        except CollectionError as error:  # decided by someone else a moment ago, or the move refused now
            stale = refusal_message(error)
        except PermissionDenied as error:
            messages.error(request, refusal_message(error))
            return _escalations_page(request, filters, status=403)
        else:
            messages.success(request, _decision_done(decided))
            return _back("supervision:escalations", filters)
    messages.error(request, stale)
    return _escalations_page(request, filters, status=409)


def _bulk_selection(request, form: EscalationBulkForm, filters: QueryDict):
    """The requests a bulk decision is about, within reach and pending: every one the filters keep,
    or the ticked ones; None when the filters do not read."""
    if form.cleaned_data["scope"] == EscalationBulkForm.FILTERED:
        request_filter = _escalation_filter(request, filters)
        if request_filter.is_bound and not request_filter.is_valid():
            return None
        return request_filter.qs
    return escalations_for_review(user=request.user).filter(pk__in=posted_ids(request.POST))


@require_POST
@role_required(*REVIEW_ROLES, hidden=True)
def escalations_bulk_view(request):
    """Decide the ticked requests (or every one the filters keep, the oldest BULK_DECISION_CAP):
    first the confirmation (how many requests and cases, how much overdue money moves, and where),
    then, confirmed, each request in its own transaction, saying how many were decided and which
    were not, and why."""
    form = EscalationBulkForm(request.POST)
    filters = QueryDict(request.POST.get("filters", ""))
    if not form.is_valid():
        return _escalations_page(request, filters, bulk=form, status=422)
    data = form.cleaned_data
    if request.POST.get("confirmed") == "1":
        return _bulk_apply(request, data, filters)
    selection = _bulk_selection(request, form, filters)
    if selection is None:
        # Never "every request" by mistake: filters that do not read keep nothing.
        form.add_error(None, _("The filters could not be read: apply them again, then choose the requests."))
        return _escalations_page(request, filters, bulk=form, status=422)
    everything = escalations_totals(selection)
    chosen_ids = list(selection.order_by("created_at", "pk").values_list("pk", flat=True)[:BULK_DECISION_CAP])
    if not chosen_ids:
        form.add_error(None, _("Tick the requests to decide, or choose every request the filters keep."))
        return _escalations_page(request, filters, bulk=form, status=422)
    chosen = EscalationRequest.objects.filter(pk__in=chosen_ids)
    return render(
        request,
        "collection/supervision/escalations_confirm.html",
        {
            "form": form,
            "approve": data["decision"] == APPROVE,
            "ids": chosen_ids,
            "totals": escalations_totals(chosen) if len(chosen_ids) < everything.requests else everything,
            "everything": everything,
            "capped": everything.requests > len(chosen_ids),
            "by_target": escalations_by_target(chosen),
            "back": url_with_query("supervision:escalations", filters),
        },
    )


def _bulk_apply(request, data: dict, filters: QueryDict):
    """Each request decided in its own transaction (the services are atomic), so that one refused
    leaves the others decided."""
    ids = posted_ids(request.POST)[:BULK_DECISION_CAP]
    scope = case_scope(request.user, "case__")
    requests = EscalationRequest.objects.filter(pk__in=ids).select_related("case__loan", "decided_by")
    if scope is not None:  # out of reach: as if it did not exist
        requests = requests.filter(scope)
    done, failed = [], []
    for escalation in requests.order_by("created_at", "pk"):
        if escalation.status != EscalationRequest.Status.PENDING:
            failed.append((escalation, _already_decided(escalation)))
            continue
        try:
            done.append(
                _decide_escalation(escalation, by=request.user, decision=data["decision"], reason=data["reason"])
            )
        except SERVICE_REFUSALS as error:
            failed.append((escalation, refusal_message(error)))
    if done:
        moved = sum((escalation.case.loan.overdue_amount for escalation in done), ZERO)
        if data["decision"] == APPROVE:
            text = ngettext(
                "%(count)s request approved: its case moved (%(overdue)s overdue).",
                "%(count)s requests approved: their cases moved (%(overdue)s overdue).",
                len(done),
            )
        else:
            text = ngettext(
                "%(count)s request rejected: its case stays where it is (%(overdue)s overdue).",
                "%(count)s requests rejected: their cases stay where they are (%(overdue)s overdue).",
                len(done),
            )
        messages.success(request, text % {"count": len(done), "overdue": yuan(moved)})
    if failed:
        messages.warning(
            request,
            ngettext("%(count)s request was not decided:", "%(count)s requests were not decided:", len(failed))
            % {"count": len(failed)},
        )
    for escalation, why in failed:
        messages.warning(request, _("%(loan)s: %(why)s") % {"loan": escalation.case.loan.account_number, "why": why})
    if not done and not failed:
        messages.info(request, _("None of those requests is yours to decide any more."))
    return _back("supervision:escalations", filters)


# --- off-policy repayment plans --------------------------------------------------------------------


def _plans_page(request, query: QueryDict, *, bound=None, status=200):
    teams = list(teams_for_board(user=request.user))
    _chosen, team = chosen_teams(query, teams)
    plans = plans_for_review(user=request.user, team=team)
    paginator = Paginator(plans, PAGE_SIZE)
    page = paginator.get_page(query.get("page"))
    listing = query_without(query, "page")
    return render(
        request,
        "collection/supervision/plans.html",
        {
            "reviews": plan_reviews(page.object_list),
            "page": page,
            "paginator": paginator,
            "teams": teams,
            "team": team,
            "query": listing.urlencode(),
            "bound": bound,
            "bound_id": bound.data.get("plan") if bound is not None else None,
        },
        status=status,
    )


@require_GET
@role_required(*REVIEW_ROLES, hidden=True)
def plans_view(request):
    """The repayment plans beyond policy awaiting approval, each with the limits it exceeds."""
    return _plans_page(request, request.GET)


@require_POST
@role_required(*REVIEW_ROLES, hidden=True)
def plan_decide_view(request):
    """Approve an off-policy plan (it becomes active, and the case follows) or reject it with a
    reason. Decided or cancelled meanwhile, or its case closed: 409, nothing changes."""
    form = PlanDecisionForm(request.POST)
    filters = QueryDict(request.POST.get("filters", ""))
    if not form.is_valid():
        if form.has_error("plan"):
            raise Http404(_("No such repayment plan among yours."))
        return _plans_page(request, filters, bound=form, status=422)
    data = form.cleaned_data
    try:
        plan = plan_for_user(user=request.user, pk=data["plan"])
    except (RepaymentPlan.DoesNotExist, PermissionDenied) as error:
        raise Http404(_("No such repayment plan among yours.")) from error
    if plan.status != RepaymentPlan.Status.PENDING_APPROVAL:
        messages.error(
            request,
            _("This plan is %(status)s now, not awaiting approval: nothing was changed.")
            % {"status": str(plan.get_status_display()).lower()},
        )
        return _plans_page(request, filters, status=409)
    try:
        if data["decision"] == APPROVE:
            plan_approve(plan=plan, by=request.user, reason=data["reason"])
        else:
            plan_reject(plan=plan, by=request.user, reason=data["reason"])
    except CollectionError as error:
        messages.error(request, refusal_message(error))
        return _plans_page(request, filters, status=409)
    except PermissionDenied as error:
        messages.error(request, refusal_message(error))
        return _plans_page(request, filters, status=403)
    loan = CollectionCase.objects.values_list("loan__account_number", flat=True).get(pk=plan.case_id)
    if data["decision"] == APPROVE:
        messages.success(request, _("Plan approved: the plan of %(loan)s is active.") % {"loan": loan})
    else:
        messages.success(request, _("Plan rejected: the collector of %(loan)s sees why.") % {"loan": loan})
    return _back("supervision:plans", filters)
