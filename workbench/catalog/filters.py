"""Typed filters for catalog reads and writes: values, not SQL strings, so no caller quotes or concatenates.

    catalog.read("media", ["id"], where=In("id", ids) & IsNull("deleted_at"))

Only the catalog renders a filter to Lance SQL (``to_sql``); quoting is ``sql.py``'s, an empty ``In`` selects
nothing, and ``repr`` reads like the call that built it. Importable without LanceDB (stage workers use it).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Union

from workbench.catalog.sql import sql_quote

Scalar = Union[str, int, float, bool, datetime, date]

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _column(name: str) -> str:
    """A column name as it goes into the SQL: refused unless it is a plain (dotted) identifier, so a filter's
    column can never carry SQL of its own."""
    if not isinstance(name, str) or not _COLUMN.fullmatch(name):
        raise ValueError(f"not a column name: {name!r} (letters, digits, '_' and '.' for a struct field)")
    return name


def literal(value: Scalar) -> str:
    """A Lance SQL literal: strings quoted (single quotes doubled), timestamps as ``TIMESTAMP '...'`` (an aware
    datetime in UTC, as ``UTC_TS`` columns hold it; a naive one as is, as ``taken_at`` is stored). A numpy
    scalar (a value read from a DataFrame) counts as the Python value it holds."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a filter value must be a finite number, not {value!r}")
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='microseconds')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return sql_quote(value)
    if value is None:
        raise ValueError("None is not a filter value: use IsNull(column) / NotNull(column)")
    raise TypeError(f"cannot filter on a {type(value).__name__} value ({value!r}): use str, int, float, bool, "
                    "datetime or date")


class Filter:
    """A condition on a table's rows. Combine with ``&``, ``|`` and ``~``; render with ``to_sql()`` (the catalog
    does; nothing else should need to)."""

    __slots__ = ()

    def to_sql(self) -> str:
        raise NotImplementedError

    def __and__(self, other: Filter) -> Filter:
        return And(self, other)

    def __or__(self, other: Filter) -> Filter:
        return Or(self, other)

    def __invert__(self) -> Filter:
        return Not(self)

    def __str__(self) -> str:
        return self.to_sql()


@dataclass(frozen=True, repr=False)
class _Compare(Filter):
    column: str
    value: Scalar
    _op = "="

    def __post_init__(self) -> None:
        _column(self.column)
        literal(self.value)   # refuse a bad value when the filter is built, not when it is first used

    def to_sql(self) -> str:
        return f"{self.column} {self._op} {literal(self.value)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.column!r}, {self.value!r})"


class Eq(_Compare):
    """``column = value``."""
    _op = "="


class Ne(_Compare):
    """``column != value`` (a null ``column`` matches neither ``Eq`` nor ``Ne``, as in SQL)."""
    _op = "!="


class Lt(_Compare):
    """``column < value``."""
    _op = "<"


class Le(_Compare):
    """``column <= value``."""
    _op = "<="


class Gt(_Compare):
    """``column > value``."""
    _op = ">"


class Ge(_Compare):
    """``column >= value``."""
    _op = ">="


class LowerEq(_Compare):
    """``lower(column) = value``: a case-insensitive match (pass ``value`` lower-cased: ``name.lower()``)."""
    _op = "="

    def to_sql(self) -> str:
        return f"lower({self.column}) = {literal(self.value)}"


@dataclass(frozen=True, repr=False, init=False)
class In(Filter):
    """``column IN (values)``; no values selects no rows (an empty IN list is a syntax error in Lance)."""
    column: str
    values: tuple[Scalar, ...]
    _negated = False

    def __init__(self, column: str, values: Iterable[Scalar]):
        object.__setattr__(self, "column", _column(column))
        vals = tuple(dict.fromkeys(values))   # a set's order varies between runs; keep the caller's, once each
        for v in vals:
            if type(v) is not str:            # ids, the usual values, need no check (5,000 of them in a search)
                literal(v)
        object.__setattr__(self, "values", vals)

    def to_sql(self) -> str:
        if not self.values:
            return "true" if self._negated else "false"
        vals = ", ".join("'" + v.replace("'", "''") + "'" if type(v) is str else literal(v) for v in self.values)
        return f"{self.column} {'NOT IN' if self._negated else 'IN'} ({vals})"

    def __repr__(self) -> str:
        shown = ", ".join(repr(v) for v in self.values[:5]) + (f", ... ({len(self.values)} in all)"
                                                              if len(self.values) > 5 else "")
        return f"{type(self).__name__}({self.column!r}, [{shown}])"


class NotIn(In):
    """``column NOT IN (values)``; no values selects every row (a null ``column`` matches neither, as in SQL)."""
    _negated = True


@dataclass(frozen=True, repr=False)
class IsNull(Filter):
    """``column IS NULL``."""
    column: str

    def __post_init__(self) -> None:
        _column(self.column)

    def to_sql(self) -> str:
        return f"{self.column} IS NULL"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.column!r})"


