"""Words of the planner's workspace: the reason of a failing rule check in the planner's words (EN and ZH), built from
the rule catalogue (:meth:`simulator.config.rules.RuleSet.text`, carried in the compliance row) and the labels of
:data:`simulator.config.labels.APP`; no rule text is written here."""

from __future__ import annotations

from typing import Any

from ..config.labels import APP


def failure_reason(row: dict[str, Any]) -> tuple[str, str]:
    """(English, Chinese) reason of a compliance row that did not pass.

    Example: ``("rule 3 fails: At least one secondary … — needs >= 1, has 0", "rule 3 未通过：…——要求 >= 1，实际 0")``.
    A ``planned`` or ``no_data`` row is "not judged", with the same facts.
    """
    verdict = APP["fails"] if row["status"] == "failed" else APP["not_judged"]
    label = row.get("label") or row["rule_id"]
    en = (f"{label} {verdict.en}: {row['rule_en']} — {APP['needs'].en} {row['required']}, "
          f"{APP['has'].en} {row['actual']}")
    zh = (f"{label} {verdict.zh}：{row['rule_zh']}——{APP['needs'].zh} {row['required']}，"
          f"{APP['has'].zh} {row['actual']}")
    return en, zh
