"""`make run` stops cleanly: Ctrl-C (SIGINT to the foreground process group) or SIGTERM to the
group stops the web server, the worker and beat within 10 seconds and leaves no process behind,
even while the worker is stuck in a task.

The real `make run` runs (its install step taken as done), in a process group of its own, on a
small demo desk of its own: SQLite and Celery's filesystem transport in a temporary directory,
as on a laptop, whatever DATABASE_URL and REDIS_URL say (tests/config/make_run_settings.py). The
desk is seeded by the first start and kept by the later ones, as `make run` keeps var/."""

import contextlib
import datetime
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
STOPS_WITHIN = 10  # seconds
DEMO_LOANS = 200
# What the CI and a developer's shell may carry that would point the desk elsewhere, or make the
# inner make a sub-make of `make test`.
NOT_PASSED_ON = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "REQUIRE_POSTGRES",
    "REQUIRE_REDIS",
    "MAKEFLAGS",
    "MAKELEVEL",
    "MFLAGS",
    "MAKEOVERRIDES",
}

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or not (shutil.which("make") and shutil.which("ps")),
    reason="needs make, ps and POSIX process groups",
)


@pytest.fixture(scope="module")
def desk_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("make-run")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def desk_env(desk_dir: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in NOT_PASSED_ON}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.config.make_run_settings",
        MAKE_RUN_DIR=str(desk_dir),
        PYTHONPATH=os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",  # the log shows what each process did up to the signal
        **extra,
    )
    return env


@contextlib.contextmanager
def _ctrl_c_as_in_a_terminal():
    """Start children with SIGINT at its default, as a terminal starts `make run`. A test run
    started in the background (`pytest &` from a script) ignores it, and a signal ignored when a
    shell starts can never be trapped by it; a signal this process handles is reset to its default
    in the child when it execs."""
    saved = signal.getsignal(signal.SIGINT)
    if saved == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


