"""A generated loan's past, day by day: what it owed, what it paid and when, and so its days past
due on any night, as the nightly cycle would have aged it then.

The nightly cycle runs at 01:00 (desk time): on night d it sees the payments received on the
days before d. An installment is late once its due date plus the product's grace days is past,
so the loan is delinquent on the nights between the day after that and the day its oldest late
installment was paid; a delinquency episode is a run of such nights, and the case of an episode
opens on its first night at the reminder stage's entry DPD and is resolved on the first night
after it (the loan current again or paid off)."""

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime

from loans.models import Product

NEVER = 10**8  # a day ordinal after every real day: an installment not paid


@dataclass(frozen=True)
class PaymentFact:
    """A generated payment: the day (desk calendar) and moment it arrived, and its amount in fen."""

    payment_id: int
    day: int  # ordinal
    received_at: datetime
    amount: int


@dataclass(frozen=True)
class Episode:
    """A run of delinquent nights of a loan: the case opens on `open_day` and the loan is current
    again from night `current_from` (NEVER while it is still delinquent)."""

    loan: "LoanFacts"
    open_day: int
    current_from: int


@dataclass
class LoanFacts:
    """What the generator knows of one loan, for its history: schedule, payments, where it stands."""

    loan_id: int
    borrower_id: int
    product: Product
    account_number: str
    due_days: list[int]  # ordinals of the due dates
    totals: list[int]  # what each installment asks for in fen, all components
    paid_days: list[int]  # ordinal of the day each installment was paid in full, NEVER if not
    payments: list[PaymentFact] = field(default_factory=list)
    part_installment: int | None = None  # the installment a part payment went to, if any
    part_amount: int = 0
    part_day: int = NEVER

    @property
    def grace(self) -> int:
        return self.product.grace_days

    def oldest_unpaid(self, day: int) -> int:
        """The installment the night of `day` sees as the oldest not paid (len when none is)."""
        return bisect_left(self.paid_days, day)

    def days_past_due(self, day: int) -> int:
        oldest = self.oldest_unpaid(day)
        if oldest >= len(self.due_days):
            return 0
        return max(day - self.due_days[oldest] - self.grace, 0)

    def is_paid_off(self, day: int) -> bool:
        return self.oldest_unpaid(day) >= len(self.due_days)

    def _part_paid(self, position: int, day: int) -> int:
        return self.part_amount if position == self.part_installment and self.part_day < day else 0

    def overdue(self, day: int) -> int:
        """What the loan had overdue on night `day`: the unpaid rest of its late installments."""
        total = 0
        for position in range(self.oldest_unpaid(day), len(self.due_days)):
            if day - self.due_days[position] <= self.grace:
                break
            total += self.totals[position] - self._part_paid(position, day)
        return total

    def outstanding(self, day: int) -> int:
        """What the loan still owed in all on night `day`."""
        oldest = self.oldest_unpaid(day)
        return sum(self.totals[oldest:]) - self._part_paid(oldest, day)

    def received(self, start: datetime, end: datetime) -> int:
        """The fen received from `start` (inclusive) to `end` (exclusive)."""
        return sum(payment.amount for payment in self.payments if start <= payment.received_at < end)

    def next_payment(self, after: datetime) -> PaymentFact | None:
        return next((payment for payment in self.payments if payment.received_at > after), None)

    def episodes(self, *, first_night: int, last_night: int, entry_dpd: int) -> list[Episode]:
        """The delinquency episodes whose case is open on some night from `first_night` to
        `last_night` and opened by `last_night`."""
        runs = self._delinquent_runs(first_night, last_night)
        episodes = []
        for run in runs:
            open_day = next(
                (
                    max(start, due + self.grace + entry_dpd)
                    for start, end, due in run
                    if max(start, due + self.grace + entry_dpd) <= end
                ),
                None,
            )
            current_from = run[-1][1] + 1 if run[-1][1] < NEVER else NEVER
            if open_day is not None and open_day <= last_night and current_from > first_night:
                episodes.append(Episode(loan=self, open_day=open_day, current_from=current_from))
        return episodes

    def _delinquent_runs(self, first_night: int, last_night: int) -> list[list[tuple[int, int, int]]]:
        """Runs of (first late night, last late night, due day) per installment, one run a
        stretch of nights without a current one between, that reach `first_night` or later and
        start by `last_night`."""
        due_days, paid_days, grace = self.due_days, self.paid_days, self.grace
        position = bisect_left(paid_days, first_night)
        if position >= len(due_days):  # paid off before the first night
            return []
        # Step back to the start of the run the first relevant installment belongs to.
        while position > 0 and paid_days[position - 1] + 1 >= due_days[position] + grace + 1:
            position -= 1
        runs: list[list[tuple[int, int, int]]] = []
        for index in range(position, len(due_days)):
            start = max(paid_days[index - 1] + 1 if index else 0, due_days[index] + grace + 1)
            if start > last_night:
                break
            end = paid_days[index]
            if start > end:
                continue
            if runs and runs[-1][-1][1] + 1 == start:
                runs[-1].append((start, end, due_days[index]))
            else:
                runs.append([(start, end, due_days[index])])
        return runs


def day_ordinal(day: date) -> int:
    return day.toordinal()
