"""How fast is the nightly collection cycle? `python -m bench.collection_cycle --loans N`

Builds a portfolio of N loans in a database of its own on DATABASE_URL's PostgreSQL server
(`<database>_bench`, dropped at the end unless --keep): one borrower with one mobile number per
loan, 12 monthly installments per loan (about 80 % current, 7 % M1, 3 % M2, 2 % M3, 3 % M4+ and
5 % paid off as of the day, some installments partly paid), the demo desk's teams and
collectors, and the cases the cycle left the night before: cases in every stage, some with two
broken promises, pending litigation requests, cases of loans paid since, closed cases; and a fifth
of the open cases in negotiation, escalation or on hold with a pending promise to pay, due one to
six days before the day, with payments in and around its window that keep it, keep it partly or
leave it broken. Then, each on its own copy of that database (CREATE DATABASE ... TEMPLATE), it
times:

  cycle  collection.cycle.collection_cycle: the nightly job as the desk runs it;
  floor  the same work as hand-written SQL statements over whole tables, no Python per row:
         re-ageing, opening and allocating cases, resolving them, settling the promises due,
         the stage rules' moves and escalation requests with a transition-log row each, the
         snapshot;
  naive  collection.cycle.collection_cycle_case_by_case (one-case services in a loop) on a
         sample of loans, extrapolated to N (its whole-portfolio passes, the promise step
         and the snapshot, timed once).

Each phase runs in a process of its own, so that the peak memory printed is that phase's. The
last line is `ratio cycle/floor: X.XX`. The same N, seed and day give the same rows."""

