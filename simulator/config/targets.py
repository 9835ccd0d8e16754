"""Planning targets as data (``simulator/config/targets/<id>.toml``); ``liaoning-2023`` is the default.

A targets file sits beside the rule set and holds the numbers the pilot plans ask for beyond grids and groups
(ambulances per 30,000 residents, AEDs per 10,000, the five centres 五大中心 …), one ``[[target]]`` table each, with
the source quoted word for word. The scenario's top-level key ``targets`` names it (a bundled id, or a TOML file
resolved against the scenario's folder), like ``rules``. The format is documented at the top of the bundled file and
in the README; :func:`load_targets` refuses an unknown key, a missing field or a value of the wrong kind, naming the
file and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError

#: how a target compares its quantity with its norm
COMPARISONS = ("at_least", "at_most", "between")
#: where a target can be judged
SCOPES = ("grid", "district", "city")
TARGET_REQUIRED = ("id", "text_en", "text_zh", "quantity", "comparison", "norm", "unit", "scopes", "source")
TARGET_OPTIONAL = ("norm_max", "per", "year", "note")
SOURCE_REQUIRED = ("quote", "document", "url")
SOURCE_OPTIONAL = ("accessed",)
DEFAULT_TARGETS = "liaoning-2023"
#: a rate quantity ``<count field>_per_<residents>`` (e.g. ``ambulances_per_30000``): the count per that many residents
RATE_QUANTITY = re.compile(r"^(?P<field>[a-z][a-z0-9_]*?)_per_(?P<per>[1-9][0-9]*)$")


def rate_quantity(quantity: str) -> tuple[str, int] | None:
    """``(count field, residents)`` of a rate quantity (``ambulances_per_30000`` → ``("ambulances", 30000)``), else
    ``None`` (a share or a ratio such as ``nurses_per_doctor``)."""
    m = RATE_QUANTITY.match(quantity)
    return (m["field"], int(m["per"])) if m else None


@dataclass(frozen=True)
class TargetSource:
    """Where a target's number comes from: the words quoted verbatim, the document and its URL (``""``: none yet)."""

    quote: str
    document: str
    url: str
    accessed: str = ""


@dataclass(frozen=True)
class Target:
    """One planning target.

    Parameters
    ----------
    id : unique id, e.g. ``"ems.ambulances"`` (``target_id`` of ``targets.csv``)
    text_en, text_zh : the target in English and Chinese
    quantity : the indicator it is judged on (e.g. ``ambulances_per_30000``)
    comparison : ``at_least`` (quantity ≥ norm), ``at_most`` (≤ norm) or ``between`` (norm ≤ quantity ≤ norm_max)
    norm : the number, counted in ``unit`` (per ``per`` residents when given)
    unit : what the norm counts, in words
    scopes : where it is judged, any of :data:`SCOPES`
    source : the quoted words, document and URL
    norm_max : upper end of a ``between`` target
    per : residents the norm is counted per (e.g. 30,000), ``None`` for shares and ratios
    year : the year the target is due, ``None`` when the words give none
    note : the project's reading where the words leave a choice
    """

    id: str
    text_en: str
    text_zh: str
    quantity: str
    comparison: str
    norm: float
    unit: str
    scopes: tuple[str, ...]
    source: TargetSource
    norm_max: float | None = None
    per: float | None = None
    year: int | None = None
    note: str = ""

    def passes(self, value: float) -> bool:
        """Whether ``value`` (in the target's unit) meets the target."""
        if self.comparison == "at_least":
            return value >= self.norm - 1e-9
        if self.comparison == "at_most":
            return value <= self.norm + 1e-9
        return self.norm - 1e-9 <= value <= float(self.norm_max) + 1e-9

    @property
    def target_text(self) -> str:
        """The norm in words, e.g. ``≥ 1 ambulances per 30,000 residents`` (``targets.csv`` column ``target``)."""
        if self.comparison == "between":
            return f"{self.norm:g}–{self.norm_max:g} {self.unit}"
        sign = "≥" if self.comparison == "at_least" else "≤"
        return f"{sign} {self.norm:g} {self.unit}"


