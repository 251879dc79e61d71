"""The people of the demo desk: two teams (a supervisor and three collectors each), a legal
officer and an admin, with random passwords, and the logins file `make run` prints."""

import os
import random
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from faker import Faker

from accounts import roles
from accounts.models import Team

LOGINS_FILE_NAME = "demo_logins.txt"

TEAMS = ("一组", "二组")
DEMO_USERS = (
    # username, role, team (index into TEAMS) or None
    ("supervisor1", roles.SUPERVISOR, 0),
    ("collector1", roles.COLLECTOR, 0),
    ("collector2", roles.COLLECTOR, 0),
    ("collector3", roles.COLLECTOR, 0),
    ("supervisor2", roles.SUPERVISOR, 1),
    ("collector4", roles.COLLECTOR, 1),
    ("collector5", roles.COLLECTOR, 1),
    ("collector6", roles.COLLECTOR, 1),
    ("legal1", roles.LEGAL_OFFICER, None),
    ("admin", roles.ADMIN, None),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    team: str
    password: str


# Readable, and nothing to mistake for something else (no 0/o, 1/l/i).
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def demo_password(user) -> str:
    """A random password (three groups of four, about 59 bits) that passes the desk's password
    validators for this user. Random on every run: the seed decides the data, never a login. No
    group is all digits, so that none reads like the old `<username>-NNNN` passwords."""
    while True:
        groups = ["".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(3)]
        if any(group.isdigit() for group in groups):
            continue
        password = "-".join(groups)
        try:
            validate_password(password, user)
        except ValidationError:
            continue
        return password


def demo_users_ensure(*, seed: int, superuser: bool = False) -> list[DemoLogin]:
    """Create (or reset) the demo users in their role groups and teams, with random passwords
    that pass the validators. Supervisors and the admin may use the admin site; the admin holds
    the admin role only, and is a superuser only when `superuser` asks for it."""
    rng = random.Random(f"demo-users-{seed}")
    fake = Faker("zh_CN")
    fake.seed_instance(rng.randrange(2**32))
    User = get_user_model()
    logins, members = [], {name: [] for name in TEAMS}
    supervisors = {}
    for username, role, team_index in DEMO_USERS:
        user, _created = User.objects.get_or_create(username=username)
        user.last_name, user.first_name = fake.last_name(), fake.first_name()
        user.email = f"{username}@demo.invalid"
        user.is_active = True
        user.is_staff = role in (roles.SUPERVISOR, roles.ADMIN)
        user.is_superuser = superuser and role == roles.ADMIN
        password = demo_password(user)
        user.set_password(password)
        user.save()
        group, _created = Group.objects.get_or_create(name=role)
        user.groups.set([group])
        team = TEAMS[team_index] if team_index is not None else ""
        if role == roles.SUPERVISOR:
            supervisors[team] = user
        elif role == roles.COLLECTOR:
            members[team].append(user)
        logins.append(DemoLogin(username=username, role=role, team=team, password=password))
    for name in TEAMS:
        team, _created = Team.objects.update_or_create(name=name, defaults={"supervisor": supervisors[name]})
        team.members.set(members[name])
    return logins


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def demo_logins_table(logins: Iterable[DemoLogin]) -> str:
    rows = [("username", "role", "team", "password")] + [
        (login.username, login.role, login.team or "-", login.password) for login in logins
    ]
    widths = [max(_width(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join(value + " " * (widths[column] - _width(value)) for column, value in enumerate(row)).rstrip()
        for row in rows
    )


def demo_logins_path() -> Path:
    """var/demo_logins.txt, which `make run` prints on every start."""
    return Path(settings.VAR_DIR) / LOGINS_FILE_NAME


def demo_logins_write(logins: Iterable[DemoLogin], *, seed: int, as_of: date) -> Path:
    """Write the demo logins to demo_logins_path(), readable and writable by its owner only
    (0600), also when the file was there before with wider permissions. A symbolic link in its
    place is refused, not followed."""
    path = demo_logins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        f"Demo logins (seed_demo --seed {seed}, as of {as_of.isoformat()}; demo passwords, not for real use):\n"
        + demo_logins_table(logins)
        + "\n"
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as logins_file:
        # os.open's mode applies only to a file it creates.
        os.fchmod(logins_file.fileno(), 0o600)
        logins_file.write(text)
    return path
