"""labelwise's subpackages import each other in one direction only: no import circle, layers point down.

Every module of the installed folders (`package_dir` of setup.cfg: `labelwise/`, `modeling/`,
`data_scripts/`, `model_cards/`) is parsed with `ast`, and every import of `labelwise.*` counts:
module level, inside functions (lazy imports) and under `if TYPE_CHECKING:`. A package's
`__init__.py` importing its submodules is an edge like any other. Imports spelled as strings
(`importlib.import_module`, a kind's `"module:Class"` references) are not seen.

The layers, lowest first, are `LAYERS` below (docs/DEVELOPING.md, "Layers"): a module may import
modules of its own layer or of lower ones. Within a layer, the subpackages (and top-level modules)
must not import each other in a circle either.
"""

from __future__ import annotations

import ast
import configparser
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "labelwise",  # the package's __init__ only (exact name)
            "labelwise.backbone",
            "labelwise.cli_errors",
            "labelwise.saved_kinds",
            "labelwise.remote_code",
            "labelwise.modeling",
            "labelwise.data_scripts",
            "labelwise.metrics",
            "labelwise.model_cards",
        ),
    ),
    ("NER model utilities", ("labelwise.ner",)),  # alignment, tagger (no training), baselines, crf
    ("model kinds", ("labelwise.kinds",)),
    # What reads trained models; publishing writes the card that training's run also writes.
    ("trained models", ("labelwise.export", "labelwise.analysis", "labelwise.demo", "labelwise.publishing", "labelwise.explain", "labelwise.evaluate")),
    ("training", ("labelwise.training",)),
    ("experiments", ("labelwise.experiments",)),  # studies, grid search, cross-validation: train through labelwise.training
)
"""Layers, lowest first: `(name, module prefixes)`; a module belongs to its longest matching prefix."""

UNIT_OF = {"labelwise.demo": "labelwise.analysis"}
"""Top-level modules counted as part of a subpackage in the circle check: the demo app is the
analysis package's front end (`labelwise.analysis.space` copies it into a Space with the predictors
and the viewer, which it imports)."""


@dataclass(frozen=True)
class Import:
    """One import statement's edge: `source` imports `target` at `path:line`."""

    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.source} imports {self.target})"


def package_folders(setup_cfg: Path) -> dict[str, Path]:
    """Import name -> folder of every `package_dir` entry of setup.cfg."""
    parser = configparser.ConfigParser()
    parser.read(setup_cfg, encoding="utf-8")
    folders = {}
    for line in parser["options"]["package_dir"].strip().splitlines():
        name, _, folder = (part.strip() for part in line.partition("="))
        folders[name] = setup_cfg.parent / folder
    return folders


def collect_modules(folders: dict[str, Path]) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package `__init__`) for every `.py` file under the folders."""
    modules: dict[str, tuple[Path, bool]] = {}
    for prefix, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join([prefix, *parts])
            # Mapped folders are side by side today; one nested in another would name its files twice.
            assert name not in modules, f"{path} and {modules[name][0]} are both module {name}"
            modules[name] = (path, is_package)
    return modules


def collect_imports(modules: dict[str, tuple[Path, bool]], root: Path, top: str = "labelwise") -> list[Import]:
    """Every import of a `top.*` module by a module of `modules` (relative imports resolved)."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: list[Import] = []
    for source, (path, is_package) in modules.items():
        package = source if is_package else source.rpartition(".")[0]
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    module = f"{base}.{node.module}" if node.module else base
                else:
                    module = node.module or ""
                # `from package import submodule` imports the submodule; `from module import name` the module.
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module for alias in node.names]
            else:
                continue
            for target in targets:
                if target != top and not target.startswith(top + "."):
                    continue
                resolved = resolve(target)
                edge = Import(source, resolved, shown, node.lineno) if resolved is not None else None
                if edge is not None and resolved != source and edge not in edges:  # once per statement and target
                    edges.append(edge)
    return edges


def strongly_connected(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {node: set() for node in nodes}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module: str, layers=LAYERS) -> tuple[int, str] | None:
    """`(rank, prefix)` of the layer whose longest prefix matches `module`; the bare top name matches only itself."""
    best: tuple[int, str] | None = None
    for rank, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            exact_only = "." not in prefix
            if module == prefix or (not exact_only and module.startswith(prefix + ".")):
                if best is None or len(prefix) > len(best[1]):
                    best = (rank, prefix)
    return best


