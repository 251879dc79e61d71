"""Promises to pay: taking one. Its settlement against the payments that arrive is
promises_evaluate (promise_evaluation.py)."""

import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from loans.models import Loan
from loans.money import NotMoney, money_parse

from ..access import case_access_check
from ..exceptions import CollectionError
from ..machine import OPEN_STAGES, Stage
from ..models import CollectionCase, ContactAttempt, PromiseToPay
from .cases import case_negotiate

__all__ = ["promise_take", "amount_parse"]


def amount_parse(value, *, what: str) -> Decimal:
    """An amount in yuan and fen, or a CollectionError that names it as `what`."""
    try:
        return money_parse(value, what=what)
    except NotMoney as error:
        raise CollectionError(error.message) from error


@transaction.atomic
def promise_take(
    *,
    case: CollectionCase,
    by: User,
    amount: Decimal,
    due_date: datetime.date,
    attempt: ContactAttempt | None = None,
) -> PromiseToPay:
    """Record the borrower's promise to pay `amount` by `due_date`.

    The amount is more than zero and at most what the loan still owes in total; the due date is
    today or later (desk time). Only an open case takes promises. A case in reminder moves to
    negotiation, since a promise is grounds for it. A new promise replaces the case's pending
    one (marked superseded), so that one payment never keeps two promises. The promise is later
    settled by promises_evaluate against the payments received from now to the end of the day
    after `due_date`. Only someone who reaches the case (collection.access) takes one."""
    if not by.has_perm("collection.work_case"):
        raise PermissionDenied(_("You may not take promises to pay."))
    case_access_check(case=case, by=by)
    if case.stage not in OPEN_STAGES:
        raise CollectionError(_("Cannot take a promise: the case is %(stage)s.") % {"stage": case.get_stage_display()})
    amount = amount_parse(amount, what=_("The promised amount"))
    outstanding = Loan.objects.get(pk=case.loan_id).total_outstanding
    if amount <= 0 or amount > outstanding:
        raise CollectionError(
            _("A promise must be more than zero and at most the %(outstanding)s the loan owes; %(amount)s is not.")
            % {"outstanding": outstanding, "amount": amount}
        )
    today = timezone.localdate()
    if due_date < today:
        raise CollectionError(
            _("A promise cannot be due in the past (%(due_date)s is before today, %(today)s).")
            % {"due_date": due_date, "today": today}
        )
    if attempt is not None and attempt.case_id != case.pk:
        raise CollectionError(_("The contact attempt belongs to another case."))

    # The case row is locked so that two promises taken at once replace one another in turn.
    CollectionCase.objects.select_for_update().filter(pk=case.pk).values_list("pk").get()
    PromiseToPay.objects.filter(case=case, status=PromiseToPay.Status.PENDING).update(
        status=PromiseToPay.Status.SUPERSEDED, evaluated_at=timezone.now()
    )
    promise = PromiseToPay.objects.create(case=case, amount=amount, due_date=due_date, taken_by=by, attempt=attempt)
    if case.stage == Stage.REMINDER:
        # After the promise exists: the negotiate condition reads pending promises.
        case_negotiate(
            case=case,
            by=by,
            reason=_("Promise to pay %(amount)s by %(due_date)s") % {"amount": amount, "due_date": due_date},
        )
    return promise
