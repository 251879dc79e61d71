"""The queue's filters and search (django-filter), over collection.selectors.queue_for_collector."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from loans.models import Contact

from .machine import OPEN_STAGES
from .selectors import QueueCounts, queue_filter_q

# A search of four digits also looks for a phone number ending in them.
PHONE_SUFFIX_LENGTH = 4


class QueueFilter(django_filters.FilterSet):
    """Filters the collector's queue. The choices come with their counts (QueueCounts), so that
    the filter form costs no query of its own."""

    q = django_filters.CharFilter(label=_("Search"), method="search")
    stage = django_filters.ChoiceFilter(label=_("Stage"), choices=[(s.value, s.label) for s in OPEN_STAGES])
    bucket = django_filters.ChoiceFilter(label=_("Bucket"), field_name="loan__bucket_id")
    product = django_filters.ChoiceFilter(label=_("Product"), field_name="loan__product_id")
    promise_due_today = django_filters.BooleanFilter(
        label=_("Promise due today"), method="flag", widget=forms.CheckboxInput
    )
    broken_promise = django_filters.BooleanFilter(label=_("Broken promise"), method="flag", widget=forms.CheckboxInput)
    callback_due = django_filters.BooleanFilter(label=_("Callback due"), method="flag", widget=forms.CheckboxInput)
    no_contact_7d = django_filters.BooleanFilter(
        label=_("No contact in 7 days"), method="flag", widget=forms.CheckboxInput
    )
    on_hold = django_filters.BooleanFilter(label=_("On hold"), method="flag", widget=forms.CheckboxInput)

    FLAGS = ("promise_due_today", "broken_promise", "callback_due", "no_contact_7d", "on_hold")

    def __init__(self, *args, counts: QueueCounts, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        self.counts = counts
        self.filters["stage"].extra["choices"] = [
            (value, f"{label} ({count})") for value, label, count in counts.stages
        ]
        self.filters["bucket"].extra["choices"] = [(str(pk), f"{name} ({count})") for pk, name, count in counts.buckets]
        self.filters["product"].extra["choices"] = [
            (str(pk), f"{name} ({count})") for pk, name, count in counts.products
        ]

    def flag(self, queryset, name, value):
        """A ticked flag keeps the cases it names; an unticked one keeps all."""
        return queryset.filter(queue_filter_q(now=self.now)[name]) if value else queryset

    def search(self, queryset, name, value):
        """A loan number (its start), a borrower's name (its start), or the last four digits of
        one of the borrower's phone numbers."""
        value = value.strip()
        if not value:
            return queryset
        condition = Q(loan__account_number__istartswith=value) | Q(loan__borrower__name__startswith=value)
        if value.isdigit() and len(value) == PHONE_SUFFIX_LENGTH:
            phone = Contact.objects.filter(borrower=OuterRef("loan__borrower"), value__endswith=value)
            condition |= Exists(phone)
        return queryset.filter(condition)
