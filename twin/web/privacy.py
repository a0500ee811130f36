"""Personal data in the registry (names, phone numbers, e-mail, ID numbers, faces of contacts and
owners) is masked for a principal without ``personal.read`` (等保二级: personal information
protection): a phone number keeps its first three and last four digits, other text its first
character.

>>> mask("13812345678"), mask("张伟"), mask("li.wei@example.com")
('138****5678', '张*', 'l*****************')
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

PERSONAL = "personal.read"
#: Property names that hold personal data, in English and Chinese.
_PERSONAL_KEY = re.compile(r"phone|mobile|\btel|e-?mail|contact|owner|person|id_?card|passport|face|"
                           r"电话|手机|联系|负责人|姓名|身份证|人脸|邮箱|住址", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s-]{7,}$")


def is_personal(key: str) -> bool:
    return bool(_PERSONAL_KEY.search(key))


def mask(value: Any) -> str:
    """A personal value with most of it starred."""
    text = str(value)
    if _PHONE.match(text):
        digits = re.sub(r"\D", "", text)
        return digits[:3] + "*" * max(len(digits) - 7, 0) + digits[-4:]
    return text[:1] + "*" * (len(text) - 1)


def masked_sets(properties: Mapping[str, Mapping[str, Any]], may: Callable[[str], bool]) -> dict[str, dict[str, Any]]:
    """Property sets with their personal values masked unless ``may(personal.read)``."""
    if may(PERSONAL):
        return {name: dict(values) for name, values in properties.items()}
    return {name: {key: mask(value) if is_personal(key) and value not in (None, "") else value
                   for key, value in values.items()} for name, values in properties.items()}
