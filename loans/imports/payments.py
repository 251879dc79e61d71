"""The payments file: payments on stored loans, allocated as payment_record allocates them."""

from django.utils import timezone
from django.utils.translation import gettext as _

from ..expressions import save_paid_amounts
from ..models import ZERO, Installment, Loan, Payment, PaymentAllocation
from ..services import balances_recompute, payment_allocate
from .base import Row, _count, _LoanRowsImporter, _readable


class _PaymentImporter(_LoanRowsImporter):
    """Payments, found by (source, reference), allocated in file order exactly as
    payment_record allocates them: oldest installment first (by due date, then number), within
    it penalty, fees, interest, then principal; an installment paid in full is marked paid on the
    local day the completing payment was received; a payment above what is still outstanding on
    the loan (after the rows before it) is refused, and so is one received in the future or
    before the loan was disbursed."""

    kind = "payments"
    models = (Payment,)
    key_column = "reference"
    INSTALLMENT_FIELDS = [f"{component}_paid" for component in Installment.COMPONENTS] + ["is_paid", "paid_on"]

    def __init__(self, result, **kwargs):
        super().__init__(result, **kwargs)
        self.now = timezone.now()

    def key_of(self, values: dict[str, object]) -> object:
        return None if values["reference"] is None else (values["source"], values["reference"])

    def repeated(self, values: dict[str, object], first: int) -> str:
        return _("payment %(reference)s from %(source)s is already on line %(first)s") % {
            "reference": values["reference"],
            "source": values["source"],
            "first": first,
        }

    def process_chunk(self, rows: list[Row]) -> None:
        references = {row.values["reference"] for row in rows if row.valid}
        loans = self.loans_by_account(rows, "disbursed_on")
        stored_payments = {
            (payment.source, payment.reference): payment
            for payment in Payment.objects.filter(reference__in=references)
            .select_related("loan")
            .only("source", "reference", "amount", "received_at", "channel", "loan__account_number")
        }
        to_record: list[tuple[Row, Loan]] = []
        for row in self.rows_to_import(rows):
            values = row.values
            stored = stored_payments.get((values["source"], values["reference"]))
            loan = loans.get(values["account_number"])
            if stored is not None:
                if self.same_payment(row, stored):
                    _count(self.result.skipped, Payment)
            elif loan is None:
                self.no_loan(row.line, values["account_number"])
            elif values["received_at"] > self.now:
                self.error(
                    row.line,
                    "received_at",
                    _("%(value)s is in the future") % {"value": _readable(values["received_at"])},
                )
            elif timezone.localdate(values["received_at"]) < loan.disbursed_on:
                self.error(
                    row.line,
                    "received_at",
                    _("%(value)s is before the loan was disbursed on %(disbursed)s")
                    % {"value": _readable(values["received_at"]), "disbursed": loan.disbursed_on},
                )
            else:
                to_record.append((row, loan))
        if to_record:
            self.record(rows, to_record)

    def same_payment(self, row: Row, stored: Payment) -> bool:
        values = row.values
        return self.same_as_stored(
            row.line,
            _("payment %(reference)s from %(source)s") % {"reference": values["reference"], "source": values["source"]},
            [
                ("account_number", stored.loan.account_number, values["account_number"]),
                ("amount", stored.amount, values["amount"]),
                ("received_at", stored.received_at, values["received_at"]),
                ("channel", stored.channel, values["channel"]),
            ],
        )

    def record(self, rows: list[Row], to_record: list[tuple[Row, Loan]]) -> None:
        """Record the chunk's payments, each on its loan, in file order, as payment_record would."""
        # Not payment_record itself: at about 20 ms a payment (each one recomputes and ages its
        # loan) 100,000 payments took over half an hour. Here the loans are locked and their unpaid
        # installments read once, the payments allocated in memory by the same payment_allocate, and
        # everything written in bulk; balances are recomputed per chunk, the loans aged at the end.
        # tests/loans/test_import.py checks that both leave the same result.
        loan_ids = sorted({loan.pk for _row, loan in to_record})
        # Locked in id order, as payment_record locks a loan and then its unpaid installments.
        list(Loan.objects.select_for_update().filter(pk__in=loan_ids).order_by("pk").values_list("pk"))
        unpaid: dict[int, list[Installment]] = {loan_id: [] for loan_id in loan_ids}
        for installment in (
            Installment.objects.select_for_update()
            .filter(loan__in=loan_ids, is_paid=False)
            .order_by("loan_id", "due_date", "sequence")
        ):
            unpaid[installment.loan_id].append(installment)
        outstanding = {
            loan_id: sum((installment.total_remaining for installment in installments), ZERO)
            for loan_id, installments in unpaid.items()
        }

        payments: list[Payment] = []
        allocations: list[PaymentAllocation] = []
        touched: dict[int, Installment] = {}
        for row, loan in to_record:
            values = row.values
            amount = values["amount"]
            if amount > outstanding[loan.pk]:
                self.error(
                    row.line,
                    "amount",
                    # payment_record's words, so that both say the same thing.
                    _("The payment of %(amount)s is more than the %(outstanding)s outstanding on loan %(loan)s.")
                    % {"amount": amount, "outstanding": outstanding[loan.pk], "loan": loan.account_number},
                )
                continue
            payment = Payment(
                loan=loan,
                amount=amount,
                received_at=values["received_at"],
                channel=values["channel"],
                source=values["source"],
                reference=values["reference"],
                recorded_by=self.recorded_by,
            )
            payments.append(payment)
            outstanding[loan.pk] -= amount
            payment_allocations, changed = payment_allocate(payment=payment, unpaid=unpaid[loan.pk])
            allocations.extend(payment_allocations)
            touched.update((installment.pk, installment) for installment in changed)

        recorded_loan_ids = {payment.loan_id for payment in payments}

        def write() -> None:
            Payment.objects.bulk_create(payments)
            PaymentAllocation.objects.bulk_create(allocations)
            save_paid_amounts(list(touched.values()), self.INSTALLMENT_FIELDS)
            if recorded_loan_ids:
                balances_recompute(loans=Loan.objects.filter(pk__in=recorded_loan_ids))

        self.write(rows, write)
        self.loan_ids_to_age |= recorded_loan_ids
        _count(self.result.created, Payment, len(payments))
