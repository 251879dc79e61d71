"""`manage.py seed_demo`: the demo desk it seeds, that one seed always seeds the same rows, and
that it never mixes into an existing portfolio."""

import datetime
import hashlib
import os
import re
import secrets
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team
from demo.copy import HISTORY_MODELS, PORTFOLIO_MODELS
from demo.generator import MAX_HISTORY_MONTHS
from demo.people import DEMO_USERS
from demo.places import MOBILE_PREFIXES
from demo.products import EQUAL_INSTALLMENT, EQUAL_PRINCIPAL
from demo.schedule import schedule_amounts
from demo.seed import demo_desk_seed
from loans.models import Borrower, Contact, Installment, Loan, Payment, PaymentAllocation, Product
from loans.phones import normalise_phone
from loans.selectors import portfolio_day
from loans.services import payment_record
from loans.validators import validate_national_id
from tests.loans.factories import BorrowerFactory, LoanFactory

BASE_DIR = Path(__file__).resolve().parents[2]
AS_OF = datetime.date(2026, 11, 30)
LOANS = 300
SEED = 7
PART_PAID = Q(principal_paid__gt=0) | Q(interest_paid__gt=0) | Q(fees_paid__gt=0) | Q(penalty_paid__gt=0)
PHONE_KINDS = {kind for kind in Contact.Kind.values if kind != Contact.Kind.EMAIL}


def seed_demo(*args, loans=LOANS, seed=SEED, as_of=AS_OF) -> str:
    out = StringIO()
    call_command(
        "seed_demo",
        "--loans",
        str(loans),
        "--seed",
        str(seed),
        "--as-of",
        as_of.isoformat(),
        *args,
        stdout=out,
        stderr=StringIO(),
    )
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed_demo()


def portfolio_flush() -> None:
    from django_fsm_log.models import StateLog

    from collection.models import CollectionCase, EscalationRequest, JobRun
    from loans.models import PortfolioSnapshot

    for model in (EscalationRequest, CollectionCase, StateLog, JobRun, PortfolioSnapshot):
        model.objects.all().delete()
    for model in (PaymentAllocation, Payment, Installment, Loan, Contact, Borrower):
        model.objects.all().delete()


def totals(pairs) -> dict:
    """Sums per key, in Python: SQLite adds decimals up as floats."""
    sums = {}
    for key, amount in pairs:
        sums[key] = sums.get(key, 0) + amount
    return sums


def fingerprint() -> dict[str, str]:
    """A digest of every portfolio row, primary keys included, leaving out the timestamps the
    database or the clock sets (created_at, updated_at)."""
    digests = {}
    for model in PORTFOLIO_MODELS:
        names = [f.attname for f in model._meta.concrete_fields if f.name not in ("created_at", "updated_at")]
        digest = hashlib.sha256()
        for row in model.objects.order_by("pk").values_list(*names):
            digest.update(repr(row).encode())
        digests[model.__name__] = digest.hexdigest()
    return digests


def logins_in(output: str) -> dict[str, str]:
    """username -> password from the printed table."""
    logins = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] in {username for username, _role, _team in DEMO_USERS}:
            logins[parts[0]] = parts[3]
    return logins


# --- what gets seeded ---


def test_seeds_two_teams_a_legal_officer_and_an_admin_in_their_role_groups(seeded):
    User = get_user_model()
    roles_of = {
        user.username: set(user.groups.values_list("name", flat=True))
        for user in User.objects.exclude(username="system")
    }

    assert roles_of == {
        "supervisor1": {"supervisor"},
        "supervisor2": {"supervisor"},
        **{f"collector{n}": {"collector"} for n in range(1, 7)},
        "legal1": {"legal_officer"},
        "admin": {"admin"},
    }
    teams = {
        team.name: (team.supervisor.username, sorted(team.members.values_list("username", flat=True)))
        for team in Team.objects.all()
    }
    assert teams == {
        "一组": ("supervisor1", ["collector1", "collector2", "collector3"]),
        "二组": ("supervisor2", ["collector4", "collector5", "collector6"]),
    }
    admin = User.objects.get(username="admin")
    assert admin.is_staff and not admin.is_superuser  # the admin role, not a superuser (review F1)
    assert set(User.objects.filter(is_staff=True).values_list("username", flat=True)) == {
        "admin",
        "supervisor1",
        "supervisor2",
    }
    assert not User.objects.filter(is_superuser=True).exists()


