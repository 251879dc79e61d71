"""The portfolio generator: borrowers with their contacts and loans, one borrower at a time, as
rows for the COPY writer.

Everything random comes from `random.Random(seed)` and a Faker seeded per instance, never from
global state or the clock, so one seed and one as-of day always give the same rows, with the
same primary keys."""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from math import gcd
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from faker import Faker

from loans.models import Contact, Installment, Loan, Product
from loans.validators import national_id_check_char

from .copy import (
    ALLOCATIONS,
    BORROWERS,
    CONTACTS,
    INSTALLMENTS,
    LOANS,
    PAYMENTS,
    PORTFOLIO_TABLES,
    ZERO_YUAN,
    Table,
    plain,
    utc_text,
    yuan,
)
from .places import (
    CITIES,
    MOBILE_PREFIXES,
    REGISTRATION_AREAS,
    RELATIVE_WEIGHTS,
    RELATIVES,
    SHANGHAI,
    STREETS,
    URUMQI,
    City,
)
from .products import (
    CURRENT,
    EQUAL_INSTALLMENT,
    EQUAL_PRINCIPAL,
    PAID_OFF,
    PAYMENT_CHANNEL_WEIGHTS,
    PAYMENT_CHANNELS,
    PROFILES,
    TARGET_STATES,
    ProductProfile,
)
from .schedule import add_months, months_between, schedule_amounts
from .timeline import NEVER, LoanFacts, PaymentFact

if TYPE_CHECKING:
    from .borrowers import DeskHistory

DEMO_SOURCE = "demo"
# No loan is disbursed more than this many months before the as-of day.
MAX_HISTORY_MONTHS = 40

DESK_ZONE = ZoneInfo(SHANGHAI)
VERIFIED = Contact.Verification.VERIFIED.value
VERIFICATIONS = (
    VERIFIED,
    Contact.Verification.UNVERIFIED.value,
    Contact.Verification.STALE.value,
    Contact.Verification.WRONG.value,
)
CURRENT_STATUS = Loan.Status.CURRENT.value
ZERO_TEXTS = (ZERO_YUAN,) * 4
DAYS = tuple(timedelta(days=days) for days in range(32))
# The first contact kinds are the borrower's own; a lost borrower's own numbers are stale or wrong.
LOST_VERIFICATION = (0, 0, 2, 3)


def cumulative(weights: Sequence[float]) -> list[float]:
    total, sums = 0.0, []
    for weight in weights:
        total += weight
        sums.append(total)
    return sums


