"""Host rules of the shared centres 资源共享中心 (``simulator/config/centres/<id>.toml``), as data.

Each ``[[centre]]`` entry says which facilities may host one centre kind (levels and kinds), which capability column
of the facility table overrides that per facility (``flag``), which capacity columns weigh the members' samples or
patients (``volume``), the groups it applies to (``needs_group_kinds``) and the rule's ``source``. See the file for
the meaning of each key; :mod:`simulator.plan.shared_centres` chooses the hosts.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import InputError
from . import vocabulary

#: keys of one ``[[centre]]`` entry
CENTRE_KEYS = ("kind", "name_en", "name_zh", "flag", "levels", "kinds", "volume", "needs_group_kinds", "source")
#: capacity columns a centre's volume may sum
VOLUME_COLUMNS = ("beds", "outpatient_daily")


@dataclass(frozen=True)
class CentreRule:
    """Who may host one kind of shared centre.

    Parameters
    ----------
    kind : centre id (``lab``, ``imaging``, …)
    name_en, name_zh : display name
    flag : capability column of the facility table (``hosts_lab``); true/false there wins over the rule
    levels, kinds : facility levels and kinds that may host
    volume : capacity columns (beds, outpatient_daily) summed as each member's daily volume (samples or patients)
    needs_group_kinds : the centre applies to a group only if it holds a facility of one of these kinds (empty: all)
    source : where the rule comes from ("project choice: …" when no document names it)
    """

    kind: str
    name_en: str
    name_zh: str
    flag: str
    levels: tuple[str, ...]
    kinds: tuple[str, ...]
    volume: tuple[str, ...]
    needs_group_kinds: tuple[str, ...]
    source: str

    @property
    def label(self) -> str:
        """"English 中文"."""
        return f"{self.name_en} {self.name_zh}"


def _entry(path: Path | str, k: int, raw: dict) -> CentreRule:
    where = f"[[centre]] entry {k + 1}"
    missing = [key for key in CENTRE_KEYS if key not in raw]
    if missing:
        raise InputError(path, f"{where} lacks key(s) {', '.join(missing)}; expected {', '.join(CENTRE_KEYS)}",
                         field=missing[0])
    unknown = [key for key in raw if key not in CENTRE_KEYS]
    if unknown:
        raise InputError(path, f"{where} has unknown key(s) {', '.join(unknown)}; allowed {', '.join(CENTRE_KEYS)}",
                         field=unknown[0])
    for key, allowed in (("levels", vocabulary.LEVELS), ("kinds", vocabulary.KINDS),
                         ("needs_group_kinds", vocabulary.KINDS), ("volume", VOLUME_COLUMNS)):
        values = raw[key]
        if not isinstance(values, list) or any(v not in allowed for v in values):
            raise InputError(path, f"{where} ({raw['kind']}): {key} = {values!r}; expected a list of "
                             f"{', '.join(allowed)}", field=key)
    for key in ("kind", "name_en", "name_zh", "flag", "source"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise InputError(path, f"{where}: {key} must be non-empty text", field=key)
    if not raw["volume"]:
        raise InputError(path, f"{where} ({raw['kind']}): volume names no capacity column", field="volume")
    return CentreRule(raw["kind"], raw["name_en"], raw["name_zh"], raw["flag"], tuple(raw["levels"]),
                      tuple(raw["kinds"]), tuple(raw["volume"]), tuple(raw["needs_group_kinds"]), raw["source"])


def _read(name_or_path: str | Path) -> tuple[Path | str, dict]:
    """``(source, TOML tables)`` of a centres file: a name of ``config/centres/`` or a ``.toml`` path."""
    p = Path(str(name_or_path))
    if p.suffix == ".toml":
        source: Path | str = p
        if not p.is_file():
            raise InputError(p, "centre host rules file not found (plan.centre_rules)", field="plan.centre_rules")
        text = p.read_text(encoding="utf-8")
    else:
        res = resources.files("simulator.config") / "centres" / f"{name_or_path}.toml"
        source = f"simulator/config/centres/{name_or_path}.toml"
        if not res.is_file():
            shipped = sorted(f.name[:-5] for f in (resources.files("simulator.config") / "centres").iterdir()
                             if f.name.endswith(".toml"))
            raise InputError(source, f"unknown centre host rules {name_or_path!r} (plan.centre_rules); shipped: "
                             f"{', '.join(shipped)}", field="plan.centre_rules")
        text = res.read_text(encoding="utf-8")
    try:
        return source, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML: {exc}") from None


def load_centre_rules(name_or_path: str | Path = "liaoning-2023") -> tuple[CentreRule, ...]:
    """The host rules of a province (a name of ``config/centres/``) or a TOML file.

    Raises
    ------
    InputError
        unknown name, unreadable TOML, a missing or unknown key, a level/kind/volume outside the vocabulary, or a
        centre kind or flag defined twice
    """
    source, raw = _read(name_or_path)
    entries = raw.get("centre")
    if not isinstance(entries, list) or not entries:
        raise InputError(source, "no [[centre]] entries", field="centre")
    rules = tuple(_entry(source, k, e) for k, e in enumerate(entries))
    for key in ("kind", "flag"):
        seen = [getattr(r, key) for r in rules]
        dup = sorted({v for v in seen if seen.count(v) > 1})
        if dup:
            raise InputError(source, f"centre {key} {dup[0]!r} is defined twice", field=key)
    return rules


#: keys of one ``[[service_line]]`` entry
SERVICE_LINE_KEYS = ("id", "name_en", "name_zh", "kinds", "continuing_care", "source")


@dataclass(frozen=True)
class ServiceLine:
    """A service line a group should offer, and the facility kinds that offer it.

    Parameters
    ----------
    id : line id (``prevention``, ``rehab``, …)
    name_en, name_zh : display name
    kinds : facility kinds offering the line
    continuing_care : a facility the planner flags ``continuing_care`` offers it too
    source : where the mapping comes from
    """

    id: str
    name_en: str
    name_zh: str
    kinds: tuple[str, ...]
    continuing_care: bool
    source: str

    @property
    def label(self) -> str:
        """"English 中文"."""
        return f"{self.name_en} {self.name_zh}"


def load_service_lines(name_or_path: str | Path = "liaoning-2023") -> tuple[ServiceLine, ...]:
    """The ``[[service_line]]`` entries of a centres file (see :func:`load_centre_rules` for the name)."""
    source, table = _read(name_or_path)
    raw = table.get("service_line", [])
    out = []
    for k, e in enumerate(raw):
        missing = [key for key in SERVICE_LINE_KEYS if key not in e]
        if missing:
            raise InputError(source, f"[[service_line]] entry {k + 1} lacks key(s) {', '.join(missing)}",
                             field=missing[0])
        if not isinstance(e["kinds"], list) or any(v not in vocabulary.KINDS for v in e["kinds"]):
            raise InputError(source, f"[[service_line]] {e['id']}: kinds = {e['kinds']!r}; expected a list of "
                             f"{', '.join(vocabulary.KINDS)}", field="kinds")
        out.append(ServiceLine(e["id"], e["name_en"], e["name_zh"], tuple(e["kinds"]), bool(e["continuing_care"]),
                               e["source"]))
    return tuple(out)


def centre_rules_name(scenario) -> str:
    """The scenario's ``plan.centre_rules``: a name of ``config/centres/``, or a TOML path resolved against the
    scenario's folder."""
    name = str(getattr(scenario.plan, "centre_rules", "liaoning-2023"))
    if name.endswith(".toml") and getattr(scenario, "path", None) is not None:
        return str(Path(scenario.path).parent / name)
    return name
