"""The layers of docs/architecture.md, held: every import in workbench/ (and in the notebooks) is read with ``ast``
and checked against four rules.

1. No import cycles: among module-level imports none at all, and none either once imports inside functions are
   counted (a deferred import that closes a cycle only hides it). Imports under ``if TYPE_CHECKING:`` are
   annotations, not imports, and are left out.
2. Only the catalog (``workbench/catalog/``) and the vector-index layer (``semantic/vector_index.py``,
   ``semantic/filtered_exact.py``) import ``lancedb``.
3. The ui layer (``workbench/gallery``, ``workbench/dashboards``, ``workbench/cli``, the notebooks) reaches the
   rest of workbench only through ``workbench`` / ``workbench.library``, ``workbench.errors``,
   ``workbench.settings`` and the ui layer itself; today's exceptions are listed below, each with its reason.
4. Lower layers (everything but the ui layer and ``workbench.library``) never import ``workbench.library`` or
   the ui layer at module level.
5. No module (nor benchmark) imports another module's ``_private`` name or reads one off an imported module
   (``vector_index._dim``), and no code outside ``library.py`` calls a private ``Library`` method: what others
   need gets a public name where it belongs.
6. Every module sits in one layer of ``LAYERS`` and imports only its own layer and the layers below it, at module
   level and inside functions alike: the ui, the library, the capabilities and domain packages, the stages, what
   a stage runs (models and pure algorithms), the catalog / storage / vector index, the helpers. A new package
   must be placed in a layer; ``LAYER_EXCEPTIONS`` lists the imports that go up today, each with its reason.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workbench"

UI = ("workbench.gallery", "workbench.dashboards", "workbench.cli", "workbench.serve", "workbench.demo",
      "workbench.__main__", "notebooks")
UI_MAY_IMPORT = ("workbench", "workbench.library", "workbench.errors", "workbench.settings")
LANCEDB_LAYERS = ("workbench.catalog", "workbench.semantic.vector_index", "workbench.semantic.filtered_exact")
LOWER_MAY_NOT_IMPORT = ("workbench.library", "workbench.gallery", "workbench.dashboards", "workbench.cli")

# ui module (or notebook) -> workbench module it may import beyond UI_MAY_IMPORT, and why. Remove an entry once
# the import goes (the test says when an entry is no longer needed).
UI_EXCEPTIONS: dict[tuple[str, str], str] = {}

# (importer, imported name) pairs rule 5 lets pass for now, and why.
PRIVATE_EXCEPTIONS: dict[tuple[str, str], str] = {}

# Rule 6: the layers from the top. A module belongs to the layer of its longest matching prefix (the package
# ``workbench`` itself, the front door, by exact name). A stage runs models and algorithms that live in the
# packages of the domain (semantic.clip, faces, duplicates.fingerprint...): those modules sit below the stages,
# the rest of their package (search, people, groups, reports, workflows) above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the ui", UI),
    ("the library", ("workbench.library",)),
    ("the capabilities and the domain packages", (
        "workbench.capabilities", "workbench.access", "workbench.people", "workbench.duplicates",
        "workbench.quality", "workbench.compress", "workbench.semantic", "workbench.ingest", "workbench.replicas",
        "workbench.backup")),
    ("the stages", ("workbench.stages",)),
    ("what a stage runs (models and pure algorithms)", (
        "workbench.models", "workbench.faces", "workbench.ocr", "workbench.compat", "workbench.semantic.clip",
        "workbench.semantic.feed", "workbench.semantic.frames", "workbench.semantic.tagging",
        "workbench.semantic.vocabulary", "workbench.duplicates.fingerprint", "workbench.duplicates.rotation",
        "workbench.duplicates.video_signature", "workbench.duplicates.candidates", "workbench.quality.measures",
        "workbench.compress.lossless", "workbench.compress.reconstruct")),
    ("the catalog, the storage and the vector index", (
        "workbench.catalog", "workbench.storage", "workbench.semantic.vector_index",
        "workbench.semantic.filtered_exact")),
    ("the helpers", (
        "workbench.errors", "workbench.settings", "workbench.formats", "workbench.imaging", "workbench.metadata",
        "workbench.parallel", "workbench.trace", "workbench.progress")),
)

# (importer, imported module) pairs that go up a layer today, and why. Remove an entry once the import goes (the
# test says when an entry is no longer needed).
LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str        # dotted module name, or "notebooks/<file>.ipynb"
    imported: str        # dotted name as written (resolved if relative), e.g. "workbench.catalog.store"
    line: int
    where: str           # "module" (runs on import), "function" (runs when called), "typing" (TYPE_CHECKING)

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported} ({self.where} level)"


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool):
        self.module, self.is_package = module, is_package
        self.depth = self.typing = 0
        self.found: list[Import] = []

    def _add(self, name: str, node: ast.AST) -> None:
        where = "typing" if self.typing else ("function" if self.depth else "module")
        self.found.append(Import(self.module, name, node.lineno, where))

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            self.typing += 1
            for child in node.body:
                self.visit(child)
            self.typing -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
            parts = parts[:len(parts) - (node.level - 1)]
            base = ".".join(parts + ([node.module] if node.module else []))
        for alias in node.names:
            # ``from workbench.cli import common`` imports a module; ``from x import name`` imports x.
            self._add(f"{base}.{alias.name}" if alias.name != "*" else base, node)


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


MODULES = _modules()


def _notebook_source(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = [line for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()
             if not line.lstrip().startswith(("%", "!"))]  # IPython magics are not Python
    return "\n".join(lines)


def _all_imports() -> list[Import]:
    found = []
    for module, (path, is_package) in sorted(MODULES.items()):
        c = _Collector(module, is_package)
        c.visit(ast.parse(path.read_text(), str(path)))
        found += c.found
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        c = _Collector(f"notebooks/{nb.name}", False)
        c.visit(ast.parse(_notebook_source(nb), str(nb)))
        found += c.found
    return found


IMPORTS = _all_imports()


def _module_of(name: str) -> str | None:
    """The workbench module an imported name lives in (``workbench.cli.common.fail`` -> ``workbench.cli.common``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _inside(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") or name.startswith(p + "/") for p in prefixes)


def _graph(wheres: tuple[str, ...]) -> tuple[dict[str, set[str]], dict[tuple[str, str], Import]]:
    """module -> the workbench modules it imports (at the given levels), and the first import behind each edge."""
    g: dict[str, set[str]] = {m: set() for m in MODULES}
    why: dict[tuple[str, str], Import] = {}
    for imp in IMPORTS:
        target = _module_of(imp.imported) if imp.imported.startswith("workbench") else None
        if imp.where in wheres and target and target != imp.importer and imp.importer in MODULES:
            g[imp.importer].add(target)
            why.setdefault((imp.importer, target), imp)
    return g, why


def _cycle_through(g: dict[str, set[str]], start: str) -> list[str] | None:
    """The shortest import path from ``start`` back to itself (breadth first), or None."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for t in sorted(g[node]):
                if t == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1] + [start]
                if t not in came_from:
                    came_from[t] = node
                    nxt.append(t)
        frontier = nxt
    return None


def _cycles(wheres: tuple[str, ...]) -> list[str]:
    g, why = _graph(wheres)
    out, seen = [], set()
    for m in sorted(g):
        if m in seen:
            continue
        cycle = _cycle_through(g, m)
        if cycle:
            seen.update(cycle)
            out.append(" -> ".join(str(why[(a, b)]) for a, b in zip(cycle, cycle[1:])))
    return out


def test_the_import_graph_is_read_from_every_module():
    """A guard for the guards below: they mean something only if the collector sees the imports."""
    assert len(MODULES) > 100
    assert any(i.importer == "workbench.library" and i.imported == "workbench.catalog.store.Catalog"
               for i in IMPORTS)
    assert any(i.importer.startswith("notebooks/") for i in IMPORTS)
    assert any(i.where == "function" for i in IMPORTS) and any(i.where == "typing" for i in IMPORTS)


def test_rule_1_the_guard_finds_the_shortest_cycle():
    g = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"a"}}
    assert _cycle_through(g, "a") == ["a", "b", "a"]
    assert _cycle_through(g, "d") is None


def test_rule_1_no_import_cycles_among_module_level_imports():
    cycles = _cycles(("module",))
    assert not cycles, "rule 1 (no import cycles) broken by module-level imports:\n  " + "\n  ".join(cycles)


def test_rule_1_no_import_cycles_even_through_imports_inside_functions():
    cycles = _cycles(("module", "function"))
    assert not cycles, ("rule 1 (no import cycles) broken; a deferred import inside a function only hides a cycle: "
                        "move the shared name down a layer or pass it in:\n  " + "\n  ".join(cycles))


def test_rule_2_only_the_catalog_and_the_vector_index_import_lancedb():
    broken = [str(i) for i in IMPORTS
              if (i.imported == "lancedb" or i.imported.startswith("lancedb.")) and not _inside(i.importer,
                                                                                                  LANCEDB_LAYERS)]
    assert not broken, ("rule 2 (only workbench/catalog/ and the vector-index layer talk to LanceDB) broken: add a "
                        "Catalog method instead:\n  " + "\n  ".join(broken))


def _ui_violations() -> list[Import]:
    out = []
    for i in IMPORTS:
        if i.where == "typing" or not _inside(i.importer, UI) or not i.imported.startswith("workbench"):
            continue
        target = _module_of(i.imported) or i.imported
        if target in UI_MAY_IMPORT or _inside(target, UI):
            continue
        out.append(i)
    return out


def test_rule_3_the_ui_layer_goes_through_the_library():
    broken = [f"{i}: add a Library method (or a public name in workbench.errors / settings)"
              for i in _ui_violations() if (i.importer, _module_of(i.imported)) not in UI_EXCEPTIONS]
    assert not broken, ("rule 3 (the ui layer imports workbench only through workbench.library, errors, settings "
                        "and its own packages) broken:\n  " + "\n  ".join(broken))


def test_rule_3_every_listed_ui_exception_is_still_needed():
    used = {(i.importer, _module_of(i.imported)) for i in _ui_violations()}
    stale = [f"{a} -> {b}" for (a, b) in UI_EXCEPTIONS if (a, b) not in used]
    assert not stale, "these UI_EXCEPTIONS no longer happen; delete them from tests/test_layers.py:\n  " + \
        "\n  ".join(stale)


def test_rule_4_lower_layers_never_import_the_library_or_the_ui_at_module_level():
    broken = [str(i) for i in IMPORTS
              if i.where == "module" and i.importer in MODULES and not _inside(i.importer, UI)
              and i.importer not in ("workbench", "workbench.library", "workbench.__main__")
              and (_inside(i.imported, LOWER_MAY_NOT_IMPORT) or i.imported == "workbench.Library")]
    assert not broken, ("rule 4 (lower layers never import workbench.library, gallery, dashboards or cli at module "
                        "level; the library calls them, not the other way round) broken:\n  " + "\n  ".join(broken))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


BENCHMARKS = {f"benchmarks.{p.stem}": p for p in sorted((ROOT / "benchmarks").glob("*.py"))}


def _benchmark_imports() -> list[Import]:
    found = []
    for module, path in BENCHMARKS.items():
        c = _Collector(module, False)
        c.visit(ast.parse(path.read_text(), str(path)))
        found += c.found
    return found


def _private_reads(module: str, source: str, is_package: bool = False) -> list[str]:
    """``name._private`` where ``name`` is an imported workbench module other than ``module`` itself (``from
    workbench.semantic import vector_index`` ... ``vector_index._dim(t)``): an import of a private name by
    another route."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}    # local name -> the workbench module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("workbench"):
                    bound[a.asname or "workbench"] = a.name if a.asname else "workbench"
        elif isinstance(node, ast.ImportFrom):
            c = _Collector(module, is_package)
            c.visit_ImportFrom(node)
            for a, imp in zip(node.names, c.found):
                if imp.imported in MODULES:
                    bound[a.asname or a.name] = imp.imported
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            head, *rest = ast.unparse(node.value).split(".")
            target = ".".join([bound[head], *rest]) if head in bound else None
            if target in MODULES and target != module:
                out.append((node.lineno, f"{module}:{node.lineno} reads {target}.{node.attr}"))
    return [text for _, text in sorted(out)]


def test_rule_5_no_module_imports_another_modules_private_names():
    broken = [str(i) for i in IMPORTS + _benchmark_imports()
              if i.imported.startswith("workbench.") and _is_private(i.imported.rpartition(".")[2])
              and _module_of(i.imported) != i.importer and (i.importer, i.imported) not in PRIVATE_EXCEPTIONS]
    for module, (path, is_package) in sorted(MODULES.items()):
        broken += _private_reads(module, path.read_text(), is_package)
    for module, path in BENCHMARKS.items():
        broken += _private_reads(module, path.read_text())
    assert not broken, ("rule 5 (no module imports another module's _private names; give the name a public one "
                        "where it belongs) broken:\n  " + "\n  ".join(broken))


def test_rule_5_the_guard_sees_a_private_name_read_off_an_imported_module():
    source = ("from workbench.semantic import vector_index\nimport workbench.catalog.store as store\n"
              "import workbench.people.clustering\n"
              "vector_index._vector_dim(t)\nstore._x\nworkbench.people.clustering._y\nvector_index.public(t)\n"
              "self._z\n")
    assert _private_reads("workbench.semantic.filtered_exact", source) == [
        "workbench.semantic.filtered_exact:4 reads workbench.semantic.vector_index._vector_dim",
        "workbench.semantic.filtered_exact:5 reads workbench.catalog.store._x",
        "workbench.semantic.filtered_exact:6 reads workbench.people.clustering._y"]


LIBRARY_HOLDERS = {"lib", "library", "self.lib", "self.library", "self._lib", "self._library"}


def test_rule_5_no_code_outside_the_library_calls_its_private_methods():
    broken = []
    for module, (path, _) in MODULES.items():
        if module == "workbench.library":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and ast.unparse(node.value) in LIBRARY_HOLDERS):
                broken.append(f"{module}:{node.lineno} uses {ast.unparse(node)}")
    assert not broken, ("rule 5 (only library.py uses Library's private names; add a public method) broken:\n  "
                        + "\n  ".join(broken))


def _layer_of(module: str) -> int | None:
    """The index in LAYERS of a module's layer (longest matching prefix), or None if it is in none."""
    if module == "workbench":
        return 1                  # the package's __init__: Library, the front door
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if _inside(module, (p,)) and (best is None or len(p) > best[1]):
                best = (index, len(p))
    return best[0] if best else None


def _goes_up(i: Import) -> str | None:
    """Why an import breaks rule 6 (it reaches a layer above its module's), or None."""
    target = _module_of(i.imported) if i.imported.startswith("workbench") else None
    if i.where == "typing" or not target or target == i.importer:
        return None
    mine, theirs = _layer_of(i.importer), _layer_of(target)
    if mine is None or theirs is None or theirs >= mine:
        return None
    return f"{i}: {LAYERS[mine][0]} may not import {LAYERS[theirs][0]} ({target})"


def test_rule_6_every_module_sits_in_a_layer():
    unplaced = sorted(m for m in MODULES if _layer_of(m) is None)
    assert not unplaced, ("rule 6: these modules are in no layer; add their package to LAYERS in "
                          "tests/test_layers.py (and to docs/architecture.md):\n  " + "\n  ".join(unplaced))


def _upward_imports() -> list[tuple[Import, str]]:
    return [(i, why) for i in IMPORTS if (why := _goes_up(i))]


def test_rule_6_no_module_imports_a_layer_above_its_own():
    broken = [why for i, why in _upward_imports() if (i.importer, _module_of(i.imported)) not in LAYER_EXCEPTIONS]
    assert not broken, ("rule 6 (a module imports only its own layer and the layers below) broken: move the name "
                        "down to where both can reach it, or let the upper layer pass it in:\n  "
                        + "\n  ".join(broken))


def test_rule_6_every_listed_layer_exception_is_still_needed():
    used = {(i.importer, _module_of(i.imported)) for i, _ in _upward_imports()}
    stale = [f"{a} -> {b}" for (a, b) in LAYER_EXCEPTIONS if (a, b) not in used]
    assert not stale, "these LAYER_EXCEPTIONS no longer happen; delete them from tests/test_layers.py:\n  " + \
        "\n  ".join(stale)


def test_rule_6_the_guard_sees_an_import_that_goes_up():
    """Any level counts but annotations: a catalog module reaching a stage inside a function is still caught."""
    up = Import("workbench.catalog.trash", "workbench.stages.base.Stage", 3, "function")
    assert _goes_up(up) == ("workbench.catalog.trash:3 imports workbench.stages.base.Stage (function level): the "
                            "catalog, the storage and the vector index may not import the stages "
                            "(workbench.stages.base)")
    assert _goes_up(Import("workbench.stages.base", "workbench.catalog.store.Catalog", 1, "module")) is None
    assert _goes_up(Import("workbench.catalog.trash", "workbench.stages.base.Stage", 3, "typing")) is None
    assert _goes_up(Import("workbench.stages.faces", "workbench.people.assign.assign", 9, "function"))
    assert _layer_of("workbench.semantic.clip") > _layer_of("workbench.stages.embeddings") > \
        _layer_of("workbench.semantic.search") > _layer_of("workbench.library") > _layer_of("workbench.gallery.app")