def _coprime_multiplier(rng: random.Random, modulus: int) -> int:
    """A multiplier that makes i -> (i * a + b) % modulus a bijection that looks random."""
    while True:
        candidate = rng.randrange(modulus // 3, 2 * modulus // 3)
        if gcd(candidate, modulus) == 1:
            return candidate


@dataclass
class Chunk:
    tables: Sequence[Table] = PORTFOLIO_TABLES
    rows: dict[Table, list[tuple]] = field(init=False)
    loans: int = 0

    def __post_init__(self):
        self.rows = {table: [] for table in self.tables}


@dataclass
class Ids:
    borrower: int = 1
    contact: int = 1
    loan: int = 1
    installment: int = 1
    payment: int = 1
    allocation: int = 1


@dataclass(frozen=True)
class _Terms:
    """A loan's contract and where it should stand on the as-of day."""

    profile: ProductProfile
    product: Product
    principal_fen: int
    term: int
    annual_rate: int
    monthly_fee: int
    amounts: list[tuple[int, int, int]]
    disbursed_on: date
    oldest_unpaid: int  # the number of the oldest installment not paid (term + 1 when paid off)
    days_past_due: int

    @property
    def settled(self) -> int:
        """How many installments are paid in full."""
        return self.oldest_unpaid - 1


@dataclass(frozen=True)
class _PaymentDay:
    """A payment as the generator plans it: its day, the first installment it pays in full and
    how many, and a part payment towards the next one in fen."""

    day: date
    first: int
    covered: int
    part: int


class _Contacts:
    """A borrower's contacts as they are generated: no number twice, a verified one with the
    time it was verified."""

    def __init__(self, generator: "PortfolioGenerator", borrower_id: int, applied_at: datetime):
        self.generator = generator
        self.borrower_id = borrower_id
        self.applied_at = applied_at
        self.applied_text = utc_text(applied_at)
        self.used: set[str] = set()
        self.records: list[list] = []

    def fresh(self, make: Callable[[], str]) -> str:
        value = make()
        while value in self.used:
            value = make()
        return value

    def add(self, kind, value, *, name="", relation="", verification, dnc=False, call=False, sms=False, email=False):
        generator = self.generator
        self.used.add(value)
        verified_at = (
            self.applied_at + timedelta(days=generator.between(0, 20), seconds=int(generator.rng.random() * 36_000))
            if verification == VERIFIED
            else None
        )
        if verified_at is not None and verified_at.date() > generator.as_of:
            verified_at = self.applied_at
        self.records.append(
            [
                generator.ids.contact,
                self.borrower_id,
                kind,
                value,
                name,
                relation,
                verification,
                verified_at and utc_text(verified_at),
                dnc,
                call,
                sms,
                email,
                "application",
                self.applied_text,
                self.applied_text,
            ]
        )
        generator.ids.contact += 1

    def rows(self) -> list[tuple]:
        return [tuple(record) for record in self.records]


class PortfolioGenerator:
    """Produces borrowers with their contacts and loans, one borrower at a time, as rows."""

    def __init__(
        self,
        *,
        seed: int,
        as_of: date,
        products: dict[str, Product],
        now: datetime,
        history: "DeskHistory | None" = None,
    ):
        self.history = history
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.now = utc_text(now)
        self.cumulative: dict[tuple[int, ...], list[float]] = {}
        self.ids = Ids()
        self.borrower_index = 0
        self.products = products
        self.profile_weights = cumulative([profile.share for profile in PROFILES])
        self.term_weights = {profile.code: cumulative(profile.term_weights) for profile in PROFILES}
        self.state_weights = cumulative([share for _name, share, _band in TARGET_STATES])
        self.channel_weights = cumulative(PAYMENT_CHANNEL_WEIGHTS)
        self.relative_weights = cumulative(RELATIVE_WEIGHTS)
        self.city_weights = cumulative([city.weight for city in CITIES])
        self.penalty_rates = {code: int(product.daily_penalty_rate * 1_000_000) for code, product in products.items()}

        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        # Pools drawn from a seeded Faker: its surnames come weighted by how common they are.
        self.surnames = plain([fake.last_name() for _ in range(3_000)])
        self.given_male = plain([fake.first_name_male() for _ in range(1_000)])
        self.given_female = plain([fake.first_name_female() for _ in range(1_000)])
        self.companies = plain([fake.company() for _ in range(1_500)])
        self.email_names = plain([fake.user_name() for _ in range(2_000)])
        self.email_domains = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com", "outlook.com")

        # National IDs: borrower i gets registration area, birthday and sequence number from a
        # bijection of i, so they are unique without remembering the ones already issued.
        self.birth_first = date(as_of.year - 60, as_of.month, min(as_of.day, 28))
        self.birth_days = (date(as_of.year - 22, as_of.month, min(as_of.day, 28)) - self.birth_first).days
        self.id_space = len(REGISTRATION_AREAS) * self.birth_days * 1000
        self.id_multiplier = _coprime_multiplier(self.rng, self.id_space)
        self.id_offset = self.rng.randrange(self.id_space)
        # Own mobile numbers: the last eight digits come from another bijection, so no two
        # borrowers share their own number.
        self.mobile_multiplier = _coprime_multiplier(self.rng, 10**8)
        self.mobile_offset = self.rng.randrange(10**8)

    # --- drawing ---

    def between(self, low: int, high: int) -> int:
        """A whole number from low to high, both included (cheaper than Random.randint)."""
        return low + int(self.rng.random() * (high - low + 1))

    def _any(self, choices: Sequence):
        return choices[int(self.rng.random() * len(choices))]

    def _pick(self, weights: list[float]) -> int:
        pick = self.rng.random() * weights[-1]
        for position, bound in enumerate(weights):
            if pick < bound:
                return position
        return len(weights) - 1

    def _cumulative_cache(self, weights: tuple[int, ...]) -> list[float]:
        sums = self.cumulative.get(weights)
        if sums is None:
            sums = self.cumulative[weights] = cumulative(weights)
        return sums

    def _verification(self, weights: tuple[int, int, int, int]) -> str:
        """verified, unverified, stale or wrong, with these weights."""
        return VERIFICATIONS[self._pick(self._cumulative_cache(weights))]

    def _moment(self, day: date) -> datetime:
        """A time during the desk's working day (08:00-22:00 Beijing time) on `day`."""
        seconds = 8 * 3600 + int(self.rng.random() * 14 * 3600)
        return datetime(
            day.year, day.month, day.day, seconds // 3600, seconds // 60 % 60, seconds % 60, tzinfo=DESK_ZONE
        )

    def _moment_text(self, day: date) -> str:
        """_moment as utc_text, made directly: 08:00-22:00 in Beijing is 00:00-14:00 UTC that day."""
        return self._moment_seconds(day)[0]

    def _moment_seconds(self, day: date) -> tuple[str, int]:
        """_moment_text, and its seconds after midnight UTC."""
        seconds = int(self.rng.random() * 14 * 3600)
        return f"{day.isoformat()} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}+00:00", seconds

    # --- people ---

    def _name(self, male: bool, surname: str | None = None) -> str:
        """Family name first, as Chinese names are written (朱建国)."""
        return (surname or self._any(self.surnames)) + self._any(self.given_male if male else self.given_female)

    def _mobile(self) -> str:
        return f"+86{self._any(MOBILE_PREFIXES)}{int(self.rng.random() * 10**8):08d}"

    def _landline(self, city: City) -> str:
        rest = int(self.rng.random() * 10 ** (city.phone_digits - 1))
        return f"+86{city.phone_area}{self.between(2, 7)}{rest:0{city.phone_digits - 1}d}"

    def _identity(self, index: int) -> tuple[str, date, City, str, bool]:
        """Borrower `index`'s national ID, birthday, registration city and district, and sex."""
        if index >= self.id_space:
            raise ValueError("more borrowers than distinct national ID numbers for this as-of day")
        code = (index * self.id_multiplier + self.id_offset) % self.id_space
        sequence = code % 1000
        code //= 1000
        born = self.birth_first + timedelta(days=code % self.birth_days)
        home_city, area_code, district = REGISTRATION_AREAS[code // self.birth_days]
        first17 = f"{area_code}{born.year:04d}{born.month:02d}{born.day:02d}{sequence:03d}"
        male = sequence % 2 == 1  # the sequence number is odd for men (GB 11643)
        return first17 + national_id_check_char(first17), born, home_city, district, male

    def _home(self, home_city: City, district: str) -> tuple[City, str, str]:
        """Where the borrower lives: the city, the address and its time zone."""
        city = home_city
        if self.rng.random() >= 0.7:  # moved away for work: the big cities draw most
            city = CITIES[self._pick(self.city_weights)]
            district = self._any(city.districts)[1]
        address = (
            f"{district}{self._any(STREETS)}{self.between(1, 999)}号"
            f"{self.between(1, 30)}栋{self.between(1, 4)}单元{self.between(1, 33)}{self.between(1, 8):02d}室"
        )
        time_zone = URUMQI if city.phone_area == "991" and self.rng.random() < 0.5 else SHANGHAI
        return city, address, time_zone

    def borrower(self, chunk: Chunk, max_loans: int) -> None:
        """One borrower, their contacts and 1-3 loans (never more than max_loans), into chunk."""
        rng = self.rng
        index = self.borrower_index
        self.borrower_index += 1
        national_id, born, home_city, district, male = self._identity(index)
        surname = self._any(self.surnames)
        name = self._name(male, surname)
        city, address, time_zone = self._home(home_city, district)

        borrower_id = self.ids.borrower
        self.ids.borrower += 1
        loan_count = min(max_loans, 1 if rng.random() < 0.82 else (2 if rng.random() < 0.78 else 3))
        worst_dpd, first_disbursed, facts = 0, None, []
        for _ in range(loan_count):
            disbursed_on, dpd, loan_facts = self.loan(chunk, borrower_id)
            worst_dpd = max(worst_dpd, dpd)
            first_disbursed = disbursed_on if first_disbursed is None else min(first_disbursed, disbursed_on)
            facts.append(loan_facts)
        applied_at = self._moment(first_disbursed - timedelta(days=self.between(1, 7)))
        applied_text = utc_text(applied_at)

        # Borrowers long in arrears are the ones the desk has lost.
        lost_contact = worst_dpd > 60 and rng.random() < 0.35
        lost_contact_since = self.as_of - timedelta(days=self.between(5, worst_dpd - 30)) if lost_contact else None
        row = (
            borrower_id,
            name,
            national_id,
            born,
            city.province,
            city.name,
            address,
            time_zone,
            lost_contact,
            lost_contact_since,
            applied_text,
            applied_text,
        )
        chunk.rows[BORROWERS].append(row)
        contacts = _Contacts(self, borrower_id, applied_at)
        self._own_contacts(contacts, city, lost_contact)
        self._email(contacts)
        self._relatives(contacts, surname, male, born)
        if self.history is not None:
            # The desk's work on the borrower's cases, which may change what it knows of the contacts.
            self.history.borrower(chunk.rows, borrower=row, contacts=contacts.records, loans=facts)
        chunk.rows[CONTACTS] += contacts.rows()

    # --- contacts ---

    def _own_contacts(self, contacts: _Contacts, city: City, lost_contact: bool) -> None:
        """The borrower's own mobile, maybe a home and a work phone, maybe the employer's line."""
        rng = self.rng
        lost = LOST_VERIFICATION if lost_contact else None
        own_suffix = ((contacts.borrower_id - 1) * self.mobile_multiplier + self.mobile_offset) % 10**8
        contacts.add(
            Contact.Kind.MOBILE.value,
            f"+86{self._any(MOBILE_PREFIXES)}{own_suffix:08d}",
            verification=self._verification(lost or (60, 28, 6, 6)),
            dnc=rng.random() < 0.005,
            call=rng.random() < 0.015,
            sms=rng.random() < 0.03,
        )
        for kind, share, weights in (
            (Contact.Kind.HOME.value, 0.3, (20, 55, 15, 10)),
            (Contact.Kind.WORK.value, 0.35, (25, 50, 15, 10)),
        ):
            if rng.random() < share:
                contacts.add(
                    kind,
                    contacts.fresh(lambda: self._landline(city)),
                    verification=self._verification(lost or weights),
                )
        if rng.random() < 0.45:
            company = city.name.removesuffix("市") + self._any(self.companies)
            contacts.add(
                Contact.Kind.EMPLOYER.value,
                contacts.fresh(lambda: self._landline(city)),
                name=company,
                relation="雇主",
                verification=self._verification((30, 50, 12, 8)),
                dnc=rng.random() < 0.02,
            )

    def _email(self, contacts: _Contacts) -> None:
        if self.rng.random() < 0.25:
            address = f"{self._any(self.email_names)}{self.between(1, 9999)}@{self._any(self.email_domains)}"
            contacts.add(
                Contact.Kind.EMAIL.value,
                address,
                verification=self._verification((35, 60, 5, 0)),
                email=self.rng.random() < 0.05,
            )

    def _relatives(self, contacts: _Contacts, surname: str, male: bool, born: date) -> None:
        """One or two relatives or friends, given as emergency or other contacts."""
        rng = self.rng
        age = self.as_of.year - born.year
        for _ in range(1 if rng.random() < 0.6 else 2):
            relation, kind, same_surname, sex = RELATIVES[self._pick(self.relative_weights)]
            if relation == "子女" and age < 42:
                relation, kind, same_surname, sex = RELATIVES[1]
            if relation == "配偶":
                sex = "F" if male else "M"
            relative_male = rng.random() < 0.5 if sex is None else sex == "M"
            contacts.add(
                kind,
                contacts.fresh(self._mobile),
                name=self._name(relative_male, surname if same_surname else None),
                relation=relation,
                verification=self._verification((20, 65, 7, 8)),
                dnc=rng.random() < 0.04,
            )

    # --- loans ---

    def _target(self, profile: ProductProfile, term: int) -> tuple[date, int, int]:
        """Where the loan stands as of the as-of day: its disbursement date, the number of the
        oldest installment not paid (term + 1 when paid off) and the DPD aimed at."""
        as_of = self.as_of
        state, _share, band = TARGET_STATES[self._pick(self.state_weights)]
        if state == CURRENT:
            due_day = self.between(1, 28)
            last_due = date(as_of.year, as_of.month, due_day)
            if due_day > as_of.day:
                last_due = add_months(last_due, -1)
            oldest_unpaid = self.between(1, term)
            return add_months(last_due, 1 - oldest_unpaid), oldest_unpaid, 0
        if state == PAID_OFF:
            last_due = as_of - timedelta(days=self.between(0, 300))
            while last_due.day > 28:
                last_due -= timedelta(days=self.between(1, 5))
            return add_months(last_due, -term), term + 1, 0
        days_past_due, oldest_due = self._days_past_due(band, self.products[profile.code].grace_days)
        latest = min(term, MAX_HISTORY_MONTHS - months_between(oldest_due, as_of))
        oldest_unpaid = self.between(1, max(1, latest))
        return add_months(oldest_due, -oldest_unpaid), oldest_unpaid, days_past_due

    def _days_past_due(self, band: tuple[int, int | None], grace: int) -> tuple[int, date]:
        """A DPD in the band, and the due date of the oldest unpaid installment that gives it."""
        rng = self.rng
        low, high = band
        while True:
            if high is None:  # the long tail of M4+
                days_past_due = min(low + int(rng.expovariate(1 / 150)), 900)
            elif low == 1:  # most of M1 is a few days late
                days_past_due = 1 + int(30 * rng.random() ** 1.6)
            else:
                days_past_due = self.between(low, high)
            oldest_due = self.as_of - timedelta(days=days_past_due + grace)
            if oldest_due.day <= 28:
                return days_past_due, oldest_due

    def _terms(self, profile: ProductProfile) -> _Terms:
        """The loan's amount, term, rate, fee and schedule, and where it stands on the as-of day."""
        rng = self.rng
        low, high = profile.principal_yuan
        # Log-uniform amounts: many small loans, a few large ones.
        principal_yuan = int(low * (high / low) ** rng.random())
        principal_fen = max(low, principal_yuan - principal_yuan % profile.principal_step) * 100
        term = profile.terms[self._pick(self.term_weights[profile.code])]
        annual_rate = self.between(*profile.annual_rate) if profile.annual_rate[1] else 0
        monthly_fee = 0
        if profile.monthly_fee[1] and rng.random() < profile.fee_share:
            monthly_fee = (principal_fen * self.between(*profile.monthly_fee) + 5_000) // 10_000
        method = EQUAL_PRINCIPAL if rng.random() < profile.equal_principal_share else EQUAL_INSTALLMENT
        amounts = schedule_amounts(
            principal_fen=principal_fen,
            term_months=term,
            annual_rate=annual_rate,
            monthly_fee_fen=monthly_fee,
            method=method,
        )
        disbursed_on, oldest_unpaid, days_past_due = self._target(profile, term)
        return _Terms(
            profile=profile,
            product=self.products[profile.code],
            principal_fen=principal_fen,
            term=term,
            annual_rate=annual_rate,
            monthly_fee=monthly_fee,
            amounts=amounts,
            disbursed_on=disbursed_on,
            oldest_unpaid=oldest_unpaid,
            days_past_due=days_past_due,
        )

    def _payment_days(self, terms: _Terms, due_dates: list[date], due: list[list[int]]) -> list[_PaymentDay]:
        """When the installments before the oldest unpaid one were paid (mostly on or just before
        the due date, some late, a few together with the next one), charging a late fee on those
        paid after the grace days; then maybe a part payment towards the oldest open one."""
        rand = self.rng.random
        grace = terms.product.grace_days
        penalty_rate = self.penalty_rates[terms.profile.code]
        settled = terms.settled
        payments: list[_PaymentDay] = []
        position = 0
        while position < settled:
            due_day = due_dates[position]
            roll = rand()
            covered = 1
            if roll < 0.03 and position + 1 < settled:
                # Missed one and paid it together with the next one.
                paid_day = due_dates[position + 1] - DAYS[int(rand() * 4)]
                covered = 2
            elif roll < 0.11:
                paid_day = min(due_day + DAYS[1 + int(rand() * 20)], self.as_of)
            else:
                early = rand()
                paid_day = due_day if early < 0.45 else due_day - DAYS[1 if early < 0.65 else 2 + int(rand() * 4)]
            _late_fee(due[position], days_late=(paid_day - due_day).days - grace, penalty_rate=penalty_rate)
            payments.append(_PaymentDay(paid_day, position, covered, 0))
            position += covered
        part = self._part_payment(terms, due_dates, due, payments)
        if part is not None:
            payments.append(part)
        return payments

    def _part_payment(
        self, terms: _Terms, due_dates: list[date], due: list[list[int]], payments: list[_PaymentDay]
    ) -> _PaymentDay | None:
        """Sometimes a delinquent borrower pays part of the oldest installment still open."""
        rand = self.rng.random
        settled = terms.settled
        if not (terms.days_past_due and settled < terms.term and rand() < 0.3):
            return None
        open_fen = sum(due[settled])
        part = int(open_fen * (0.1 + 0.8 * rand())) // 100 * 100
        if not 0 < part < open_fen:
            return None
        start = max(due_dates[settled] - DAYS[5], terms.disbursed_on + DAYS[1])
        if payments:
            start = max(start, payments[-1].day + DAYS[1])
        if start > self.as_of:
            return None
        return _PaymentDay(start + timedelta(days=int(rand() * ((self.as_of - start).days + 1))), settled, 0, part)

    def _payment_rows(
        self,
        chunk: Chunk,
        loan_id: int,
        first_installment_id: int,
        due: list[list[int]],
        texts: list[tuple[str, ...]],
        payments: list[_PaymentDay],
        facts: list[PaymentFact] | None,
    ) -> tuple[list[date | None], list[int] | None]:
        """The payments and their allocations, oldest installment first and within one penalty,
        fees, interest, principal, as payment_record allocates (and, for the history, each payment
        as `facts`). Returns the day each installment was paid in full, and what the part payment
        put on each component of the open one."""
        ids = self.ids
        paid_on: list[date | None] = [None] * len(due)
        part_paid = None
        allocation_id = ids.allocation
        payment_rows = chunk.rows[PAYMENTS]
        allocation_rows = chunk.rows[ALLOCATIONS]
        components = Installment.COMPONENTS
        for payment in payments:
            payment_id = ids.payment
            ids.payment += 1
            total = payment.part
            for position in range(payment.first, payment.first + payment.covered):
                owed, text, installment_id = due[position], texts[position], first_installment_id + position
                for component in range(4):
                    if owed[component]:
                        allocation_rows.append(
                            (allocation_id, payment_id, installment_id, components[component], text[component])
                        )
                        allocation_id += 1
                total += owed[0] + owed[1] + owed[2] + owed[3]
                paid_on[position] = payment.day
            if payment.part:
                part_paid, left = [0, 0, 0, 0], payment.part
                for component, owed in enumerate(due[payment.first]):
                    share = min(left, owed)
                    if share:
                        allocation_rows.append(
                            (
                                allocation_id,
                                payment_id,
                                first_installment_id + payment.first,
                                components[component],
                                yuan(share),
                            )
                        )
                        allocation_id += 1
                        part_paid[component] = share
                        left -= share
            received_at, seconds = self._moment_seconds(payment.day)
            day = payment.day
            if facts is not None:
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)
                facts.append(PaymentFact(payment_id, day.toordinal(), moment, total))
            payment_rows.append(
                (
                    payment_id,
                    loan_id,
                    yuan(total),
                    received_at,
                    PAYMENT_CHANNELS[self._pick(self.channel_weights)],
                    DEMO_SOURCE,
                    f"DM{day.year}{day.month:02d}{day.day:02d}{payment_id:010d}",
                    received_at,
                )
            )
        ids.allocation = allocation_id
        return paid_on, part_paid

    def loan(self, chunk: Chunk, borrower_id: int) -> tuple[date, int, LoanFacts | None]:
        """One loan with its schedule and payments, into chunk. Returns its disbursement date, its
        target DPD and, when the history is written, what the history needs of it."""
        terms = self._terms(PROFILES[self._pick(self.profile_weights)])
        term = terms.term
        due_dates = [add_months(terms.disbursed_on, month) for month in range(1, term + 1)]
        loan_id = self.ids.loan
        self.ids.loan += 1
        first_installment_id = self.ids.installment
        self.ids.installment += term
        # Per installment, what is due in allocation order: penalty, fees, interest, principal.
        due = [[0, fees, interest, principal] for principal, interest, fees in terms.amounts]

        payments = self._payment_days(terms, due_dates, due)
        fee_text = yuan(terms.monthly_fee)
        texts = [(yuan(owed[0]), fee_text, yuan(owed[2]), yuan(owed[3])) for owed in due]
        facts = [] if self.history is not None else None
        paid_on, part_paid = self._payment_rows(chunk, loan_id, first_installment_id, due, texts, payments, facts)
        self._installment_rows(chunk, loan_id, first_installment_id, terms, due_dates, due, texts, paid_on, part_paid)
        account_number = self._loan_row(chunk, loan_id, borrower_id, terms)
        if facts is None:
            return terms.disbursed_on, terms.days_past_due, None
        part = payments[-1] if payments and payments[-1].part else None
        return (
            terms.disbursed_on,
            terms.days_past_due,
            LoanFacts(
                loan_id=loan_id,
                borrower_id=borrower_id,
                product=terms.product,
                account_number=account_number,
                due_days=[due_day.toordinal() for due_day in due_dates],
                totals=[sum(owed) for owed in due],
                paid_days=[day.toordinal() if day else NEVER for day in paid_on],
                payments=facts,
                part_installment=part and part.first,
                part_amount=part.part if part else 0,
                part_day=part.day.toordinal() if part else NEVER,
            ),
        )

    @staticmethod
    def _installment_rows(
        chunk: Chunk,
        loan_id: int,
        first_installment_id: int,
        terms: _Terms,
        due_dates: list[date],
        due: list[list[int]],
        texts: list[tuple[str, ...]],
        paid_on: list[date | None],
        part_paid: list[int] | None,
    ) -> None:
        installment_rows = chunk.rows[INSTALLMENTS]
        settled = terms.settled
        for position in range(terms.term):
            text = texts[position]
            if position < settled:
                paid_text, is_paid = text, True
            elif position == settled and part_paid is not None:
                paid_text, is_paid = tuple(yuan(share) for share in part_paid), part_paid == due[position]
            else:
                paid_text, is_paid = ZERO_TEXTS, not any(due[position])
            installment_rows.append(
                (
                    first_installment_id + position,
                    loan_id,
                    position + 1,
                    due_dates[position],
                    *text,
                    *paid_text,
                    is_paid,
                    paid_on[position],
                )
            )

    def _loan_row(self, chunk: Chunk, loan_id: int, borrower_id: int, terms: _Terms) -> str:
        """The loan itself; its balances and ageing are left to the portfolio services. Returns
        its account number."""
        disbursed_on = terms.disbursed_on
        created_at = self._moment_text(disbursed_on)
        account_number = f"{terms.profile.account_prefix}{disbursed_on.year}{disbursed_on.month:02d}{loan_id:010d}"
        chunk.rows[LOANS].append(
            (
                loan_id,
                account_number,
                borrower_id,
                terms.product.pk,
                yuan(terms.principal_fen),
                f"0.{terms.annual_rate:04d}",
                disbursed_on,
                terms.term,
                CURRENT_STATUS,
                True,  # aged by the portfolio services once written
                ZERO_YUAN,
                ZERO_YUAN,
                ZERO_YUAN,
                ZERO_YUAN,
                ZERO_YUAN,
                created_at,
                self.now,
            )
        )
        chunk.loans += 1
        return account_number


def _late_fee(owed: list[int], *, days_late: int, penalty_rate: int) -> None:
    """The late fee of an installment paid `days_late` days after its grace days: the daily
    rate (in millionths) on its principal, rounded half up, as its penalty."""
    if days_late > 0:
        owed[0] = (owed[3] * penalty_rate * days_late + 500_000) // 1_000_000
