"""Progress bars for long work: shown on a terminal, silent in pipes, notebooks get tqdm's widget."""
from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm


def auto_enabled() -> bool:
    """Show progress when a person is watching: a TTY on stderr, or a Jupyter kernel."""
    if "ipykernel" in sys.modules:
        return True
    return sys.stderr.isatty()


def bar(total: int | None, desc: str, enabled: bool | None = None, unit: str = "file") -> Any:
    return tqdm(total=total, desc=desc, unit=unit, disable=not (auto_enabled() if enabled is None else enabled),
                file=sys.stderr, dynamic_ncols=True, leave=True)