@dataclass(frozen=True)
class TargetSet:
    """A targets file: its id, title, and targets in file order."""

    id: str
    title: str
    targets: tuple[Target, ...]
    source: str = ""

    def __iter__(self):
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    def for_quantity(self, quantity: str) -> Target | None:
        """The first target (file order) judged on ``quantity``, ``None`` when the file has none."""
        return next((t for t in self.targets if t.quantity == quantity), None)

    def rate_for(self, field: str) -> Target | None:
        """The first target (file order) judged on a rate of ``field`` (``<field>_per_<residents>``), else ``None``.

        The requirements (e.g. ambulances required = ⌈residents × norm / per⌉) are taken from this target, so a
        planner's targets file that changes the norm or its ``per`` changes every figure derived from it.
        """
        return next((t for t in self.targets if (rate_quantity(t.quantity) or ("",))[0] == field), None)

    def get(self, target_id: str) -> Target:
        """The target of ``target_id`` (``KeyError`` when the file has none)."""
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(target_id)


def available_target_sets() -> list[str]:
    """Ids of the bundled targets files."""
    folder = resources.files("simulator.config") / "targets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _text(source: str, where: str, key: str, v: Any, *, empty_ok: bool = False) -> str:
    if not isinstance(v, str) or (not empty_ok and not v.strip()):
        raise InputError(source, f"{where}.{key} = {v!r}; expected {'text' if empty_ok else 'a non-empty text'}",
                         field=f"{where}.{key}")
    return v.strip()


def _source(src: str, where: str, raw: Any) -> TargetSource:
    if not isinstance(raw, dict):
        raise InputError(src, f"{where}.source = {raw!r}; expected a table [target.source] with quote, document, url",
                         field=f"{where}.source")
    _keys(src, f"{where}.source", raw, SOURCE_REQUIRED, SOURCE_OPTIONAL)
    w = f"{where}.source"
    return TargetSource(
        quote=_text(src, w, "quote", raw["quote"]),
        document=_text(src, w, "document", raw["document"]),
        url=_text(src, w, "url", raw["url"], empty_ok=True),
        accessed=_text(src, w, "accessed", raw.get("accessed", ""), empty_ok=True),
    )


