"""The filters of the escalation requests awaiting a decision (django-filter), over
review_selectors.escalations_for_review."""

import django_filters
from django.utils.translation import gettext_lazy as _

from loans.models import DelinquencyBucket

from ..machine import OPEN_STAGES, WORKING_STAGES


class EscalationFilter(django_filters.FilterSet):
    """Filters the pending requests: the case's team, collector, stage and bucket, the stage asked
    for, who asked (a collector or a stage rule), and a least DPD."""

    COLLECTOR = "collector"
    RULE = "rule"

    team = django_filters.ModelChoiceFilter(
        label=_("Team"), field_name="case__team", queryset=None, empty_label=_("All my teams")
    )
    collector = django_filters.ModelChoiceFilter(
        label=_("Collector"), field_name="case__assigned_to", queryset=None, empty_label=_("Any collector")
    )
    stage = django_filters.ChoiceFilter(
        label=_("Stage now"),
        field_name="case__stage",
        choices=[(s.value, s.label) for s in OPEN_STAGES],
        empty_label=_("Any stage"),
    )
    target_stage = django_filters.ChoiceFilter(
        label=_("Asked to move to"),
        choices=[(s.value, s.label) for s in WORKING_STAGES[1:]],
        empty_label=_("Any stage"),
    )
    source = django_filters.ChoiceFilter(
        label=_("Asked by"),
        choices=[(COLLECTOR, _("A collector")), (RULE, _("A stage rule"))],
        method="asked_by",
        empty_label=_("Anyone"),
    )
    bucket = django_filters.ModelChoiceFilter(
        label=_("Bucket"),
        field_name="case__loan__bucket",
        queryset=DelinquencyBucket.objects.order_by("min_dpd"),
        empty_label=_("Any bucket"),
    )
    # The DPD the page shows (as of the portfolio's day): the requests are few, no index needed.
    min_dpd = django_filters.NumberFilter(
        label=_("DPD at least"),
        field_name="case__loan__days_past_due",
        lookup_expr="gte",
        min_value=0,
        max_value=10_000,
    )

    def __init__(self, *args, teams, collectors, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["team"].queryset = teams
        self.filters["collector"].queryset = collectors

    def asked_by(self, queryset, name, value):
        if value == self.RULE:
            return queryset.filter(requested_by__isnull=True)
        if value == self.COLLECTOR:
            return queryset.filter(requested_by__isnull=False)
        return queryset
