"""Ids minted by the service for new tickets and node runs."""

import time
import uuid

from tracking_svc.ingest.repository import time_ordered_ids


def test_minted_ids_are_distinct_uuidv7_of_this_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    ids = time_ordered_ids(1000)
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == 1000
    for minted in ids:
        assert isinstance(minted, uuid.UUID)
        assert (minted.version, minted.variant) == (7, uuid.RFC_4122)
        assert before <= minted.int >> 80 <= after
        assert uuid.UUID(str(minted)) == minted
        assert hash(uuid.UUID(str(minted))) == hash(minted)


def test_ids_minted_later_sort_after() -> None:
    first = time_ordered_ids(1)[0]
    time.sleep(0.002)
    assert str(time_ordered_ids(1)[0]) > str(first)
