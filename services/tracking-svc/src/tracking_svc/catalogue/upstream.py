"""What tracking reads from commitment-svc's feed: typed decoders of the fields it uses, its own (a service
never imports another's package). `tests/test_feed_contract.py` checks them against commitment-svc's JSON
Schema (`docs/feeds/commitment-svc.schema.json`) and decodes that producer's sample events. Unknown fields are
ignored (producers may add fields)."""

import msgspec


class NodeIn(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    name: str = ""
    position: int = 0
    department: str | None = None
    position_key: str | None = None


class ProcessIn(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    name: str = ""
    nodes: list[NodeIn] = []


class SegmentIn(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    name: str = ""


class ServiceIn(msgspec.Struct, frozen=True, kw_only=True):
    """A configuration item whose availability, samples, occurrences and deliverables are tracked."""

    key: str
    name: str = ""
    customer_ref: str | None = None
    segment: str | None = None
    owner_department: str | None = None
    status: str = "active"


DECODERS: dict[str, type[msgspec.Struct]] = {
    "process.upserted": ProcessIn,
    "segment.upserted": SegmentIn,
    "service.upserted": ServiceIn,
}