class NotNull(IsNull):
    """``column IS NOT NULL``."""

    def to_sql(self) -> str:
        return f"{self.column} IS NOT NULL"


@dataclass(frozen=True, repr=False)
class Range(Filter):
    """``lo <= column <= hi`` (``hi_inclusive=False``: ``column < hi``); a missing bound is open."""
    column: str
    lo: Scalar | None = None
    hi: Scalar | None = None
    hi_inclusive: bool = True

    def __post_init__(self) -> None:
        _column(self.column)
        for v in (self.lo, self.hi):
            if v is not None:
                literal(v)

    def to_sql(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(Ge(self.column, self.lo))
        if self.hi is not None:
            parts.append((Le if self.hi_inclusive else Lt)(self.column, self.hi))
        return And(*parts).to_sql()

    def __repr__(self) -> str:
        extra = "" if self.hi_inclusive else ", hi_inclusive=False"
        return f"Range({self.column!r}, lo={self.lo!r}, hi={self.hi!r}{extra})"


@dataclass(frozen=True, repr=False)
class Like(Filter):
    """``column LIKE pattern`` (``%`` any run, ``_`` one character); for a literal prefix use ``StartsWith``."""
    column: str
    pattern: str

    def __post_init__(self) -> None:
        _column(self.column)
        if not isinstance(self.pattern, str):
            raise TypeError(f"a LIKE pattern is a str, not {type(self.pattern).__name__}")

    def to_sql(self) -> str:
        return f"{self.column} LIKE {sql_quote(self.pattern)}"

    def __repr__(self) -> str:
        return f"Like({self.column!r}, {self.pattern!r})"


@dataclass(frozen=True, repr=False)
class StartsWith(Filter):
    """``column`` begins with ``prefix`` taken literally (its ``%`` and ``_`` are not wildcards)."""
    column: str
    prefix: str

    def __post_init__(self) -> None:
        _column(self.column)
        if not isinstance(self.prefix, str):
            raise TypeError(f"a prefix is a str, not {type(self.prefix).__name__}")

    def to_sql(self) -> str:
        if not any(c in self.prefix for c in "%_\\"):
            return f"{self.column} LIKE {sql_quote(self.prefix + '%')}"
        escaped = self.prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{self.column} LIKE {sql_quote(escaped + '%')} ESCAPE '\\'"

    def __repr__(self) -> str:
        return f"StartsWith({self.column!r}, {self.prefix!r})"


@dataclass(frozen=True, repr=False, init=False)
class And(Filter):
    """Every one of ``filters``; none at all selects every row."""
    filters: tuple[Filter, ...]
    _joiner = "AND"
    _empty = "true"

    def __init__(self, *filters: Filter):
        flat: list[Filter] = []
        for f in filters:
            if not isinstance(f, Filter):
                raise TypeError(f"{type(self).__name__} takes filters, not {type(f).__name__} ({f!r})")
            flat.extend(f.filters if type(f) is type(self) else (f,))
        object.__setattr__(self, "filters", tuple(flat))

    def to_sql(self) -> str:
        if not self.filters:
            return self._empty
        if len(self.filters) == 1:
            return self.filters[0].to_sql()
        # A comparison binds tighter than AND and OR, so only a compound part is bracketed: the usual filter
        # reads as it always did (``version = 'v' AND status = 'ok'``, the key of a search snapshot).
        return f" {self._joiner} ".join(f"({f.to_sql()})" if isinstance(f, (And, Range)) else f.to_sql()
                                        for f in self.filters)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(repr(f) for f in self.filters)})"


class Or(And):
    """Any one of ``filters``; none at all selects no row."""
    _joiner = "OR"
    _empty = "false"


@dataclass(frozen=True, repr=False)
class Not(Filter):
    """Rows ``filter`` does not select (rows where it is null, e.g. ``Eq`` on a null column, neither way)."""
    filter: Filter

    def __post_init__(self) -> None:
        if not isinstance(self.filter, Filter):
            raise TypeError(f"Not takes a filter, not {type(self.filter).__name__} ({self.filter!r})")

    def to_sql(self) -> str:
        return f"NOT ({self.filter.to_sql()})"

    def __repr__(self) -> str:
        return f"Not({self.filter!r})"


#: Every row (a filter for code that always passes one).
ALL = And()
#: No row.
NONE = Or()


def where(**equals: Scalar) -> Filter:
    """``column = value`` for each keyword, all of them: ``where(media_id=m, status="ok")``."""
    return And(*(Eq(c, v) for c, v in equals.items()))


def render(where: Filter | str | None) -> str | None:
    """The Lance SQL of ``where`` for the catalog's store (a plain string still passes, during the move to
    filters); ``None`` and ``ALL`` mean no filter."""
    if where is None or isinstance(where, str):
        return where or None
    if not isinstance(where, Filter):
        raise TypeError(f"where= takes a Filter (workbench.catalog.filters), not {type(where).__name__}")
    if where == ALL:
        return None
    return where.to_sql()
