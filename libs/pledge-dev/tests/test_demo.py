"""The demo month is the same month whenever it is generated the same day: a later run resends the same
events, answers and complaints (plus what fell due since), so running `make demo` twice changes nothing."""

from datetime import UTC, datetime, timedelta

from pledge_dev.demo import SETTLED_AGREEMENT, generate, last_complete_month, settlement_lines
from pledge_dev.demo_org import AGREEMENTS, COMMITMENTS, SHANGHAI, _outdated
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


# --- the agreement settled per month -------------------------------------------------------------------


def test_the_demo_settles_the_last_month_ended_on_the_shanghai_calendar() -> None:
    # 1 December 07:59 Shanghai: November has ended there; 30 November 23:59 Shanghai: it has not
    assert last_complete_month(datetime(2026, 11, 30, 23, 59, tzinfo=UTC), SHANGHAI) == "2026-11"
    assert last_complete_month(datetime(2026, 11, 30, 15, 59, tzinfo=UTC), SHANGHAI) == "2026-10"
    assert last_complete_month(datetime(2027, 1, 3, 2, 0, tzinfo=UTC), SHANGHAI) == "2026-12"


def test_the_settled_agreement_is_billed_monthly_and_covers_fault_repair_end_to_end_and_its_nodes() -> None:
    spec = next(a for a in AGREEMENTS if a["key"] == SETTLED_AGREEMENT)
    assert spec["billing"]["period"] == "month"
    assert spec["billing"]["timezone"] == "Asia/Shanghai"
    assert {"currency", "base_fee", "cap"} <= spec["billing"].keys()
    covered = {c["commitment_key"] for c in spec["covers"]}
    end_to_end = {c["key"] for c in COMMITMENTS if c["node_key"] is None}
    assert "fr-e2e" in covered
    assert covered - end_to_end
    assert {p["kind"] for p in spec["penalties"]} == {"per_warning_run", "under_target"}


def test_a_signed_version_loaded_before_the_billing_terms_is_replaced_and_a_current_one_is_kept() -> None:
    spec = next(a for a in AGREEMENTS if a["key"] == SETTLED_AGREEMENT)
    old = {"covers": [c for c in spec["covers"] if c["commitment_key"] != "fr-e2e"], "billing": {"period": "month"}}
    unpriced = {"covers": spec["covers"], "billing": {"period": "month", "timezone": "UTC"}}
    # as commitment-svc answers it: every billing field, money as numbers
    current = {"covers": spec["covers"], "billing": {**spec["billing"], "base_fee": 200000.0, "cap": 30000.0}}
    assert _outdated(old, spec)
    assert _outdated(unpriced, spec)
    assert not _outdated(current, spec)


def test_a_printed_settlement_shows_the_credits_the_pending_runs_and_the_adjustments() -> None:
    rate = {"count": 9, "share": 0.9, "interval": [0.6, 0.98]}
    pending_run = {"work_order": "WO-7", "ticket_id": "t7", "commitment_key": "fr-e2e", "state": "in_progress_warning"}
    settlement = {
        "period": "2026-11", "billing_period": "month", "billing_timezone": "Asia/Shanghai",
        "from": "2026-10-31T16:00:00Z", "to": "2026-11-30T16:00:00Z", "status": "draft", "drafted_by": "ops",
        "currency": "CNY", "satisfaction": None, "satisfaction_unavailable": "feedback-svc did not answer",
        "commitments": [{"commitment_key": "fr-e2e", "runs": 10, "judged": 10, "normal": rate, "target_rate": 0.85,
                         "warning": 1, "pending": 1, "excluded": 0, "met": True}],
        "charges": [
            {"kind": "per_warning_run", "amount": "500.00", "work_order": "WO-3", "commitment_key": "fr-e2e",
             "reason": "ended beyond the tolerance limit"},
            {"kind": "under_target", "amount": "10000.00", "commitment_key": None, "reason": "fr-arrive 80.0 %"},
        ],
        "pending": [pending_run], "excluded": [],
        "adjustments": [{"period": "2026-10", "settled_credit": "0.00", "recomputed_credit": "500.00",
                         "amount": "500.00", "added": [{}], "removed": []}],
        "totals": {"penalties": "10500.00", "cap": "30000.00", "capped_off": "0.00", "credit": "10500.00",
                   "adjustments": "500.00", "credits": "11000.00", "base_fee": "200000.00", "amount_due": "189000.00"},
    }  # fmt: skip
    text = "\n".join(settlement_lines(settlement))
    assert "WO-3 fr-e2e" in text
    assert "under_target (any covered commitment): fr-arrive 80.0 %" in text
    assert "pending (open past tolerance at the month's close, charged in the month they end): 1" in text
    assert "WO-7 fr-e2e (in_progress_warning)" in text
    assert "2026-10: settled 0.00, recomputed 500.00 → 500.00 CNY" in text
    assert "credits 11000.00 CNY" in text
    assert "amount due 189000.00" in text
    assert "satisfaction: unavailable (feedback-svc did not answer)" in text
