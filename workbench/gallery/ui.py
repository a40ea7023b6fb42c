"""Small pieces every gallery page uses: escaped text, messages, cards, and human-readable values.

Everything a person typed or a file carried (names, album titles, places, cameras) reaches the page through
``esc``: the HTML widget sets innerHTML, so unescaped text would be markup.
"""
from __future__ import annotations

import html
import io
import math
from datetime import datetime
from typing import Any, Callable

import ipywidgets as W
import pandas as pd


def esc(value: Any) -> str:
    """Text safe inside HTML element content and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def person_label(row: dict) -> str:
    """A person's name, or "Unnamed" and the start of their id, so unnamed people can still be told apart."""
    name = row.get("name")
    return str(name) if isinstance(name, str) and name.strip() else f"Unnamed {str(row['person_id'])[:6]}"


def missing(value: Any) -> bool:
    """None, NaN, NaT or empty: nothing to show."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def human_size(n_bytes: Any) -> str:
    if missing(n_bytes):
        return ""
    n = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def human_duration(seconds: Any) -> str:
    if missing(seconds) or not seconds:
        return ""
    s = int(round(float(seconds)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def human_date(value: Any, with_time: bool = True) -> str:
    if missing(value):
        return ""
    ts = pd.Timestamp(value)
    return ts.strftime("%-d %b %Y, %H:%M" if with_time else "%-d %b %Y")


def month_label(value: Any) -> str:
    """Timeline heading of a capture date ("March 2024"), or "Date unknown"."""
    return "Date unknown" if missing(value) else pd.Timestamp(value).strftime("%B %Y")


def webp_bytes(image, quality: int = 82) -> bytes:
    """A PIL image as WebP bytes (face crops and other pictures made on the fly)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="WEBP", quality=quality)
    return buf.getvalue()


class Message(W.HTML):
    """One line of feedback in a page: info, ok or error; empty hides it."""

    def __init__(self):
        super().__init__("")

    def show(self, text: str, level: str = "info") -> None:
        self.value = f"<div class='wb-message {esc(level)}'>{esc(text)}</div>" if text else ""

    def info(self, text: str) -> None:
        self.show(text, "info")

    def ok(self, text: str) -> None:
        self.show(text, "ok")

    def error(self, text: str) -> None:
        self.show(text, "error")

    def clear(self) -> None:
        self.value = ""


def classes(widget: W.Widget, *names: str) -> W.Widget:
    """Add CSS classes to a widget and return it (for building trees in one expression); one update message
    for all of them."""
    new = [n for n in dict.fromkeys(names) if n not in widget._dom_classes]
    if new:
        widget._dom_classes = (*widget._dom_classes, *new)
    return widget


def button(description: str, on_click: Callable[[], None], *, css: tuple[str, ...] = (), style: str = "",
           tooltip: str = "", icon: str = "") -> W.Button:
    """A button whose callback takes no arguments."""
    b = W.Button(description=description, button_style=style, tooltip=tooltip, icon=icon)
    b.on_click(lambda _b: on_click())
    return classes(b, *css)


def card(picture: bytes | None, name: str, meta: str, on_open: Callable[[], None], *,
         tooltip: str = "") -> W.Box:
    """A picture card (person, place, album) that opens something when clicked."""
    pic: W.Widget = (W.Image(value=picture, format="webp") if picture else
                     W.HTML("<div class='wb-card-blank'></div>"))
    text = W.HTML(f"<div class='wb-card-text'><div class='wb-card-name'>{esc(name)}</div>"
                  f"<div class='wb-card-meta'>{esc(meta)}</div></div>")
    opener = button("", on_open, css=("wb-open",), tooltip=tooltip or name)
    return classes(W.Box([pic, text, opener]), "wb-card")


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def exposure(row: dict[str, Any]) -> str:
    """"1/250 s · f/2.8 · ISO 200 · 35 mm" from whatever the file recorded."""
    parts = []
    t = row.get("exposure_time_s")
    if not missing(t) and t:
        parts.append(f"1/{round(1 / t)} s" if t < 1 else f"{t:g} s")
    f = row.get("f_number")
    if not missing(f) and f:
        parts.append(f"f/{f:g}")
    iso = row.get("iso")
    if not missing(iso) and iso:
        parts.append(f"ISO {int(iso)}")
    fl = row.get("focal_length_mm")
    if not missing(fl) and fl:
        parts.append(f"{fl:g} mm")
    return " · ".join(parts)


def when(value: Any) -> str:
    """A timestamp as a short relative phrase for share expiry ("in 6 days", "expired")."""
    if missing(value):
        return "never expires"
    ts = pd.Timestamp(value)
    now = pd.Timestamp(datetime.now(ts.tz) if ts.tz is not None else datetime.now())
    days = (ts - now).total_seconds() / 86400
    if days < 0:
        return "expired"
    if days < 1:
        return f"expires in {max(1, math.ceil(days * 24))} h"
    return f"expires in {math.ceil(days)} days"
