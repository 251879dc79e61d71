"""Factories for the portfolio. `LoanFactory` builds a loan with an equal-principal schedule of
`term_months` monthly installments; `installments=False` skips the schedule."""

import datetime
from decimal import Decimal

import factory
from dateutil.relativedelta import relativedelta

from loans.models import Borrower, Contact, Installment, Loan, Product
from loans.selectors import portfolio_day
from loans.validators import national_id_check_char


def _national_id(n: int) -> str:
    birth = datetime.date(1970, 1, 1) + datetime.timedelta(days=n // 1000)
    first17 = f"110101{birth:%Y%m%d}{n % 1000:03d}"
    return first17 + national_id_check_char(first17)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n}")
    name = factory.LazyAttribute(lambda o: f"产品 {o.code}")
    kind = Product.Kind.CONSUMER_LOAN
    grace_days = 0
    daily_penalty_rate = Decimal("0.000500")


class BorrowerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Borrower

    name = factory.Faker("name", locale="zh_CN")
    national_id = factory.Sequence(lambda n: _national_id(n))
    date_of_birth = datetime.date(1985, 5, 1)
    province = "北京市"
    city = "北京市"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    borrower = factory.SubFactory(BorrowerFactory)
    kind = Contact.Kind.MOBILE
    value = factory.Sequence(lambda n: f"+86138{n:08d}")


class LoanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Loan
        skip_postgeneration_save = True

    account_number = factory.Sequence(lambda n: f"LN{n:010d}")
    borrower = factory.SubFactory(BorrowerFactory)
    product = factory.SubFactory(ProductFactory)
    principal = Decimal("1200.00")
    annual_rate = Decimal("0.1200")
    disbursed_on = datetime.date(2026, 1, 15)
    term_months = 12

    @factory.post_generation
    def installments(self, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        build_schedule(self, interest=kwargs.get("interest"), fees=kwargs.get("fees", Decimal("0.00")))


def build_schedule(loan: Loan, *, interest=None, fees=Decimal("0.00")) -> list[Installment]:
    """Equal principal each month, the rounding left on the last installment; flat interest of a
    twelfth of the annual rate on the principal unless `interest` is given per installment."""
    from loans.services import balances_recompute

    each = (loan.principal / loan.term_months).quantize(Decimal("0.01"))
    monthly_interest = (
        interest if interest is not None else (loan.principal * loan.annual_rate / 12).quantize(Decimal("0.01"))
    )
    rows = []
    for sequence in range(1, loan.term_months + 1):
        principal = each if sequence < loan.term_months else loan.principal - each * (loan.term_months - 1)
        rows.append(
            Installment(
                loan=loan,
                sequence=sequence,
                due_date=loan.disbursed_on + relativedelta(months=sequence),
                principal_due=principal,
                interest_due=monthly_interest,
                fees_due=fees,
            )
        )
    Installment.objects.bulk_create(rows)
    balances_recompute(loans=Loan.objects.filter(pk=loan.pk))
    loan.refresh_from_db()
    return rows


def national_id(n: int) -> str:
    """A valid national ID number for the number n, as BorrowerFactory makes them (for CSV rows
    of borrowers that are not stored yet, use numbers above the factory's sequence)."""
    return _national_id(n)


def make_days_past_due(loans, days: int, **fields) -> None:
    """Make the loans (a queryset) `days` past due on the portfolio's day: their days past due are
    read from where their grace ends. Other stored fields (status, ...) are set as given."""
    loans.update(grace_ends_on=portfolio_day() - datetime.timedelta(days=days), **fields)
