"""The Accept negotiation and the CSV / XLSX writers of pledge_common.exports (pure: no database)."""

import csv
import io
import os

import openpyxl
import pytest
from pledge_common.exports import CSV, JSON, PDF, XLSX, NotAcceptable, csv_chunks, flatten, negotiate, xlsx_file

OFFERED = (JSON, CSV, XLSX)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("text/csv", CSV),
        ("text/csv; charset=utf-8", CSV),
        ("TEXT/CSV", CSV),
        ("text/*", CSV),
        ("application/*", JSON),
        ("text/csv;q=0.5, application/json;q=0.9", JSON),
        ("text/csv;q=0.9, application/json;q=0.5", CSV),
        ("text/csv, " + XLSX, CSV),  # a tie goes to the route's order
        ("*/*;q=0.1, " + XLSX, XLSX),
        ("text/html, */*;q=0.8", JSON),  # a browser's Accept
        ("text/*;q=0.9, text/csv;q=0, */*;q=0.1", JSON),  # the most specific range decides: text/csv refused
    ],
)
def test_the_client_preference_picks_an_offered_media_type(accept: str | None, chosen: str) -> None:
    assert negotiate(accept, OFFERED) == chosen


@pytest.mark.parametrize("accept", ["text/html", PDF, "text/csv;q=0", "image/*", "application/json;q=0, text/xml"])
def test_nothing_offered_is_acceptable_is_406_naming_the_header(accept: str) -> None:
    with pytest.raises(NotAcceptable) as refused:
        negotiate(accept, OFFERED)
    assert refused.value.status == 406
    assert refused.value.errors == [
        {"field": "header.Accept", "message": f"none of {', '.join(OFFERED)} is acceptable"}
    ]


def test_nested_objects_become_dotted_columns_and_lists_a_json_cell() -> None:
    row = flatten({"group": {"process": "修理", "node": None}, "counts": {"normal": 3}, "pauses": [{"r": "x"}]})
    assert row == {"group.process": "修理", "group.node": None, "counts.normal": 3, "pauses": '[{"r":"x"}]'}


async def test_csv_starts_with_a_bom_writes_a_header_and_keeps_chinese_text() -> None:
    rows = [{"name": "居民", "n": 1, "ok": True}, {"name": "=cmd()", "n": -2, "ok": None}]
    body = b"".join([chunk async for chunk in csv_chunks(["name", "n", "ok"], rows)]).decode("utf-8")
    assert body.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(body[1:]))) == [
        ["name", "n", "ok"],
        ["居民", "1", "true"],
        ["'=cmd()", "-2", ""],
    ]


async def test_xlsx_writes_numbers_as_numbers_and_formulas_as_text() -> None:
    path = await xlsx_file(["name", "n"], [{"name": "=1+1", "n": 2.5}, {"name": "居民", "n": 3}])
    try:
        sheet = openpyxl.load_workbook(path).worksheets[0]
        assert list(sheet.iter_rows(values_only=True)) == [("name", "n"), ("=1+1", 2.5), ("居民", 3)]
        assert sheet["A2"].data_type == "s"  # text, not a formula
    finally:
        os.unlink(path)
