"""The filters of the team's case list (django-filter), over team_selectors.team_cases."""

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.models import DelinquencyBucket

from ..machine import OPEN_STAGES, Stage
from .team_selectors import no_attempt_for, no_right_party_contact_for


class NumberInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    pass


class TeamCaseFilter(django_filters.FilterSet):
    """Filters a team's open cases: team, collector, stage, bucket, no attempt or no right-party
    contact for N days, on hold; `case` keeps the cases named (the list after a reassignment)."""

    team = django_filters.ModelChoiceFilter(label=_("Team"), queryset=None, empty_label=_("All my teams"))
    collector = django_filters.ModelChoiceFilter(
        label=_("Collector"), field_name="assigned_to", queryset=None, empty_label=_("Any collector")
    )
    stage = django_filters.ChoiceFilter(
        label=_("Stage"), choices=[(s.value, s.label) for s in OPEN_STAGES], empty_label=_("Any stage")
    )
    bucket = django_filters.ModelChoiceFilter(
        label=_("Bucket"),
        field_name="loan__bucket",
        queryset=DelinquencyBucket.objects.order_by("min_dpd"),
        empty_label=_("Any bucket"),
    )
    no_attempt_days = django_filters.NumberFilter(
        label=_("No attempt for (days)"), method="without_attempt", min_value=1, max_value=365
    )
    no_rpc_days = django_filters.NumberFilter(
        label=_("No right-party contact for (days)"), method="without_contact", min_value=1, max_value=365
    )
    on_hold = django_filters.BooleanFilter(label=_("On hold only"), method="held", widget=forms.CheckboxInput)
    case = NumberInFilter(label=_("These cases"), field_name="pk")

    def __init__(self, *args, teams, collectors, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["team"].queryset = teams
        self.filters["collector"].queryset = collectors
        self.today = timezone.localdate()

    def without_attempt(self, queryset, name, value):
        return queryset.filter(no_attempt_for(int(value), today=self.today)) if value else queryset

    def without_contact(self, queryset, name, value):
        return queryset.filter(no_right_party_contact_for(int(value), today=self.today)) if value else queryset

    def held(self, queryset, name, value):
        return queryset.filter(stage=Stage.ON_HOLD) if value else queryset