def test_the_desk_opens_with_cases_allocated_to_the_demo_collectors(seeded):
    """seed_demo ends with the collection cycle for the day: every delinquent loan past the
    reminder threshold has an open case, and each is with a demo collector of a team."""
    from collection.machine import OPEN_STAGES
    from collection.models import CollectionCase, JobRun

    output = seeded
    open_cases = CollectionCase.objects.filter(stage__in=OPEN_STAGES)
    delinquent = Loan.objects.filter(status=Loan.Status.DELINQUENT, days_past_due__gte=1)
    assert open_cases.count() == delinquent.count() > 0
    assert not open_cases.filter(assigned_to__isnull=True).exists()
    collectors = {username for username, role, _team in DEMO_USERS if role == "collector"}
    assert set(open_cases.values_list("assigned_to__username", flat=True)) == collectors
    run = JobRun.objects.get(job=JobRun.Job.COLLECTION_CYCLE)
    assert run.status == JobRun.Status.SUCCEEDED
    # The worked history opened the cases of the nights before; the cycle opens those of loans
    # that reached DPD 1 on the day itself.
    day_starts = datetime.datetime.combine(AS_OF, datetime.time(0), tzinfo=timezone.get_default_timezone())
    opened_today = open_cases.filter(opened_at__gte=day_starts)
    assert run.counts["open"]["cases_opened"] == opened_today.count()
    assert set(opened_today.values_list("loan__days_past_due", flat=True)) <= {1}
    assert f"开立案件 {opened_today.count():,}" in output  # the cycle's summary, in the desk's language


def test_seeds_loans_of_the_three_products(seeded):
    by_product = dict(Loan.objects.values_list("product__code").annotate(count=Count("id")))

    assert Loan.objects.count() == LOANS
    assert set(by_product) == {"CCI", "CONSUMER", "ONLINE"}
    assert by_product["ONLINE"] > by_product["CCI"] > by_product["CONSUMER"]
    assert Product.objects.count() == 3
    for code, low, high, terms in (
        ("CCI", 3_000, 50_000, {3, 6, 9, 12, 18, 24}),
        ("CONSUMER", 20_000, 300_000, {12, 18, 24, 36}),
        ("ONLINE", 500, 20_000, {3, 6, 9, 12}),
    ):
        loans = Loan.objects.filter(product__code=code)
        assert not loans.filter(Q(principal__lt=low) | Q(principal__gt=high)).exists()
        assert set(loans.values_list("term_months", flat=True)) <= terms
        assert not loans.filter(disbursed_on__gt=AS_OF).exists()
        assert not loans.filter(disbursed_on__lt=AS_OF - datetime.timedelta(days=MAX_HISTORY_MONTHS * 31)).exists()


def test_every_loan_has_a_monthly_schedule_whose_principal_adds_up_to_the_loan_principal(seeded):
    schedules = totals(Installment.objects.values_list("loan_id", "principal_due"))
    counts = dict(Installment.objects.values_list("loan_id").annotate(count=Count("id")).order_by())
    loans = Loan.objects.all()

    assert all(counts[loan.pk] == loan.term_months for loan in loans)
    assert all(schedules[loan.pk] == loan.principal for loan in loans)
    for loan in loans.order_by("pk")[::15]:
        dues = list(loan.installments.order_by("sequence").values_list("due_date", flat=True))
        assert dues == [loan.disbursed_on + relativedelta(months=month) for month in range(1, loan.term_months + 1)]
    assert Installment.objects.filter(fees_due__gt=0).exists()
    assert Installment.objects.filter(interest_due__gt=0).exists()
    assert Installment.objects.filter(penalty_due__gt=0).exists()  # late fees on installments paid late


