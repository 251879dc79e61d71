"""Every name the benchmark takes from the desk's own code, with the module it comes from: when the
project moves a name, its line here is the one change. A name is imported when a phase first uses
it, so that each phase loads only what it needs: the build's demo helpers bring Faker along, which
would add to the timed phases' peak memory."""

import importlib

_HOMES = {
    "Team": "accounts.models",
    "collection_cycle": "collection.cycle",
    "collection_cycle_case_by_case": "collection.cycle_reference",
    "portfolio_snapshot_take": "loans.services",
    "OPEN_STAGES": "collection.machine",
    "CaseAssignment": "collection.models",
    "CaseRouting": "collection.models",
    "CollectionCase": "collection.models",
    "EscalationRequest": "collection.models",
    "PromiseToPay": "collection.models",
    "system_user": "collection.selectors",
    "desk_day_start": "config.desk",
    "TEAMS": "demo.people",
    "demo_products": "demo.products",
    "demo_users_ensure": "demo.people",
    "Borrower": "loans.models",
    "Contact": "loans.models",
    "Installment": "loans.models",
    "Loan": "loans.models",
    "Payment": "loans.models",
    "PortfolioSnapshot": "loans.models",
    "PORTFOLIO_DAY_SQL": "loans.fields",
    "portfolio_refresh_delinquency": "loans.services",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    try:
        home = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = globals()[name] = getattr(importlib.import_module(home), name)
    return value
