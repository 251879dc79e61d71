"""The project's structure: no import circle anywhere, and the apps depend one way only.

Every import of the project's own modules is read from the source (function-local ones too, since
a local import is how a circle hides), migrations and tests left out."""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PACKAGES = ("config", "accounts", "loans", "collection", "legal", "demo", "bench")

# What each part of the project may import, besides itself: legal -> collection -> loans -> accounts,
# everything may use the desk's conventions (config.desk), and the demo and the benchmark sit above
# all the business apps, imported by nobody.
MAY_IMPORT = {
    "config": set(),
    "accounts": {"config"},
    "loans": {"accounts", "config"},
    "collection": {"loans", "accounts", "config"},
    "legal": {"collection", "loans", "accounts", "config"},
    "demo": {"collection", "loans", "accounts", "config", "legal"},
    "bench": {"collection", "loans", "accounts", "config", "legal"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[_module_name(path)] = path
    return modules


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports (the most specific known module of each name)."""
    is_package = path.name == "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # "from package import module" imports the module; "from module import name" the module.
            names |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    resolved = set()
    for name in names:
        parts = name.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        if parts:
            resolved.add(".".join(parts))
    resolved.discard(module)
    return resolved


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {module: _imported(module, path, known) for module, path in sources.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_module_imports_itself_back_through_others():
    assert _circles(_graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_apps_depend_one_way():
    wrong = []
    for module, imported in _graph().items():
        part = module.split(".")[0]
        for other in imported:
            other_part = other.split(".")[0]
            if other_part != part and other_part not in MAY_IMPORT[part]:
                wrong.append(f"{module} imports {other}")
    assert wrong == []


def test_the_models_import_no_logic():
    """A models module imports only other models, the enums and machines they are built on, and
    the desk's conventions: never services, selectors, rules or jobs."""
    allowed_suffixes = (
        ".models",
        ".fields",
        ".dialect",
        ".machine",
        ".fsm",
        ".exceptions",
        ".validators",
        ".phones",
        ".roles",
    )
    wrong = [
        f"{module} imports {other}"
        for module, imported in _graph().items()
        if module.endswith(".models")
        for other in imported
        if not other.endswith(allowed_suffixes) and other.split(".")[0] != "config"
    ]
    assert wrong == []