def test_paid_amounts_are_exactly_the_allocations_and_payments_are_their_allocations(seeded):
    allocated = totals(
        ((installment, component), amount)
        for installment, component, amount in PaymentAllocation.objects.values_list(
            "installment_id", "component", "amount"
        )
    )
    for installment in Installment.objects.all():
        for component in Installment.COMPONENTS:
            assert getattr(installment, f"{component}_paid") == allocated.get((installment.pk, component), 0)
        assert installment.is_paid == (installment.total_remaining == 0)
        assert (installment.paid_on is not None) == installment.is_paid

    by_payment = totals(PaymentAllocation.objects.values_list("payment_id", "amount"))
    payments = dict(Payment.objects.values_list("pk", "amount"))
    assert by_payment == payments
    assert sum(payments.values()) == sum(PaymentAllocation.objects.values_list("amount", flat=True))
    assert set(Payment.objects.values_list("source", flat=True)) == {"demo"}
    assert Payment.objects.values("reference").distinct().count() == Payment.objects.count()
    assert not Payment.objects.filter(received_at__date__gt=AS_OF).exists()
    assert not Payment.objects.filter(received_at__date__lte=F("loan__disbursed_on")).exists()
    # Some loans are part paid: an installment with money on it that is still open.
    assert Installment.objects.filter(is_paid=False).filter(PART_PAID).exists()


def test_the_allocation_is_what_payment_record_gives(seeded):
    """Replay the payments of a sample of loans through payment_record on a copy of each schedule:
    the same installments end up paid, with the same allocations."""
    part_paid = Installment.objects.filter(PART_PAID, is_paid=False).values_list("loan_id", flat=True)
    late_fees = Installment.objects.filter(penalty_due__gt=0).values_list("loan_id", flat=True)
    paid = Payment.objects.values_list("loan_id", flat=True)
    ids = (
        set(part_paid.order_by("loan_id")[:8])
        | set(late_fees.order_by("loan_id")[:8])
        | set(paid.order_by("loan_id")[:8])
    )
    sample = list(Loan.objects.filter(pk__in=ids).order_by("pk"))
    assert len(sample) >= 12
    for loan in sample:
        copy = LoanFactory(
            borrower=loan.borrower,
            product=loan.product,
            principal=loan.principal,
            annual_rate=loan.annual_rate,
            disbursed_on=loan.disbursed_on,
            term_months=loan.term_months,
            installments=False,
        )
        Installment.objects.bulk_create(
            Installment(
                loan=copy,
                sequence=installment.sequence,
                due_date=installment.due_date,
                **{f"{c}_due": getattr(installment, f"{c}_due") for c in Installment.COMPONENTS},
            )
            for installment in loan.installments.all()
        )
        for payment in loan.payments.order_by("received_at", "pk"):
            payment_record(
                loan=copy,
                amount=payment.amount,
                received_at=payment.received_at,
                reference=f"replay-{payment.pk}",
                channel=payment.channel,
                source="replay",
            )

        def paid_state(of):
            return list(
                of.installments.order_by("sequence").values_list(
                    "sequence", *(f"{c}_paid" for c in Installment.COMPONENTS), "is_paid", "paid_on"
                )
            )

        def allocations(of):
            return list(
                PaymentAllocation.objects.filter(payment__loan=of)
                .order_by("payment__received_at", "payment_id", "installment__sequence", "id")
                .values_list("installment__sequence", "component", "amount")
            )

        assert paid_state(copy) == paid_state(loan)
        assert allocations(copy) == allocations(loan)
        copy.refresh_from_db()
        loan.refresh_from_db()
        assert (copy.days_past_due, copy.status, copy.bucket_id, copy.total_outstanding, copy.overdue_amount) == (
            loan.days_past_due,
            loan.status,
            loan.bucket_id,
            loan.total_outstanding,
            loan.overdue_amount,
        )