def unit_of(module: str, layers=LAYERS, unit_of_module=UNIT_OF) -> str:
    """The subpackage (or top-level module) a module belongs to, for the circle check between subpackages."""
    if module in unit_of_module:
        return unit_of_module[module]
    layer = layer_of(module, layers)
    if layer is not None and layer[1].count(".") >= 2:  # a module given its own layer (e.g. labelwise.ner.crossval once)
        return layer[1]
    return ".".join(module.split(".")[:2])


def problems(modules: dict[str, tuple[Path, bool]], edges: list[Import], layers=LAYERS, unit_of_module=UNIT_OF) -> list[str]:
    """Every circle and every upward import, one readable line (or block) each; empty when the layering holds."""
    found = []
    for component in strongly_connected(modules, [(edge.source, edge.target) for edge in edges]):
        inside = [str(edge) for edge in edges if edge.source in component and edge.target in component]
        found.append(f"import circle among {len(component)} modules {component}:\n  " + "\n  ".join(sorted(inside)))
    unit_edges = {}
    for edge in edges:
        pair = (unit_of(edge.source, layers, unit_of_module), unit_of(edge.target, layers, unit_of_module))
        if pair[0] != pair[1]:
            unit_edges.setdefault(pair, edge)
    for component in strongly_connected({unit_of(m, layers, unit_of_module) for m in modules}, unit_edges):
        inside = [str(edge) for pair, edge in unit_edges.items() if pair[0] in component and pair[1] in component]
        found.append(f"subpackages import each other in a circle {component}:\n  " + "\n  ".join(sorted(inside)))
    names = [name for name, _ in layers]
    for module, (path, _) in modules.items():
        if layer_of(module, layers) is None:
            found.append(f"{path}: module {module} is in no layer; add it to LAYERS in tests/test_import_layers.py "
                         "(and to docs/DEVELOPING.md, 'Layers').")
    for edge in edges:
        source, target = layer_of(edge.source, layers), layer_of(edge.target, layers)
        if source is not None and target is not None and target[0] > source[0]:
            found.append(
                f"{edge}: layer {names[source[0]]!r} imports from the higher layer {names[target[0]]!r}; move the "
                f"code it needs down, or this code up (docs/DEVELOPING.md, 'Layers')."
            )
    return found


def test_no_import_circle_and_layers_point_down():
    modules = collect_modules(package_folders(ROOT / "setup.cfg"))
    edges = collect_imports(modules, ROOT)
    # The walk saw the package (a wrong folder would find no edges and nothing to complain about).
    seen = {(edge.source, edge.target) for edge in edges}
    assert ("labelwise.kinds.base", "labelwise.saved_kinds") in seen and ("labelwise.training.arguments", "labelwise.kinds") in seen
    assert ("labelwise.kinds", "labelwise.kinds.lame") in seen  # a package __init__ importing its submodules
    found = problems(modules, edges)
    assert not found, "\n".join(found)


def test_the_check_reports_a_circle_and_an_upward_import(tmp_path):
    """The checker itself: a planted circle and a planted upward import are named with file and line."""
    files = {
        "pkg/__init__.py": "",
        "pkg/low/__init__.py": "from pkg.low import a\n",
        "pkg/low/a.py": "def f():\n    from pkg.high.b import g  # lazy, still counted\n",
        "pkg/high/__init__.py": "",
        "pkg/high/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.low.a import f\n",
        "pkg/high/c.py": "from ..low import a\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    layers = (("base", ("pkg", "pkg.low")), ("top", ("pkg.high",)))
    modules = collect_modules({"pkg": tmp_path / "pkg"})
    edges = collect_imports(modules, tmp_path, top="pkg")
    assert {(e.source, e.target, e.line) for e in edges} == {
        ("pkg.low", "pkg.low.a", 1), ("pkg.low.a", "pkg.high.b", 2), ("pkg.high.b", "pkg.low.a", 3), ("pkg.high.c", "pkg.low.a", 1),
    }
    found = problems(modules, edges, layers, {})
    text = "\n".join(found)
    assert "import circle among 2 modules ['pkg.high.b', 'pkg.low.a']" in text
    assert "subpackages import each other in a circle ['pkg.high', 'pkg.low']" in text
    assert f"{Path('pkg/low/a.py')}:2 (pkg.low.a imports pkg.high.b): layer 'base' imports from the higher layer 'top'" in text
    assert len(found) == 3, text
