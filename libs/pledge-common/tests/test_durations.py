from datetime import timedelta

import pytest
from pledge_common.durations import Duration, rfc3339_duration
from pydantic import BaseModel


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=2, seconds=50), "PT2H0M50S"),  # ISO writers commonly give PT2H50S: not RFC 3339
        (timedelta(hours=2, minutes=40), "PT2H40M"),
        (timedelta(hours=6, seconds=1), "PT6H0M1S"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(days=1, seconds=5), "P1DT5S"),
        (timedelta(days=3), "P3D"),
        (timedelta(minutes=1, milliseconds=500), "PT1M0.5S"),
        (timedelta(microseconds=1), "PT0.000001S"),
        (timedelta(0), "PT0S"),
        (timedelta(seconds=-90), "-PT1M30S"),
    ],
)
def test_durations_follow_the_rfc_3339_grammar(value: timedelta, text: str) -> None:
    assert rfc3339_duration(value) == text


def test_a_duration_field_answers_in_that_form_and_is_published_as_a_duration() -> None:
    class Answer(BaseModel):
        took: Duration | None

    assert Answer(took=timedelta(hours=2, seconds=50)).model_dump_json() == '{"took":"PT2H0M50S"}'
    assert Answer(took=timedelta(hours=2, seconds=50)).model_dump()["took"] == timedelta(hours=2, seconds=50)
    schema = Answer.model_json_schema(mode="serialization")["properties"]["took"]
    assert {"type": "string", "format": "duration"} in schema["anyOf"]


def test_counted_time_can_stay_in_hours_past_a_day() -> None:
    assert rfc3339_duration(timedelta(hours=25, minutes=1, seconds=1), days=False) == "PT25H1M1S"
    assert rfc3339_duration(timedelta(days=2), days=False) == "PT48H"
    assert rfc3339_duration(timedelta(hours=-26), days=False) == "-PT26H"
