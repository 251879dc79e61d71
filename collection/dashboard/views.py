"""The dashboard: the desk's numbers over a period, for a supervisor's teams or, for an admin, the
whole desk or one team; each table also as CSV (`?export=<table>`, same filters). Collectors,
legal officers and anyone else are told the page does not exist. Thin: the figures are
selectors', the charts charts'."""

from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts import roles
from accounts.decorators import role_required
from loans.templatetags.money import yuan

from ..access import sees_everything, supervised_team_ids
from ..supervision.team_selectors import teams_for_board
from ..web import query_without
from .charts import bar_chart
from .exports import csv_response, table
from .forms import EXPORTS, DashboardFilterForm
from .selectors import FIGURES, DeskNumbers, Scope, desk_numbers, period_scans

DASHBOARD_ROLES = (roles.SUPERVISOR, roles.ADMIN)


def _scope(user, team) -> Scope:
    if team is not None:
        return Scope((team.pk,))
    if sees_everything(user):
        return Scope(None)
    return Scope(tuple(sorted(supervised_team_ids(user))))


def _percent(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _charts(numbers: DeskNumbers) -> dict:
    buckets = bar_chart(
        id="chart-buckets",
        title=_("Overdue amount by bucket"),
        description=_("One bar per delinquency bucket, as long as its overdue amount."),
        rows=[(row["bucket"], row["overdue"], yuan(row["overdue"])) for row in numbers.buckets],
    )
    latest_rolls = numbers.roll_rates[-1] if numbers.roll_rates else None
    rolls = (
        bar_chart(
            id="chart-rolls",
            title=_("Roll rates, %(month)s") % {"month": latest_rolls["month"].strftime("%Y-%m")},
            description=_("One bar per move from a bucket to the next, as long as its roll rate."),
            rows=[
                (f"{roll['from']} → {roll['to']}", roll["rate"], _percent(roll["rate"]))
                for roll in latest_rolls["rolls"]
            ],
        )
        if latest_rolls
        else None
    )
    by_stage = bar_chart(
        id="chart-stage",
        title=_("Collected by stage"),
        description=_("One bar per stage of the loan's latest case, as long as the money collected."),
        rows=[(line["label"], line["amount"], yuan(line["amount"])) for line in numbers.collected["by_stage"]],
    )
    by_channel = bar_chart(
        id="chart-channel",
        title=_("Collected by channel"),
        description=_("One bar per payment channel, as long as the money collected."),
        rows=[(line["label"], line["amount"], yuan(line["amount"])) for line in numbers.collected["by_channel"]],
    )
    return {"buckets": buckets, "rolls": rolls, "by_stage": by_stage, "by_channel": by_channel}


def _rates(numbers: DeskNumbers) -> list[dict]:
    """The rates' cards: value, and the two counts it divides."""
    collected, recovery = numbers.collected["total"], numbers.recovery["overdue"]
    return [
        {
            "key": "cure_rate",
            "label": _("Cure rate"),
            "value": _percent(numbers.cure_rate),
            "detail": _("%(resolved)s resolved of %(open)s cases open")
            % {"resolved": numbers.cases["resolved"], "open": numbers.cases["open_in_period"]},
        },
        {
            "key": "recovery_rate",
            "label": _("Recovery rate"),
            "value": _percent(numbers.recovery_rate),
            "detail": (
                _("%(collected)s of %(overdue)s overdue") % {"collected": yuan(collected), "overdue": yuan(recovery)}
                if recovery is not None
                else _("no portfolio snapshot before the period")
            )
            + (" " + _("(estimated)") if numbers.recovery["estimated"] else ""),
        },
        {
            "key": "rpc_rate",
            "label": _("Right-party-contact rate"),
            "value": _percent(numbers.rpc_rate),
            "detail": _("%(reached)s of %(attempts)s attempts")
            % {"reached": numbers.attempts["right_party"], "attempts": numbers.attempts["attempts"]},
        },
        {
            "key": "ptp_rate",
            "label": _("Promise-to-pay rate"),
            "value": _percent(numbers.ptp_rate),
            "detail": _("%(taken)s promises of %(reached)s right-party contacts")
            % {"taken": numbers.promises["taken"], "reached": numbers.attempts["right_party"]},
        },
        {
            "key": "kept_rate",
            "label": _("Promise-kept rate"),
            "value": _percent(numbers.kept_rate),
            "detail": _("%(kept)s kept of %(settled)s settled")
            % {"kept": numbers.promises["kept"], "settled": numbers.promises["settled"]},
        },
        {
            "key": "attempts_per_account",
            "label": _("Attempts per account"),
            "value": "-" if numbers.attempts_per_account is None else f"{numbers.attempts_per_account:.2f}",
            "detail": _("%(attempts)s attempts on %(open)s cases")
            % {"attempts": numbers.attempts["attempts"], "open": numbers.cases["open_in_period"]},
        },
    ]


@require_GET
@role_required(*DASHBOARD_ROLES, hidden=True)
def dashboard_view(request):
    """The numbers the desk lives by, filtered by period and team; `export` streams one table."""
    teams = teams_for_board(user=request.user)
    whole = _("The whole desk") if sees_everything(request.user) else _("All my teams")
    form = DashboardFilterForm(request.GET or None, teams=teams, whole_desk_label=whole)
    if form.is_bound and not form.is_valid():
        page = render_to_string(
            "collection/dashboard/index.html", {"form": form, "numbers": None, "figures": FIGURES}, request=request
        )
        return HttpResponseBadRequest(page)
    if not form.is_bound:
        form = DashboardFilterForm({"period": DashboardFilterForm.THIS_MONTH}, teams=teams, whole_desk_label=whole)
        form.is_valid()
    team = form.cleaned_data.get("team")
    numbers = desk_numbers(scope=_scope(request.user, team), period=form.period_chosen())
    export = form.cleaned_data.get("export")
    with period_scans():  # every figure is read inside: the page renders, an export reads its table
        if export:
            list(table(numbers, export)[1])
            return csv_response(numbers, export)
        query = query_without(request.GET, "export")
        return render(
            request,
            "collection/dashboard/index.html",
            {
                "form": form,
                "numbers": numbers,
                "team": team,
                "figures": FIGURES,
                "charts": _charts(numbers),
                "rates": _rates(numbers),
                "exports": EXPORTS,
                "query": query.urlencode(),
            },
        )
