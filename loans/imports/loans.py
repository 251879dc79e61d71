"""The loans file: loans and their borrowers."""

from django.utils.translation import gettext as _

from ..models import Borrower, Loan, Product
from ..validators import mask_national_id
from .base import Row, _count, _Importer
from .cells import _quoted


class _LoanImporter(_Importer):
    """Loans, creating their borrowers. A borrower is found by national ID; the borrower's
    columns given on a row must match what is stored (blank optional columns are not compared)."""

    kind = "loans"
    models = (Borrower, Loan)
    key_column = "account_number"
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
        # Ids only, to count each borrower once: created by this import, or found stored.
        self.borrower_ids_counted: set[int] = set()

    def key_of(self, values):
        return values["account_number"]

    def repeated(self, values, first):
        return _("account %(account)s is already on line %(first)s") % {
            "account": values["account_number"],
            "first": first,
        }

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
        for row in self.rows_to_import(rows):
            product = self.product(row)
            borrower, same_borrower = self.borrower(row, borrowers, new_borrowers)
            stored = stored_loans.get(row.values["account_number"])
            if stored is None:
                if product is not None and same_borrower:
                    new_loans.append(self.new_loan(row, borrower, product))
            elif self.same_loan(row, stored) and product is not None and same_borrower:
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

    def product(self, row: Row) -> Product | None:
        """The product the row names, None (reported) for an unknown code."""
        product = self.products.get(row.values["product_code"])
        if product is None:
            self.error(
                row.line,
                "product_code",
                _("%(code)s is not a product code (known: %(known)s)")
                % {"code": _quoted(row.values["product_code"]), "known": ", ".join(sorted(self.products))},
            )
        return product

    def borrower(
        self, row: Row, borrowers: dict[str, Borrower], new_borrowers: list[Borrower]
    ) -> tuple[Borrower, bool]:
        """The row's borrower, and whether the row agrees with it: the one with the row's national ID,
        stored or from an earlier row, or else a new one (added to `borrowers` and `new_borrowers`)."""
        values = row.values
        borrower = borrowers.get(values["national_id"])
        if borrower is None:
            borrower = Borrower(
                national_id=values["national_id"],
                **{field: values[column] for column, field in self.BORROWER_FIELDS},
            )
            borrowers[borrower.national_id] = borrower
            new_borrowers.append(borrower)
            return borrower, True
        label = _("the borrower with national ID %(id)s") % {"id": mask_national_id(borrower.national_id)}
        same = self.same_where_filled(row.line, label, borrower, values, self.BORROWER_FIELDS)
        if borrower.pk is not None and borrower.pk not in self.borrower_ids_counted:
            self.borrower_ids_counted.add(borrower.pk)
            _count(self.result.skipped, Borrower)
        return borrower, same

    def new_loan(self, row: Row, borrower: Borrower, product: Product) -> Loan:
        values = row.values
        return Loan(
            account_number=values["account_number"],
            borrower=borrower,
            product=product,
            **{name: values[name] for name in self.LOAN_FIELDS},
        )

    def same_loan(self, row: Row, stored: Loan) -> bool:
        values = row.values
        return self.same_as_stored(
            row.line,
            _("account %(account)s") % {"account": values["account_number"]},
            [
                ("national_id", stored.borrower.national_id, values["national_id"]),
                ("product_code", stored.product.code, values["product_code"]),
                *[(name, getattr(stored, name), values[name]) for name in self.LOAN_FIELDS],
            ],
        )
