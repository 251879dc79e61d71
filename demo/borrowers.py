"""The worked history of each borrower, played day by day: the case stories (history), the
reminders and the collectors' work on them, in the order the desk does them."""

import datetime
from zoneinfo import ZoneInfo

from loans.models import Contact

from . import reminders, work
from .copy import CASES
from .desk import Desk, Rows
from .history import WORKDAY_END, WORKDAY_START, CaseStory, ContactState
from .limits import BorrowerLedger
from .timeline import Episode, LoanFacts


class BorrowerHistory:
    """A borrower's cases, played together day by day: they share the borrower's contacts, whose
    flags an attempt on one case may change for the others."""

    def __init__(self, desk: Desk, rows: Rows, borrower: tuple, contacts: list[list], episodes: list[Episode]):
        self.desk = desk
        self.rows = rows
        self.id = borrower[0]
        self.name = borrower[1]
        self.postal_address = f"{borrower[4]}{borrower[5]}{borrower[6]}"
        self.zone = ZoneInfo(borrower[7])
        self.lost_contact = borrower[8]
        self.lost_since = borrower[9].toordinal() if borrower[9] else None
        self.contacts = [ContactState(record, self.id) for record in contacts]
        self.ledger = BorrowerLedger(self.zone)
        episodes = sorted(episodes, key=lambda episode: (episode.open_day, episode.loan.loan_id))
        span = (WORKDAY_END - WORKDAY_START) // len(episodes)
        self.cases = [
            CaseStory(
                self, episode, desk.next_id(CASES), (WORKDAY_START + k * span, WORKDAY_START + (k + 1) * span - 600)
            )
            for k, episode in enumerate(episodes)
        ]

    def local(self, day: int, seconds: int) -> datetime.datetime:
        return self.desk.moment(day, seconds, self.zone)

    def is_lost_on(self, day: int) -> bool:
        return self.lost_contact and self.lost_since is not None and day >= self.lost_since

    def own_mobile(self) -> ContactState | None:
        return next((contact for contact in self.contacts if contact.kind == Contact.Kind.MOBILE), None)

    def run(self) -> None:
        desk = self.desk
        waiting = list(self.cases)  # in the order they open
        live: list[CaseStory] = []
        for day in range(waiting[0].episode.open_day, desk.as_of):
            while waiting and waiting[0].episode.open_day == day:
                live.append(waiting.pop(0))
            in_window = day >= desk.first_day
            if not in_window:
                # Before the window only the nightly moves and their decisions happen: a case
                # sleeps until the first day one of them may.
                for case in live:
                    if day >= case.wakes_on:
                        case.night(day)
                        case.morning(day)
                        case.wakes_on = case.next_event_day(day)
                continue
            reminders.plan(self, day, after_night=False)
            for case in live:
                case.night(day)
            reminders.plan(self, day, after_night=True)
            for case in live:
                case.morning(day)
            reminders.dispatch(self, day)
            for case in live:
                work.day(case, day)
            # A closed case with nothing left to settle has no more nights.
            live = [case for case in live if case.is_open or case.pending_promise or case.live_plan]
        for case in self.cases:
            case.finish()


class DeskHistory:
    """The entry point for the generator: the history of each borrower, as their rows are made."""

    def __init__(self, *, seed: int, as_of: datetime.date):
        self.desk = Desk(seed=seed, as_of=as_of)

    def borrower(self, rows: dict, *, borrower: tuple, contacts: list[list], loans: list[LoanFacts]) -> None:
        desk = self.desk
        episodes = [
            episode
            for loan in loans
            for episode in loan.episodes(
                first_night=desk.first_day, last_night=desk.as_of - 1, entry_dpd=desk.entry_dpd
            )
        ]
        if episodes:
            BorrowerHistory(desk, Rows(desk, rows), borrower, contacts, episodes).run()
