"""Facility vocabulary: allowed ``level``, ``kind`` and ``ownership`` values, with the Chinese terms planners write.

A facility file may use either the English value or a Chinese term (等级 三级/二级…, 类别 综合/中医…, 隶属 市属/区属…);
both are read as the English value, which is what every later stage uses. A grade such as 三级甲等 in the ``level``
column sets both the level (tertiary) and, when the ``grade`` column is blank, the grade.
"""

from __future__ import annotations

#: value → Chinese term (shown in README tables, legends, messages)
LEVELS: dict[str, str] = {
    "tertiary": "三级",
    "secondary": "二级",
    "primary": "一级",
    "unrated": "未定级",
}
KINDS: dict[str, str] = {
    "general": "综合",
    "tcm": "中医",
    "integrated": "中西医结合",
    "maternal_child": "妇幼保健",
    "specialty": "专科",
    "rehab": "康复",
    "nursing": "护理",
    "hospice": "安宁疗护",
    "public_health": "疾控",
    "community_health_centre": "社区卫生服务中心",
    "township_hospital": "乡镇卫生院",
}
OWNERSHIPS: dict[str, str] = {
    "provincial": "省属",
    "city": "市属",
    "district": "区属",
    "county": "县属",
    "enterprise": "企业",
    "private": "民营",
    "military": "部队",
}

#: further Chinese spellings planners use, beyond the terms above
_MORE_LEVELS = {"三甲": "tertiary", "三乙": "tertiary", "二甲": "secondary", "二乙": "secondary", "未评级": "unrated"}
_MORE_KINDS = {
    "综合医院": "general",
    "中医医院": "tcm",
    "中医院": "tcm",
    "中西医结合医院": "integrated",
    "妇幼保健院": "maternal_child",
    "妇幼保健机构": "maternal_child",
    "专科医院": "specialty",
    "康复医院": "rehab",
    "护理院": "nursing",
    "护理中心": "nursing",
    "安宁疗护中心": "hospice",
    "安宁疗护机构": "hospice",
    "临终关怀医院": "hospice",
    "疾病预防控制中心": "public_health",
    "疾控中心": "public_health",
    "公共卫生": "public_health",
    "专业公共卫生机构": "public_health",
    "社区卫生服务站": "community_health_centre",
}
_MORE_OWNERSHIPS = {"省级": "provincial", "市级": "city", "区级": "district", "县级": "county", "私立": "private"}

GRADE_SUFFIXES = ("甲等", "乙等", "丙等", "特等", "合格")


def _synonyms(values: dict[str, str], more: dict[str, str]) -> dict[str, str]:
    table = {v: v for v in values}
    table.update({zh: v for v, zh in values.items()})
    table.update(more)
    return table


LEVEL_SYNONYMS = _synonyms(LEVELS, _MORE_LEVELS)
KIND_SYNONYMS = _synonyms(KINDS, _MORE_KINDS)
OWNERSHIP_SYNONYMS = _synonyms(OWNERSHIPS, _MORE_OWNERSHIPS)


def level_of_grade(text: object) -> str | None:
    """The level a grade names (``三级甲等`` → ``tertiary``), or ``None`` when ``text`` is not a grade."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    for suffix in GRADE_SUFFIXES:
        if text.endswith(suffix) and text[: -len(suffix)] in LEVEL_SYNONYMS:
            return LEVEL_SYNONYMS[text[: -len(suffix)]]
    return None


def allowed_text(values: dict[str, str]) -> str:
    """``tertiary (三级), secondary (二级), …`` for messages."""
    return ", ".join(f"{v} ({zh})" for v, zh in values.items())
