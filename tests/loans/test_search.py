"""Reading a search term for its shape: what a desk user types becomes the values each indexed
field is looked up by, and nothing a shape cannot be."""

import pytest
from django.db.models import Q

from loans.search import SearchTerm, phone_e164_start, search_conditions, search_term_read


@pytest.mark.parametrize(
    ("typed", "account_numbers", "national_id", "phone"),
    [
        ("CC2026010000000001", ("CC2026010000000001",), None, None),
        ("cc20260100", ("cc20260100", "CC20260100"), None, None),
        ("110101198501010017", ("110101198501010017",), "110101198501010017", "+86110101198501010017"),
        ("11010119850101001x", ("11010119850101001x", "11010119850101001X"), "11010119850101001X", None),
        ("13800138000", ("13800138000",), "13800138000", "+8613800138000"),
        ("138 0013 8000", (), "13800138000", "+8613800138000"),
        ("+86 138-0013-8000", (), None, "+8613800138000"),
        ("8613800138000", ("8613800138000",), "8613800138000", "+8613800138000"),
        ("0086 13800138000", (), "008613800138000", "+8613800138000"),
        ("010 6512 3456", (), "01065123456", "+861065123456"),
        ("1380013", ("1380013",), "1380013", "+861380013"),
    ],
)
def test_a_term_with_digits_is_an_account_number_and_when_a_number_a_national_id_and_a_phone(
    typed, account_numbers, national_id, phone
):
    term = search_term_read(typed)

    assert (term.account_numbers, term.national_id, term.phone) == (account_numbers, national_id, phone)
    assert term.name is None and term.email is None


def test_a_term_without_digits_is_a_name_as_typed():
    assert search_term_read("  王  小明 ") == SearchTerm(name="王 小明")
    assert search_term_read("王") == SearchTerm(name="王")


def test_a_term_with_an_at_sign_is_an_email_address_in_small_letters():
    assert search_term_read("Zhang.Wei@Example.com") == SearchTerm(email="zhang.wei@example.com")


def test_an_empty_term_searches_nothing():
    assert search_term_read("   ").is_empty


@pytest.mark.parametrize(
    ("number", "e164"),
    [("13800138000", "+8613800138000"), ("+447911123456", "+447911123456"), ("02161234567", "+862161234567")],
)
def test_phone_numbers_are_read_as_chinese_numbers_unless_a_country_code_is_written(number, e164):
    assert phone_e164_start(number) == e164


def test_each_shape_is_looked_up_in_its_field_through_the_paths_of_the_list():
    conditions = search_conditions(
        search_term_read("13800138000"), loan="case__loan", borrower="case__loan__borrower", contact="contact"
    )

    assert conditions == [
        Q(case__loan__account_number__startswith="13800138000"),
        Q(case__loan__borrower__national_id__startswith="13800138000"),
        Q(contact__value__startswith="+8613800138000"),
    ]


def test_short_terms_are_matched_whole_but_a_name_by_its_first_character():
    assert search_conditions(search_term_read("12"), loan="", borrower="borrower", contact="borrower__contacts") == [
        Q(account_number__exact="12"),
        Q(borrower__national_id__exact="12"),
        Q(borrower__contacts__value__exact="+8612"),
    ]
    assert search_conditions(search_term_read("王"), loan="", borrower="borrower") == [
        Q(borrower__name__startswith="王")
    ]


def test_a_list_without_a_path_is_not_searched_by_that_field():
    assert search_conditions(search_term_read("王"), loan="") == []
    assert search_conditions(search_term_read("REF-001"), own_fields=("reference",)) == [
        Q(reference__startswith="REF-001")
    ]