def test_the_portfolio_is_aged_as_of_the_day_mostly_current_with_thinning_delinquent_tails(seeded):
    open_loans = Loan.objects.exclude(status=Loan.Status.PAID_OFF)
    buckets = dict(open_loans.values_list("bucket__name").annotate(count=Count("id")))

    assert portfolio_day() == AS_OF
    assert not Loan.objects.filter(needs_ageing=True).exists()
    assert buckets["M0"] > 0.75 * LOANS
    assert all(buckets.get(name, 0) > 0 for name in ("M1", "M2", "M3", "M4+"))
    assert buckets["M1"] > buckets["M2"]
    assert Loan.objects.filter(status=Loan.Status.PAID_OFF).count() > 0
    assert not Loan.objects.filter(status=Loan.Status.PAID_OFF, installments__is_paid=False).exists()
    for loan in Loan.objects.select_related("product"):
        unpaid = loan.installments.filter(is_paid=False).order_by("due_date").first()
        expected = max((AS_OF - unpaid.due_date).days - loan.product.grace_days, 0) if unpaid else 0
        assert loan.days_past_due == expected
        assert loan.outstanding_principal == loan.principal - sum(
            loan.installments.values_list("principal_paid", flat=True)
        )
        assert (loan.status == Loan.Status.DELINQUENT) == (loan.days_past_due > 0)


def test_borrowers_have_valid_unique_national_ids_and_contacts_in_e164_some_of_them_wrong(seeded):
    borrowers = list(Borrower.objects.all())
    for borrower in borrowers:
        validate_national_id(borrower.national_id)
        born = datetime.date(
            int(borrower.national_id[6:10]), int(borrower.national_id[10:12]), int(borrower.national_id[12:14])
        )
        assert born == borrower.date_of_birth
        assert borrower.province and borrower.city and borrower.address
    assert len({borrower.national_id for borrower in borrowers}) == len(borrowers)
    assert Borrower.objects.filter(lost_contact=True, lost_contact_since__isnull=False).exists()
    assert not Borrower.objects.filter(lost_contact=False, lost_contact_since__isnull=False).exists()

    contacts = list(Contact.objects.all())
    for contact in contacts:
        if contact.kind in PHONE_KINDS:
            assert normalise_phone(contact.value) == contact.value
        else:
            validate_email(contact.value)
    assert not Borrower.objects.exclude(contacts__kind=Contact.Kind.MOBILE).exists()
    assert (
        not Borrower.objects.exclude(contacts__kind=Contact.Kind.EMERGENCY)
        .exclude(contacts__kind=Contact.Kind.OTHER)
        .exists()
    )
    relations = set(Contact.objects.filter(kind=Contact.Kind.EMERGENCY).values_list("relation", flat=True))
    assert {"配偶", "父亲", "母亲"} <= relations
    kinds = {contact.kind for contact in contacts}
    assert {"mobile", "home", "work", "employer", "email", "emergency"} <= kinds
    verifications = {contact.verification for contact in contacts}
    assert verifications == set(Contact.Verification.values)
    assert any(contact.do_not_contact for contact in contacts)
    assert any(contact.opt_out_sms or contact.opt_out_call for contact in contacts)
    assert all(
        (contact.verified_at is not None) == (contact.verification == Contact.Verification.VERIFIED)
        for contact in contacts
    )
    # Nobody the desk has lost can be reached on their own numbers.
    assert not Contact.objects.filter(
        borrower__lost_contact=True, kind=Contact.Kind.MOBILE, verification=Contact.Verification.VERIFIED
    ).exists()


def test_the_schedule_arithmetic_is_exact_to_the_fen():
    for method in (EQUAL_INSTALLMENT, EQUAL_PRINCIPAL):
        rows = schedule_amounts(
            principal_fen=10_000_00, term_months=12, annual_rate=1800, monthly_fee_fen=0, method=method
        )
        assert sum(principal for principal, _interest, _fees in rows) == 10_000_00
        assert rows[0][1] == 150_00  # 1.5% of 10,000 yuan in the first month
    level = schedule_amounts(
        principal_fen=10_000_00, term_months=12, annual_rate=1800, monthly_fee_fen=0, method=EQUAL_INSTALLMENT
    )
    # 10,000 yuan at 18% over 12 months: 916.80 a month, the last one absorbing the rounding.
    assert {principal + interest for principal, interest, _fees in level[:-1]} == {916_80}
    assert abs(sum(level[-1][:2]) - 916_80) <= 1


# --- the same seed, the same rows ---


