"""The schedule file: the installments of stored loans."""

from django.utils.translation import gettext as _

from ..models import ZERO, Installment, Loan
from ..services import balances_recompute
from .base import Row, _count, _LoanRowsImporter


class _ScheduleImporter(_LoanRowsImporter):
    """Installments of loans already stored. An installment is found by account and sequence; a new
    one falls due on or after the loan was disbursed and has something due."""

    kind = "schedule"
    models = (Installment,)
    key_column = "sequence"
    DUE_FIELDS = ("due_date", "principal_due", "interest_due", "fees_due", "penalty_due")

    def key_of(self, values: dict[str, object]) -> object:
        account, sequence = values["account_number"], values["sequence"]
        return None if account is None or sequence is None else (account, sequence)

    def repeated(self, values: dict[str, object], first: int) -> str:
        return _("installment %(sequence)s of account %(account)s is already on line %(first)s") % {
            "sequence": values["sequence"],
            "account": values["account_number"],
            "first": first,
        }

    def process_chunk(self, rows: list[Row]) -> None:
        loans = self.loans_by_account(rows, "disbursed_on")
        sequences = {row.values["sequence"] for row in rows if row.valid}
        stored_installments = {
            (installment.loan_id, installment.sequence): installment
            for installment in Installment.objects.filter(
                loan__in=[loan.pk for loan in loans.values()], sequence__in=sequences
            )
        }
        new_installments: list[Installment] = []
        for row in self.rows_to_import(rows):
            loan = loans.get(row.values["account_number"])
            if loan is None:
                self.no_loan(row.line, row.values["account_number"])
                continue
            stored = stored_installments.get((loan.pk, row.values["sequence"]))
            if stored is None:
                installment = self.new_installment(row, loan)
                if installment is not None:
                    new_installments.append(installment)
            elif self.same_installment(row, stored):
                _count(self.result.skipped, Installment)

        touched = {installment.loan_id for installment in new_installments}

        def write() -> None:
            Installment.objects.bulk_create(new_installments)
            if touched:
                balances_recompute(loans=Loan.objects.filter(pk__in=touched))

        self.write(rows, write)
        self.loan_ids_to_age |= touched
        _count(self.result.created, Installment, len(new_installments))

    def new_installment(self, row: Row, loan: Loan) -> Installment | None:
        """The row's installment of `loan`, or None (reported) when the row cannot be one."""
        due = {name: row.values[name] for name in self.DUE_FIELDS}
        if due["penalty_due"] is None:
            due["penalty_due"] = ZERO
        if due["due_date"] < loan.disbursed_on:
            self.error(
                row.line,
                "due_date",
                _("%(due)s is before the loan was disbursed on %(disbursed)s")
                % {"due": due["due_date"], "disbursed": loan.disbursed_on},
            )
            return None
        if not any(due[name] for name in self.DUE_FIELDS[1:]):
            self.error(row.line, "principal_due", _("an installment must have something due"))
            return None
        return Installment(loan=loan, sequence=row.values["sequence"], **due)

    def same_installment(self, row: Row, stored: Installment) -> bool:
        # A blank penalty is not compared: it may have been charged since the schedule came in.
        label = _("installment %(sequence)s of account %(account)s") % {
            "sequence": row.values["sequence"],
            "account": row.values["account_number"],
        }
        return self.same_where_filled(row.line, label, stored, row.values, [(name, name) for name in self.DUE_FIELDS])
