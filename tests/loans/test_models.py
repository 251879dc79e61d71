import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from loans.models import Borrower, Contact, DelinquencyBucket, Installment, Loan, Payment
from loans.phones import normalise_contact_value, normalise_phone
from loans.validators import validate_national_id
from tests.loans.factories import BorrowerFactory, ContactFactory, LoanFactory


def refused_by_database(action) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        action()


def test_account_numbers_are_unique(db):
    loan = LoanFactory(installments=False)

    refused_by_database(lambda: LoanFactory(account_number=loan.account_number, installments=False))


def test_a_borrower_has_each_contact_value_once(db):
    contact = ContactFactory()

    refused_by_database(lambda: ContactFactory(borrower=contact.borrower, value=contact.value))


def test_a_loan_needs_a_positive_principal_and_term(db):
    refused_by_database(lambda: LoanFactory(principal=Decimal("0.00"), installments=False))
    refused_by_database(lambda: LoanFactory(term_months=0, installments=False))


def test_an_installment_cannot_be_paid_beyond_what_is_due(db):
    loan = LoanFactory(term_months=1, principal=Decimal("100.00"))

    refused_by_database(lambda: Installment.objects.filter(loan=loan).update(principal_paid=Decimal("100.01")))


def test_paid_in_full_flag_must_agree_with_the_amounts(db):
    loan = LoanFactory(term_months=1, principal=Decimal("100.00"))

    refused_by_database(lambda: Installment.objects.filter(loan=loan).update(is_paid=True))
    refused_by_database(
        lambda: Installment.objects.filter(loan=loan).update(principal_paid=Decimal("100.00"), interest_paid=1)
    )


def test_one_installment_per_sequence(db):
    loan = LoanFactory(term_months=1, principal=Decimal("100.00"))

    refused_by_database(lambda: Installment.objects.create(loan=loan, sequence=1, due_date=datetime.date(2026, 3, 1)))


def test_a_payment_reference_is_unique_per_source_and_amounts_are_positive(db):
    loan = LoanFactory(installments=False)
    now = timezone.now()
    Payment.objects.create(loan=loan, amount=1, received_at=now, channel="app", source="bank", reference="R1")

    def pay(amount, reference):
        Payment.objects.create(
            loan=loan, amount=amount, received_at=now, channel="app", source="bank", reference=reference
        )

    refused_by_database(lambda: pay(1, "R1"))
    refused_by_database(lambda: pay(0, "R2"))


def test_bucket_ranges_must_be_ordered(db):
    refused_by_database(lambda: DelinquencyBucket.objects.create(name="bad", min_dpd=10, max_dpd=5))


def test_the_admin_form_explains_an_overlapping_bucket_in_words(db):
    bucket = DelinquencyBucket(name="M1b", min_dpd=25, max_dpd=40)

    with pytest.raises(ValidationError) as explained:
        bucket.full_clean()

    assert "M1" in str(explained.value) and "25-40" in str(explained.value)


def test_editing_a_bucket_in_place_does_not_count_as_overlapping_itself(db):
    bucket = DelinquencyBucket.objects.get(name="M4+")
    bucket.min_dpd = 91
    bucket.max_dpd = 180

    bucket.full_clean()


@pytest.mark.postgres
def test_postgres_refuses_overlapping_buckets_even_without_the_form(db):
    refused_by_database(lambda: DelinquencyBucket.objects.create(name="M1b", min_dpd=25, max_dpd=40))
    refused_by_database(lambda: DelinquencyBucket.objects.create(name="M9", min_dpd=500, max_dpd=None))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("138 0013 8000", "+8613800138000"), ("+86-138-0013-8000", "+8613800138000"), ("010 6552 9988", "+861065529988")],
)
def test_phone_numbers_are_stored_in_e164(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "not a number", "+86 100 0000 0000"])
def test_impossible_phone_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        normalise_phone(raw)


def test_contact_clean_normalises_the_value_by_kind(db):
    borrower = BorrowerFactory()
    contact = Contact(borrower=borrower, kind=Contact.Kind.MOBILE, value="13800138000")
    contact.full_clean()
    assert contact.value == "+8613800138000"
    assert normalise_contact_value(Contact.Kind.EMAIL, " Zhang.San@Example.COM ") == "zhang.san@example.com"


def test_third_party_kinds(db):
    assert ContactFactory.build(kind=Contact.Kind.EMERGENCY).is_third_party
    assert not ContactFactory.build(kind=Contact.Kind.HOME).is_third_party


@pytest.mark.parametrize(
    ("national_id", "valid"),
    [
        ("11010519491231002X", True),
        ("110105194912310021", False),
        ("11010519491231002", False),
        ("A1010519491231002X", False),
    ],
)
def test_national_id_check_digit(national_id, valid):
    if valid:
        validate_national_id(national_id)
    else:
        with pytest.raises(ValidationError):
            validate_national_id(national_id)


def test_a_borrower_needs_a_known_time_zone(db):
    borrower = BorrowerFactory.build(time_zone="Asia/Shanghia")

    with pytest.raises(ValidationError) as refused:
        borrower.full_clean()

    assert "time_zone" in refused.value.message_dict
    assert Borrower._meta.get_field("time_zone").default == "Asia/Shanghai"


def test_borrowers_show_a_masked_national_id(db):
    borrower = BorrowerFactory(national_id="11010519491231002X")

    assert borrower.masked_national_id == "1101**********002X"
    assert "11010519491231002X" not in str(borrower)


def test_money_fields_are_decimal(db):
    loan = LoanFactory()
    loan.refresh_from_db()

    assert isinstance(loan.outstanding_principal, Decimal)
    assert loan.total_outstanding == Decimal("1200.00") + 12 * Decimal("12.00")
    assert Loan._meta.get_field("principal").decimal_places == 2


def test_bucket_range_labels(db):
    labels = dict(DelinquencyBucket.objects.values_list("name", "min_dpd"))
    assert [bucket.range_label for bucket in DelinquencyBucket.objects.order_by("min_dpd")] == [
        "0",
        "1-30",
        "31-60",
        "61-90",
        "91+",
    ]
    assert labels["M0"] == 0
