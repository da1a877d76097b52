"""The demo month is the same month whenever it is generated the same day: a later run resends the same
events, answers and complaints (plus what fell due since), so running `make demo` twice changes nothing."""

from datetime import UTC, datetime, timedelta

from pledge_dev.demo import generate
from pledge_dev.demo_voice import generate_voice

MORNING = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
LATER = MORNING + timedelta(hours=3)


def events_by_id(now: datetime) -> dict[str, dict[str, object]]:
    story = generate(now, 7, 3)
    return {e["event_id"]: e for e in story.events + story.late}


def test_a_later_run_the_same_day_sends_every_earlier_event_unchanged() -> None:
    earlier, later = events_by_id(MORNING), events_by_id(LATER)
    assert earlier.keys() <= later.keys()
    assert [i for i in earlier if earlier[i] != later[i]] == []
    assert len(later) > len(earlier)  # the work done in the three hours between


def test_a_later_run_the_same_day_files_the_same_complaints_answers_and_responses() -> None:
    stories = [(generate(now, 7, 3), now) for now in (MORNING, LATER)]
    earlier, later = (generate_voice(story, now, 7, 3, "20261203") for story, now in stories)
    received = {c.body["received_at"]: c.body for c in later.complaints}
    assert all(received.get(c.body["received_at"]) == c.body for c in earlier.complaints)
    answers = {(f.external_id, b["given_at"]): b for f, b in later.feedback}
    assert all(answers.get((f.external_id, b["given_at"])) == b for f, b in earlier.feedback)
    responses = {r["respondent_ref"]: r for r in later.responses}
    assert all(responses.get(r["respondent_ref"]) == r for r in earlier.responses)


def test_every_generated_complaint_step_is_in_the_past_and_in_order() -> None:
    story = generate(MORNING, 7, 3)
    voice = generate_voice(story, MORNING, 7, 3, "20261203")
    assert voice.complaints
    for complaint in voice.complaints:
        instants = [complaint.body["received_at"], *(step["at"] for _, step in complaint.steps)]
        parsed = [datetime.fromisoformat(i) for i in instants]
        assert parsed == sorted(parsed)
        assert parsed[-1] < MORNING
