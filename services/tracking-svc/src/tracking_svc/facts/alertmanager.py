"""Prometheus Alertmanager's webhook payload (version "4", the `webhook_config` receiver) and how an alert
becomes outage facts: pure functions, no I/O.

The rules:
- A label mapping decides the service of an alert: the one for the payload's `receiver`, else the one for
  any receiver. The service is the value of its `service_label`, looked up in its `service_map` when it has
  one (else the value itself is the service key).
- A firing alert is `outage.started` at `startsAt`; a resolved alert is the same start and `outage.ended` at
  `endsAt` (so an outage whose firing notification was lost is still recorded whole). Both name the outage
  `<fingerprint>@<startsAt>`: a new firing of the same alert later is another outage.
- Source `alertmanager`; external ids `<fingerprint>:<firing|resolved>:<startsAt>`: Alertmanager resends
  firing alerts every `group_interval` and may resend resolved ones, and each resend is a duplicate. The
  summary is the `alertname` label (labels do not change while an alert fires; annotations may, and would
  make a resend differ from its first delivery).
- `planned_label`: the label whose value `true` (or `1`, `yes`) marks planned maintenance; `weight_label`:
  the label whose value (0 < w <= 1) is the share of the service lost.
An alert that cannot be mapped or is malformed is refused alone, with its reason.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from pledge_common.instants import Instant as UtcInstant
from pledge_common.pagination import Page
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from tracking_svc.facts.schemas import FactIn, OutageEndedIn, OutageStartedIn

SOURCE = "alertmanager"
TRUE_VALUES = frozenset({"true", "1", "yes"})


class AlertmanagerPayload(BaseModel):
    """The body Alertmanager posts to a webhook receiver. Unknown fields are ignored (a newer Alertmanager may
    add some); the alerts are checked one by one (`AlertIn`)."""

    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    status: Literal["firing", "resolved"]
    receiver: str = Field(max_length=200)
    group_labels: dict[str, Any] = Field(default={}, alias="groupLabels")
    common_labels: dict[str, Any] = Field(default={}, alias="commonLabels")
    common_annotations: dict[str, Any] = Field(default={}, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Any]


class AlertIn(BaseModel):
    """One alert of the payload."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, Annotated[str, Field(max_length=1024)]] = Field(max_length=200)
    annotations: dict[str, str] = {}
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: AwareDatetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = Field(pattern=r"^[0-9A-Za-z]{1,64}$")


@dataclass(frozen=True, slots=True)
class Mapping:
    key: str
    receiver: str | None
    service_label: str
    service_map: dict[str, str] | None
    planned_label: str | None
    weight_label: str | None


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str


def choose_mapping(mappings: list[Mapping], receiver: str) -> Mapping | None:
    """The mapping of this receiver, else the one for any receiver."""
    exact = [m for m in mappings if m.receiver == receiver]
    if exact:
        return exact[0]
    return next((m for m in mappings if m.receiver is None), None)


def parse_alert(value: Any) -> AlertIn | Refusal:
    try:
        return AlertIn.model_validate(value)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "alert"
        return Refusal(f"malformed alert: {where}: {first['msg']}")


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_facts(alert: AlertIn, mapping: Mapping) -> list[FactIn] | Refusal:
    """The facts of one alert under `mapping`, or why it is refused."""
    value = alert.labels.get(mapping.service_label)
    if value is None:
        return Refusal(f"the alert has no label {mapping.service_label!r} (mapping {mapping.key})")
    if mapping.service_map is not None:
        service = mapping.service_map.get(value)
        if service is None:
            return Refusal(
                f"label {mapping.service_label}={value!r} has no entry in the service_map of mapping {mapping.key}"
            )
    else:
        service = value
    planned = mapping.planned_label is not None and alert.labels.get(mapping.planned_label, "").lower() in TRUE_VALUES
    weight = 1.0
    if mapping.weight_label is not None and mapping.weight_label in alert.labels:
        raw_weight = alert.labels[mapping.weight_label]
        try:
            weight = float(raw_weight)
        except ValueError:
            weight = -1.0
        if not 0 < weight <= 1:
            return Refusal(f"label {mapping.weight_label}={raw_weight!r} is not a weight (0 < w <= 1)")
    starts = _utc(alert.starts_at)
    ref = f"{alert.fingerprint}@{starts}"
    summary = (alert.labels.get("alertname") or "")[:200] or None
    start: dict[str, Any] = {
        "type": "outage.started",
        "source": SOURCE,
        "external_id": f"{alert.fingerprint}:firing:{starts}",
        "service": service,
        "occurred_at": alert.starts_at,
        "outage_ref": ref,
        "planned": planned,
        "weight": weight,
    }
    if summary is not None:
        start["summary"] = summary
    try:
        facts: list[FactIn] = [msgspec.convert(start, OutageStartedIn)]
        if alert.status == "resolved":
            if alert.ends_at is None:
                return Refusal("a resolved alert needs endsAt")
            end = {
                "type": "outage.ended",
                "source": SOURCE,
                "external_id": f"{alert.fingerprint}:resolved:{starts}",
                "service": service,
                "occurred_at": alert.ends_at,
                "outage_ref": ref,
            }
            facts.append(msgspec.convert(end, OutageEndedIn))
    except msgspec.ValidationError as err:
        return Refusal(f"the alert maps to an invalid fact: {err}")
    return facts


def alert_outcome(statuses: list[str]) -> str:
    """An alert is accepted when any of its facts changed something, a duplicate when none did."""
    return "accepted" if "accepted" in statuses else "duplicate"


class AlertResult(BaseModel):
    index: int = Field(description="0-based position of the alert in `alerts`")
    fingerprint: str | None
    outcome: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = Field(description="why the alert was rejected")


class AlertmanagerResult(BaseModel):
    results: list[AlertResult]


LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
MappingKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
ServiceKey = Annotated[str, Field(pattern=r"^[^\s]{1,100}$")]


class MappingCreate(BaseModel):
    """How Alertmanager alerts name their service."""

    model_config = ConfigDict(extra="forbid")

    key: MappingKey
    receiver: str | None = Field(
        default=None, min_length=1, max_length=200, description="the Alertmanager receiver; null: any receiver"
    )
    service_label: LabelName = Field(default="service", description="the label whose value names the service")
    service_map: dict[Annotated[str, Field(max_length=1024)], ServiceKey] | None = Field(
        default=None, max_length=1000, description="label value → service key; absent: the value is the key"
    )
    planned_label: LabelName | None = Field(default=None, description="label whose value `true` marks planned work")
    weight_label: LabelName | None = Field(default=None, description="label whose value (0 < w <= 1) is the weight")


class MappingPublic(MappingCreate):
    created_at: UtcInstant


MappingPage = Page[MappingPublic]
