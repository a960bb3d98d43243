"""A payload and a ``format=columns`` row become the same mirror row, whatever columns a page
sends, in whatever order: for every declared kind, on random payloads, both converters give
what each field's declaration says (a missing field NULL, a JSON field JSON text, an absent
or null one its empty value); a row that does not fit its columns fails the page."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import entities, mirror

KINDS = sorted(entities.SPECS, key=lambda e: e.value)
SCALARS = st.one_of(st.none(), st.text(max_size=8), st.integers(), st.booleans())
JSON_VALUES = st.one_of(st.none(), st.lists(st.text(max_size=4), max_size=3),
                        st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2))


def expected(spec: entities.EntitySpec, data: dict[str, Any]) -> tuple[Any, ...]:
    out = []
    for column in spec.columns:
        value = data.get(column)
        if column in spec.json_empty:
            value = orjson.dumps(spec.json_empty[column] if value is None else value).decode()
        out.append(value)
    return tuple(out)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[entities.EntitySpec, dict[str, Any], tuple[str, ...]]:
    """A kind, a payload of some of its fields plus unknown ones, and a page's column order
    (the payload's keys, shuffled)."""
    spec = entities.SPECS[draw(st.sampled_from(KINDS))]
    data = {column: draw(JSON_VALUES if column in spec.json_empty else SCALARS)
            for column in spec.columns if draw(st.booleans())}
    data.update(draw(st.dictionaries(st.sampled_from(["motto", "shape"]), SCALARS)))
    return spec, data, tuple(draw(st.permutations(list(data))))


@settings(deadline=None, database=None)  # a shared machine: no timing in a behaviour test
@given(payloads())
def test_a_payload_and_its_row_convert_as_declared(
        case: tuple[entities.EntitySpec, dict[str, Any], tuple[str, ...]]) -> None:
    spec, data, columns = case
    assert spec.to_values(data) == expected(spec, data)
    convert = entities.row_converter(spec.entity, columns)
    assert convert([data[c] for c in columns]) == expected(spec, data)


@pytest.mark.parametrize("columns", [
    ["id", "name"],  # every column of the table
    ["id"],  # a page lacking one
], ids=["all-columns", "lacking-a-column"])
def test_a_row_shorter_than_its_columns_fails_the_page(columns: list[str]) -> None:
    raw = orjson.dumps({"groups": [{"entity": "team", "columns": [*columns, "motto"],
                                    "rows": [["t1"]]}],
                        "next_page_token": None, "cursor": 1})
    with pytest.raises(mirror.PageError):
        mirror.parse_bootstrap_page(raw)
