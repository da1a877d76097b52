"""A consumer's decoder against a producer's feed schema: what it reads must be written, with types it accepts."""

import msgspec
from pledge_common.feedschema import decoder_mismatches, decoder_schema, feed_schema, payload_schema
from pydantic import BaseModel


class Line(BaseModel):
    sku: str
    quantity: int


class OrderUpserted(BaseModel):
    id: str
    total: float
    note: str | None
    lines: list[Line]


PRODUCER = feed_schema("shop", "orders", {"order.upserted": OrderUpserted})


def mismatches(decoder: type[msgspec.Struct]) -> list[str]:
    consumer = decoder_schema(decoder)
    produced = {"$ref": PRODUCER["x-event-types"]["order.upserted"]}
    return decoder_mismatches(PRODUCER, produced, consumer, consumer)


class TestDecoderMismatches:
    def test_a_decoder_of_a_subset_with_wider_types_fits(self) -> None:
        class LineIn(msgspec.Struct):
            quantity: float  # a number accepts the integers written

        class OrderIn(msgspec.Struct):
            id: str
            note: str | None = None
            lines: list[LineIn] = []

        assert mismatches(OrderIn) == []

    def test_a_field_the_producer_does_not_write_is_reported(self) -> None:
        class OrderIn(msgspec.Struct):
            id: str
            currency: str

        assert mismatches(OrderIn) == ["payload.currency: read by the consumer, absent from the producer's schema"]

    def test_a_null_the_decoder_refuses_is_reported(self) -> None:
        class OrderIn(msgspec.Struct):
            note: str

        assert mismatches(OrderIn) == [
            "payload.note: the producer writes ['null', 'string'], the decoder accepts ['string']"
        ]

    def test_items_of_lists_are_compared_too(self) -> None:
        class LineIn(msgspec.Struct):
            quantity: str

        class OrderIn(msgspec.Struct):
            lines: list[LineIn]

        [problem] = mismatches(OrderIn)
        assert problem.startswith("payload.lines[].quantity: the producer writes ['integer']")

    def test_the_payload_schema_of_a_type_is_resolved(self) -> None:
        assert set(payload_schema(PRODUCER, "order.upserted")["properties"]) == {"id", "total", "note", "lines"}
