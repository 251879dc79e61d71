"""A random portfolio for the nightly cycle's tests: loans at every stage of delinquency, cases
in every stage with broken promises, contacts and pending promises, built in bulk."""

import datetime
import random
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from accounts.models import Team
from collection.machine import Stage
from collection.models import CollectionCase, EscalationRequest, PromiseToPay
from loans.models import Borrower, Installment, Loan, Payment, Product
from loans.services import balances_recompute
from tests.accounts.factories import UserFactory
from tests.loans.factories import make_days_past_due, national_id

STAGE_WEIGHTS = [
    (None, 30),  # no case yet
    (Stage.REMINDER, 25),
    (Stage.NEGOTIATION, 15),
    (Stage.ESCALATION, 12),
    (Stage.LITIGATION, 3),
    (Stage.ON_HOLD, 5),
    (Stage.RESOLVED, 5),
    (Stage.WRITTEN_OFF, 2),
    (Stage.SETTLED, 3),
]


def desk_teams(*, collectors_per_team: int = 3) -> list[Team]:
    teams = []
    for number in range(2):
        supervisor = UserFactory(roles=["supervisor"])
        team = Team.objects.create(name=f"组{number}", supervisor=supervisor)
        team.members.set([UserFactory(roles=["collector"]) for _ in range(collectors_per_team)])
        teams.append(team)
    return teams


def random_portfolio(*, loans: int, seed: int, as_of: datetime.date) -> None:
    """`loans` loans of three products (grace days 0, 3, 5), each with 3-12 monthly installments
    of which the oldest few are paid; about 70 % carry a case in a random stage, with broken
    promises, a last right-party contact and sometimes a pending promise that has come due."""
    rng = random.Random(seed)
    products = [
        Product.objects.create(code=f"C{grace}", name=f"产品{grace}", kind=Product.Kind.CONSUMER_LOAN, grace_days=grace)
        for grace in (0, 3, 5)
    ]
    borrowers = Borrower.objects.bulk_create(
        Borrower(name=f"借款人{index}", national_id=national_id(900_000 + index)) for index in range(loans)
    )
    loan_rows = Loan.objects.bulk_create(
        Loan(
            account_number=f"CY{seed:03d}{index:07d}",
            borrower=borrower,
            product=rng.choice(products),
            principal=Decimal(rng.randrange(1_000, 50_000)),
            annual_rate=Decimal("0.1500"),
            disbursed_on=as_of - datetime.timedelta(days=rng.randrange(40, 400)),
            term_months=12,
        )
        for index, borrower in enumerate(borrowers)
    )
    installments, payments = [], []
    for loan in loan_rows:
        count = rng.randrange(3, 13)
        each = (loan.principal / count).quantize(Decimal("0.01"))
        # The first due date spreads loans from far past due to not yet due.
        first_due = as_of - datetime.timedelta(days=rng.choice([-20, 0, 2, 4, 10, 25, 35, 60, 95, 150]))
        paid_upto = rng.choice([0, 0, 1, 2, count, count])  # how many installments are paid
        for sequence in range(1, count + 1):
            paid = sequence <= paid_upto
            due = first_due + datetime.timedelta(days=30 * (sequence - 1))
            installments.append(
                Installment(
                    loan=loan,
                    sequence=sequence,
                    due_date=due,
                    principal_due=each,
                    interest_due=Decimal("10.00"),
                    principal_paid=each if paid else Decimal("0.00"),
                    interest_paid=Decimal("10.00") if paid else Decimal("0.00"),
                    is_paid=paid,
                )
            )
        if rng.random() < 0.2:
            payments.append(
                Payment(
                    loan=loan,
                    amount=Decimal(rng.randrange(50, 500)),
                    received_at=timezone.make_aware(
                        datetime.datetime.combine(
                            as_of - datetime.timedelta(days=rng.randrange(1, 6)), datetime.time(12)
                        )
                    ),
                    channel=Payment.Channel.BANK_TRANSFER,
                    reference=f"R{loan.pk}",
                )
            )
    Installment.objects.bulk_create(installments, batch_size=5000)
    Payment.objects.bulk_create(payments)
    balances_recompute(loans=Loan.objects.all())
    # Stale ageing, as if the portfolio was last aged some days ago: the cycle re-ages it.
    for remainder in range(7):
        make_days_past_due(
            Loan.objects.alias(remainder=F("pk") % 7).filter(remainder=remainder),
            remainder + 1,
            status=Loan.Status.DELINQUENT,
        )

    stages = [stage for stage, _ in STAGE_WEIGHTS]
    weights = [weight for _, weight in STAGE_WEIGHTS]
    now = timezone.now()
    cases = []
    for loan in loan_rows:
        stage = rng.choices(stages, weights)[0]
        if stage is None:
            continue
        opened = now - datetime.timedelta(days=rng.randrange(1, 90))
        contact = opened + datetime.timedelta(days=rng.randrange(0, 30)) if rng.random() < 0.5 else None
        cases.append(
            CollectionCase(
                loan=loan,
                stage=stage,
                opened_at=opened,
                stage_entered_at=opened,
                closed_at=opened if stage in (Stage.RESOLVED, Stage.WRITTEN_OFF, Stage.SETTLED) else None,
                held_stage=Stage.ESCALATION if stage == Stage.ON_HOLD else "",
                hold_reason="dispute" if stage == Stage.ON_HOLD else "",
                broken_promises=rng.choice([0, 0, 0, 1, 1, 2, 3]),
                last_right_party_contact_at=min(contact, now) if contact else None,
            )
        )
    cases = CollectionCase.objects.bulk_create(cases)
    promises, requests = [], []
    for case in cases:
        if case.stage in (Stage.NEGOTIATION, Stage.ESCALATION, Stage.ON_HOLD) and rng.random() < 0.3:
            promises.append(
                PromiseToPay(
                    case=case,
                    amount=Decimal(rng.randrange(50, 400)),
                    due_date=as_of - datetime.timedelta(days=rng.randrange(1, 6)),
                    promised_at=now - datetime.timedelta(days=8),
                )
            )
        if case.stage == Stage.ESCALATION and rng.random() < 0.1:
            requests.append(
                EscalationRequest(
                    case=case,
                    target_stage=Stage.LITIGATION,
                    reason="earlier",
                    status=EscalationRequest.Status.REJECTED,
                    decided_at=now,
                )
            )
    PromiseToPay.objects.bulk_create(promises)
    EscalationRequest.objects.bulk_create(requests)
