"""The schedule file: the installments of stored loans."""

from django.utils.translation import gettext as _

from ..models import ZERO, Installment, Loan
from ..services import balances_recompute
from .base import Row, _count, _LoanRowsImporter


class _ScheduleImporter(_LoanRowsImporter):
    """Installments of loans already stored. An installment is found by account and sequence."""

    kind = "schedule"
    models = (Installment,)
    DUE_FIELDS = ("due_date", "principal_due", "interest_due", "fees_due", "penalty_due")

    def __init__(self, result, **kwargs):
        super().__init__(result, **kwargs)
        self.installment_lines: dict[tuple[str, int], int] = {}

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
        for row in rows:
            values = row.values
            account, sequence = values["account_number"], values["sequence"]
            if account is not None and sequence is not None:
                first = self.installment_lines.setdefault((account, sequence), row.line)
                if first != row.line:
                    self.error(
                        row.line,
                        "sequence",
                        _("installment %(sequence)s of account %(account)s is already on line %(first)s")
                        % {"sequence": sequence, "account": account, "first": first},
                    )
                    continue
            if not row.valid:
                continue
            loan = loans.get(account)
            if loan is None:
                self.no_loan(row.line, account)
                continue
            stored = stored_installments.get((loan.pk, sequence))
            if stored is not None:
                key = _("installment %(sequence)s of account %(account)s") % {"sequence": sequence, "account": account}
                if self.same_where_filled(row.line, key, stored, values, [(n, n) for n in self.DUE_FIELDS]):
                    _count(self.result.skipped, Installment)
                continue
            if values["penalty_due"] is None:
                values["penalty_due"] = ZERO
            if values["due_date"] < loan.disbursed_on:
                self.error(
                    row.line,
                    "due_date",
                    _("%(due)s is before the loan was disbursed on %(disbursed)s")
                    % {"due": values["due_date"], "disbursed": loan.disbursed_on},
                )
                continue
            if not any(values[name] for name in self.DUE_FIELDS[1:]):
                self.error(row.line, "principal_due", _("an installment must have something due"))
                continue
            new_installments.append(
                Installment(loan=loan, sequence=sequence, **{n: values[n] for n in self.DUE_FIELDS})
            )

        touched = {installment.loan_id for installment in new_installments}

        def write() -> None:
            Installment.objects.bulk_create(new_installments)
            if touched:
                balances_recompute(loans=Loan.objects.filter(pk__in=touched))

        self.write(rows, write)
        self.loan_ids_to_age |= touched
        _count(self.result.created, Installment, len(new_installments))
