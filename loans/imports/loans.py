"""The loans file: loans and their borrowers."""

from django.utils.translation import gettext as _

from ..models import Borrower, Loan, Product
from .base import Row, _count, _Importer
from .cells import _quoted


class _LoanImporter(_Importer):
    """Loans, creating their borrowers. A borrower is found by national ID; the borrower's
    columns given on a row must match what is stored (blank optional columns are not compared)."""

    kind = "loans"
    models = (Borrower, Loan)
    BORROWER_FIELDS = (
        ("borrower_name", "name"),
        ("date_of_birth", "date_of_birth"),
        ("province", "province"),
        ("city", "city"),
        ("address", "address"),
    )
    LOAN_FIELDS = ("principal", "annual_rate", "disbursed_on", "term_months")

    def __init__(self, result, **kwargs):
        super().__init__(result, **kwargs)
        self.products = {product.code: product for product in Product.objects.all()}
        self.account_lines: dict[str, int] = {}
        # Ids only, to count each borrower once: created by this import, or found stored.
        self.borrower_ids_counted: set[int] = set()

    def process_chunk(self, rows: list[Row]) -> None:
        accounts = {row.values["account_number"] for row in rows if row.valid}
        national_ids = {row.values["national_id"] for row in rows if row.valid}
        stored_loans = {
            loan.account_number: loan
            for loan in Loan.objects.filter(account_number__in=accounts).select_related("borrower", "product")
        }
        borrowers = {
            borrower.national_id: borrower for borrower in Borrower.objects.filter(national_id__in=national_ids)
        }
        new_borrowers: list[Borrower] = []
        new_loans: list[Loan] = []
        for row in rows:
            values = row.values
            account = values["account_number"]
            if account is not None:
                first = self.account_lines.setdefault(account, row.line)
                if first != row.line:
                    self.error(
                        row.line,
                        "account_number",
                        _("account %(account)s is already on line %(first)s") % {"account": account, "first": first},
                    )
                    continue
            if not row.valid:
                continue
            national_id = values["national_id"]
            product = self.products.get(values["product_code"])
            row_ok = True
            if product is None:
                self.error(
                    row.line,
                    "product_code",
                    _("%(code)s is not a product code (known: %(known)s)")
                    % {"code": _quoted(values["product_code"]), "known": ", ".join(sorted(self.products))},
                )
                row_ok = False
            borrower = borrowers.get(national_id)
            if borrower is None:
                borrower = Borrower(
                    national_id=national_id,
                    **{field: values[column] for column, field in self.BORROWER_FIELDS},
                )
                borrowers[national_id] = borrower
                new_borrowers.append(borrower)
            else:
                label = _("the borrower with national ID %(id)s") % {"id": borrower.masked_national_id}
                row_ok &= self.same_where_filled(row.line, label, borrower, values, self.BORROWER_FIELDS)
                if borrower.pk is not None and borrower.pk not in self.borrower_ids_counted:
                    self.borrower_ids_counted.add(borrower.pk)
                    _count(self.result.skipped, Borrower)
            stored = stored_loans.get(account)
            if stored is None:
                if row_ok:
                    new_loans.append(
                        Loan(
                            account_number=account,
                            borrower=borrower,
                            product=product,
                            **{name: values[name] for name in self.LOAN_FIELDS},
                        )
                    )
                continue
            key = _("account %(account)s") % {"account": account}
            same = self.same_as_stored(
                row.line,
                key,
                [
                    ("national_id", stored.borrower.national_id, national_id),
                    ("product_code", stored.product.code, values["product_code"]),
                    *[(name, getattr(stored, name), values[name]) for name in self.LOAN_FIELDS],
                ],
            )
            if same and row_ok:
                _count(self.result.skipped, Loan)

        def write() -> None:
            Borrower.objects.bulk_create(new_borrowers)
            Loan.objects.bulk_create(new_loans)

        # New loans have no installments yet, so their balances are the zero they start with and
        # there is nothing to recompute; aging them now would call them paid off (no unpaid
        # installment). Stored loans are only ever skipped. The schedule import does both.
        self.write(rows, write)
        self.borrower_ids_counted.update(borrower.pk for borrower in new_borrowers)
        _count(self.result.created, Borrower, len(new_borrowers))
        _count(self.result.created, Loan, len(new_loans))
