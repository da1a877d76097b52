from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pledge_common.money import Amount, Currency, finer_than_minor_unit, money_text
from pydantic import (
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from commitment_svc import feed
from commitment_svc.core.schemas import Input, Instant, Key, Name, Output, Text

Money = Annotated[Amount, Field(gt=0, max_digits=14)]
AgreementStatus = Literal["draft", "negotiating", "signed", "terminated"]
Term = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AgreementScope(Input):
    customer_refs: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, description="the customers covered (empty: all)"
    )
    segments: list[Key] = Field(default_factory=list, description="the segments covered (empty: all)")


class Cover(Input):
    commitment_key: Key
    target_rate: float = Field(
        gt=0,
        le=1,
        description="per the commitment's kind: duration, the achievement rate (e.g. 0.95); availability, the"
        " availability target (e.g. 0.999); count, the share of samples within the limit; frequency, the share of"
        " intervals within the commitment; clause, 1.0",
    )


class ForceMajeure(Input):
    from_: Instant = Field(alias="from")
    to: Instant
    reason: Text = ""


class Exemptions(Input):
    pause_reasons: list[Key] = Field(default_factory=list, description="pause reasons that stop the clock")
    force_majeure: list[ForceMajeure] = Field(
        default_factory=list, description="periods whose tickets are excluded altogether"
    )


class Priced(Input):
    """Amounts beside their currency: no finer than its minor unit in, written with its minor digits out."""

    def _currency(self) -> str | None:
        return getattr(self, "currency", None)

    @model_validator(mode="after")
    def _in_minor_units(self) -> "Priced":
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Decimal) and finer_than_minor_unit(value, self._currency()):
                raise ValueError(f"{name}: {value} is finer than the minor unit of {self._currency()}")
        return self

    @field_serializer("amount", "fee", "base_fee", "cap", check_fields=False, when_used="json")
    def _amounts(self, value: Decimal | None) -> str | None:
        return None if value is None else money_text(value, self._currency())


class PerWarningRun(Priced):
    kind: Literal["per_warning_run"]
    amount: Money
    currency: Currency


class UnderTarget(Priced):
    kind: Literal["under_target"]
    commitment_key: Key | None = Field(default=None, description="null: any covered commitment")
    amount: Money | None = None
    fee_share: float | None = Field(default=None, gt=0, le=1)
    fee: Money | None = None
    currency: Currency


class AvailabilityCreditTier(Input):
    below: float = Field(gt=0, le=1, description="applies when the period's availability is under this, e.g. 0.999")
    fee_share: float = Field(gt=0, le=1, description="the share of `fee` credited, e.g. 0.10")


class AvailabilityCreditPenalty(Priced):
    """A service credit per billing period: the tier with the lowest `below` the availability is under applies
    (tiers are not summed)."""

    kind: Literal["availability_credit"]
    commitment_key: Key = Field(description="a covered availability commitment")
    tiers: list[AvailabilityCreditTier] = Field(
        min_length=1, max_length=20, description="`below` strictly decreasing, `fee_share` increasing as it falls"
    )
    fee: Money = Field(description="the fee the shares are of (one billing period's)")
    currency: Currency


class PerOutageOverLimitPenalty(Priced):
    """`amount` for each outage longer than the tolerance limit, charged in the period the outage ended."""

    kind: Literal["per_outage_over_limit"]
    commitment_key: Key = Field(description="a covered availability commitment")
    amount: Money
    currency: Currency


Penalty = Annotated[
    PerWarningRun | UnderTarget | AvailabilityCreditPenalty | PerOutageOverLimitPenalty,
    Field(discriminator="kind"),
]


class Billing(Priced):
    """How the agreement is settled: per billing period, with a base fee and a cap on credits."""

    period: Literal["month", "quarter"] = Field(default="month", description="the billing period")
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        default="UTC", description="IANA time zone whose calendar the periods follow (e.g. Asia/Shanghai)"
    )
    currency: Currency | None = Field(default=None, description="currency of the fee, the cap and every penalty")
    base_fee: Money | None = Field(default=None, description="fee of one period, before credits")
    cap: Money | None = Field(default=None, description="most credited for one period's penalties")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    @model_validator(mode="after")
    def _priced(self) -> "Billing":
        if (self.base_fee is not None or self.cap is not None) and self.currency is None:
            raise ValueError("a base fee or a cap needs `currency`")
        return self


def _distinct_covers(value: list[Cover] | None) -> list[Cover] | None:
    if value is not None:
        keys = [c.commitment_key for c in value]
        if len(set(keys)) != len(keys):
            raise ValueError("each commitment may be covered once")
    return value


class AgreementTerms(Input):
    title: Name | None = None
    provider: Key | None = None
    customer: Term | None = None
    scope: AgreementScope | None = None
    covers: list[Cover] | None = None
    exemptions: Exemptions | None = None
    penalties: list[Penalty] | None = None
    billing: Billing | None = None
    glossary: dict[Term, Text] | None = None

    @field_validator("covers")
    @classmethod
    def _covers(cls, value: list[Cover] | None) -> list[Cover] | None:
        return _distinct_covers(value)


class AgreementCreate(Input):
    key: Key
    kind: Literal["sla", "ola"] = Field(description="sla: with a customer; ola: between departments")
    title: Name
    provider: Key = Field(description="the providing department")
    customer: Term = Field(description="sla: the customer reference; ola: the receiving department's key")
    scope: AgreementScope = Field(default_factory=AgreementScope)
    covers: list[Cover] = Field(default_factory=list, max_length=500)
    exemptions: Exemptions = Field(default_factory=Exemptions)
    penalties: list[Penalty] = Field(default_factory=list, max_length=100)
    billing: Billing = Field(default_factory=Billing, description="settlement: period, base fee, cap")
    glossary: dict[Term, Text] = Field(default_factory=dict, description="agreed terms and their meaning")

    @field_validator("covers")
    @classmethod
    def _covers(cls, value: list[Cover]) -> list[Cover]:
        _distinct_covers(value)
        return value


class AgreementUpdate(AgreementTerms):
    """Changes to a draft or negotiating agreement (fields left out stay as they are)."""


class AgreementVersionCreate(AgreementTerms):
    """A new draft version: the base version's terms with these changes."""


class AgreementTransition(Input):
    to: AgreementStatus
    reason: Text | None = None


class AgreementHistory(Output):
    status: str
    at: Instant
    by: str
    reason: str | None = None


class AgreementPublic(Output):
    id: UUID
    key: str
    version: int
    kind: Literal["sla", "ola"]
    title: str
    provider: str
    customer: str
    scope: dict[str, Any]
    covers: list[dict[str, Any]]
    exemptions: dict[str, Any]
    penalties: list[Penalty] = Field(description="amounts are decimal strings in the clause's currency")
    billing: Billing
    glossary: dict[str, str]
    status: AgreementStatus
    history: list[AgreementHistory]
    signed_at: Instant | None
    terminated_at: Instant | None
    created_at: Instant
    updated_at: Instant

    def feed_payload(self) -> dict[str, Any]:
        return feed.payload("agreement.upserted", self)
