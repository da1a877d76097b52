import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pledge_common.durations import (
    ANSWER_PATTERN,
    Duration,
    DurationInDays,
    format_days,
    format_seconds,
    parse_duration,
    rfc3339_duration,
)
from pydantic import BaseModel, ValidationError

# RFC 3339, Appendix A, rule by rule:
#   dur-second = 1*DIGIT "S"                 dur-minute = 1*DIGIT "M" [dur-second]
#   dur-hour   = 1*DIGIT "H" [dur-minute]    dur-time   = "T" (dur-hour / dur-minute / dur-second)
#   dur-day    = 1*DIGIT "D"                 dur-week   = 1*DIGIT "W"
#   dur-month  = 1*DIGIT "M" [dur-day]       dur-year   = 1*DIGIT "Y" [dur-month]
#   dur-date   = (dur-day / dur-month / dur-year) [dur-time]
#   duration   = "P" (dur-date / dur-time / dur-week)
_SECOND = r"\d+S"
_MINUTE = rf"\d+M(?:{_SECOND})?"
_HOUR = rf"\d+H(?:{_MINUTE})?"
_TIME = rf"T(?:{_HOUR}|{_MINUTE}|{_SECOND})"
_DAY = r"\d+D"
_MONTH = rf"\d+M(?:{_DAY})?"
_YEAR = rf"\d+Y(?:{_MONTH})?"
_DATE = rf"(?:{_DAY}|{_MONTH}|{_YEAR})(?:{_TIME})?"
RFC_3339_DURATION = re.compile(rf"P(?:{_DATE}|{_TIME}|\d+W)")


def rfc3339(text: str) -> bool:
    return RFC_3339_DURATION.fullmatch(text) is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=2, seconds=50), "PT2H0M50S"),  # ISO writers commonly give PT2H50S: not RFC 3339
        (timedelta(hours=2, minutes=40), "PT2H40M"),
        (timedelta(hours=6, seconds=1), "PT6H0M1S"),
        (timedelta(hours=4), "PT4H"),
        (timedelta(days=1, hours=2), "PT26H"),  # elapsed time is in hours
        (timedelta(days=3), "PT72H"),
        (timedelta(minutes=1, milliseconds=500), "PT1M1S"),  # no fractions: rounded up
        (timedelta(microseconds=1), "PT1S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_durations_are_written_in_the_rfc_3339_grammar_in_hours(value: timedelta, text: str) -> None:
    assert rfc3339_duration(value) == text
    assert rfc3339(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [(timedelta(days=3), "P3D"), (timedelta(days=1, hours=2), "P1DT2H"), (timedelta(days=1, seconds=5), "P1DT5S")],
)
def test_a_value_in_days_is_written_with_days(value: timedelta, text: str) -> None:
    assert rfc3339_duration(value, days=True) == text
    assert format_days(3) == "P3D"


def test_a_negative_duration_is_not_written() -> None:
    with pytest.raises(ValueError, match="negative"):
        rfc3339_duration(timedelta(seconds=-90))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("PT2H50S", timedelta(hours=2, seconds=50)),  # lenient: units may be skipped
        ("PT2H0M50S", timedelta(hours=2, seconds=50)),
        ("pt90m", timedelta(minutes=90)),
        ("P3D", timedelta(days=3)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("P2W", timedelta(weeks=2)),
        ("PT1.5S", timedelta(seconds=1, milliseconds=500)),
        ("PT0S", timedelta(0)),
        (" PT4H ", timedelta(hours=4)),
    ],
)
def test_any_iso_8601_duration_of_fixed_units_is_read(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize("text", ["", "P", "PT", "P1M", "P1Y", "-PT1H", "4 hours", "PT1H2", "P1DT", "PT1.1234567S"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)), st.booleans())
def test_everything_written_matches_the_grammar_and_reads_back_equal(value: timedelta, days: bool) -> None:
    text = rfc3339_duration(value, days=days)
    assert rfc3339(text), text
    assert re.fullmatch(ANSWER_PATTERN, text), text
    whole = timedelta(seconds=-(-(value // timedelta(microseconds=1)) // 1_000_000))
    assert parse_duration(text) == whole


@given(st.integers(min_value=0, max_value=10**9))
def test_whole_seconds_round_trip_exactly(seconds: int) -> None:
    assert parse_duration(format_seconds(seconds)) == timedelta(seconds=seconds)


def test_a_duration_field_reads_iso_and_answers_rfc_3339_and_is_published_as_a_duration() -> None:
    class Answer(BaseModel):
        took: Duration | None
        limit: DurationInDays | None = None

    answer = Answer.model_validate({"took": "PT2H50S", "limit": "P3D"})
    assert answer.took == timedelta(hours=2, seconds=50)
    assert answer.model_dump_json() == '{"took":"PT2H0M50S","limit":"P3D"}'
    assert Answer(took=timedelta(days=1, hours=2)).model_dump_json() == '{"took":"PT26H","limit":null}'
    for mode in ("validation", "serialization"):
        schema = Answer.model_json_schema(mode=mode)["properties"]["took"]  # type: ignore[arg-type]
        assert {"type": "string", "format": "duration", "examples": ["PT4H", "PT2H0M50S"]} in schema["anyOf"]


def test_a_duration_field_refuses_what_is_not_a_duration() -> None:
    class Body(BaseModel):
        took: Duration

    with pytest.raises(ValidationError, match="ISO 8601"):
        Body.model_validate({"took": "P1M"})