# ruff: noqa: S608 - the statements here are built from this module's own names and numbers;
# every value from outside (day, seed, ids) is bound as a parameter.

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULT_MARK = "BENCH-RESULT "
PHASES = ("build", "cycle", "floor", "naive")
CHUNK_LOANS = 50_000
DESK_TIME_ZONE = ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------------------------------------
# The command: databases, one child process per phase, the report
# ---------------------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.collection_cycle",
        description="Time the nightly collection cycle against hand-written SQL and the one-case path.",
    )
    parser.add_argument("--loans", type=_positive, default=100_000, help="Loans in the portfolio (default 100000).")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the portfolio (default 1).")
    parser.add_argument(
        "--as-of",
        type=datetime.date.fromisoformat,
        default=None,
        help="The night to run, YYYY-MM-DD (default today in Asia/Shanghai; promises are only "
        "evaluated for a day that has come).",
    )
    parser.add_argument("--sample", type=_positive, default=2_000, help="Loans the naive path works on (default 2000).")
    parser.add_argument(
        "--database-name", default=None, help="Name of the benchmark's database (default <DATABASE_URL's>_bench)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the databases afterwards.")
    # Internal: a child process runs one phase on one database.
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--phase-database", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    args.as_of = args.as_of or datetime.datetime.now(DESK_TIME_ZONE).date()
    if args.phase:
        return phase_main(args)
    try:
        server = Server.from_environment()
    except BenchError as error:
        print(f"bench.collection_cycle: {error}", file=sys.stderr)
        return 2
    base = args.database_name or f"{server.database}_bench"
    databases = {"build": base, "cycle": f"{base}_cycle", "floor": f"{base}_floor", "naive": f"{base}_naive"}
    sample = min(args.sample, args.loans)
    print(
        f"bench.collection_cycle: {args.loans:,} loans, seed {args.seed}, as of {args.as_of}, "
        f"naive sample {sample:,}; database {base} on {server.host}:{server.port}",
        flush=True,
    )
    results = {}
    try:
        for name in databases.values():
            server.drop(name)
        server.create(base)
        results["build"] = run_phase("build", base, server, args)
        report_build(results["build"], args.loans)
        for phase in ("cycle", "floor", "naive"):
            server.create(databases[phase], template=base)
            results[phase] = run_phase(phase, databases[phase], server, args)
            report_phase(phase, results[phase], loans=args.loans, sample=sample)
    except BenchError as error:
        print(f"bench.collection_cycle: {error}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            for name in databases.values():
                server.drop(name)
    report_outcomes(results["cycle"]["outcome"], results["floor"]["outcome"])
    naive_extrapolated = _extrapolated(results["naive"], loans=args.loans, sample=sample)
    print(f"ratio naive/cycle: {naive_extrapolated / results['cycle']['seconds']:.2f}")
    if args.keep:
        print(f"kept databases: {', '.join(databases.values())}")
    print(f"ratio cycle/floor: {results['cycle']['seconds'] / results['floor']['seconds']:.2f}")
    return 0


class BenchError(Exception):
    pass


class Server:
    """The PostgreSQL server of DATABASE_URL, reached through its `postgres` maintenance
    database with the same credentials to drop and create the benchmark's databases."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql", "pgsql", "postgis"):
            raise BenchError(
                "DATABASE_URL must point at PostgreSQL (postgres://user:password@host:port/database), "
                f"not {parts.scheme}:"
            )
        self.url = url
        self.parts = parts
        self.database = parts.path.lstrip("/") or "desk"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 5432

    @classmethod
    def from_environment(cls) -> "Server":
        url = os.environ.get("DATABASE_URL", "")
        if not url:
            raise BenchError(
                "set DATABASE_URL=postgres://user:password@host:port/database: the benchmark builds its "
                "databases on that PostgreSQL server (the role needs CREATEDB)"
            )
        return cls(url)

    def url_for(self, database: str) -> str:
        return self.parts._replace(path=f"/{database}").geturl()

    def _admin(self):
        import psycopg

        try:
            return psycopg.connect(self.url_for("postgres"), autocommit=True)
        except psycopg.Error as error:
            raise BenchError(f"cannot reach the PostgreSQL server of DATABASE_URL: {error}") from error

    def drop(self, name: str) -> None:
        from psycopg import sql

        with self._admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create(self, name: str, *, template: str | None = None) -> None:
        import psycopg
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        with self._admin() as admin:
            if template is not None:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
                if admin.info.server_version >= 150000:  # a file copy: much faster than through the WAL
                    statement += sql.SQL(" STRATEGY FILE_COPY")
            for attempt in range(20):
                try:
                    admin.execute(statement)
                    return
                except psycopg.errors.ObjectInUse:  # autovacuum visiting the template: wait for it
                    if attempt == 19:
                        raise
                    time.sleep(0.5)


def run_phase(phase: str, database: str, server: Server, args: argparse.Namespace) -> dict:
    """Run one phase in a child process on `database` and return what it reports."""
    command = [
        sys.executable,
        "-m",
        "bench.collection_cycle",
        "--phase",
        phase,
        "--phase-database",
        database,
        "--loans",
        str(args.loans),
        "--seed",
        str(args.seed),
        "--as-of",
        args.as_of.isoformat(),
        "--sample",
        str(args.sample),
    ]
    environment = {**os.environ, "DATABASE_URL": server.url_for(database)}
    completed = subprocess.run(  # noqa: S603 (our own module, with our own arguments)
        command, cwd=PROJECT_DIR, env=environment, stdout=subprocess.PIPE, text=True, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
        print(line)
    raise BenchError(f"the {phase} phase failed (exit status {completed.returncode}); see above")


def _megabytes(kilobytes: int) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


def _memory(result: dict) -> str:
    return f"peak RSS {_megabytes(result['peak_rss_kb'])}, RSS after {_megabytes(result['rss_after_kb'])}"


def report_build(result: dict, loans: int) -> None:
    rows = ", ".join(f"{count:,} {name}" for name, count in result["rows"].items())
    print(f"build   {result['seconds']:8.1f} s  {loans / result['seconds']:>10,.0f} loans/s  {_memory(result)}")
    print(f"        {rows}")
    print("        the night before: " + ", ".join(f"{name} {count:,}" for name, count in result["spread"].items()))


def _extrapolated(result: dict, *, loans: int, sample: int) -> float:
    """The naive path's time for the whole portfolio: its per-loan work scaled up, its
    whole-portfolio passes (the promise step, the snapshot) once."""
    return result["seconds"] * loans / sample + result.get("seconds_once", 0.0)


def report_phase(phase: str, result: dict, *, loans: int, sample: int) -> None:
    seconds = result["seconds"]
    if phase == "naive":
        extrapolated = _extrapolated(result, loans=loans, sample=sample)
        print(
            f"naive   {extrapolated:8.1f} s  {loans / extrapolated:>10,.0f} loans/s  {_memory(result)}  "
            f"(extrapolated from {sample:,} loans in {seconds:.1f} s, plus the promise step and the snapshot once)"
        )
    else:
        print(f"{phase:<7} {seconds:8.1f} s  {loans / seconds:>10,.0f} loans/s  {_memory(result)}")
    for step, counts in result["counts"].items():
        shown = ", ".join(f"{name} {count:,}" for name, count in counts.items())
        timing = f" [{result['step_seconds'][step]:.1f} s]" if step in result.get("step_seconds", {}) else ""
        print(f"        {step}{timing}: {shown or '-'}")


def report_outcomes(cycle: dict, floor: dict) -> None:
    """Whether the cycle and the floor left the same portfolio, cases, logs and snapshot: the
    floor is only a floor if it did the same work."""
    differing = [name for name in cycle if cycle[name] != floor.get(name)]
    if differing:
        print(f"outcome: cycle and floor DIFFER in {', '.join(differing)}")
        for name in differing:
            print(f"        {name}: cycle {cycle[name]}")
            print(f"        {name}: floor {floor.get(name)}")
    else:
        print(f"outcome: cycle and floor leave the same {', '.join(cycle)}")


# ---------------------------------------------------------------------------------------------
# A child process: one phase on one database
# ---------------------------------------------------------------------------------------------


def phase_main(args: argparse.Namespace) -> int:
    # Django is set up here, in the child, pointed at the phase's database (DATABASE_URL); the
    # development settings with debug off, so that no query is kept in memory.
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    phase = {"build": phase_build, "cycle": phase_cycle, "floor": phase_floor, "naive": phase_naive}[args.phase]
    result = phase(args)
    result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["rss_after_kb"] = _rss_now_kb()
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


def _rss_now_kb() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _progress(description: str, total: int | None, unit: str):
    from tqdm import tqdm

    return tqdm(
        total=total, desc=description, unit=unit, unit_scale=True, file=sys.stderr, mininterval=0.5, leave=False
    )


def phase_cycle(args: argparse.Namespace) -> dict:
    from collection.cycle import collection_cycle

    step_seconds: dict[str, float] = {}
    last = time.perf_counter()

    def progress(step=None, *_args) -> None:
        # Called after each batch with the step's name: the time since the last call is that
        # batch's, so the steps' times add up to the run's.
        nonlocal last
        now = time.perf_counter()
        if isinstance(step, str):
            step_seconds[step] = step_seconds.get(step, 0.0) + now - last
        last = now
        bar.update(1)

    with _progress("cycle", None, "batch") as bar:
        started = last = time.perf_counter()
        counts = collection_cycle(as_of=args.as_of, progress=progress)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "counts": counts, "step_seconds": step_seconds, "outcome": outcome()}


def phase_naive(args: argparse.Namespace) -> dict:
    from unittest import mock

    from collection import cycle
    from collection.cycle import collection_cycle_case_by_case, portfolio_snapshot_take

    # The one-case path's promise step is promises_evaluate over every promise due, whatever the
    # sample, as the cycle's: one pass over the whole portfolio, timed on its own and not
    # extrapolated per loan (as the snapshot).
    promises_seconds = 0.0
    promises = cycle._promises

    def promises_timed(**kwargs) -> dict[str, int]:
        nonlocal promises_seconds
        started = time.perf_counter()
        try:
            return promises(**kwargs)
        finally:
            promises_seconds += time.perf_counter() - started

    sample = sorted(random.Random(f"naive-{args.seed}").sample(range(1, args.loans + 1), min(args.sample, args.loans)))
    started = time.perf_counter()
    with mock.patch.object(cycle, "_promises", promises_timed):
        counts = collection_cycle_case_by_case(as_of=args.as_of, loan_ids=sample, snapshot=False)
    per_loan = time.perf_counter() - started - promises_seconds
    started = time.perf_counter()
    counts["snapshot"] = {"snapshot_rows": portfolio_snapshot_take(as_of=args.as_of)}
    once = promises_seconds + time.perf_counter() - started
    return {"seconds": per_loan, "seconds_once": once, "counts": counts}


def phase_floor(args: argparse.Namespace) -> dict:
    floor = Floor(as_of=args.as_of)
    step_seconds, counts = {}, {}
    started = time.perf_counter()
    with _transaction():
        for step, run in floor.steps():
            step_started = time.perf_counter()
            counts[step] = run()
            step_seconds[step] = time.perf_counter() - step_started
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "counts": counts, "step_seconds": step_seconds, "outcome": outcome()}


def phase_build(args: argparse.Namespace) -> dict:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    rows = PortfolioBuilder(loans=args.loans, seed=args.seed, as_of=args.as_of).build()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "spread": night_before_spread()}


def _transaction():
    from django.db import transaction

    return transaction.atomic()


# ---------------------------------------------------------------------------------------------
# Inserting rows with SQL: every column of a model, the ones not given from the field defaults
# ---------------------------------------------------------------------------------------------


def insert_sql(model, given: dict[str, str], source: str, params: dict, *, suffix: str = "") -> str:
    """INSERT INTO the model's table SELECT ... `source`: the columns in `given` (attname -> SQL
    expression) as given, automatic timestamps as %(now)s, every other column its field default
    (bound in `params`), so that a field added to a model with a default needs no change here."""
    from django.db import connection, models

    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.attname in given:
            value = given[field.attname]
        elif isinstance(field, models.AutoField):
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = "%(now)s"
        elif field.has_default() or field.null or field.empty_strings_allowed:
            name = f"default_{model._meta.model_name}_{field.attname}"
            params[name] = field.get_db_prep_save(field.get_default(), connection)
            value = f"%({name})s"
        else:
            raise ValueError(f"{model.__name__}.{field.name} has no default: give it a value")
        columns.append(connection.ops.quote_name(field.column))
        values.append(value)
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} {source} {suffix}"


def execute(sql: str, params: dict | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _draw(number: str, salt: int, modulo: int) -> str:
    """A deterministic pseudo-random integer in [0, modulo) for row `number`, from the seed."""
    return f"mod(hashint8(%(seed)s::bigint * 1000003 + ({number}) * 97 + {salt}) & 2147483647, {modulo})"


# ---------------------------------------------------------------------------------------------
# The portfolio, and the cases the cycle left the night before
# ---------------------------------------------------------------------------------------------

# What each loan is as of the day: share in thousandths, and the DPD band.
STATES = (
    ("current", 800, None),
    ("M1", 70, (1, 30)),
    ("M2", 30, (31, 60)),
    ("M3", 20, (61, 90)),
    ("M4+", 30, (91, 330)),
    ("paid_off", 50, None),
)
# Products by share in percent: (code, share, annual rate, monthly fee on the principal).
PRODUCT_MIX = (
    ("CCI", 30, "0.0000", "0.0060"),
    ("CONSUMER", 15, "0.0800", "0.0000"),
    ("ONLINE", 55, "0.1800", "0.0030"),
)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN_NAMES = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


class PortfolioBuilder:
    """Builds the benchmark's portfolio with INSERT ... SELECT generate_series statements, a
    chunk of loans per transaction, so that memory stays flat whatever N; then ages it as of the
    day before with the desk's own refresh and opens the cases the cycle would have left."""

    def __init__(self, *, loans: int, seed: int, as_of: datetime.date):
        from django.utils import timezone

        self.loans, self.seed, self.as_of = loans, seed, as_of
        self.yesterday = as_of - datetime.timedelta(days=1)
        self.now = timezone.now()

    def params(self, **more) -> dict:
        return {"seed": self.seed, "as_of": self.as_of, "yesterday": self.yesterday, "now": self.now, **more}

    def build(self) -> dict[str, int]:
        from django.core.management.color import no_style
        from django.db import connection, transaction
        from django.test.utils import override_settings

        from loans.models import Borrower, Contact, Installment, Loan
        from loans.services import portfolio_refresh_delinquency

        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            self.desk = self.desk_ensure()
        self.plan_create()
        with _progress("portfolio", self.loans, "loan") as bar:
            for low in range(1, self.loans + 1, CHUNK_LOANS):
                high = min(low + CHUNK_LOANS, self.loans + 1)
                with transaction.atomic():
                    self.chunk_insert(low, high)
                bar.update(high - low)
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Borrower, Contact, Loan, Installment]):
                cursor.execute(statement)
        with _progress("ageing the night before", self.loans, "loan") as bar:
            portfolio_refresh_delinquency(as_of=self.yesterday, progress=bar.update)
        with transaction.atomic():
            rows = self.cases_insert()
            rows.update(self.promises_insert())
        execute("DROP TABLE bench_plan")
        # As a table the desk has worked on for a while: dead rows gone, statistics fresh.
        execute("VACUUM ANALYZE")
        return {
            "borrowers": Borrower.objects.count(),
            "contacts": Contact.objects.count(),
            "loans": Loan.objects.count(),
            "installments": Installment.objects.count(),
            **rows,
        }

    def desk_ensure(self) -> dict:
        """The demo desk's teams and collectors; the credit-card product's cases go to the first
        team, every other product's to the second."""
        from django.contrib.contenttypes.models import ContentType

        from accounts.models import Team
        from collection.models import CaseRouting, CollectionCase
        from collection.selectors import system_user
        from loans.demo import TEAMS, demo_products, demo_users_ensure

        demo_users_ensure(seed=self.seed)
        products = demo_products()
        teams = [Team.objects.get(name=name) for name in TEAMS]
        CaseRouting.objects.update_or_create(product=products["CCI"], defaults={"team": teams[0]})
        CaseRouting.objects.update_or_create(product=None, defaults={"team": teams[1]})
        collectors = [
            list(
                team.members.filter(is_active=True, groups__name="collector")
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            for team in teams
        ]
        return {
            "products": products,
            "teams": [team.pk for team in teams],
            "collectors": collectors,
            "system": system_user().pk,
            "case_type": ContentType.objects.get_for_model(CollectionCase).pk,
        }

    def plan_create(self) -> None:
        """bench_plan: per loan its state as of the day, product, principal and schedule anchor."""
        products = self.desk["products"]
        kinds = []
        bound = 0
        for index, (_code, share, _rate, _fee) in enumerate(PRODUCT_MIX):
            bound += share
            kinds.append(f"WHEN product_draw < {bound} THEN {index + 1}")
        states = []
        bound = 0
        for name, share, _band in STATES:
            bound += share
            states.append(f"WHEN state_draw < {bound} THEN '{name}'")
        dpd = " ".join(
            f"WHEN '{name}' THEN {band[0]} + mod(day_draw, {band[1] - band[0] + 1})"
            for name, _share, band in STATES
            if band
        )
        execute(
            f"""
            CREATE UNLOGGED TABLE bench_plan AS
            WITH drawn AS (
                SELECT n,
                    {_draw("n", 1, 1000)} AS state_draw,
                    {_draw("n", 2, 100)} AS product_draw,
                    {_draw("n", 3, 491)} AS size_draw,
                    {_draw("n", 4, 1000000)} AS day_draw,
                    {_draw("n", 5, 1000000)} AS paid_draw,
                    {_draw("n", 6, 100)} AS partial_draw
                FROM generate_series(1, %(loans)s) AS n
            ), kinded AS (
                SELECT drawn.*,
                    CASE {" ".join(states)} END AS state,
                    CASE {" ".join(kinds)} END AS kind
                FROM drawn
            ), sized AS (
                SELECT kinded.*,
                    (%(product_ids)s::bigint[])[kind] AS product_id,
                    (%(graces)s::int[])[kind] AS grace,
                    (%(rates)s::numeric[])[kind] AS rate,
                    (%(fees)s::numeric[])[kind] AS fee_rate,
                    (1000 + size_draw * 100)::numeric(14, 2) AS principal,
                    CASE state {dpd} END AS dpd,
                    CASE WHEN state = 'paid_off' THEN 12
                         WHEN state = 'current' THEN mod(paid_draw, 12)
                         ELSE mod(paid_draw, 6) END AS paid_through
                FROM kinded
            )
            SELECT n AS loan_id, state, product_id, rate, fee_rate, principal, paid_through,
                trunc(principal / 12, 2) AS each,
                LEAST(paid_through + 1, 12) AS anchor_number,
                CASE WHEN state = 'paid_off' THEN %(as_of)s::date - 1 - mod(day_draw, 400)::int
                     WHEN state = 'current' THEN %(as_of)s::date - grace + mod(day_draw, 31)::int
                     ELSE %(as_of)s::date - dpd::int - grace END AS anchor,
                CASE WHEN state = 'current' THEN partial_draw < 10
                     WHEN state = 'paid_off' THEN false
                     ELSE partial_draw < 30 END AS partial,
                CASE WHEN state = 'M4+' AND partial_draw >= 90 THEN 'charged_off' ELSE 'current' END AS status
            FROM sized;
            ALTER TABLE bench_plan ADD PRIMARY KEY (loan_id);
            """,
            self.params(
                loans=self.loans,
                product_ids=[products[code].pk for code, *_ in PRODUCT_MIX],
                graces=[products[code].grace_days for code, *_ in PRODUCT_MIX],
                rates=[rate for _code, _share, rate, _fee in PRODUCT_MIX],
                fees=[fee for _code, _share, _rate, fee in PRODUCT_MIX],
            ),
        )

    def chunk_insert(self, low: int, high: int) -> None:
        from loans.models import Borrower, Contact, Installment, Loan

        params = self.params(low=low, high=high, surnames=list(SURNAMES), given_names=list(GIVEN_NAMES))
        numbers = "FROM generate_series(%(low)s, %(high)s - 1) AS n"
        birth = "(DATE '1960-01-01' + (n / 1000)::int)"
        first17 = f"('110101' || to_char({birth}, 'YYYYMMDD') || lpad(mod(n, 1000)::text, 3, '0'))"
        check = (
            f"substr('10X98765432', 1 + mod((SELECT sum(substr({first17}, i, 1)::int * "
            f"(ARRAY{list(ID_WEIGHTS)})[i]) FROM generate_series(1, 17) AS i)::int, 11), 1)"
        )
        execute(
            insert_sql(
                Borrower,
                {
                    "id": "n",
                    "name": "(%(surnames)s::text[])[1 + mod(n, 20)] || (%(given_names)s::text[])[1 + mod(n / 20, 20)]",
                    "national_id": f"{first17} || {check}",
                    "date_of_birth": birth,
                    "province": "'北京市'",
                    "city": "'北京市'",
                },
                numbers,
                params,
            ),
            params,
        )
        execute(
            insert_sql(
                Contact,
                {
                    "id": "n",
                    "borrower_id": "n",
                    "kind": "'mobile'",
                    "value": "'+86' || (13800000000 + n)::text",
                    "verification": "CASE WHEN mod(n, 10) < 6 THEN 'verified' ELSE 'unverified' END",
                    "source": "'application'",
                },
                numbers,
                params,
            ),
            params,
        )
        # Installment k falls due (k - anchor_number) months from the anchor; those before the
        # anchor number are paid, the anchor's itself partly when the plan says so.
        paid = "k <= p.paid_through"
        part = "k = p.paid_through + 1 AND p.partial"
        execute(
            insert_sql(
                Installment,
                {
                    "id": "(p.loan_id - 1) * 12 + k",
                    "loan_id": "p.loan_id",
                    "sequence": "k",
                    "due_date": "due",
                    "principal_due": "principal_due",
                    "interest_due": "interest_due",
                    "fees_due": "fees_due",
                    "penalty_due": "0",
                    "principal_paid": f"CASE WHEN {paid} THEN principal_due "
                    f"WHEN {part} THEN round(principal_due / 2, 2) ELSE 0 END",
                    "interest_paid": f"CASE WHEN {paid} OR ({part}) THEN interest_due ELSE 0 END",
                    "fees_paid": f"CASE WHEN {paid} OR ({part}) THEN fees_due ELSE 0 END",
                    "penalty_paid": "0",
                    "is_paid": paid,
                    "paid_on": f"CASE WHEN {paid} THEN due END",
                },
                """FROM bench_plan p
                CROSS JOIN generate_series(1, 12) AS k
                CROSS JOIN LATERAL (SELECT
                    (p.anchor + (k - p.anchor_number) * interval '1 month')::date AS due,
                    CASE WHEN k = 12 THEN p.principal - 11 * p.each ELSE p.each END AS principal_due,
                    round(p.principal * p.rate / 12, 2) AS interest_due,
                    round(p.principal * p.fee_rate, 2) AS fees_due
                ) AS amounts
                WHERE p.loan_id >= %(low)s AND p.loan_id < %(high)s""",
                params,
            ),
            params,
        )
        execute(
            insert_sql(
                Loan,
                {
                    "id": "p.loan_id",
                    "account_number": "'BL' || lpad(p.loan_id::text, 10, '0')",
                    "borrower_id": "p.loan_id",
                    "product_id": "p.product_id",
                    "principal": "p.principal",
                    "annual_rate": "p.rate",
                    "disbursed_on": "(p.anchor - p.anchor_number * interval '1 month')::date",
                    "term_months": "12",
                    "status": "p.status",
                    "outstanding_principal": "s.principal",
                    "outstanding_interest": "s.interest",
                    "outstanding_fees": "s.fees",
                    "outstanding_penalty": "s.penalty",
                },
                """FROM bench_plan p JOIN (
                    SELECT loan_id,
                        sum(principal_due - principal_paid) AS principal,
                        sum(interest_due - interest_paid) AS interest,
                        sum(fees_due - fees_paid) AS fees,
                        sum(penalty_due - penalty_paid) AS penalty
                    FROM loans_installment WHERE loan_id >= %(low)s AND loan_id < %(high)s
                    GROUP BY loan_id
                ) AS s ON s.loan_id = p.loan_id
                WHERE p.loan_id >= %(low)s AND p.loan_id < %(high)s""",
                params,
            ),
            params,
        )

    def cases_insert(self) -> dict[str, int]:
        """The cases the cycle left last night, from the loans as aged then: an open case for
        each delinquent loan (reminder or negotiation to DPD 30, then escalation; past 90 some
        in litigation, some on hold, the rest with a pending litigation request), some with one
        or two broken promises; open cases of loans paid since (the cycle resolves them);
        resolved cases in the history of current loans; a settled case instead of an open one for
        a few delinquent loans; written-off cases of charged-off loans."""
        from collection.models import CollectionCase, EscalationRequest, PromiseToPay

        desk = self.desk
        params = self.params(
            team_ids=desk["teams"],
            first_team=desk["collectors"][0],
            second_team=desk["collectors"][1],
            cci=desk["products"]["CCI"].pk,
        )
        kind = _draw("l.id", 10, 1000)
        stage = f"""CASE
            WHEN l.status = 'charged_off' THEN 'written_off'
            WHEN l.status = 'delinquent' AND {kind} < 5 THEN 'settled'
            WHEN l.status <> 'delinquent' AND {kind} >= 15 THEN 'resolved'
            WHEN l.status <> 'delinquent' OR l.days_past_due <= 30 THEN
                CASE WHEN {_draw("l.id", 11, 100)} < 65 THEN 'reminder' ELSE 'negotiation' END
            WHEN l.days_past_due <= 90 THEN
                CASE WHEN {_draw("l.id", 11, 100)} < 90 THEN 'escalation' ELSE 'on_hold' END
            ELSE CASE WHEN {_draw("l.id", 11, 100)} < 60 THEN 'escalation'
                      WHEN {_draw("l.id", 11, 100)} < 90 THEN 'litigation' ELSE 'on_hold' END
            END"""
        # Which loans had a case: every delinquent or charged-off one; of the current and paid-off
        # ones, 1.5 % with a case still open (paid yesterday) and 3 % with a resolved one.
        chosen = f"""FROM (
                SELECT l.*, {stage} AS stage,
                    CASE WHEN l.product_id = %(cci)s THEN 0 ELSE 1 END AS team_index,
                    (%(yesterday)s::date - l.days_past_due)::timestamp + interval '9 hours' AS opened_on
                FROM loans_loan l
                WHERE l.status IN ('delinquent', 'charged_off')
                    OR (l.status IN ('current', 'paid_off') AND {kind} < 45)
            ) AS l"""
        collectors = (
            "CASE WHEN l.team_index = 0 "
            "THEN (%(first_team)s::bigint[])[1 + mod(l.id, cardinality(%(first_team)s::bigint[]))] "
            "ELSE (%(second_team)s::bigint[])[1 + mod(l.id, cardinality(%(second_team)s::bigint[]))] END"
        )
        broken = (
            f"CASE WHEN l.stage NOT IN ('reminder', 'negotiation') THEN 0 WHEN {_draw('l.id', 12, 100)} < 4 THEN 2 "
            f"WHEN {_draw('l.id', 12, 100)} < 14 THEN 1 ELSE 0 END"
        )
        opened = "l.opened_on - CASE WHEN l.stage = 'resolved' THEN interval '200 days' ELSE interval '0' END"
        entered = """l.opened_on + CASE l.stage
                WHEN 'escalation' THEN GREATEST(l.days_past_due - 31, 0)
                WHEN 'litigation' THEN GREATEST(l.days_past_due - 91, 0)
                WHEN 'on_hold' THEN GREATEST(l.days_past_due - 40, 0)
                WHEN 'resolved' THEN -180
                WHEN 'settled' THEN l.days_past_due / 3
                WHEN 'written_off' THEN l.days_past_due / 2
                ELSE 0 END * interval '1 day'"""
        cases = execute(
            insert_sql(
                CollectionCase,
                {
                    "loan_id": "l.id",
                    "stage": "l.stage",
                    "assigned_to_id": collectors,
                    "team_id": "(%(team_ids)s::bigint[])[l.team_index + 1]",
                    "opened_at": opened,
                    "stage_entered_at": entered,
                    "closed_at": f"CASE WHEN l.stage IN ('resolved', 'settled', 'written_off') THEN {entered} END",
                    "held_stage": "CASE WHEN l.stage = 'on_hold' THEN 'escalation' ELSE '' END",
                    "hold_reason": "CASE WHEN l.stage = 'on_hold' THEN 'hardship' ELSE '' END",
                    "last_right_party_contact_at": f"""CASE WHEN l.stage = 'negotiation'
                        THEN %(yesterday)s::date - {_draw("l.id", 13, 10)}::int + interval '10 hours' END""",
                    "broken_promises": broken,
                    "settlement_amount": "CASE WHEN l.stage = 'settled' THEN round(l.outstanding_principal / 2, 2) END",
                    "settlement_agreed_at": "CASE WHEN l.stage = 'settled' THEN l.opened_on END",
                },
                chosen,
                params,
            ),
            params,
        )
        promises = execute(
            insert_sql(
                PromiseToPay,
                {
                    "case_id": "c.id",
                    "amount": "GREATEST(round(l.overdue_amount / 2, 2), 100)",
                    "due_date": "%(yesterday)s::date - 3 - 7 * k",
                    "promised_at": "(%(yesterday)s::date - 10 - 7 * k)::timestamp + interval '11 hours'",
                    "taken_by_id": "c.assigned_to_id",
                    "status": "'broken'",
                    "evaluated_at": "(%(yesterday)s::date - 1 - 7 * k)::timestamp + interval '2 hours'",
                },
                """FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                CROSS JOIN LATERAL generate_series(1, c.broken_promises) AS k""",
                params,
            ),
            params,
        )
        requests = execute(
            insert_sql(
                EscalationRequest,
                {
                    "case_id": "c.id",
                    "target_stage": "'litigation'",
                    "reason": "'Stage rule: escalation moves on at DPD 91.'",
                    "status": "'pending'",
                    "created_at": "%(yesterday)s::timestamp + interval '2 hours'",
                },
                """FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                WHERE c.stage = 'escalation' AND l.days_past_due >= 91""",
                params,
            ),
            params,
        )
        return {"cases": cases, "broken promises": promises, "escalation requests": requests}

    def promises_insert(self) -> dict[str, int]:
        """Pending promises to pay, for the cycle's promise step to settle: one for a fifth of the
        open cases in negotiation, escalation or on hold (those on hold stay pending), due one to
        six days before the day (the ones due the day before are not settled yet), promised two to
        nine days before that. And the loans' payments around each promise's window (from the
        promise to the end of the day after its due date, Asia/Shanghai): 35 % of the promises get
        the whole amount (half of them in two payments, at the very start and in the last second
        of the window), 25 % a part (half of them with the rest just after the window), 40 %
        nothing in the window (some of them a payment just before the promise or just after the
        window). Only payments received before the day are recorded. The payments are not
        allocated to installments: the cycle reads them only to settle promises (the other reader
        of payments, the settle transition's condition, is not part of the cycle)."""
        from collection.models import PromiseToPay
        from loans.models import Payment

        params = self.params()
        due_days = f"1 + {_draw('c.loan_id', 15, 6)}"
        lead_days = f"2 + {_draw('c.loan_id', 16, 8)}"
        promises = execute(
            insert_sql(
                PromiseToPay,
                {
                    "case_id": "c.id",
                    "amount": "GREATEST(round(c.overdue_amount / 2, 2), 100)",
                    "due_date": "%(as_of)s::date - c.due_days",
                    "promised_at": "(%(as_of)s::date - c.due_days - c.lead_days)::timestamp "
                    "AT TIME ZONE 'Asia/Shanghai' + interval '10 hours'",
                    "taken_by_id": "c.assigned_to_id",
                },
                f"""FROM (
                    SELECT c.id, c.assigned_to_id, l.overdue_amount,
                        ({due_days})::int AS due_days, ({lead_days})::int AS lead_days
                    FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                    WHERE c.stage IN ('negotiation', 'escalation', 'on_hold')
                        AND {_draw("c.loan_id", 14, 100)} < 20
                ) AS c""",
                params,
            ),
            params,
        )
        kept, partly, two = "p.outcome < 35", "p.outcome >= 35 AND p.outcome < 60", "p.split < 50"
        payments = execute(
            insert_sql(
                Payment,
                {
                    "loan_id": "p.loan_id",
                    "amount": "pay.amount",
                    "received_at": "pay.received_at",
                    "channel": "CASE WHEN pay.part = 1 THEN 'app' ELSE 'bank_transfer' END",
                    "source": "'bench'",
                    "reference": "'bench-' || p.id || '-' || pay.part",
                    "recorded_by_id": "NULL",
                },
                f"""FROM (
                    SELECT p.id, p.amount, p.promised_at, c.loan_id,
                        (p.due_date + 2)::timestamp AT TIME ZONE 'Asia/Shanghai' AS window_end,
                        {_draw("c.loan_id", 17, 100)} AS outcome, {_draw("c.loan_id", 18, 100)} AS split
                    FROM collection_promisetopay p JOIN collection_collectioncase c ON c.id = p.case_id
                    WHERE p.status = 'pending'
                ) AS p
                CROSS JOIN LATERAL (VALUES
                    (1, CASE WHEN {kept} AND {two} THEN round(p.amount / 2, 2)
                             WHEN {kept} THEN p.amount
                             WHEN {partly} THEN round(p.amount * 0.4, 2)
                             WHEN p.split < 30 THEN p.amount END,
                        CASE WHEN {kept} AND {two} THEN p.promised_at
                             WHEN p.outcome < 60 THEN p.promised_at + interval '1 day'
                             ELSE p.promised_at - interval '1 second' END),
                    (2, CASE WHEN {kept} AND {two} THEN p.amount - round(p.amount / 2, 2)
                             WHEN {partly} AND {two} THEN p.amount - round(p.amount * 0.4, 2)
                             WHEN p.outcome >= 60 AND p.split >= 70 THEN p.amount END,
                        CASE WHEN {kept} THEN p.window_end - interval '1 second' ELSE p.window_end END)
                ) AS pay(part, amount, received_at)
                WHERE pay.amount IS NOT NULL
                    AND pay.received_at < %(as_of)s::date::timestamp AT TIME ZONE 'Asia/Shanghai'""",
                params,
            ),
            params,
        )
        return {"pending promises": promises, "payments": payments}


def night_before_spread() -> dict[str, int]:
    from django.db.models import Count

    from collection.models import OPEN_STAGES, CollectionCase
    from loans.models import Loan

    spread = {}
    for status, bucket, count in (
        Loan.objects.values_list("status", "bucket__name")
        .annotate(count=Count("pk"))
        .order_by("status", "bucket__min_dpd")
    ):
        spread[f"{status} {bucket or '-'}"] = count
    spread["open cases"] = CollectionCase.objects.filter(stage__in=OPEN_STAGES).count()
    return spread


# ---------------------------------------------------------------------------------------------
# The floor: the cycle's work as hand-written SQL
# ---------------------------------------------------------------------------------------------


class Floor:
    """The nightly cycle's work done by hand-written SQL statements over whole tables, in the
    cycle's order: age every loan; open a case for each delinquent loan at or past the reminder
    stage's entry DPD with no open case (nor one that ended settled, written off or closed);
    allocate unassigned open cases round-robin, largest overdue amount first, over the routed
    team's collectors, least loaded first, with an assignment row each; resolve open cases whose
    loan is current or paid off; settle the pending promises due two days before the day or
    earlier of cases not on hold against the loan's payments in their windows, counting broken
    ones toward escalation and flagging their working cases for attention; apply the stage rules
    (DPD, broken promises, days without contact) stage by stage, moving cases or, where the next
    stage needs approval, filing an escalation request; a transition-log row for each move; the
    snapshot per product and bucket. Thresholds come from the stage rules and the bucket table,
    as the cycle reads them.

    Repayment plans are left out: the benchmark's portfolio has none, so the cycle's promise
    step finds no plan installment to settle either."""

    OPEN_STAGES = ("reminder", "negotiation", "escalation", "litigation", "on_hold")
    FINAL_ENDINGS = ("settled", "written_off", "closed")
    WORKING_STAGES = ("reminder", "negotiation", "escalation", "litigation")
    MOVES = {"reminder": "escalate", "negotiation": "escalate", "escalation": "litigate"}
    TARGETS = {"escalate": "escalation", "litigate": "litigation"}

    def __init__(self, *, as_of: datetime.date):
        from django.contrib.contenttypes.models import ContentType
        from django.utils import timezone

        from collection.models import CollectionCase
        from collection.selectors import system_user

        self.as_of = as_of
        self.now = timezone.now()
        self.params = {
            "as_of": as_of,
            "now": self.now,
            "system": system_user().pk,
            "case_type": ContentType.objects.get_for_model(CollectionCase).pk,
            "open_stages": list(self.OPEN_STAGES),
            "open_or_final": [*self.OPEN_STAGES, *self.FINAL_ENDINGS],
        }

    def steps(self):
        return [
            ("refresh", self.refresh),
            ("open", self.open),
            ("allocate", self.allocate),
            ("resolve", self.resolve),
            ("promises", self.promises),
            ("stage_rules", self.stage_rules),
            ("snapshot", self.snapshot),
        ]

    def refresh(self) -> dict[str, int]:
        remaining = " + ".join(f"i.{c}_due - i.{c}_paid" for c in ("principal", "interest", "fees", "penalty"))
        aged = execute(
            f"""
            UPDATE loans_loan AS l SET
                oldest_unpaid_due_on = a.oldest, days_past_due = a.dpd, overdue_amount = a.overdue,
                status = a.status, bucket_id = a.bucket_id, delinquency_as_of = %(as_of)s::date, updated_at = %(now)s
            FROM (
                SELECT d.id, d.oldest, d.dpd, d.overdue, b.id AS bucket_id,
                    CASE WHEN d.status IN ('charged_off', 'written_off') THEN d.status
                         WHEN d.oldest IS NULL THEN
                            CASE WHEN EXISTS (SELECT 1 FROM loans_installment s WHERE s.loan_id = d.id)
                            THEN 'paid_off' ELSE 'current' END
                         WHEN d.dpd > 0 THEN 'delinquent' ELSE 'current' END AS status
                FROM (
                    SELECT l.id, l.status, u.oldest, COALESCE(u.overdue, 0) AS overdue,
                        COALESCE(GREATEST(%(as_of)s::date - u.oldest - p.grace_days, 0), 0) AS dpd
                    FROM loans_loan l JOIN loans_product p ON p.id = l.product_id
                    LEFT JOIN (
                        SELECT i.loan_id, min(i.due_date) AS oldest,
                            sum({remaining}) FILTER (WHERE %(as_of)s::date - i.due_date > p.grace_days) AS overdue
                        FROM loans_installment i
                        JOIN loans_loan l ON l.id = i.loan_id JOIN loans_product p ON p.id = l.product_id
                        WHERE NOT i.is_paid
                        GROUP BY i.loan_id
                    ) AS u ON u.loan_id = l.id
                ) AS d
                LEFT JOIN loans_delinquencybucket b
                    ON d.dpd >= b.min_dpd AND (b.max_dpd IS NULL OR d.dpd <= b.max_dpd)
            ) AS a
            WHERE l.id = a.id AND (
                l.oldest_unpaid_due_on IS DISTINCT FROM a.oldest OR l.days_past_due IS DISTINCT FROM a.dpd
                OR l.overdue_amount IS DISTINCT FROM a.overdue OR l.status IS DISTINCT FROM a.status
                OR l.bucket_id IS DISTINCT FROM a.bucket_id OR l.delinquency_as_of IS DISTINCT FROM %(as_of)s::date)
            """,
            self.params,
        )
        return {"loans_written": aged}

    def _rules(self) -> dict[str, dict]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT stage, entry_dpd, escalate_at_dpd, escalate_after_broken_promises, "
                "escalate_after_days_without_contact, requires_approval FROM collection_stagerule"
            )
            names = [column.name for column in cursor.description]
            return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}

    def open(self) -> dict[str, int]:
        from collection.models import CollectionCase

        reminder = self._rules().get("reminder")
        params = {**self.params, "entry": reminder["entry_dpd"] if reminder and reminder["entry_dpd"] else 1}
        opened = execute(
            insert_sql(
                CollectionCase,
                {"loan_id": "l.id", "stage": "'reminder'", "opened_at": "%(now)s", "stage_entered_at": "%(now)s"},
                """FROM loans_loan l
                WHERE l.status = 'delinquent' AND l.days_past_due >= %(entry)s
                    AND NOT EXISTS (SELECT 1 FROM collection_collectioncase c
                                    WHERE c.loan_id = l.id AND c.stage = ANY(%(open_or_final)s))""",
                params,
                suffix="ON CONFLICT DO NOTHING",
            ),
            params,
        )
        return {"cases_opened": opened}

    def allocate(self) -> dict[str, int]:
        from collection.models import CaseAssignment

        params = {**self.params, "reason": "Allocated to the team"}
        assignment = insert_sql(
            CaseAssignment,
            {
                "case_id": "g.id",
                "assigned_to_id": "g.assigned_to_id",
                "previous_id": "NULL",
                "team_id": "g.team_id",
                "assigned_by_id": "%(system)s",
                "assigned_at": "%(now)s",
                "reason": "%(reason)s",
            },
            "FROM given g",
            params,
        )
        allocated = execute(
            f"""
            WITH routed AS (
                SELECT c.id, l.overdue_amount, COALESCE(own.team_id, fallback.team_id) AS team_id
                FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                LEFT JOIN collection_caserouting own ON own.product_id = l.product_id
                LEFT JOIN collection_caserouting fallback ON fallback.product_id IS NULL
                WHERE c.stage = ANY(%(open_stages)s) AND c.assigned_to_id IS NULL
            ), carried AS (
                SELECT c.assigned_to_id, count(*) AS cases, sum(l.overdue_amount) AS overdue
                FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                WHERE c.stage = ANY(%(open_stages)s) AND c.assigned_to_id IS NOT NULL
                GROUP BY c.assigned_to_id
            ), pool AS (
                SELECT m.team_id, m.user_id,
                    row_number() OVER (PARTITION BY m.team_id
                        ORDER BY COALESCE(carried.cases, 0), COALESCE(carried.overdue, 0), m.user_id) - 1 AS slot,
                    count(*) OVER (PARTITION BY m.team_id) AS size
                FROM accounts_team_members m
                JOIN accounts_user u ON u.id = m.user_id AND u.is_active
                JOIN accounts_user_groups ug ON ug.user_id = u.id
                JOIN auth_group g ON g.id = ug.group_id AND g.name = 'collector'
                LEFT JOIN carried ON carried.assigned_to_id = m.user_id
            ), ranked AS (
                SELECT id, team_id,
                    row_number() OVER (PARTITION BY team_id ORDER BY overdue_amount DESC, id) - 1 AS rank
                FROM routed WHERE team_id IS NOT NULL
            ), given AS (
                UPDATE collection_collectioncase c SET assigned_to_id = pool.user_id, team_id = pool.team_id
                FROM ranked JOIN pool ON pool.team_id = ranked.team_id AND pool.slot = mod(ranked.rank, pool.size)
                WHERE c.id = ranked.id
                RETURNING c.id, c.assigned_to_id, c.team_id
            )
            {assignment}
            """,
            params,
        )
        return {"cases_allocated": allocated}

    def _log(self, moved: str, transition: str, target: str) -> str:
        """The transition-log insert for the cases a CTE named `moved` returned (id, source,
        reason)."""
        from django_fsm_log.models import StateLog

        return insert_sql(
            StateLog,
            {
                "timestamp": "%(now)s",
                "by_id": "%(system)s",
                "source_state": f"{moved}.source",
                "state": f"'{target}'",
                "transition": f"'{transition}'",
                "content_type_id": "%(case_type)s",
                "object_id": f"{moved}.id",
                "description": f"{moved}.reason",
            },
            f"FROM {moved}",
            self.params,
        )

    def resolve(self) -> dict[str, int]:
        resolved = execute(
            f"""
            WITH candidates AS (
                SELECT c.id, c.stage AS source,
                    CASE l.status WHEN 'paid_off' THEN 'Nightly cycle: the loan is paid off.'
                        ELSE 'Nightly cycle: the loan is current again.' END AS reason
                FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                WHERE c.stage = ANY(%(open_stages)s) AND l.status IN ('current', 'paid_off')
            ), moved AS (
                UPDATE collection_collectioncase c
                SET stage = 'resolved', stage_entered_at = %(now)s, closed_at = %(now)s
                FROM candidates WHERE c.id = candidates.id
                RETURNING c.id, candidates.source, candidates.reason
            )
            {self._log("moved", "resolve", "resolved")}
            """,
            self.params,
        )
        return {"cases_resolved": resolved}

    def promises(self) -> dict[str, int]:
        """Settle each pending promise whose window (from the promise to the end of the day after
        its due date, Asia/Shanghai) closed by the start of the day, of a case not on hold (closed
        cases' too): kept when the loan received at least the amount in the window, partially
        kept when something less, broken when nothing. A broken promise counts on its case and
        flags it for attention (keeping an earlier flag) if the case is in a working stage."""
        from django.db import connection
        from django.utils import timezone

        if self.as_of > timezone.localdate():  # as the cycle: a day to come leaves promises pending
            return {"skipped_day_to_come": 1}
        params = {
            **self.params,
            "last_due": self.as_of - datetime.timedelta(days=2),
            "working_stages": list(self.WORKING_STAGES),
        }
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH due AS (
                    SELECT p.id, p.amount, COALESCE(sum(pay.amount), 0) AS paid
                    FROM collection_promisetopay p
                    JOIN collection_collectioncase c ON c.id = p.case_id
                    LEFT JOIN loans_payment pay ON pay.loan_id = c.loan_id
                        AND pay.received_at >= p.promised_at
                        AND pay.received_at < (p.due_date + 2)::timestamp AT TIME ZONE 'Asia/Shanghai'
                    WHERE p.status = 'pending' AND p.due_date <= %(last_due)s AND c.stage <> 'on_hold'
                    GROUP BY p.id, p.amount
                ), settled AS (
                    UPDATE collection_promisetopay p SET
                        status = CASE WHEN due.paid >= due.amount THEN 'kept'
                                      WHEN due.paid > 0 THEN 'partially_kept' ELSE 'broken' END,
                        amount_paid = due.paid, evaluated_at = %(now)s
                    FROM due WHERE p.id = due.id
                    RETURNING p.case_id, p.status
                ), broken AS (
                    SELECT case_id, count(*) AS promises FROM settled WHERE status = 'broken' GROUP BY case_id
                ), flagged AS (
                    UPDATE collection_collectioncase c SET
                        broken_promises = c.broken_promises + broken.promises,
                        attention_since = COALESCE(c.attention_since, %(now)s)
                    FROM broken WHERE c.id = broken.case_id AND c.stage = ANY(%(working_stages)s)
                    RETURNING c.id
                )
                SELECT
                    (SELECT count(*) FROM settled WHERE status = 'kept'),
                    (SELECT count(*) FROM settled WHERE status = 'partially_kept'),
                    (SELECT count(*) FROM settled WHERE status = 'broken'),
                    (SELECT count(*) FROM broken),
                    (SELECT count(*) FROM flagged)
                """,
                params,
            )
            kept, partly, broken, cases, _flagged = cursor.fetchone()
        return {
            "promises_kept": kept,
            "promises_partially_kept": partly,
            "promises_broken": broken,
            "cases_flagged": cases,
        }

    def stage_rules(self) -> dict[str, int]:
        rules = self._rules()
        counts = {}
        for stage in self.WORKING_STAGES:
            rule, transition = rules.get(stage), self.MOVES.get(stage)
            if rule is None or transition is None:
                continue
            target = self.TARGETS[transition]
            criteria = self._criteria(rule, stage)
            if not criteria:
                continue
            met = " OR ".join(condition for condition, _reason in criteria)
            reason = "CASE " + " ".join(f"WHEN {condition} THEN '{text}'" for condition, text in criteria) + " END"
            params = {**self.params, "stage": stage, "target": target}
            if rules.get(target, {}).get("requires_approval"):
                counts[f"requests_{target}"] = counts.get(f"requests_{target}", 0) + self._request(met, reason, params)
            else:
                moved = execute(
                    f"""
                    WITH moved AS (
                        UPDATE collection_collectioncase c SET stage = %(target)s, stage_entered_at = %(now)s
                        FROM loans_loan l
                        WHERE l.id = c.loan_id AND c.stage = %(stage)s AND ({met})
                        RETURNING c.id, %(stage)s AS source, {reason} AS reason
                    )
                    {self._log("moved", transition, target)}
                    """,
                    params,
                )
                counts[f"moved_to_{target}"] = counts.get(f"moved_to_{target}", 0) + moved
        return {name: count for name, count in counts.items() if count}

    def _criteria(self, rule: dict, stage: str) -> list[tuple[str, str]]:
        criteria = []
        if rule["escalate_at_dpd"] is not None:
            criteria.append(
                (
                    f"l.days_past_due >= {int(rule['escalate_at_dpd'])}",
                    f"Stage rule: {stage} at DPD {rule['escalate_at_dpd']}.",
                )
            )
        if rule["escalate_after_broken_promises"] is not None:
            count = int(rule["escalate_after_broken_promises"])
            criteria.append((f"c.broken_promises >= {count}", f"Stage rule: {stage} after {count} broken promises."))
        if rule["escalate_after_days_without_contact"] is not None:
            days = int(rule["escalate_after_days_without_contact"])
            start = datetime.datetime.combine(
                self.as_of - datetime.timedelta(days=days - 1), datetime.time.min, tzinfo=DESK_TIME_ZONE
            )
            cutoff = f"TIMESTAMPTZ '{start.isoformat()}'"
            criteria.append(
                (
                    f"COALESCE(c.last_right_party_contact_at, c.opened_at) < {cutoff}",
                    f"Stage rule: {stage} after {days} days without contact.",
                )
            )
        return criteria

    def _request(self, met: str, reason: str, params: dict) -> int:
        from collection.models import EscalationRequest

        return execute(
            insert_sql(
                EscalationRequest,
                {
                    "case_id": "c.id",
                    "target_stage": "%(target)s",
                    "requested_by_id": "NULL",
                    "reason": reason,
                    "status": "'pending'",
                    "created_at": "%(now)s",
                },
                f"""FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                WHERE c.stage = %(stage)s AND ({met})
                    AND NOT EXISTS (SELECT 1 FROM collection_escalationrequest r
                        WHERE r.case_id = c.id AND r.target_stage = %(target)s AND (r.status = 'pending'
                            OR (r.status = 'rejected' AND r.decided_at >= c.stage_entered_at)))""",
                params,
                suffix="ON CONFLICT DO NOTHING",
            ),
            params,
        )

    def snapshot(self) -> dict[str, int]:
        from loans.models import PortfolioSnapshot

        execute("DELETE FROM loans_portfoliosnapshot WHERE as_of = %(as_of)s", self.params)
        rows = execute(
            insert_sql(
                PortfolioSnapshot,
                {
                    "as_of": "%(as_of)s",
                    "product_id": "product_id",
                    "bucket_id": "bucket_id",
                    "loans": "count(*)",
                    "delinquent_loans": "count(*) FILTER (WHERE status = 'delinquent')",
                    "outstanding_principal": "sum(outstanding_principal)",
                    "total_outstanding": "sum(outstanding_principal + outstanding_interest + outstanding_fees "
                    "+ outstanding_penalty)",
                    "overdue_amount": "sum(overdue_amount)",
                },
                "FROM loans_loan GROUP BY product_id, bucket_id",
                self.params,
            ),
            self.params,
        )
        return {"snapshot_rows": rows}


def outcome() -> dict[str, list]:
    """What a run left, in numbers both the cycle and the floor must reach."""
    from django.db import connection

    queries = {
        "loans": "SELECT status, bucket_id, count(*), sum(days_past_due), sum(overdue_amount)::text "
        "FROM loans_loan GROUP BY 1, 2 ORDER BY 1, 2",
        "cases": "SELECT stage, count(*), count(assigned_to_id), sum(broken_promises), count(attention_since) "
        "FROM collection_collectioncase GROUP BY 1 ORDER BY 1",
        # Each case, by its loan (the cases opened tonight get their ids in either order): its
        # stage, broken promises and whether it waits for attention, as one digest.
        "case rows": "SELECT count(*), md5(string_agg(concat_ws(':', loan_id, stage, broken_promises, "
        "attention_since IS NOT NULL), ',' ORDER BY loan_id, stage, broken_promises, attention_since IS NOT NULL)) "
        "FROM collection_collectioncase",
        "promises": "SELECT status, count(*), sum(amount_paid)::text, count(evaluated_at) "
        "FROM collection_promisetopay GROUP BY 1 ORDER BY 1",
        # Each promise (the builder's ids in both): its status and what it was credited, as one digest.
        "promise rows": "SELECT count(*), md5(string_agg(concat_ws(':', id, status, amount_paid), ',' ORDER BY id)) "
        "FROM collection_promisetopay",
        "transition log": "SELECT transition, source_state, state, count(*) FROM django_fsm_log_statelog "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        "escalation requests": "SELECT target_stage, status, count(*) FROM collection_escalationrequest "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        "assignments": "SELECT count(*) FROM collection_caseassignment",
        "snapshot": "SELECT count(*), sum(loans), sum(delinquent_loans), sum(overdue_amount)::text "
        "FROM loans_portfoliosnapshot",
    }
    results = {}
    with connection.cursor() as cursor:
        for name, query in queries.items():
            cursor.execute(query)
            results[name] = [list(row) for row in cursor.fetchall()]
    return results


if __name__ == "__main__":
    sys.exit(main())
