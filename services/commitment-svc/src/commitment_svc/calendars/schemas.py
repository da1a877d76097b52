from datetime import date
from typing import Annotated, Any

from pledge_common.instants import Instant
from pydantic import Field, StringConstraints

from commitment_svc import feed
from commitment_svc.core.schemas import Input, Name, Output

Clock = Annotated[str, StringConstraints(max_length=8)]
WindowPair = Annotated[list[Clock], Field(min_length=2, max_length=2)]

WEEKLY_EXAMPLE = {
    "0": [["09:00", "12:00"], ["13:00", "18:00"]],
    "1": [["09:00", "12:00"], ["13:00", "18:00"]],
    "5": [],
}


class CalendarUpsert(Input):
    name: Name
    timezone: str = Field(description="IANA time zone, e.g. Asia/Shanghai", examples=["Asia/Shanghai"])
    weekly: dict[str, list[WindowPair]] = Field(
        description='working windows per weekday, "0" = Monday … "6" = Sunday; "24:00" allowed as an end;'
        " a missing weekday has no working time",
        examples=[WEEKLY_EXAMPLE],
    )
    holidays: list[date] = Field(default_factory=list, max_length=20_000)
    extra_working_days: list[date] = Field(
        default_factory=list, max_length=20_000, description="make-up working days (调休) that override the week"
    )
    extra_day_windows: list[WindowPair] | None = Field(
        default=None, description="windows of extra working days (null: those of the first working weekday)"
    )


class HolidayImport(Input):
    country: str = Field(min_length=2, max_length=3, description="ISO 3166 country code known to `holidays`")
    year: int = Field(ge=1990, le=2100)
    subdivision: str | None = Field(default=None, max_length=10, description="e.g. a German state: BY")
    make_up_days: bool = Field(default=True, description="also import official make-up working days (调休)")


class CalendarPublic(Output):
    key: str
    name: str
    timezone: str
    weekly: dict[str, list[list[str]]]
    holidays: list[date]
    extra_working_days: list[date]
    extra_day_windows: list[list[str]] | None
    builtin: bool
    version: int
    created_at: Instant
    updated_at: Instant

    def feed_payload(self) -> dict[str, Any]:
        return feed.payload("calendar.upserted", self)


class HolidayImportResult(Output):
    calendar: CalendarPublic
    holidays_added: list[date]
    extra_working_days_added: list[date]