class MakeRun:
    """`make run` in a process group of its own, its output in a log file."""

    def __init__(self, desk_dir: Path, **extra_env: str):
        self.port = free_port()
        self.env = desk_env(desk_dir, **extra_env)
        self.log_path = desk_dir / f"make-run-{self.port}.log"
        with self.log_path.open("wb") as log, _ctrl_c_as_in_a_terminal():
            self.make = subprocess.Popen(  # noqa: S603
                [
                    "make",
                    "--no-print-directory",
                    "-o",
                    ".venv/.installed",  # installed already: never pip install from a test
                    "run",
                    f"PORT={self.port}",
                    f"DEMO_LOANS={DEMO_LOANS}",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self.group = self.make.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2):  # noqa: S310
                return True
        except urllib.error.HTTPError:
            return True  # an answer all the same
        except OSError:
            return False

    def wait_until_up(self, *, seconds: float = 180) -> None:
        """The web server answers, the worker is ready and beat has started (the first start also
        migrates and seeds the desk)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.make.poll() is not None:
                raise AssertionError(f"make run ended by itself ({self.make.returncode}):\n{self.log()[-3000:]}")
            log = self.log()
            if " ready." in log and "beat: Starting..." in log and self.web_answers():
                return
            time.sleep(0.2)
        raise AssertionError(f"make run did not come up in {seconds} s:\n{self.log()[-3000:]}")

    def processes(self) -> list[str]:
        """The group's processes still running (a zombie is dead, only not yet reaped)."""
        table = subprocess.run(  # noqa: S603
            ["ps", "-A", "-o", "pid=,pgid=,stat=,args="],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        running = []
        for line in table.splitlines():
            pid, pgid, stat, *args = line.split(None, 3)
            if int(pgid) == self.group and not stat.startswith("Z"):
                running.append(f"{pid} {' '.join(args)}")
        return running

    def stop(self, signal_number: int) -> float:
        """Send the signal to the whole group, as the terminal does with Ctrl-C; the seconds until
        no process of the group runs any more."""
        assert self.processes(), "nothing to stop"
        sent = time.monotonic()
        os.killpg(self.group, signal_number)
        while self.processes() and time.monotonic() - sent < STOPS_WITHIN + 5:
            time.sleep(0.05)
        return time.monotonic() - sent

    def kill_leftovers(self) -> None:
        if self.processes():
            os.killpg(self.group, signal.SIGKILL)
        self.make.wait(timeout=30)


def stop_and_check(run: MakeRun, signal_number: int) -> None:
    name = signal.Signals(signal_number).name
    try:
        seconds = run.stop(signal_number)
        left = run.processes()
    finally:
        run.kill_leftovers()
    print(f"make run: {name}, everything stopped in {seconds:.2f} s")
    assert not left, f"still running {seconds:.1f} s after {name}: {left}\n{run.log()[-3000:]}"
    assert seconds <= STOPS_WITHIN, f"everything stopped, but only {seconds:.1f} s after {name}"


def test_the_first_start_seeds_a_demo_desk_and_prints_where_it_is_and_how_to_stop_it(desk_dir):
    run = MakeRun(desk_dir)
    try:
        run.wait_until_up()
        deadline = time.monotonic() + 15
        while "Ready:" not in run.log() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop_and_check(run, signal.SIGINT)

    log = run.log()
    assert f"Collection desk: http://127.0.0.1:{run.port}/   admin: http://127.0.0.1:{run.port}/admin/" in log
    assert "Ctrl-C stops the web server, the worker and beat." in log
    assert f"Ready: http://127.0.0.1:{run.port}/ (logins above; Ctrl-C stops everything)" in log
    logins = (desk_dir / "demo_logins.txt").read_text(encoding="utf-8").split("\n", 1)[1]
    assert logins.strip() and logins.rstrip() in log  # the logins above


@pytest.mark.parametrize("attempt", range(2))
def test_ctrl_c_stops_the_web_server_the_worker_and_beat_within_10_seconds(desk_dir, attempt):
    run = MakeRun(desk_dir)
    try:
        run.wait_until_up()
    finally:
        stop_and_check(run, signal.SIGINT)


@pytest.mark.parametrize("attempt", range(2))
def test_sigterm_to_the_group_stops_everything_within_10_seconds(desk_dir, attempt):
    run = MakeRun(desk_dir)
    try:
        run.wait_until_up()
    finally:
        stop_and_check(run, signal.SIGTERM)


def tasks_in_progress(log: str) -> set[str]:
    """The tasks the worker's log shows received and not finished (succeeded, raised, ...)."""
    received, finished = set(), set()
    for task, what in re.findall(r"Task ([\w.]+\[[\w-]+\]) (\w+)", log):
        (received if what == "received" else finished).add(task)
    return received - finished


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_worker_stuck_in_the_nightly_cycle_is_stopped_within_10_seconds_too(desk_dir, signal_number):
    """The cycle is handed to the worker while another connection holds the database's write
    lock, and the desk's SQLite connections wait for a lock up to 30 s: when the signal comes, the
    worker sits inside SQLite (in the cycle, or in a job beat sent just before it), where no
    signal handler can reach it. It is killed after the grace period; the lock never let it
    write, and the desk is left as it was."""
    run = MakeRun(desk_dir, MAKE_RUN_SQLITE_TIMEOUT="30")
    database = desk_dir / "db.sqlite3"
    # A day the demo's first cycle did not run for, a different one for each run of this test.
    day = datetime.date.today() + datetime.timedelta(days=1 + int(signal_number))
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        run.wait_until_up()
        holder.execute("BEGIN IMMEDIATE")
        subprocess.run(  # noqa: S603
            [".venv/bin/python", "manage.py", "run_collection_cycle", "--on-workers", "--as-of", day.isoformat()],
            cwd=BASE_DIR,
            env=run.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while not tasks_in_progress(run.log()) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        assert tasks_in_progress(run.log()), f"the worker is not busy:\n{run.log()[-3000:]}"
    finally:
        try:
            stop_and_check(run, signal_number)
        finally:
            holder.rollback()
            holder.close()

    with closing(sqlite3.connect(database)) as desk:
        assert desk.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        runs = desk.execute("SELECT count(*) FROM collection_jobrun WHERE as_of = ?", [day.isoformat()]).fetchone()[0]
    assert runs == 0
