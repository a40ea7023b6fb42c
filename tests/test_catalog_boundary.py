"""The catalog boundary: only ``workbench/catalog/`` (and the vector index, a layer of its own with the same rule)
talks to LanceDB and writes Lance SQL. Everything else says which rows it wants with filter values
(``workbench.catalog.filters``: ``Eq``, ``In``, ``IsNull``, ...), so no caller quotes, concatenates or injects.

The test reads every module under ``workbench/`` with ``ast`` and fails, naming the file, line and rule, when a
module outside those layers
1. imports ``lancedb``, ``workbench.catalog.sql`` or its ``sql_in`` / ``sql_quote``, or the filters' ``render``;
2. writes a string (a literal or an f-string; docstrings and multi-line text such as the gallery's JavaScript
   aside) shaped like a Lance filter: ``col = '...'``, ``col = {value}``, ``col IN (``, ``IS NULL``,
   ``AND col =``, ``LIKE '``, ``TIMESTAMP '``, or a fragment ending in ``col =``;
3. uses a LanceDB table handle itself: ``catalog.table(name).<anything>``, or calls ``count_rows``,
   ``list_indices``, ``merge_insert``, ``create_index`` or ``optimize`` (the catalog has ``count``,
   ``version``, ``schema``, ``text_search``, ``ensure_text_index``, ``compact``). Handing ``catalog.table(name)``
   to the vector index is allowed: that is the index layer's input.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workbench"

CATALOG = "workbench/catalog/"
#: The vector index: a layer of its own (``tests/test_layers.py``: "catalog and storage"), with the catalog's rule.
INDEX_LAYER = {"workbench/semantic/vector_index.py", "workbench/semantic/filtered_exact.py"}

_PLACEHOLDER = "\x00"   # what an f-string's ``{value}`` reads as below
_COL = r"(?<![\w.])[a-z_][a-z0-9_]*"
SQL_SHAPE = re.compile("|".join([
    r" (NOT )?IN \(",
    r"\bIS (NOT )?NULL\b",
    r" LIKE '",
    r"\bTIMESTAMP '",
    _COL + r" (=|!=|<>|<|<=|>|>=) ('|" + _PLACEHOLDER + r"|\d|true\b|false\b)",
    r"\b(AND|OR|NOT) " + _COL + r" (=|!=|<|>|IS|IN|LIKE)\b",
    _COL + r" (=|!=|<>|<|<=|>|>=) ?$",
]))
FORBIDDEN_NAMES = {"sql_in", "sql_quote", "render"}
LANCE_METHODS = {"count_rows", "list_indices", "merge_insert", "create_index", "optimize"}


def _rel(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


def _inside(rel: str) -> bool:
    return rel.startswith(CATALOG) or rel in INDEX_LAYER


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body \
                and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant):
            out.add(id(n.body[0].value))
    return out


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else _PLACEHOLDER for v in node.values)
    return None


def problems(path: Path, root: Path = ROOT) -> list[str]:
    """Every way ``path`` crosses the catalog boundary, as ``file:line: what``."""
    rel = _rel(path, root)
    tree = ast.parse(path.read_text(), filename=rel)
    docs = _docstrings(tree)
    inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for n in ast.walk(tree):
        where = f"{rel}:{getattr(n, 'lineno', '?')}"
        if isinstance(n, ast.Import):
            out += [f"{where}: imports {a.name}" for a in n.names if a.name.split(".")[0] == "lancedb"]
        elif isinstance(n, ast.ImportFrom):
            mod = n.module or ""
            if mod.split(".")[0] == "lancedb" or mod == "workbench.catalog.sql":
                out.append(f"{where}: imports {mod}")
            out += [f"{where}: imports {a.name} (filters are values: workbench.catalog.filters)"
                    for a in n.names if a.name in FORBIDDEN_NAMES]
        elif isinstance(n, ast.Attribute):
            v = n.value
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "table":
                out.append(f"{where}: uses a LanceDB table handle (.table(...).{n.attr})")
            elif n.attr in LANCE_METHODS:
                out.append(f"{where}: calls LanceDB's {n.attr}")
        elif id(n) not in docs and id(n) not in inner:
            t = _text(n)
            if t and "\n" not in t and SQL_SHAPE.search(t):
                out.append(f"{where}: builds a filter string {t.replace(_PLACEHOLDER, '{}')!r}")
    return out


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if not _inside(_rel(p)))


def test_nothing_outside_the_catalog_and_the_index_talks_lance_sql_or_lancedb():
    found = [p for path in _modules() for p in problems(path)]
    assert not found, ("Build filters with workbench.catalog.filters (Eq, In, IsNull, where(...)) and reach "
                       "LanceDB through the Catalog:\n  " + "\n  ".join(found))


def test_the_check_sees_the_shapes_it_forbids(tmp_path):
    """The rule itself can fail: each shape below is caught, and a filter value is not."""
    bad = tmp_path / "workbench" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(
        "import lancedb\n"
        "from workbench.catalog.store import sql_in\n"
        "def f(catalog, mid, ids, v):\n"
        "    catalog.read('media', None, f\"id = {mid}\")\n"
        "    catalog.read('media', None, \"deleted_at IS NULL\")\n"
        "    catalog.count('media', \"kind = 'image'\")\n"
        "    catalog.delete('media', 'media_id IN (' + ids + ')')\n"
        "    catalog.read('x', None, 'version = ' + v)\n"
        "    return catalog.table('media').version, catalog.table('media')\n"
        "def g(tbl):\n"
        "    return tbl.count_rows()\n")
    found = problems(bad, tmp_path)
    kinds = [f.split(": ", 1)[1].split(" ")[0:2] for f in found]
    assert len(found) == 9, found
    assert ["imports", "lancedb"] in kinds and ["imports", "sql_in"] in kinds
    assert sum(k == ["builds", "a"] for k in kinds) == 5
    assert ["uses", "a"] in kinds and ["calls", "LanceDB's"] in kinds
    good = tmp_path / "workbench" / "good.py"
    good.write_text(
        "from workbench.catalog.filters import Eq, In, IsNull\n"
        "def f(catalog, mid, ids, vector_search):\n"
        "    '''Reads where id = 'x' (a docstring may say so).'''\n"
        "    raise ValueError(f\"kind must be 'image' or 'video', not {mid!r}\")\n"
        "    catalog.read('media', None, Eq('id', mid) & IsNull('deleted_at') & In('id', ids))\n"
        "    return vector_search(catalog.table('emb'), None, 10), catalog.version('media')\n")
    assert problems(good, tmp_path) == []
