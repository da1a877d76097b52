from typing import Annotated, Any, Literal

from pledge_common.instants import Instant
from pydantic import Field, StringConstraints

from commitment_svc import feed
from commitment_svc.core.schemas import Input, Key, Name, Output, Text

ServiceStatus = Literal["active", "retired"]
CustomerRef = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ServiceFields(Input):
    name: Name
    description: Text = ""
    customer_ref: CustomerRef | None = Field(default=None, description="the customer the service is run for")
    segment_key: Key = Field(default="default", alias="segment", description="the customer segment")
    owner_department: Key | None = Field(default=None, description="the department running the service")
    status: ServiceStatus = Field(default="active", description="retired: no longer run (kept for history)")


class ServiceCreate(ServiceFields):
    key: Key = Field(description="the service's stable key (named by commitments and facts)")


class ServicePublic(Output):
    key: str
    name: str
    description: str
    customer_ref: str | None
    segment_key: str = Field(serialization_alias="segment")
    owner_department: str | None
    status: ServiceStatus
    created_at: Instant
    updated_at: Instant

    def feed_payload(self) -> dict[str, Any]:
        return feed.payload("service.upserted", self.model_dump(mode="json", by_alias=True))
