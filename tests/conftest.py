import os

import pytest
from django.conf import settings
from django.db import connection

NEEDS_POSTGRES = "needs PostgreSQL: set DATABASE_URL=postgres://... (these tests rely on its locking or SQL)"
NEEDS_REDIS = "needs a Redis server: set REDIS_URL=redis://..."


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("REQUIRE_POSTGRES") and engine != "django.db.backends.postgresql":
        raise pytest.UsageError("REQUIRE_POSTGRES is set but DATABASE_URL does not point at PostgreSQL.")
    if os.environ.get("REQUIRE_REDIS") and not settings.REDIS_URL:
        raise pytest.UsageError("REQUIRE_REDIS is set but REDIS_URL is empty.")


def pytest_collection_modifyitems(config, items):
    on_postgres = connection.vendor == "postgresql"
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason=NEEDS_POSTGRES))
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(pytest.mark.skip(reason=NEEDS_REDIS))


@pytest.fixture(autouse=True)
def desk_language():
    """Each test starts in the desk's language, as a new process does: a page requested in
    English activates English for the thread, and it must not carry over into the next test."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def in_english():
    """For tests that read the desk's messages in English (`pytest.mark.usefixtures("in_english")`);
    their Chinese is checked by the catalogue."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def at_once():
    """`at_once(work, arguments)`: run `work(argument)` for each argument on its own thread, the
    threads released together, each closing its own database connection; the results in the
    order of the arguments. For races that PostgreSQL's locks and constraints must settle."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    def run(work, arguments):
        arguments = list(arguments)
        barrier = Barrier(len(arguments))

        def released(argument):
            try:
                barrier.wait()
                return work(argument)
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
            return list(pool.map(released, arguments))

    return run


@pytest.fixture
def product(db):
    from tests.loans.factories import ProductFactory

    return ProductFactory()


# The test's own collector and supervisor work the test's cases: `collector` is a member, and
# `supervisor` the supervisor, of the desk team, and a case made by CaseFactory is assigned to that
# collector and in that team unless the test says otherwise (tests/collection/factories.py). Tests of
# who may act on what make other users and cases explicitly.
DESK_COLLECTOR = "collector"
DESK_SUPERVISOR = "supervisor"
DESK_TEAM = "Desk team"


def _desk_team():
    from accounts.models import Team

    team, _created = Team.objects.get_or_create(name=DESK_TEAM)
    return team


@pytest.fixture
def collector(db):
    from tests.accounts.factories import UserFactory

    user = UserFactory(username=DESK_COLLECTOR, roles=["collector"])
    _desk_team().members.add(user)
    return user


@pytest.fixture
def supervisor(db):
    from tests.accounts.factories import UserFactory

    user = UserFactory(username=DESK_SUPERVISOR, roles=["supervisor"])
    team = _desk_team()
    team.supervisor = user
    team.save(update_fields=["supervisor"])
    return user


@pytest.fixture
def legal_officer(db):
    from tests.accounts.factories import UserFactory

    return UserFactory(roles=["legal_officer"])


@pytest.fixture
def desk_admin(db):
    from tests.accounts.factories import UserFactory

    return UserFactory(roles=["admin"])


@pytest.fixture
def system_user(db):
    from accounts.models import User

    return User.objects.get(username="system")
