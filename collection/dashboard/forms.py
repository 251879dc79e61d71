"""The dashboard's filters: the period (this month, last month, the last 30 or 90 days, or from a
day to a day) and the team (one of the user's, or all of them), and which table to export. A
filter that does not read is refused with the form's errors, never silently widened."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .selectors import Period

LONGEST_CUSTOM_PERIOD_DAYS = 366

EXPORTS = {
    "buckets": _("Bucket distribution"),
    "roll_rates": _("Roll rates"),
    "rates": _("Rates"),
    "by_stage": _("Collected by stage"),
    "by_channel": _("Collected by channel"),
    "messages": _("Outbound messages"),
    "refusals": _("Refused attempts by conduct rule"),
    "jobs": _("Last job runs"),
}


class DashboardFilterForm(forms.Form):
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    LAST_30 = "last_30"
    LAST_90 = "last_90"
    CUSTOM = "custom"

    period = forms.ChoiceField(
        label=_("Period"),
        choices=[
            (THIS_MONTH, _("This month")),
            (LAST_MONTH, _("Last month")),
            (LAST_30, _("Last 30 days")),
            (LAST_90, _("Last 90 days")),
            (CUSTOM, _("From a day to a day")),
        ],
        initial=THIS_MONTH,
        required=False,
    )
    start = forms.DateField(label=_("First day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Last day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, required=False)
    export = forms.ChoiceField(choices=[("", "-"), *EXPORTS.items()], required=False, widget=forms.HiddenInput)

    def __init__(self, *args, teams, whole_desk_label, today: datetime.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].empty_label = whole_desk_label
        self.today = today or timezone.localdate()

    def clean(self):
        data = super().clean()
        if data.get("period") == self.CUSTOM:
            start, end = data.get("start"), data.get("end")
            if not start:
                self.add_error("start", _("Give the first day of the period."))
            if not end:
                self.add_error("end", _("Give the last day of the period."))
            if start and end:
                if start > end:
                    self.add_error("end", _("The last day comes before the first."))
                elif (end - start).days >= LONGEST_CUSTOM_PERIOD_DAYS:
                    self.add_error(
                        "end", _("A period is at most %(days)s days long.") % {"days": LONGEST_CUSTOM_PERIOD_DAYS}
                    )
        return data

    def period_chosen(self) -> Period:
        """The period the valid form asks for (this month when it names none)."""
        today = self.today
        chosen = self.cleaned_data.get("period") or self.THIS_MONTH
        if chosen == self.CUSTOM:
            return Period(self.cleaned_data["start"], self.cleaned_data["end"])
        if chosen == self.LAST_MONTH:
            last = today.replace(day=1) - datetime.timedelta(days=1)
            return Period(last.replace(day=1), last)
        if chosen in (self.LAST_30, self.LAST_90):
            days = 30 if chosen == self.LAST_30 else 90
            return Period(today - datetime.timedelta(days=days - 1), today)
        return Period(today.replace(day=1), today)
