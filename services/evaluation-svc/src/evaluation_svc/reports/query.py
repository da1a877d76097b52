"""Report parameters shared by every report route: period or as-of, buckets, grouping, filters."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, Query
from pledge_common.identity import CallerDep
from pledge_common.problems import invalid

from evaluation_svc.reports.repository import AGREEMENT, DIMENSIONS, Covered, ReportFilter, Window

Bucket = Literal["day", "week", "month"]
Scope = Literal["all", "node", "end_to_end"]

GROUP_DIMENSIONS = (*DIMENSIONS, AGREEMENT)
# a filter value no run has (keys are [a-z0-9_-]; Postgres text cannot hold NUL)
NO_VALUE = "\u2205 none"


@dataclass(frozen=True)
class ReportQuery:
    start: datetime | None
    end: datetime | None
    as_of: datetime
    bucket: str | None
    timezone: str
    group_by: tuple[str, ...]
    filter: ReportFilter
    agreement: str | None
    windows: tuple[Window, ...]

    def with_filter(self, flt: ReportFilter) -> "ReportQuery":
        return replace(self, filter=flt)

    def cell_link(self, window: Window, group: dict[str, str | None], population: str, state: str | None) -> str:
        """The runs-list URL behind one cell of a status table (the cell's population only)."""
        params: list[tuple[str, str]] = []
        if window.start is None:
            params.append(("as_of", window.as_of.isoformat()))
        else:
            params.append(("from", window.start.isoformat()))
            params.append(("to", (window.end or window.as_of).isoformat()))
        flt = self.filter
        end_to_end = population == "end_to_end"
        for name in DIMENSIONS:
            values = list(getattr(flt, name))
            if name in group:
                if name == "node" and end_to_end:
                    continue
                values = [group[name] or ""]
            params += [(name, v) for v in values]
        params += [("ticket_id", v) for v in flt.ticket_id]
        params.append(("scope", population))
        agreement = group.get(AGREEMENT, self.agreement)
        if agreement:
            params.append(("agreement", agreement))
        if state:
            params.append(("state", state))
        return "/v1/reports/status/runs?" + urlencode(params)


def agreement_key(agreement: Mapping[str, Any]) -> str:
    return str(agreement.get("key") or agreement["id"])


def _within(current: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """The values of both lists, where an empty list means every value."""
    if not allowed:
        return list(current)
    if not current:
        return list(allowed)
    return [v for v in current if v in allowed] or [NO_VALUE]


def narrow_to_agreement(flt: ReportFilter, agreement: Mapping[str, Any]) -> ReportFilter:
    """The runs of `flt` an agreement covers: its commitments, and its segments and customers (none listed: all)."""
    keys = [str(c["commitment_key"]) for c in agreement.get("covers") or ()]
    scope = agreement.get("scope") or {}
    return replace(
        flt,
        commitment=_within(flt.commitment, keys) if keys else [NO_VALUE],
        segment=_within(flt.segment, [str(s) for s in scope.get("segments") or ()]),
        customer_ref=_within(flt.customer_ref, [str(c) for c in scope.get("customer_refs") or ()]),
    )


def coverage(agreements: Sequence[Mapping[str, Any]]) -> list[Covered]:
    """What agreements cover, for a report grouped by agreement: one entry per agreement and commitment key,
    with the agreement's segments and customers (none listed: all). A run is in the group of every agreement
    covering it, one covered by none in no group; an agreement covering no commitment covers nothing."""
    entries = []
    for a in agreements:
        scope = a.get("scope") or {}
        segments = tuple(dict.fromkeys(str(s) for s in scope.get("segments") or ()))
        customers = tuple(dict.fromkeys(str(c) for c in scope.get("customer_refs") or ()))
        for key in dict.fromkeys(str(c["commitment_key"]) for c in a.get("covers") or ()):
            entries.append(Covered(agreement_key(a), key, segments, customers))
    return entries


def covered_by_any(q: ReportQuery, agreements: Sequence[Mapping[str, Any]]) -> ReportFilter:
    """The runs of a report's groups, each once (with `group_by=agreement`: the runs some agreement covers)."""
    if AGREEMENT not in q.group_by:
        return q.filter
    return replace(q.filter, covered_by=coverage(agreements))


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise invalid(field, "give the instant with its UTC offset (e.g. 2026-03-01T00:00:00+08:00)")
    return value.astimezone(UTC)


def bucket_starts(start: datetime, end: datetime, bucket: str, tz: ZoneInfo) -> list[datetime]:
    """Local calendar boundaries (day, ISO week from Monday, month) covering [start, end)."""
    local = start.astimezone(tz)
    first = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if bucket == "week":
        first -= timedelta(days=first.weekday())
    elif bucket == "month":
        first = first.replace(day=1)
    boundaries = []
    cursor = first
    while True:
        instant = cursor.replace(tzinfo=tz).astimezone(UTC)
        if instant >= end:
            break
        boundaries.append(instant)
        if bucket == "day":
            cursor += timedelta(days=1)
        elif bucket == "week":
            cursor += timedelta(days=7)
        else:
            cursor = cursor.replace(year=cursor.year + cursor.month // 12, month=cursor.month % 12 + 1)
    return boundaries


def build_query(
    *,
    now: datetime,
    as_of: datetime | None,
    start: datetime | None,
    end: datetime | None,
    bucket: str | None,
    timezone: str,
    group_by: Sequence[str] | None,
    default_group: tuple[str, ...],
    flt: ReportFilter,
    agreement: str | None,
    max_days: int,
    require_period: bool = False,
    rollup_timezone: str = "UTC",
    field_prefix: Literal["query.", ""] = "query.",
    retained_from: datetime | None = None,
) -> ReportQuery:
    """The windows of a report. `retained_from`: the first instant whose node runs are still kept
    (EVALUATION_RETENTION_MONTHS); a window reaching before it is refused, since its runs in progress and its
    partial hours are read from runs that were dropped (the rollups alone would give a wrong figure)."""

    def at(name: str) -> str:  # the field at fault as the guide names it: `query.from`, or `from` in a body
        return f"{field_prefix}{name}"

    as_of, start, end = _aware(as_of, at("as_of")), _aware(start, at("from")), _aware(end, at("to"))
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(at("tz"), f"unknown time zone {timezone!r} (use an IANA name such as Asia/Shanghai)") from None
    if as_of is not None and (start is not None or end is not None):
        raise invalid(at("as_of"), "give either as_of or a period (from, to), not both")
    if (start is None) != (end is None):
        raise invalid(at("to" if end is None else "from"), "a period needs both from and to")
    if require_period and start is None:
        raise invalid(at("from"), "this report needs a period: from and to")
    if start is not None and end is not None:
        if end <= start:
            raise invalid(at("to"), "must be after from")
        if end - start > timedelta(days=max_days):
            raise invalid(at("to"), f"a period may span at most {max_days} days; ask for several periods instead")
    if bucket is not None and start is None:
        raise invalid(at("bucket"), "buckets divide a period: give from and to")
    groups = default_group
    if group_by is not None:  # repeated or comma-separated: group_by=process&group_by=node == group_by=process,node
        values = (group_by,) if isinstance(group_by, str) else group_by
        groups = tuple(g.strip() for value in values for g in value.split(",") if g.strip())
        unknown = [g for g in groups if g not in GROUP_DIMENSIONS]
        if unknown:
            raise invalid(at("group_by"), f"unknown dimension {unknown[0]!r}; use any of {', '.join(GROUP_DIMENSIONS)}")
        if len(set(groups)) != len(groups):
            raise invalid(at("group_by"), "a dimension is named twice")
    windows: list[Window] = []
    if start is None or end is None:
        t = min(as_of or now, now)
        windows.append(Window(0, None, None, t, rollup_timezone))
    elif bucket is None:
        windows.append(Window(0, start, end, min(end, now), rollup_timezone))
    else:
        edges = bucket_starts(start, end, bucket, tz)
        for i, b0 in enumerate(edges):
            b1 = edges[i + 1] if i + 1 < len(edges) else end
            lo, hi = max(b0, start), min(b1, end)
            if lo >= hi or lo > now:
                continue
            windows.append(Window(len(windows), lo, hi, min(hi, now), rollup_timezone))
    if retained_from is not None:
        for w in windows:
            if (w.start if w.start is not None else w.as_of) < retained_from:
                raise invalid(
                    at("from" if start is not None else "as_of"),
                    f"beyond retention: node runs before {retained_from.isoformat()} are dropped (retention of"
                    " whole months); ask for a period starting on or after it",
                )
    return ReportQuery(
        start=start,
        end=end,
        as_of=windows[0].as_of if windows and start is None else min(end or now, now),
        bucket=bucket,
        timezone=timezone,
        group_by=groups,
        filter=flt,
        agreement=agreement,
        windows=tuple(windows),
    )


GROUP_BY_DESCRIPTION = (
    f"comma-separated or repeated (`group_by=process&group_by=node` is `group_by=process,node`):"
    f" {', '.join(GROUP_DIMENSIONS)}. `agreement` puts each run in the group of every agreement"
    " covering it (its commitments, segments and customers), by the agreement's key: the latest version of each"
    " agreement whose latest version is not terminated (with `agreement=`, only that agreement's group); runs"
    " no agreement covers are in no group. Node runs and end-to-end runs are always in groups apart (`population`)"
)


def filter_params(
    caller: CallerDep,
    process: Annotated[list[str] | None, Query(description="process key(s)")] = None,
    node: Annotated[list[str] | None, Query(description="node key(s)")] = None,
    segment: Annotated[list[str] | None, Query(description="customer segment(s)")] = None,
    department: Annotated[list[str] | None, Query(description="responsible department(s)")] = None,
    position: Annotated[list[str] | None, Query(description="responsible position(s)")] = None,
    source: Annotated[list[str] | None, Query(description="source system(s) of the tickets")] = None,
    commitment: Annotated[list[str] | None, Query(description="commitment key(s)")] = None,
    scope: Annotated[Scope, Query(description="node runs, tickets judged end to end, or both")] = "all",
    ticket_id: Annotated[
        list[UUID] | None, Query(description="only the runs of these tickets (tracking's ids)")
    ] = None,
) -> ReportFilter:
    return ReportFilter(
        process=process or (),
        node=node or (),
        segment=segment or (),
        department=department or (),
        position=position or (),
        source=source or (),
        commitment=commitment or (),
        scope=scope,
        ticket_id=tuple(str(t) for t in ticket_id or ()),
        caller_sources=caller.sources,
    )


FilterDep = Annotated[ReportFilter, Depends(filter_params)]


@dataclass(frozen=True)
class PeriodParams:
    as_of: datetime | None
    start: datetime | None
    end: datetime | None
    bucket: str | None = None
    timezone: str = "UTC"
    group_by: tuple[str, ...] | None = None
    agreement: str | None = None


# Each route declares only the parameters it applies (any other is refused: pledge_common.queryparams).
AsOfQuery = Annotated[datetime | None, Query(description="judge as of this instant (default now)")]
FromQuery = Annotated[datetime | None, Query(alias="from", description="period start, inclusive")]
ToQuery = Annotated[datetime | None, Query(description="period end, exclusive")]
AgreementQuery = Annotated[str | None, Query(description="only runs an agreement (id or key) covers")]


def instant_or_period(
    as_of: AsOfQuery = None, from_: FromQuery = None, to: ToQuery = None, agreement: AgreementQuery = None
) -> PeriodParams:
    """An instant (`as_of`, default now) or a period (`from`, `to`), and the agreement whose runs to read."""
    return PeriodParams(as_of, from_, to, agreement=agreement)


def grouped(
    period: Annotated[PeriodParams, Depends(instant_or_period)],
    bucket: Annotated[Bucket | None, Query(description="split the period into day/week/month buckets")] = None,
    tz: Annotated[str, Query(description="time zone of the buckets")] = "UTC",
    group_by: Annotated[list[str] | None, Query(description=GROUP_BY_DESCRIPTION)] = None,
) -> PeriodParams:
    """The above, split into buckets and grouped (the tables)."""
    return replace(period, bucket=bucket, timezone=tz, group_by=None if group_by is None else tuple(group_by))


def period_only(from_: FromQuery = None, to: ToQuery = None, agreement: AgreementQuery = None) -> PeriodParams:
    """A period (rankings and recommendations compare runs over one)."""
    return PeriodParams(None, from_, to, agreement=agreement)


def period_bounds(from_: FromQuery = None, to: ToQuery = None) -> PeriodParams:
    """A period and nothing else (an agreement's review: the agreement is in the path)."""
    return PeriodParams(None, from_, to)


PeriodDep = Annotated[PeriodParams, Depends(instant_or_period)]
PeriodBoundsDep = Annotated[PeriodParams, Depends(period_bounds)]
GroupedPeriodDep = Annotated[PeriodParams, Depends(grouped)]
PeriodOnlyDep = Annotated[PeriodParams, Depends(period_only)]
