"""A small TOML writer for the scenario files ``caregrid app`` saves (the standard library reads TOML only).

It writes what scenario files hold: text, numbers, booleans, lists of these or of inline tables, tables and arrays
of tables (``[[changes]]``). ``tests/app/test_toml.py`` reads every output back with :mod:`tomllib`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        # JSON string escapes are TOML basic-string escapes; control characters come out as \uXXXX
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(str(k))} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _table(lines: list[str], prefix: str, data: dict[str, Any], top: bool = False) -> None:
    plain = {k: v for k, v in data.items() if not isinstance(v, dict) and not (_is_table_array(v) and top)}
    for k, v in plain.items():
        if v is not None:
            lines.append(f"{_key(str(k))} = {_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            name = f"{prefix}.{_key(str(k))}" if prefix else _key(str(k))
            lines.extend(["", f"[{name}]"])
            _table(lines, name, v)
    if top:
        for k, v in data.items():
            if _is_table_array(v):
                for entry in v:
                    lines.extend(["", f"[[{_key(str(k))}]]"])
                    for kk, vv in entry.items():
                        if vv is not None:
                            lines.append(f"{_key(str(kk))} = {_value(vv)}")


def dumps_toml(data: dict[str, Any]) -> str:
    """``data`` as TOML text (``None`` values are left out; top-level lists of tables become ``[[…]]``)."""
    lines: list[str] = []
    _table(lines, "", data, top=True)
    return "\n".join(lines) + "\n"
