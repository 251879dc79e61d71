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