def test_one_seed_always_seeds_the_same_rows_and_another_seed_other_rows(db):
    first_output = seed_demo()
    first = fingerprint()

    portfolio_flush()
    second_output = seed_demo()

    assert fingerprint() == first
    # The same users, with new random passwords: the seed decides the data, never a login.
    assert set(logins_in(second_output)) == set(logins_in(first_output))
    assert not set(logins_in(second_output).values()) & set(logins_in(first_output).values())

    portfolio_flush()
    seed_demo(seed=SEED + 1)

    other = fingerprint()
    assert all(other[name] != first[name] for name in first)


def history_fingerprint() -> dict[str, str]:
    """A digest of every row of the worked history, primary keys and times included."""
    digests = {}
    for model in HISTORY_MODELS:
        names = [f.attname for f in model._meta.concrete_fields]
        digest = hashlib.sha256()
        for row in model.objects.order_by("pk").values_list(*names):
            digest.update(repr(row).encode())
        digests[model.__name__] = digest.hexdigest()
    return digests


def test_one_seed_always_writes_the_same_worked_history_and_another_seed_another(db):
    demo_desk_seed(loans=LOANS, seed=SEED, as_of=AS_OF)
    first = history_fingerprint()

    portfolio_flush()
    demo_desk_seed(loans=LOANS, seed=SEED, as_of=AS_OF)
    again = history_fingerprint()
    portfolio_flush()
    demo_desk_seed(loans=LOANS, seed=SEED + 1, as_of=AS_OF)

    assert again == first
    assert all(history_fingerprint()[name] != first[name] for name in first)


def test_primary_keys_start_at_one_and_the_sequences_continue_after_them(seeded):
    assert Loan.objects.order_by("pk").values_list("pk", flat=True)[0] == 1
    assert max(Loan.objects.values_list("pk", flat=True)) == LOANS

    borrower = BorrowerFactory()
    loan = LoanFactory(borrower=borrower)

    assert borrower.pk == Borrower.objects.count()
    assert loan.pk == LOANS + 1
    assert min(loan.installments.values_list("pk", flat=True)) == Installment.objects.count() - loan.term_months + 1


@pytest.mark.postgres
def test_keys_and_indexes_taken_off_for_the_load_are_all_back(db):
    def schema():
        tables = [model._meta.db_table for model in PORTFOLIO_MODELS + HISTORY_MODELS]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
                [tables],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1, 2",
                [tables],
            )
            return constraints, cursor.fetchall()

    before = schema()

    seed_demo(loans=50)

    assert schema() == before


# --- an existing portfolio ---


def test_refuses_to_seed_into_an_existing_portfolio(seeded):
    with pytest.raises(CommandError, match="--if-empty"):
        seed_demo(seed=SEED + 1)

    assert Loan.objects.count() == LOANS


def test_refuses_when_there_are_borrowers_but_no_loans(db):
    BorrowerFactory()

    with pytest.raises(CommandError, match="fresh database"):
        seed_demo()


def test_if_empty_leaves_an_existing_portfolio_and_its_logins_alone(seeded, var_dir):
    logins_file = var_dir / "demo_logins.txt"
    logins_before = logins_file.read_text(encoding="utf-8")
    rows_before = fingerprint()
    logins_file.write_text(logins_before + "# untouched\n", encoding="utf-8")

    output = seed_demo("--if-empty", seed=SEED + 1)

    assert output.splitlines()[0] == f"database already has {LOANS} loans, not seeding"
    assert logins_in(output) == logins_in(logins_before)  # shown again for make run
    assert fingerprint() == rows_before
    assert logins_file.read_text(encoding="utf-8") == logins_before + "# untouched\n"


def test_if_empty_seeds_an_empty_database(db):
    output = seed_demo("--if-empty", loans=20)

    assert Loan.objects.count() == 20
    assert len(logins_in(output)) == len(DEMO_USERS)


# --- the logins ---


def test_prints_the_logins_writes_them_for_make_run_and_they_log_in(seeded, var_dir, client):
    printed = logins_in(seeded)
    written = logins_in((var_dir / "demo_logins.txt").read_text(encoding="utf-8"))

    assert set(printed) == {username for username, _role, _team in DEMO_USERS}
    assert written == printed
    assert "Open loans by bucket: M0" in seeded
    for username, password in printed.items():
        response = client.post(reverse("login"), {"username": username, "password": password})
        assert response.status_code == 302, username
        client.post(reverse("logout"))
    assert client.post(reverse("login"), {"username": "collector1", "password": "wrong"}).status_code == 200


