"""Who may import whom (docs/architecture.md), read from the code's own import statements.

1. The apps stand in floors, `core` lowest and `config` on top. A domain module (models,
   services, forms, rules, tasks: everything not a screen) imports only its own app and the
   apps on lower floors, and never another app's screens.
2. A screen (views, urls, admin, the PDF, management commands) composes: it may read the
   domain modules of any app, and the screens of its own floor or lower; a urls module may
   route to any app's views (the couple page's share actions live in consultation).
3. No import circle between modules, whether the imports are at the top or inside functions.

Imports under `if TYPE_CHECKING:` are for the type checker only and are not counted; tests,
migrations and bench/ are not the app.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The floors, lowest first: the same table as docs/architecture.md.
FLOORS: dict[str, int] = {
    "core": 0,
    "people": 1,
    "cycles": 2,
    "sessions": 3,
    "ruptures": 4,
    "flags": 5,
    "plans": 5,
    "supervision": 6,
    "consultation": 6,
    "invitations": 6,
    "exports": 7,
    "demo": 8,
    "config": 9,
}
SCREEN_MODULES = ("views", "urls", "admin", "pdf")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module (or the module a name was imported from), dotted
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> Iterator[Path]:
    for app in FLOORS:
        for path in sorted((REPO / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> Iterator[Import]:
    source = module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and is_type_checking(node):
            skipped |= {id(child) for child in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield Import(source, node.module, node.lineno)
            for alias in node.names:  # `from flags import runs` imports the module flags.runs
                yield Import(source, f"{node.module}.{alias.name}", node.lineno)


def app_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in FLOORS else None


def is_screen(module: str) -> bool:
    parts = module.split(".")
    last = parts[-1]
    return (
        last in SCREEN_MODULES
        or last.endswith("_views")
        or ("commands" in parts[:-1] and "management" in parts)
    )


def known_modules() -> set[str]:
    return {module_name(path) for path in app_modules()}


def project_imports() -> list[Import]:
    known = known_modules()
    found = []
    for path in app_modules():
        for imp in imports_of(path):
            if app_of(imp.target) and imp.target in known:
                found.append(imp)
    return found


def test_no_module_imports_across_the_floors_against_docs_architecture() -> None:
    wrong = []
    for imp in project_imports():
        source_app, target_app = app_of(imp.source), app_of(imp.target)
        assert source_app
        assert target_app
        if source_app == target_app:
            continue
        up = FLOORS[target_app] > FLOORS[source_app]
        screen_above = is_screen(imp.target) and FLOORS[target_app] > FLOORS[source_app]
        if imp.source.endswith(".urls"):
            allowed = True
        elif is_screen(imp.source):
            allowed = not screen_above
        else:
            allowed = not up and not is_screen(imp.target)
        if not allowed:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target}")
    assert wrong == [], "\n".join(wrong)


def test_people_imports_no_clinical_app() -> None:
    clinical = {app for app, floor in FLOORS.items() if floor > FLOORS["people"]}
    wrong = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in project_imports()
        if app_of(imp.source) == "people" and app_of(imp.target) in clinical
    ]
    assert wrong == []


def test_no_import_circle_between_modules() -> None:
    graph: dict[str, set[str]] = {}
    for imp in project_imports():
        if imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    circles = strongly_connected(graph)
    assert circles == [], circles


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of two or more modules that import each other round."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_floors_here_are_the_floors_in_docs_architecture() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    for app, floor in FLOORS.items():
        assert f"| {floor} | `{app}/` |" in text, (
            f"docs/architecture.md lacks {app} on floor {floor}"
        )


def test_every_app_folder_is_on_a_floor() -> None:
    apps = {path.parent.name for path in REPO.glob("*/apps.py")}
    assert apps <= set(FLOORS), apps - set(FLOORS)
