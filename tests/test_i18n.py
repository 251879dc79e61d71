"""The Simplified Chinese catalogue: complete, compiled, and used by the pages and services.

The .po file is read with the small parser below rather than with gettext tools or polib, so
that these tests run on machines without gettext installed; the compiled .mo is read with the
standard library's gettext module.
"""

import datetime
import gettext
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from loans.models import Payment
from loans.services import payment_record
from loans.validators import validate_national_id
from tests.loans.factories import LoanFactory

CATALOGUE_DIR = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES"
PO_FILE = CATALOGUE_DIR / "django.po"
MO_FILE = CATALOGUE_DIR / "django.mo"

# ---------------------------------------------------------------------------------------------
# Reading the .po file
# ---------------------------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # index 0 for a singular entry
    flags: set[str] = field(default_factory=set)
    line: int = 0  # where the entry starts in the file, for failure messages

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    def __str__(self) -> str:
        return f"line {self.line}: {self.msgid!r}"


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda match: _ESCAPES.get(match[1], match[1]), quoted.strip()[1:-1])


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header first; obsolete (#~) entries are left out."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] | None = None  # the keyword a continuation string belongs to

    def finish() -> None:
        nonlocal entry, target
        if entry is not None and (entry.msgstr or entry.msgid or entry.msgctxt is not None):
            entries.append(entry)
        entry, target = None, None

    def append(keyword: str, index: int, text: str) -> None:
        if keyword == "msgstr":
            entry.msgstr[index] = entry.msgstr.get(index, "") + text
        else:
            setattr(entry, keyword, (getattr(entry, keyword) or "") + text)

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None and entry.msgstr:  # a comment after msgstr opens the next entry
                finish()
            entry = entry or Entry(line=number)
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, quoted = match[1], match[2], match[3]
            if entry is not None and entry.msgstr and not keyword.startswith("msgstr"):
                finish()  # msgctxt or msgid after a msgstr: a new entry without a blank line
            entry = entry or Entry(line=number)
            target = ("msgstr", int(index or 0)) if keyword.startswith("msgstr") else (keyword, 0)
            if keyword in ("msgid_plural", "msgctxt"):
                setattr(entry, keyword, "")
            append(*target, _unquote(quoted))
        elif line.startswith('"') and entry is not None and target is not None:
            append(*target, _unquote(line))
        else:
            raise ValueError(f"{path}:{number}: cannot read {raw!r}")
    finish()
    return entries


def header_fields(entries: list[Entry]) -> dict[str, str]:
    header = next(entry for entry in entries if entry.is_header)
    return {
        name.strip(): value.strip()
        for name, _sep, value in (line.partition(":") for line in header.msgstr[0].splitlines() if line)
    }


def nplurals(entries: list[Entry]) -> int:
    match = re.search(r"nplurals\s*=\s*(\d+)", header_fields(entries).get("Plural-Forms", ""))
    assert match, "the header has no Plural-Forms"
    return int(match[1])


# Named printf placeholders with their conversion (%(amount)s, %(byte)02x), brace placeholders
# ({0}, {name}), and a literal %% in python-format strings.
_NAMED = re.compile(r"%\(\w+\)[#0 +-]*\d*(?:\.\d+)?[a-zA-Z]")
_POSITIONAL = re.compile(r"%[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
_BRACE = re.compile(r"(?<!\{)\{\w*(?:![rsa])?(?::[^{}]*)?\}(?!\})")


def placeholders(text: str, flags: set[str]) -> Counter:
    found = Counter(_NAMED.findall(text)) + Counter(_BRACE.findall(text))
    if "python-format" in flags:
        without_named = _NAMED.sub("", text.replace("%%", ""))
        found += Counter({"%%": text.count("%%")}) + Counter(_POSITIONAL.findall(without_named))
    return found


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return read_po(PO_FILE)


@pytest.fixture(scope="module")
def messages(entries) -> list[Entry]:
    return [entry for entry in entries if not entry.is_header]


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------


def test_the_po_parser_reads_plurals_contexts_continuations_and_flags(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid ""\n"%(count)s \\"long\\" "\n"line"\nmsgstr "%(count)s 行"\n\n'
        'msgctxt "person"\nmsgid "name"\nmsgstr "姓名"\n'
        'msgid "%(n)s row."\nmsgid_plural "%(n)s rows."\nmsgstr[0] "%(n)s 行。"\n\n'
        '#~ msgid "gone"\n#~ msgstr "已删除"\n',
        encoding="utf-8",
    )

    header, long_line, name, rows = read_po(po)

    assert header.is_header and header_fields([header])["Language"] == "zh_Hans"
    assert (long_line.msgid, long_line.msgstr, long_line.flags) == (
        '%(count)s "long" line',
        {0: "%(count)s 行"},
        {"fuzzy", "python-format"},
    )
    assert (name.msgctxt, name.msgid, name.msgstr) == ("person", "name", {0: "姓名"})
    assert (rows.msgid_plural, rows.msgstr) == ("%(n)s rows.", {0: "%(n)s 行。"})


def test_the_header_declares_simplified_chinese_in_utf8_with_one_plural_form(entries):
    fields = header_fields(entries)
    header = next(entry for entry in entries if entry.is_header)

    assert fields["Language"] == "zh_Hans"
    assert "charset=UTF-8" in fields["Content-Type"]
    assert fields["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert "fuzzy" not in header.flags


def test_every_entry_is_translated_and_none_is_fuzzy(messages):
    assert messages, f"{PO_FILE} holds no messages"
    untranslated = [str(entry) for entry in messages if not entry.msgstr or not all(entry.msgstr.values())]
    fuzzy = [str(entry) for entry in messages if "fuzzy" in entry.flags]

    assert untranslated == []
    assert fuzzy == []


def test_plural_entries_have_exactly_the_declared_plural_forms(entries, messages):
    forms = nplurals(entries)
    wrong = [
        f"{entry}: {sorted(entry.msgstr)}"
        for entry in messages
        if entry.msgid_plural is not None and sorted(entry.msgstr) != list(range(forms))
    ]

    assert wrong == []


def test_translations_keep_the_placeholders_of_their_source(messages):
    changed = []
    for entry in messages:
        expected = placeholders(entry.msgid, entry.flags)
        if entry.msgid_plural is not None:
            expected |= placeholders(entry.msgid_plural, entry.flags)
        for index, text in entry.msgstr.items():
            if placeholders(text, entry.flags) != expected:
                changed.append(f"{entry} [{index}]: {text!r}")

    assert changed == []


def test_the_compiled_catalogue_matches_the_po_file(messages):
    with MO_FILE.open("rb") as mo_file:
        compiled = gettext.GNUTranslations(mo_file)

    stale = []
    for entry in messages:
        expected = entry.msgstr[0]
        if entry.msgid_plural is not None:
            got = [
                compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
                if entry.msgctxt is not None
                else compiled.ngettext(entry.msgid, entry.msgid_plural, n)
                for n in (1, 2, 5)
            ]
            ok = got == [expected] * 3
        else:
            got = (
                compiled.pgettext(entry.msgctxt, entry.msgid)
                if entry.msgctxt is not None
                else compiled.gettext(entry.msgid)
            )
            ok = got == expected
        if not ok:
            stale.append(f"{entry}: .mo has {got!r}, .po has {expected!r}")

    assert stale == [], "the .mo is out of date: run `python manage.py compilemessages --ignore=.venv`"


# ---------------------------------------------------------------------------------------------
# The catalogue at work
# ---------------------------------------------------------------------------------------------


def test_the_login_page_is_in_chinese_by_default(client, db):
    response = client.get(reverse("login"))
    page = response.content.decode()

    assert response.status_code == 200
    assert '<html lang="zh-hans">' in page
    for text in ("登录", "用户名", "密码", "催收工作台"):
        assert text in page
    for text in ("Log in", "Username", "Password", "Collection desk"):
        assert text not in page


def test_the_login_page_is_in_english_with_the_language_cookie(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(reverse("login"))
    page = response.content.decode()

    assert response.status_code == 200
    assert '<html lang="en">' in page
    for text in ("Log in", "Username", "Password", "Collection desk"):
        assert text in page
    for text in ("登录", "用户名", "催收工作台"):
        assert text not in page


def test_a_refused_payment_is_explained_in_chinese(db):
    loan = LoanFactory()

    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        payment_record(
            loan=loan,
            amount=Decimal("0"),
            received_at=datetime.datetime(2026, 4, 20, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
            reference="PAY-ZERO",
            channel=Payment.Channel.BANK_TRANSFER,
        )

    assert refused.value.code == "amount"
    assert refused.value.messages == ["还款金额必须大于零。"]
    assert not Payment.objects.filter(loan=loan).exists()


def test_a_lazily_translated_validation_message_follows_the_active_language():
    with pytest.raises(ValidationError) as refused:
        validate_national_id("11010119850501000")  # 17 characters: one short

    with translation.override("zh-hans"):
        assert refused.value.messages == ["身份证号由 17 位数字加 1 位校验码（数字或 X）组成。"]
    with translation.override("en"):
        assert refused.value.messages == ["A national ID number has 17 digits and a final digit or X."]
