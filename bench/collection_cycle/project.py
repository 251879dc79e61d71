"""Every name the benchmark uses from the desk's own code, imported here and nowhere else, so that
when the project moves a name the line importing it here is the one change. Imported only once
Django is set up, in a phase's process."""

from accounts.models import Team
from collection.cycle import collection_cycle, collection_cycle_case_by_case, portfolio_snapshot_take
from collection.models import (
    OPEN_STAGES,
    CaseAssignment,
    CaseRouting,
    CollectionCase,
    EscalationRequest,
    PromiseToPay,
)
from collection.selectors import system_user
from config.desk import desk_day_start
from loans.demo import TEAMS, demo_products, demo_users_ensure
from loans.models import Borrower, Contact, Installment, Loan, Payment, PortfolioSnapshot
from loans.services import portfolio_refresh_delinquency

__all__ = [
    "OPEN_STAGES",
    "TEAMS",
    "Borrower",
    "CaseAssignment",
    "CaseRouting",
    "CollectionCase",
    "Contact",
    "EscalationRequest",
    "Installment",
    "Loan",
    "Payment",
    "PortfolioSnapshot",
    "PromiseToPay",
    "Team",
    "collection_cycle",
    "collection_cycle_case_by_case",
    "demo_products",
    "demo_users_ensure",
    "desk_day_start",
    "portfolio_refresh_delinquency",
    "portfolio_snapshot_take",
    "system_user",
]