def test_the_demo_passwords_are_random_and_pass_the_password_validators(seeded):
    """The review: passwords were `<username>-NNNN`, and `collector1-1392` failed the similarity validator."""
    User = get_user_model()

    for username, password in logins_in(seeded).items():
        validate_password(password, User.objects.get(username=username))
        assert username not in password
        assert not re.fullmatch(r".+-\d{4}", password)
    assert len(set(logins_in(seeded).values())) == len(DEMO_USERS)


def test_the_demo_admin_is_a_superuser_only_when_asked(db):
    seed_demo("--superuser", loans=20)

    assert list(get_user_model().objects.filter(is_superuser=True).values_list("username", flat=True)) == ["admin"]


def test_the_logins_file_is_readable_by_its_owner_only(seeded, var_dir):
    logins_file = var_dir / "demo_logins.txt"

    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600


def test_an_existing_logins_file_is_narrowed_to_its_owner_when_written_again(db, var_dir):
    logins_file = var_dir / "demo_logins.txt"
    logins_file.write_text("old logins\n", encoding="utf-8")
    logins_file.chmod(0o644)

    output = seed_demo(loans=20)

    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    assert logins_in(logins_file.read_text(encoding="utf-8")) == logins_in(output)


def test_a_symbolic_link_in_place_of_the_logins_file_is_not_followed(db, var_dir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "target.txt"
    elsewhere.write_text("not the logins\n", encoding="utf-8")
    (var_dir / "demo_logins.txt").symlink_to(elsewhere)

    with pytest.raises(OSError):
        seed_demo(loans=20)

    assert elsewhere.read_text(encoding="utf-8") == "not the logins\n"


# --- never under production settings ---


def test_refuses_to_run_under_production_settings(db, settings, var_dir):
    settings.DESK_ENVIRONMENT = "production"

    with pytest.raises(CommandError, match="refuses to run under production settings"):
        seed_demo(loans=20)
    with pytest.raises(CommandError, match="refuses to run under production settings"):
        seed_demo("--if-empty", loans=20)

    assert not Loan.objects.exists()
    assert not get_user_model().objects.filter(username__in=[name for name, _role, _team in DEMO_USERS]).exists()
    assert not (var_dir / "demo_logins.txt").exists()


def test_the_command_refuses_the_real_production_settings(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "desk.example",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never.sqlite3'}",
    }

    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "seed_demo", "--loans", "20"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "seed_demo refuses to run under production settings" in result.stderr
    assert not (tmp_path / "never.sqlite3").exists()


def test_the_printed_table_names_each_role_and_team(seeded):
    rows = {}
    for line in seeded.splitlines():
        parts = line.split()
        if len(parts) == 4:
            rows[parts[0]] = parts[1:]

    assert rows["supervisor1"][:2] == ["supervisor", "一组"]
    assert rows["collector6"][:2] == ["collector", "二组"]
    assert rows["legal1"][:2] == ["legal_officer", "-"]
    assert rows["admin"][:2] == ["admin", "-"]


def test_rejects_a_non_positive_number_of_loans(db):
    with pytest.raises(CommandError):
        call_command("seed_demo", "--loans", "0", stdout=StringIO())


def test_a_demo_phone_prefix_libphonenumber_does_not_know_would_be_caught():
    with pytest.raises(ValidationError):
        normalise_phone("+8614912345678")
    for prefix in MOBILE_PREFIXES:
        assert normalise_phone(f"+86{prefix}00000000") == f"+86{prefix}00000000"


def test_no_demo_password_has_a_group_of_digits_only(db):
    """A password ending in four digits reads like the old `<username>-NNNN` ones: none is made."""
    from demo.people import demo_password

    user = get_user_model()(username="collector1")
    passwords = [demo_password(user) for _ in range(2_000)]

    assert not [password for password in passwords if any(group.isdigit() for group in password.split("-"))]