def _keys(src: str, where: str, raw: dict, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    allowed = required + optional
    for key in raw:
        if key not in allowed:
            raise InputError(src, f"unknown key '{key}' in {where}; allowed keys: {', '.join(allowed)}",
                             field=f"{where}.{key}")
    for key in required:
        if key not in raw:
            raise InputError(src, f"{where} lacks '{key}'; a target needs {', '.join(required)}",
                             field=f"{where}.{key}")


def _number(src: str, where: str, key: str, v: Any, *, positive: bool = False) -> float:
    if not _is_number(v) or v < 0 or (positive and v <= 0):
        expected = "a finite number > 0" if positive else "a finite number ≥ 0"
        raise InputError(src, f"{where}.{key} = {v!r}; expected {expected}", field=f"{where}.{key}")
    return float(v)


def _target(src: str, k: int, raw: Any) -> Target:
    """``[[target]]`` entry ``k`` (0-based), checked."""
    where = f"target[{k}]"
    if not isinstance(raw, dict):
        raise InputError(src, f"{where} = {raw!r}; expected a table [[target]]", field=where)
    if isinstance(raw.get("id"), str) and raw["id"].strip():
        where = f"target[{k}] ({raw['id'].strip()})"
    _keys(src, where, raw, TARGET_REQUIRED, TARGET_OPTIONAL)
    comparison = raw["comparison"]
    if comparison not in COMPARISONS:
        raise InputError(src, f"{where}.comparison = {comparison!r}; expected one of {', '.join(COMPARISONS)}",
                         field=f"{where}.comparison")
    scopes = raw["scopes"]
    distinct = isinstance(scopes, list) and len(set(map(str, scopes))) == len(scopes)
    if not (distinct and scopes and all(s in SCOPES for s in scopes)):
        raise InputError(src, f"{where}.scopes = {scopes!r}; expected a list of distinct values among "
                         + ", ".join(SCOPES), field=f"{where}.scopes")
    norm = _number(src, where, "norm", raw["norm"])
    norm_max = raw.get("norm_max")
    if comparison == "between":
        if norm_max is None:
            raise InputError(src, f"{where}: comparison 'between' needs norm_max", field=f"{where}.norm_max")
        norm_max = _number(src, where, "norm_max", norm_max)
        if norm_max < norm:
            raise InputError(src, f"{where}.norm_max = {norm_max:g} is below norm = {norm:g}",
                             field=f"{where}.norm_max")
    elif norm_max is not None:
        raise InputError(src, f"{where}.norm_max is only read with comparison = 'between'", field=f"{where}.norm_max")
    per = None if raw.get("per") is None else _number(src, where, "per", raw.get("per"), positive=True)
    rate = rate_quantity(str(raw["quantity"]))
    if rate and per is not None and per != rate[1]:
        raise InputError(src, f"{where}.per = {per:g} but quantity {raw['quantity']!r} counts per {rate[1]} residents; "
                         f"expected per = {rate[1]}, or quantity = '{rate[0]}_per_{per:g}'", field=f"{where}.per")
    if rate and per is None:
        per = float(rate[1])  # the quantity's own count of residents (``ambulances_per_30000``: per 30,000)
    year = raw.get("year")
    if year is not None and not (isinstance(year, int) and not isinstance(year, bool) and 1949 <= year <= 2100):
        raise InputError(src, f"{where}.year = {year!r}; expected a year such as 2025", field=f"{where}.year")
    return Target(
        id=_text(src, where, "id", raw["id"]),
        text_en=_text(src, where, "text_en", raw["text_en"]),
        text_zh=_text(src, where, "text_zh", raw["text_zh"]),
        quantity=_text(src, where, "quantity", raw["quantity"]),
        comparison=comparison,
        norm=norm,
        unit=_text(src, where, "unit", raw["unit"]),
        scopes=tuple(scopes),
        source=_source(src, where, raw["source"]),
        norm_max=norm_max,
        per=per,
        year=year,
        note=_text(src, where, "note", raw.get("note", ""), empty_ok=True),
    )


def parse_targets(raw: dict[str, Any], source: str) -> TargetSet:
    """Check a targets file's TOML tables (``source`` names the file in messages)."""
    for key in raw:
        if key not in ("id", "title", "target"):
            raise InputError(source, f"unknown key '{key}' at the top level; allowed keys: id, title, target",
                             field=key)
    tid = raw.get("id")
    if not isinstance(tid, str) or not tid.strip():
        raise InputError(source, f"id = {tid!r}; expected the targets file's id (text)", field="id")
    entries = raw.get("target")
    if not isinstance(entries, list) or not entries:
        raise InputError(source, "the targets file has no [[target]] tables", field="target")
    targets = [_target(source, k, e) for k, e in enumerate(entries)]
    seen: set[str] = set()
    for k, t in enumerate(targets):
        if t.id in seen:
            raise InputError(source, f"target[{k}]: id {t.id!r} is used twice; expected unique ids",
                             field=f"target[{k}].id")
        seen.add(t.id)
    title = raw.get("title", tid)
    return TargetSet(id=tid.strip(), title=str(title), targets=tuple(targets), source=source)


def load_targets(name_or_path: str = DEFAULT_TARGETS) -> TargetSet:
    """Load a bundled targets file by id (``liaoning-2023``) or a targets file by path.

    Raises
    ------
    InputError
        unknown id, missing file, not UTF-8 or not TOML, or a target with an unknown key, a missing field or a
        value of the wrong kind (the message names the file and the key, e.g. ``target[2] (ems.aeds).norm``)
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or "/" in name_or_path or "\\" in name_or_path:
        if not path.is_file():
            raise InputError(path, "targets file not found (targets = … in the scenario names it)", field="targets")
        try:
            text, source = path.read_text(encoding="utf-8-sig"), str(path)
        except UnicodeDecodeError as exc:
            raise InputError(path, "the targets file is not UTF-8 text; save it as UTF-8", field="targets") from exc
    else:
        res = resources.files("simulator.config") / "targets" / f"{name_or_path}.toml"
        if not res.is_file():
            raise InputError(None, f"unknown targets file {name_or_path!r}; available: "
                             + ", ".join(available_target_sets()), field="targets")
        text, source = res.read_text(encoding="utf-8"), f"targets/{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML: {exc}", field="targets") from None
    return parse_targets(raw, source)
