from typing import Any

from pledge_common.instants import Instant

from commitment_svc import feed
from commitment_svc.core.schemas import Input, Key, Name, Output


class SegmentUpsert(Input):
    name: Name


class SegmentPublic(Output):
    key: Key
    name: str
    builtin: bool
    created_at: Instant
    updated_at: Instant

    def feed_payload(self) -> dict[str, Any]:
        return feed.payload("segment.upserted", self)
