"""The legal queue's filters (django-filter), over selectors.legal_queue."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from .machine import LegalState
from .models import Court, LawFirm
from .selectors import with_court


class LegalCaseFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(label=_("State"), choices=LegalState.choices, empty_label=_("Any state"))
    court = django_filters.ModelChoiceFilter(
        label=_("Court"), queryset=Court.objects.all(), method="before_court", empty_label=_("Any court")
    )
    firm = django_filters.ModelChoiceFilter(
        label=_("Law firm"), queryset=LawFirm.objects.all(), empty_label=_("Any firm")
    )

    limitation_flagged = django_filters.BooleanFilter(
        label=_("Limitation near its end"),
        field_name="limitation_flagged_on",
        lookup_expr="isnull",
        exclude=True,
        widget=forms.Select(choices=[("", _("Either")), ("true", _("Flagged")), ("false", _("Not flagged"))]),
    )

    def before_court(self, queryset, _name, court):
        return with_court(queryset, court.pk) if court else queryset
