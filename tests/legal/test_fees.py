"""The court fee schedule (诉讼费用交纳办法) at the edges of its tiers, worked by hand, and two
properties: a larger amount never costs less, and simplified procedure costs half of ordinary."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legal.fees import Procedure, enforcement_fee, litigation_fee, preservation_fee

ORDINARY, SIMPLIFIED, PAYMENT_ORDER = Procedure.ORDINARY, Procedure.SIMPLIFIED, Procedure.PAYMENT_ORDER


def yuan(text: str) -> Decimal:
    return Decimal(text)


# --- the filing fee ------------------------------------------------------------------------------

# (claim, ordinary fee): each tier's bound, a fen above it (the next tier's rate on 0.01 rounds
# away) and a yuan above it (the next tier's rate on 1 yuan shows). The running totals:
#   10,000: 50 flat
#   100,000: 50 + 90,000 x 2.5% = 50 + 2,250 = 2,300
#   200,000: 2,300 + 100,000 x 2% = 4,300
#   500,000: 4,300 + 300,000 x 1.5% = 8,800
#   1,000,000: 8,800 + 500,000 x 1% = 13,800
#   2,000,000: 13,800 + 1,000,000 x 0.9% = 22,800
#   5,000,000: 22,800 + 3,000,000 x 0.8% = 46,800
#   10,000,000: 46,800 + 5,000,000 x 0.7% = 81,800
#   20,000,000: 81,800 + 10,000,000 x 0.6% = 141,800
FILING_FEES = [
    ("0", "50.00"),  # nothing claimed is still a claim "up to 10,000": the flat fee
    ("0.01", "50.00"),
    ("9999.99", "50.00"),
    ("10000", "50.00"),
    ("10000.01", "50.00"),  # 50 + 0.01 x 2.5% = 50.00025
    ("10001", "50.03"),  # 50 + 1 x 2.5% = 50.025, half up
    ("50000", "1050.00"),  # DOMAIN.md: 50 + 40,000 x 2.5%
    ("100000", "2300.00"),
    ("100000.01", "2300.00"),  # 2,300 + 0.01 x 2% = 2,300.0002
    ("100001", "2300.02"),  # 2,300 + 1 x 2%
    ("200000", "4300.00"),
    ("200000.01", "4300.00"),  # 4,300 + 0.01 x 1.5% = 4,300.00015
    ("200001", "4300.02"),  # 4,300 + 1 x 1.5% = 4,300.015, half up
    ("500000", "8800.00"),
    ("500000.01", "8800.00"),  # 8,800 + 0.0001
    ("500001", "8800.01"),  # 8,800 + 1 x 1%
    ("1000000", "13800.00"),
    ("1000000.01", "13800.00"),  # 13,800 + 0.00009
    ("1000001", "13800.01"),  # 13,800 + 1 x 0.9% = 13,800.009
    ("2000000", "22800.00"),
    ("2000000.01", "22800.00"),  # 22,800 + 0.00008
    ("2000001", "22800.01"),  # 22,800 + 1 x 0.8% = 22,800.008
    ("5000000", "46800.00"),
    ("5000000.01", "46800.00"),  # 46,800 + 0.00007
    ("5000001", "46800.01"),  # 46,800 + 1 x 0.7% = 46,800.007
    ("10000000", "81800.00"),
    ("10000000.01", "81800.00"),  # 81,800 + 0.00006
    ("10000001", "81800.01"),  # 81,800 + 1 x 0.6% = 81,800.006
    ("20000000", "141800.00"),
    ("20000000.01", "141800.00"),  # 141,800 + 0.00005
    ("20000001", "141800.01"),  # 141,800 + 1 x 0.5% = 141,800.005, half up
    ("100000000", "541800.00"),  # 141,800 + 80,000,000 x 0.5% = 141,800 + 400,000
]


@pytest.mark.parametrize(("claim", "fee"), FILING_FEES)
def test_the_filing_fee_in_ordinary_procedure_adds_up_the_tiers(claim, fee):
    assert litigation_fee(yuan(claim), ORDINARY) == yuan(fee)


@pytest.mark.parametrize(
    ("claim", "procedure", "fee"),
    [
        # DOMAIN.md's example: 1,050 in full, half of it, a third of it.
        ("50000", SIMPLIFIED, "525.00"),
        ("50000", PAYMENT_ORDER, "350.00"),
        # 50 / 2 = 25; 50 / 3 = 16.666... (not divisible by 3: rounds to the fen)
        ("10000", SIMPLIFIED, "25.00"),
        ("10000", PAYMENT_ORDER, "16.67"),
        # 2,300 / 3 = 766.666...; 4,300 / 3 = 1,433.333...
        ("100000", PAYMENT_ORDER, "766.67"),
        ("200000", PAYMENT_ORDER, "1433.33"),
        # 50 + 2.20 x 2.5% = 50.055; a third is 16.685 exactly: half up gives 16.69 (half to
        # even would give 16.68).
        ("10002.20", PAYMENT_ORDER, "16.69"),
        # 141,800.005 / 2 = 70,900.0025: rounded once, 70,900.00. Rounding the full fee first
        # (141,800.01) and halving that would give 70,900.01.
        ("20000001", SIMPLIFIED, "70900.00"),
        # 141,800.005 / 3 = 47,266.668333...
        ("20000001", PAYMENT_ORDER, "47266.67"),
        # 541,800 / 3 = 180,600
        ("100000000", PAYMENT_ORDER, "180600.00"),
    ],
)
def test_simplified_procedure_pays_half_and_a_payment_order_a_third(claim, procedure, fee):
    assert litigation_fee(yuan(claim), procedure) == yuan(fee)


def test_the_procedure_may_be_given_as_its_value_and_the_amount_as_an_int_or_text():
    assert litigation_fee(50000, "ordinary") == litigation_fee("50000.00", ORDINARY) == yuan("1050.00")
    assert litigation_fee(" 50000 ", "payment_order") == yuan("350.00")


def test_the_fee_is_a_decimal_to_the_fen():
    fee = litigation_fee(10000, ORDINARY)
    assert isinstance(fee, Decimal)
    assert fee.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("claim", "procedure", "fee"),
    [
        ("50000", ORDINARY, "525.00"),  # 1,050 / 2
        ("10000", ORDINARY, "25.00"),
        ("20000001", ORDINARY, "70900.00"),  # 141,800.005 / 2, rounded once
        # The halvings for simplified procedure and for mediation do not add up.
        ("50000", SIMPLIFIED, "525.00"),
    ],
)
def test_a_lawsuit_ended_by_mediation_or_withdrawn_pays_half(claim, procedure, fee):
    assert litigation_fee(yuan(claim), procedure, ended_by_mediation_or_withdrawal=True) == yuan(fee)


@pytest.mark.usefixtures("in_english")
def test_a_payment_order_is_not_halved_for_mediation():
    with pytest.raises(ValueError, match="payment order is not ended by mediation"):
        litigation_fee(50000, PAYMENT_ORDER, ended_by_mediation_or_withdrawal=True)


def test_the_mediation_flag_is_keyword_only():
    with pytest.raises(TypeError):
        litigation_fee(50000, ORDINARY, True)


# --- preservation --------------------------------------------------------------------------------


# 1,000: 30 flat; 100,000: 30 + 99,000 x 1% = 1,020; the cap of 5,000 is reached where
# 1,020 + (x - 100,000) x 0.5% = 5,000, i.e. x = 100,000 + 3,980 / 0.5% = 896,000.
@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        ("0", "30.00"),  # nothing valued: the flat fee (as for a preservation with no amount)
        ("1000", "30.00"),
        ("1000.01", "30.00"),  # 30 + 0.01 x 1% = 30.0001
        ("1001", "30.01"),  # 30 + 1 x 1%
        ("50000", "520.00"),  # 30 + 49,000 x 1%
        ("100000", "1020.00"),
        ("100000.01", "1020.00"),  # 1,020 + 0.00005
        ("100001", "1020.01"),  # 1,020 + 1 x 0.5% = 1,020.005, half up
        ("895998", "4999.99"),  # 1,020 + 795,998 x 0.5% = 4,999.99
        ("895999", "5000.00"),  # 1,020 + 795,999 x 0.5% = 4,999.995, half up (under the cap)
        ("896000", "5000.00"),  # exactly the cap
        ("896000.01", "5000.00"),  # 5,000.00005 uncapped
        ("896200", "5000.00"),  # 5,001 uncapped
        ("100000000", "5000.00"),  # 499,520 uncapped
    ],
)
def test_the_preservation_fee_adds_up_its_tiers_and_stops_at_5000(amount, fee):
    assert preservation_fee(yuan(amount)) == yuan(fee)


# --- enforcement ---------------------------------------------------------------------------------


# 10,000: 50 flat; 500,000: 50 + 490,000 x 1.5% = 7,400; 5,000,000: 7,400 + 4,500,000 x 1% = 52,400;
# 10,000,000: 52,400 + 5,000,000 x 0.5% = 77,400.
@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        ("0", "50.00"),
        ("10000", "50.00"),
        ("10000.01", "50.00"),  # 50 + 0.01 x 1.5% = 50.00015
        ("10001", "50.02"),  # 50 + 1 x 1.5% = 50.015, half up
        ("50000", "650.00"),  # 50 + 40,000 x 1.5%
        ("500000", "7400.00"),
        ("500000.01", "7400.00"),  # 7,400 + 0.0001
        ("500001", "7400.01"),  # 7,400 + 1 x 1%
        ("5000000", "52400.00"),
        ("5000000.01", "52400.00"),  # 52,400 + 0.00005
        ("5000001", "52400.01"),  # 52,400 + 1 x 0.5% = 52,400.005, half up
        ("10000000", "77400.00"),
        ("10000000.01", "77400.00"),  # 77,400 + 0.00001
        ("10000005", "77400.01"),  # 77,400 + 5 x 0.1% = 77,400.005, half up
        ("20000000", "87400.00"),  # 77,400 + 10,000,000 x 0.1%
    ],
)
def test_the_enforcement_fee_adds_up_its_tiers(amount, fee):
    assert enforcement_fee(yuan(amount)) == yuan(fee)


# --- refused inputs ------------------------------------------------------------------------------

ALL_FEES = [
    pytest.param(lambda amount: litigation_fee(amount, ORDINARY), id="litigation"),
    pytest.param(preservation_fee, id="preservation"),
    pytest.param(enforcement_fee, id="enforcement"),
]


@pytest.mark.parametrize("fee_of", ALL_FEES)
@pytest.mark.parametrize(
    ("amount", "named"),
    [(50000.0, "float"), (True, "bool"), (None, "NoneType"), ([50000], "list")],
)
def test_a_float_or_another_type_is_refused_by_name(fee_of, amount, named):
    with pytest.raises(TypeError, match=named):
        fee_of(amount)


@pytest.mark.usefixtures("in_english")
@pytest.mark.parametrize("fee_of", ALL_FEES)
@pytest.mark.parametrize(
    ("amount", "says"),
    [
        (-1, "zero or more, not on -1"),
        (Decimal("-0.01"), "zero or more, not on -0.01"),
        ("-50000", "zero or more, not on -50000"),
        (Decimal("NaN"), "NaN must be an amount in yuan and fen"),
        (Decimal("Infinity"), "Infinity must be an amount in yuan and fen"),
        ("inf", "inf is not an amount of money"),
        ("abc", "abc is not an amount of money"),
        ("1e5", "1e5 is not an amount of money"),
        ("1,000", "1,000 is not an amount of money"),
        (Decimal("100.001"), "100.001 must be an amount in yuan and fen"),
    ],
)
def test_a_negative_or_non_finite_amount_or_text_that_is_no_amount_is_refused(fee_of, amount, says):
    with pytest.raises(ValueError, match=says):
        fee_of(amount)


@pytest.mark.usefixtures("in_english")
@pytest.mark.parametrize("procedure", ["summary", "Ordinary", "", None, 1])
def test_an_unknown_procedure_is_refused_by_name(procedure):
    with pytest.raises(ValueError, match=r"is not a court procedure; the procedures are ordinary, simplified"):
        litigation_fee(50000, procedure)


@pytest.mark.usefixtures("in_english")
def test_the_refusal_names_the_unknown_procedure():
    with pytest.raises(ValueError, match="'summary' is not a court procedure"):
        litigation_fee(50000, "summary")


# --- properties ----------------------------------------------------------------------------------

# Every tier's bound, a fen either side, among amounts in fen up to well past the last tier.
EDGES = sorted(
    {
        Decimal(edge) + offset
        for edge in ("1000", "10000", "100000", "200000", "500000", "896000", "1000000", "2000000", "5000000")
        + ("10000000", "20000000")
        for offset in (Decimal("-0.01"), Decimal("0"), Decimal("0.01"))
    }
)
AMOUNTS = st.one_of(
    st.sampled_from(EDGES),
    st.decimals(min_value=0, max_value=Decimal("100000000"), places=2, allow_nan=False, allow_infinity=False),
)
EVERY_FEE = [
    *(lambda amount, procedure=procedure: litigation_fee(amount, procedure) for procedure in Procedure),
    lambda amount: litigation_fee(amount, ORDINARY, ended_by_mediation_or_withdrawal=True),
    preservation_fee,
    enforcement_fee,
]


@given(AMOUNTS, AMOUNTS)
def test_a_larger_amount_never_costs_less(one, other):
    smaller, larger = sorted((one, other))
    for fee_of in EVERY_FEE:
        assert fee_of(smaller) <= fee_of(larger)


@given(AMOUNTS)
def test_simplified_procedure_costs_half_of_ordinary_to_the_fen(claim):
    # Each is the same exact fee rounded once: ordinary within half a fen of F, simplified within
    # half a fen of F / 2, so twice the simplified fee is within a fen of the ordinary fee.
    ordinary = litigation_fee(claim, ORDINARY)
    simplified = litigation_fee(claim, SIMPLIFIED)
    assert abs(2 * simplified - ordinary) <= Decimal("0.01")
    # Mediation halves the same fee as simplified procedure does, and the halvings do not add up.
    assert litigation_fee(claim, ORDINARY, ended_by_mediation_or_withdrawal=True) == simplified
    assert litigation_fee(claim, SIMPLIFIED, ended_by_mediation_or_withdrawal=True) == simplified
    # A payment order: three times it is within two fen of the ordinary fee.
    assert abs(3 * litigation_fee(claim, PAYMENT_ORDER) - ordinary) <= Decimal("0.02")


@given(st.integers(min_value=0, max_value=1_000_000).map(lambda hundreds: Decimal(hundreds * 100)))
def test_simplified_procedure_costs_exactly_half_of_ordinary_on_whole_hundreds(claim):
    # On a whole number of hundreds of yuan every tier's part is a whole number of hundreds, and
    # every rate (0.5% at the finest step) makes that whole jiao: the exact fee halves to the fen.
    assert 2 * litigation_fee(claim, SIMPLIFIED) == litigation_fee(claim, ORDINARY)


def test_a_fee_table_whose_tiers_do_not_rise_is_refused():
    from legal.fees import FeeSchedule, Tier

    with pytest.raises(ValueError, match="must rise"):
        FeeSchedule(
            flat=Decimal("50"),
            flat_up_to=Decimal("10000"),
            tiers=(Tier(Decimal("5000"), Decimal("1")), Tier(None, Decimal("0.5"))),
        )
    with pytest.raises(ValueError, match="only the last may be unbounded"):
        FeeSchedule(flat=Decimal("50"), flat_up_to=Decimal("10000"), tiers=(Tier(Decimal("20000"), Decimal("1")),))


def test_the_worked_examples_in_the_documentation_are_what_the_module_computes():
    from pathlib import Path

    from django.conf import settings

    documentation = (Path(settings.BASE_DIR) / "docs" / "legal-fees.md").read_text(encoding="utf-8")
    table = documentation.split("## Worked examples", 1)[1].split("\n\n", 2)[1]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    assert len(rows) >= 5
    for row in rows:
        amount, ordinary, simplified, payment_order, preservation, enforcement = (
            Decimal(cell.strip().replace(",", "")) for cell in row
        )
        assert [litigation_fee(amount, procedure) for procedure in Procedure] == [ordinary, simplified, payment_order]
        assert preservation_fee(amount) == preservation
        assert enforcement_fee(amount) == enforcement
