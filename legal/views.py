"""The legal pages: the queue (legal officers, supervisors and admins), one legal case with its
whole record, its costs, its timeline and the actions allowed now, and the legal portfolio
(supervisors and admins). Collectors are told the pages do not exist; a legal case out of reach
does not exist either. Thin views: reads through legal.selectors, writes through legal.services
(by way of legal.forms.ACTIONS)."""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import role_required
from collection.exceptions import StaleCase
from collection.web import form_run, query_without

from .deadlines import freezes_in_force
from .document_views import documents_context
from .filters import LegalCaseFilter
from .forms import ACTIONS, actions_offered, actions_shown
from .machine import LegalState
from .models import LegalCase
from .selectors import (
    legal_case_deadlines_due,
    legal_case_for_user,
    legal_case_records_read,
    legal_portfolio,
    legal_queue,
    legal_timeline,
    queue_next_deadlines,
)

LEGAL_ROLES = (roles.LEGAL_OFFICER, roles.SUPERVISOR, roles.ADMIN)
PORTFOLIO_ROLES = (roles.SUPERVISOR, roles.ADMIN)
PAGE_SIZE = 50


def _legal_case_or_404(request, pk: int) -> LegalCase:
    try:
        return legal_case_for_user(user=request.user, pk=pk)
    except (LegalCase.DoesNotExist, PermissionDenied) as error:
        raise Http404(_("No such legal case among yours.")) from error


@require_GET
@role_required(*LEGAL_ROLES, hidden=True)
def queue_view(request):
    cases_filter = LegalCaseFilter(request.GET or None, queryset=legal_queue(user=request.user))
    if cases_filter.is_bound and not cases_filter.is_valid():
        return render(request, "legal/queue.html", {"filter": cases_filter, "page": None}, status=400)
    cases = cases_filter.qs if cases_filter.is_bound else legal_queue(user=request.user)
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "legal/queue.html",
        {
            "filter": cases_filter,
            "page": page,
            "rows": queue_next_deadlines(page.object_list, today=timezone.localdate()),
            "listing": query_without(request.GET, "page"),
        },
    )


def _case_page(request, legal_case: LegalCase, *, bound: dict | None = None, status: int = 200):
    """The legal case page; `bound` is an action's form just refused, shown with its errors."""
    legal_case_records_read(legal_case)
    offered = actions_shown(legal_case, request.user, keep=tuple(bound or ()))
    forms = {name: ACTIONS[name].form(legal_case=legal_case) for name in offered}
    forms.update(bound or {})
    documents = documents_context(
        legal_case=legal_case, user=request.user, next_url=reverse("legal:case", args=[legal_case.pk])
    )
    return render(
        request,
        "legal/case.html",
        {
            **documents,
            "legal_case": legal_case,
            "case": legal_case.case,
            "loan": legal_case.case.loan,
            "actions": [(name, ACTIONS[name], forms[name]) for name in offered],
            "letters": legal_case.letters.all(),
            "mediations": legal_case.mediations.all(),
            "payment_orders": legal_case.payment_orders.all(),
            "filings": legal_case.filings.all(),
            "hearings": legal_case.hearings.all(),
            "judgments": legal_case.judgments.all(),
            "enforcements": legal_case.enforcements.all(),
            "freezes_in_force": {freeze.pk for freeze in freezes_in_force(list(legal_case.frozen_assets.all()))},
            "deadlines": legal_case_deadlines_due(legal_case, today=timezone.localdate()),
            "costs": legal_case.costs.all(),
            "limitation_events": legal_case.limitation_events.all(),
            "timeline": legal_timeline(legal_case),
            "LegalState": LegalState,
        },
        status=status,
    )


@require_GET
@role_required(*LEGAL_ROLES, hidden=True)
def case_view(request, pk: int):
    return _case_page(request, _legal_case_or_404(request, pk))


@require_POST
@role_required(*LEGAL_ROLES, hidden=True)
def act_view(request, pk: int, action: str):
    """Run one of the page's actions. Not offered now (wrong state, no permission): 403. Refused
    by its service: the page again with the form's errors (422; 409 when someone else moved the
    case first)."""
    legal_case = _legal_case_or_404(request, pk)
    chosen = ACTIONS.get(action)
    if chosen is None:
        raise Http404(_("No such action."))
    if action not in actions_offered(legal_case, request.user):
        raise PermissionDenied(_("This action is not open on this legal case now."))
    form = chosen.form(request.POST, legal_case=legal_case)
    stale = []

    def run(data):
        try:
            return chosen.run(legal_case, request.user, data)
        except StaleCase:
            stale.append(True)
            raise

    if form_run(request, form, run, done=str(chosen.done)) is None:
        status = 409 if stale else 422
        return _case_page(request, _legal_case_or_404(request, pk), bound={action: form}, status=status)
    return redirect("legal:case", pk=legal_case.pk)


@require_GET
@role_required(*PORTFOLIO_ROLES, hidden=True)
def portfolio_view(request):
    return render(request, "legal/portfolio.html", {"portfolio": legal_portfolio(user=request.user)})
