"""The demo desk is an app of its own, above the business apps: installed last, imported by none."""

import ast
from pathlib import Path

from django.conf import settings

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
BUSINESS_APPS = ("accounts", "loans", "collection", "legal", "config")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_the_demo_app_is_installed_last():
    assert settings.INSTALLED_APPS[-1] == "demo"


def test_no_business_app_imports_the_demo():
    importers = [
        str(path.relative_to(PROJECT_DIR))
        for app in BUSINESS_APPS
        for path in (PROJECT_DIR / app).rglob("*.py")
        if any(module == "demo" or module.startswith("demo.") for module in imported_modules(path))
    ]

    assert importers == []


def test_what_the_history_writes_reads_in_the_desks_language():
    """Every note and reason the worked history writes has its Chinese in the catalogue."""
    from django.utils import translation
    from django.utils.functional import Promise

    import demo.texts

    def lazy_texts(value):
        if isinstance(value, Promise):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                yield from lazy_texts(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from lazy_texts(item)

    from collection.channels import GATEWAY_REFUSED
    from collection.messaging import NO_OWN_CONTACT
    from collection.services import ALLOCATION_REASON
    from collection.services.attempts import REACHED_REASON
    from collection.services.escalations import REQUEST_APPROVED_REASON
    from collection.services.plans import PLAN_AGREED_REASON

    # Its own texts, and the services' the history writes as they would.
    written = [REACHED_REASON, PLAN_AGREED_REASON, REQUEST_APPROVED_REASON, NO_OWN_CONTACT, GATEWAY_REFUSED]
    texts = [text for name in dir(demo.texts) for text in lazy_texts(getattr(demo.texts, name))]
    texts += [*written, ALLOCATION_REASON]
    with translation.override("zh-hans"):
        untranslated = [text._args[0] for text in texts if str(text) == text._args[0]]

    assert len(texts) > 50
    assert untranslated == []
