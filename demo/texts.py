"""What the seeded history says: collectors' notes, supervisors' reasons, and the words the
desk's own services write (transition reasons, refusals), all rendered in the desk's language
as the services render them.

Strings the collection services also use keep their msgid here, so they read the same in the
seeded rows as in the rows the desk writes itself."""

from django.utils.translation import gettext_lazy as _

from collection.models import Outcome

# --- collectors' notes, by outcome (calls) ----------------------------------------------------

CALL_NOTES = {
    Outcome.NO_ANSWER: (_("No answer."), _("Rang out, no voicemail.")),
    Outcome.BUSY: (_("Line busy."),),
    Outcome.RIGHT_PARTY_CONTACT: (
        _("Spoke with the borrower: explained the overdue amount and the ways to pay."),
        _("The borrower confirmed the debt and will check their budget."),
    ),
    Outcome.PROMISE_TO_PAY: (_("The borrower promised to pay %(amount)s by %(due_date)s."),),
    Outcome.REFUSED: (_("The borrower refused to talk and hung up."),),
    Outcome.DISPUTE: (_("The borrower disputes the overdue amount and asks for the repayment records."),),
    Outcome.HARDSHIP: (
        _("The borrower lost their job and asks for time to pay."),
        _("The borrower is in hospital and the family is short of money."),
    ),
    Outcome.ALREADY_PAID: (_("The borrower says they paid through the app."),),
    Outcome.WRONG_NUMBER: (_("The person who answered does not know the borrower."),),
    Outcome.THIRD_PARTY: (_("A family member answered and will pass on the message."),),
}
THIRD_PARTY_NOTES = {
    Outcome.THIRD_PARTY: (_("Reached the borrower's %(relation)s and asked them to have the borrower call us back."),),
    Outcome.NO_ANSWER: (_("No answer."),),
    Outcome.BUSY: (_("Line busy."),),
    Outcome.REFUSED: (_("Refused to pass on any message."),),
    Outcome.DO_NOT_CONTACT: (_("Asked not to be called again about the borrower."),),
    Outcome.WRONG_NUMBER: (_("The person who answered does not know the borrower."),),
}
VISIT_NOTES = {
    Outcome.RIGHT_PARTY_CONTACT: _("Visited the home address with a colleague and spoke with the borrower."),
    Outcome.NO_ANSWER: _("Visited the home address with a colleague: nobody home."),
    Outcome.REFUSED: _("Visited the home address with a colleague: the borrower would not discuss the debt."),
}
INBOUND_NOTE = _("The borrower called back after the reminder.")
SMS_NOTE = _("Sent an SMS with the overdue amount and the hotline.")
PROMISE_SMS_NOTE = _("Sent an SMS reminding the borrower of the promise due %(due_date)s.")
LAWYER_LETTER_NOTE = _("Lawyer's letter sent by registered post, tracking number %(tracking)s.")
CONSENT_NOTE = _("The borrower asked to be called back on %(day)s.")

# --- holds, assignments, requests and plans ---------------------------------------------------

HOLD_NOTES = {
    "dispute": _("Dispute raised: on hold until the repayment records are checked."),
    "hardship": _("Hardship claimed: on hold while the supporting documents are reviewed."),
}
RESUME_REASONS = {
    "dispute": _("Records checked: the debt is confirmed, collection resumes."),
    "hardship": _("Hardship reviewed: collection resumes with a softer tone."),
}
REASSIGNMENT_REASONS = (
    _("Collector on leave: case handed over within the team."),
    _("Balancing the team's workload."),
    _("The borrower complained about the previous collector."),
)
ESCALATION_REQUEST_REASONS = (
    _("The borrower refuses every contact: a formal demand is needed."),
    _("Promises keep breaking: asking for stronger measures."),
)
ESCALATION_APPROVALS = (_("Agreed: send the formal demand."), _("Agreed."))
ESCALATION_REJECTIONS = (
    _("Try a repayment plan first."),
    _("The borrower was reached last week: keep negotiating."),
)
LITIGATION_APPROVALS = (
    _("No payment and no contact for months: refer to the lawyers."),
    _("Amount and evidence support a suit: refer to the lawyers."),
)
LITIGATION_REJECTIONS = (
    _("The address is verified: try a field visit first."),
    _("Too small an amount to sue: keep collecting."),
)
PLAN_APPROVALS = (_("Approved: the borrower's hardship is documented."),)
PLAN_REJECTIONS = (_("The first payment is too small: ask for at least the policy's share."),)
