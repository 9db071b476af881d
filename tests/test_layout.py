"""The shape of src/: imports go down the layers with no cycle; modules and functions are short.

Read with ``ast``, nothing is imported: every ``import`` counts, at the top of a module, inside a
function (a lazy import is still a dependency) or under ``if TYPE_CHECKING:`` (a type-only
cycle is still a design cycle). A module or function may be longer than the limit when its
docstring, or a comment at its top, says why after "Long on purpose:". Classes are not measured:
they are collections of functions, each measured on its own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The layers, lowest first: a module may import from its own layer or a lower one, never a
# higher one. The source of truth is docs/ARCHITECTURE.md, section "the layers"; change both
# together. "pkg.*" is a package and everything in it; a plain name is that one module.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # moloslave's git fetching, venv and child-process helpers import nothing of molotov: the
    # cluster's --repo uses fetch too.
    ("leaves", ("molotov._version", "molotov.api", "molotov.scope", "molotov.sync",
                "molotov.util", "molotov.stdio", "moloslave.fetch", "moloslave.clone",
                "moloslave.env", "moloslave.process")),
    ("stats", ("molotov.stats.*",)),
    ("config", ("molotov.config.*", "molotov.demo.*")),
    ("worker", ("molotov.worker.*",)),
    ("reports", ("molotov.reports.*",)),
    ("live", ("molotov.live.*",)),
    ("run", ("molotov.run.*",)),
    # Cluster runs drive the parent's pieces; run.launch, the edge's last step, picks a local
    # or a cluster run, so it sits with them.
    ("cluster", ("molotov.cluster.*", "molotov.run.launch")),
    # moloslave is its own package; it may import molotov's lower layers.
    ("facades", ("molotov", "molotov.__main__", "molotov.cli", "molotov.cli_options",
                 "molotov.cli_cluster", "molotov.scaffold.*", "moloslave.*")),
)  # fmt: skip
MAX_MODULE_LINES = 450
MAX_BLOCK_LINES = 80
MARKER = "Long on purpose:"

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGES = ("molotov", "moloslave")
# Scenario files for users (written into their projects, or the demo's, loaded by path): they
# import molotov's public API as any scenario does, and molotov never imports them. Not in the
# import graph; their length still counts.
NOT_IN_GRAPH = (
    SRC / "molotov" / "scaffold" / "templates",
    SRC / "molotov" / "demo" / "loadtest.py",
)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(SRC)}:{self.line}: {self.source} imports {self.target}"


def _sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((SRC / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path
    for path in _sources()
    if not any(path == left or left in path.parents for left in NOT_IN_GRAPH)
}


def layer_of(module: str) -> int | None:
    """The layer that names the module itself, else the one of its package."""
    for rank, (_, entries) in enumerate(LAYERS):
        if module in entries:
            return rank
    for rank, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            package = entry.removesuffix(".*")
            if module == entry or (entry.endswith(".*") and f"{module}.".startswith(f"{package}.")):
                return rank
    return None


def _internal(name: str) -> str | None:
    """The module of molotov or moloslave that ``name`` is in: itself, or its package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            anchor = ".".join(package[: len(package) - node.level + 1])
            base = f"{anchor}.{base}" if base else anchor
        # ``from pkg import name``: the submodule ``pkg.name`` when there is one, else ``pkg``.
        names = [f"{base}.{alias.name}" for alias in node.names]
    for name in names:
        if name.split(".")[0] in PACKAGES:
            target = _internal(name)
            if target is not None and target != module:
                yield target


def import_edges() -> list[Edge]:
    """Every import between modules of src/, once per line (``from x import a, b``: one)."""
    edges: dict[Edge, None] = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(module, path, node):
                    edges[Edge(module, target, path, node.lineno)] = None
    return sorted(edges, key=lambda e: (e.source, e.line, e.target))


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for edge in edges:
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while (member := stack.pop()) != module:
                component.append(member)
            component.append(module)
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(module for module in MODULES if layer_of(module) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS): {unplaced}"


def test_no_import_cycle() -> None:
    edges = import_edges()
    problems = []
    for component in _cycles(edges):
        members = set(component)
        inside = [str(e) for e in edges if e.source in members and e.target in members]
        problems.append(f"cycle between {', '.join(component)}:\n    " + "\n    ".join(inside))
    assert not problems, "import cycles in src/:\n" + "\n".join(problems)


def test_imports_point_down_the_layers() -> None:
    upward = []
    for edge in import_edges():
        source, target = layer_of(edge.source), layer_of(edge.target)
        if source is not None and target is not None and target > source:
            upward.append(
                f"{edge} (layer {source} {LAYERS[source][0]} -> layer {target} {LAYERS[target][0]})"
            )
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def _exempt(lines: list[str], node: ast.AST, first: int) -> bool:
    """Whether the docstring, or a comment at the top, says "Long on purpose:"."""
    assert isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    doc = ast.get_docstring(node)
    if doc and MARKER in doc:
        return True
    body_start = node.body[0].lineno if node.body else len(lines) + 1
    top = lines[first - 1 : body_start - 1]
    return any(line.strip().startswith("#") and MARKER in line for line in top)


def test_modules_are_short() -> None:
    long = []
    for path in _sources():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines), str(path))
        if len(lines) > MAX_MODULE_LINES and not _exempt(lines, tree, 1):
            long.append(f"{path.relative_to(SRC)}: {len(lines)} lines")
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def test_functions_are_short() -> None:
    long = []
    for path in _sources():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            if size > MAX_BLOCK_LINES and not _exempt(lines, node, node.lineno):
                long.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.name}, {size} lines")
    assert not long, f"functions over {MAX_BLOCK_LINES} lines:\n" + "\n".join(long)
