"""The team board and reassignment: a supervisor's collectors in numbers, their team's open cases
filtered, and the move of one case or a selection to a named collector or balanced over the team,
confirmed before it is done. Supervisors see their own teams, admins every team; anyone else is
told the pages do not exist. Thin views: the reads are team_selectors', the moves the service's
(collection.services.cases_reassign), which reads the posted cases again within the user's reach."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import role_required
from loans.templatetags.money import yuan

from ..exceptions import CollectionError
from ..services import cases_reassign, cases_reassign_plan
from ..web import query_without, refusal_message, url_with_query
from .team_filters import TeamCaseFilter
from .team_forms import ReassignForm, posted_case_ids
from .team_selectors import (
    NO_ATTEMPT_DAYS,
    desk_periods,
    team_board,
    team_cases,
    team_cases_totals,
    team_collectors,
    teams_for_board,
)

BOARD_ROLES = (roles.SUPERVISOR, roles.ADMIN)
CASES_PAGE_SIZE = 50
# After a reassignment the list shows the cases moved, when they are few enough for a link.
MOST_CASES_SHOWN_AFTER_A_MOVE = 200


def _days(value, default: int = NO_ATTEMPT_DAYS) -> int:
    try:
        return min(max(int(value), 1), 365)
    except (TypeError, ValueError):
        return default


def chosen_teams(query: QueryDict, teams):
    """The teams a page is about: the one asked for (`team`) when it is the user's, else all of
    theirs; and that one team, or None."""
    asked = query.get("team")
    if asked and asked.isdigit():
        chosen = [team for team in teams if team.pk == int(asked)]
        if chosen:
            return chosen, chosen[0]
    return teams, None


@require_GET
@role_required(*BOARD_ROLES, hidden=True)
def team_board_view(request):
    """One row per collector: their load, their work today and this week, their results this
    month, what is overdue, and how long since they last did something."""
    teams = list(teams_for_board(user=request.user))
    chosen, team = chosen_teams(request.GET, teams)
    days = _days(request.GET.get("days"))
    periods = desk_periods()
    rows = team_board(teams=chosen, periods=periods, no_attempt_days=days)
    return render(
        request,
        "collection/supervision/team.html",
        {"teams": teams, "team": team, "rows": rows, "days": days, "periods": periods},
    )


def _cases_page(request, query: QueryDict, *, form=None, status=200):
    teams = teams_for_board(user=request.user)
    collectors = team_collectors(teams=teams)
    case_filter = TeamCaseFilter(
        query or None, queryset=team_cases(user=request.user, teams=teams), teams=teams, collectors=collectors
    )
    applied = case_filter.is_bound and case_filter.is_valid()
    cases = case_filter.qs if applied else team_cases(user=request.user, teams=teams)
    totals = team_cases_totals(cases)
    paginator = Paginator(range(totals["count"]), CASES_PAGE_SIZE)
    page = paginator.get_page(query.get("page"))
    rows = list(cases[page.start_index() - 1 : page.end_index()]) if totals["count"] else []
    chosen = case_filter.form.cleaned_data.get("team") if applied else None
    if form is None:
        form = ReassignForm(
            collectors=team_collectors(teams=[chosen]) if chosen else collectors,
            initial={"filters": query_without(query, "page", "case").urlencode()},
        )
    listing = query_without(query, "page")
    return render(
        request,
        "collection/supervision/team_cases.html",
        {
            "rows": rows,
            "totals": totals,
            "page": page,
            "paginator": paginator,
            "filter": case_filter,
            "filtered": bool(query_without(query, "page")),
            "form": form,
            "query": listing.urlencode(),
            "just_moved": "case" in query,
        },
        status=status,
    )


@require_GET
@role_required(*BOARD_ROLES, hidden=True)
def team_cases_view(request):
    """The team's open cases, filtered, to tick and reassign."""
    return _cases_page(request, request.GET)


@require_POST
@role_required(*BOARD_ROLES, hidden=True)
def team_reassign_view(request):
    """Reassign the ticked cases (or every case the filters keep): first the confirmation (how
    many cases and how much overdue money move, to whom, and what is refused), then, confirmed,
    the moves."""
    teams = teams_for_board(user=request.user)
    form = ReassignForm(request.POST, collectors=team_collectors(teams=teams))
    filters = QueryDict(request.POST.get("filters", ""))
    if not form.is_valid():
        return _cases_page(request, filters, form=form, status=422)
    data = form.cleaned_data
    if data["scope"] == ReassignForm.FILTERED:
        case_filter = TeamCaseFilter(
            filters or None,
            queryset=team_cases(user=request.user, teams=teams),
            teams=teams,
            collectors=team_collectors(teams=teams),
        )
        if case_filter.is_bound and not case_filter.is_valid():
            # Never "every case" by mistake: filters that do not read keep nothing.
            form.add_error(None, _("The filters could not be read: apply them again, then choose the cases."))
            return _cases_page(request, filters, form=form, status=422)
        ids = list(case_filter.qs.values_list("pk", flat=True))
    else:
        ids = posted_case_ids(request.POST)
    if not ids:
        form.add_error(None, _("Tick the cases to move, or choose every case the filters keep."))
        return _cases_page(request, filters, form=form, status=422)
    try:
        if request.POST.get("confirmed") != "1":
            plan = cases_reassign_plan(cases=ids, by=request.user, to=data["to"])
            return render(
                request,
                "collection/supervision/team_reassign_confirm.html",
                {
                    "plan": plan,
                    "form": form,
                    "to": data["to"],
                    "back": url_with_query("supervision:team_cases", filters),
                },
            )
        done = cases_reassign(cases=ids, by=request.user, reason=data["reason"], to=data["to"])
    except (CollectionError, PermissionDenied) as error:
        form.add_error(None, refusal_message(error))
        return _cases_page(request, filters, form=form, status=422)
    if done.moves:
        messages.success(
            request,
            ngettext(
                "%(count)s case moved (%(overdue)s overdue).",
                "%(count)s cases moved (%(overdue)s overdue).",
                len(done.moves),
            )
            % {"count": len(done.moves), "overdue": yuan(done.overdue)},
        )
    if done.unchanged:
        messages.info(
            request,
            ngettext(
                "%(count)s case was already with that collector and stays.",
                "%(count)s cases were already with that collector and stay.",
                len(done.unchanged),
            )
            % {"count": len(done.unchanged)},
        )
    for case, why in done.refused:
        messages.warning(request, _("%(loan)s not moved: %(why)s") % {"loan": case.loan.account_number, "why": why})
    moved = [case.pk for case, _to in done.moves]
    target = reverse("supervision:team_cases")
    if moved and len(moved) <= MOST_CASES_SHOWN_AFTER_A_MOVE:
        return redirect(f"{target}?{urlencode({'case': ','.join(map(str, moved))})}")
    return redirect(url_with_query("supervision:team_cases", filters))
