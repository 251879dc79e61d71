"""Accessibility checks with axe-core (axe-playwright-python ships axe.min.js: nothing is fetched)."""

from axe_playwright_python.sync_playwright import Axe

# What must never reach a user: a violation axe rates "serious" or "critical" ("minor" and
# "moderate" ones are left to review).
BLOCKING = ("serious", "critical")

_axe = Axe()


def blocking_violations(page) -> list[dict]:
    """The serious and critical axe violations on the page as it is now. axe is injected through
    the DevTools protocol, which the page's Content-Security-Policy does not restrict."""
    results = _axe.run(page)
    return [violation for violation in results.response["violations"] if violation["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    """The violations, one line each with the elements they are on, for an assertion message."""
    lines = []
    for violation in violations:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        lines.append(f"{violation['impact']}: {violation['id']} ({violation['help']}) on {targets}")
    return "\n".join(lines)


def assert_no_blocking_violations(page):
    violations = blocking_violations(page)
    assert not violations, f"axe on {page.url}:\n{describe(violations)}"
