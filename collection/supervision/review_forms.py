"""The review pages' forms: a decision on one escalation request or plan (approve, or reject with a
reason), and a bulk decision on the ticked requests or every request the filters keep. The ids
posted are only a wish: the views read them again within the supervisor's reach, and the services
decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..machine import Stage

APPROVE = "approve"
REJECT = "reject"
DECISIONS = [(APPROVE, _("Approve")), (REJECT, _("Reject"))]


class _Decision(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required to reject; the collector reads it."),
    )
    filters = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        data["reason"] = (data.get("reason") or "").strip()
        if data.get("decision") == REJECT and not data["reason"]:
            self.add_error("reason", _("Say why the request is rejected."))
        return data


class EscalationDecisionForm(_Decision):
    """One request: its id, and the stage its case was in when the page showed it (a case that
    has moved since makes the decision stale)."""

    request = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)


class PlanDecisionForm(_Decision):
    plan = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class EscalationBulkForm(_Decision):
    SELECTED = "selected"
    FILTERED = "filtered"

    scope = forms.ChoiceField(
        label=_("Which requests"),
        choices=[(SELECTED, _("The ticked requests")), (FILTERED, _("Every request the filters keep"))],
        initial=SELECTED,
        widget=forms.RadioSelect,
    )


def posted_ids(data, name: str = "request") -> list[int]:
    """The ids a form posted under `name` (repeated), the numbers only: a wish, not a grant."""
    return [int(value) for value in data.getlist(name) if value.isdigit()][:10_000]
