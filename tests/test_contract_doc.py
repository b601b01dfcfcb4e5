"""CONTRACT.md must describe exactly what ingestion/contract.py enforces."""

import re
from pathlib import Path

from ingestion.contract import ENTITIES

DOC = (Path(__file__).resolve().parent.parent / "ingestion" / "CONTRACT.md").read_text("utf-8")


def section(qualified_name: str) -> str:
    start = DOC.index(f"## `{qualified_name}`")
    following = DOC.find("\n## ", start + 1)
    return DOC[start : following if following > 0 else None]


def test_every_entity_column_is_documented_with_type_requiredness_and_values():
    for entity in ENTITIES:
        text = section(entity.qualified_name)
        documented = {
            m.group(1): m.groups()[1:]
            for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \| (yes|no) \| ([^|]*) \|", text, re.M)
        }
        assert set(documented) == set(entity.column_names), entity.qualified_name
        for column in entity.columns:
            type_, required, allowed = (v.strip() for v in documented[column.name])
            assert type_ == column.type
            assert required == ("yes" if column.required else "no")
            assert allowed == (", ".join(column.allowed) if column.allowed else "")
        assert "**Key**: " + ", ".join(f"`{k}`" for k in entity.key) in text
