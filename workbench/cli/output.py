"""How the CLI prints: JSON Lines for scripts (and nothing else), tables for people."""
from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# The keys of ``ls --json``, in order; a stable contract for scripts.
LS_COLUMNS = ["id", "path", "sha256", "kind", "mime", "width", "height", "duration_s", "taken_at",
              "camera_make", "camera_model", "orientation", "gps_lat", "gps_lon", "place", "size_bytes"]

console = Console()
err_console = Console(stderr=True)


def _default(o: Any) -> Any:
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _clean(o: Any) -> Any:
    if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    try:
        import pandas as pd
        if o is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return o


def emit_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(_clean(obj), default=_default, ensure_ascii=False) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    console.print(t)


def iso_taken_at(ts: Any, offset_min: Any) -> str | None:
    """ISO 8601 local time, with its UTC offset when known."""
    import pandas as pd
    if ts is None or pd.isna(ts):
        return None
    ts = pd.Timestamp(ts).to_pydatetime()
    if offset_min is not None and not pd.isna(offset_min):
        ts = ts.replace(tzinfo=timezone(timedelta(minutes=int(offset_min))))
    return ts.isoformat()


def ls_record(row: dict[str, Any]) -> dict[str, Any]:
    """One ``ls --json`` row: exactly ``LS_COLUMNS``, JSON-ready, null where unknown."""
    import pandas as pd
    out: dict[str, Any] = {}
    for c in LS_COLUMNS:
        v = row.get(c)
        if c == "taken_at":
            v = iso_taken_at(v, row.get("taken_at_offset_min"))
        elif v is not None and not isinstance(v, str) and pd.isna(v):
            v = None
        elif hasattr(v, "item"):
            v = v.item()
        out[c] = v
    return out
