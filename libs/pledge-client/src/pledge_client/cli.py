"""`pledge`: push events, read tickets, print reports and manage API keys from a terminal.

Configured by `--url`/`--key` or `PLEDGE_URL`/`PLEDGE_API_KEY`. Every error is one line on stderr
(`error: 422 …: ticket.process: …`) and a non-zero exit code, never a traceback.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from pledge_client._client import PledgeClient
from pledge_client._problem import PledgeProblem
from pledge_client.files import FileFormatError, Record, csv_text, file_format, read_records, rejects_line
from pledge_client.models import STATES, Alert, ApiKeyCreated, Rate, Ticket

DEFAULT_URL = "http://127.0.0.1:8000"
CHUNK = 1000
FORMATS = click.Choice(["table", "csv", "json"])
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True)


class PledgeGroup(click.Group):
    """Turns a problem, or a file that cannot be read, into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PledgeProblem as problem:
            raise click.ClickException(problem.one_line()) from None
        except (OSError, FileFormatError) as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=PledgeGroup)
@click.option("--url", envvar="PLEDGE_URL", default=DEFAULT_URL, show_default=True, help="the gateway (PLEDGE_URL)")
@click.option("--key", envvar="PLEDGE_API_KEY", help="an API key (PLEDGE_API_KEY)")
@click.version_option(package_name="pledge-client")
@click.pass_context
def cli(ctx: click.Context, url: str, key: str | None) -> None:
    """Pledge from a terminal: push work-order events, read tickets, print reports, manage API keys."""

    def connect() -> PledgeClient:
        if not key:
            raise click.UsageError("no API key: pass --key or set PLEDGE_API_KEY")
        return ctx.with_resource(PledgeClient(url, key))

    if ctx.obj is None:  # a caller (a test) may hand over its own way to connect
        ctx.obj = connect


def client(ctx: click.Context) -> PledgeClient:
    connect: Callable[[], PledgeClient] = ctx.find_root().obj
    return connect()


def main() -> None:
    cli(prog_name="pledge")


# --- output -------------------------------------------------------------------------------------------


def dump(value: BaseModel | list[BaseModel]) -> str:
    if isinstance(value, list):
        data: Any = [v.model_dump(mode="json", by_alias=True) for v in value]
    else:
        data = value.model_dump(mode="json", by_alias=True)
    return json.dumps(data, ensure_ascii=False, indent=2)


def show(fmt: str, headers: list[str], rows: list[list[Any]], title: str | None, as_json: Callable[[], str]) -> None:
    if fmt == "json":
        click.echo(as_json())
    elif fmt == "csv":
        click.echo(csv_text(headers, rows), nl=False)
    else:
        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        for i, header in enumerate(headers):
            numeric = bool(rows) and all(isinstance(r[i], int | float) for r in rows)
            table.add_column(header, justify="right" if numeric else "left", min_width=36 if header == "id" else None)
        for row in rows:
            table.add_row(*("" if c is None else str(c) for c in row))
        stdout.print(table)


def instant(value: datetime | None) -> str | None:
    """An instant as the guide writes it, to the second: `2026-11-03T08:15:00Z`."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def share(rate: Rate) -> str:
    return "" if rate.share is None else f"{rate.share:.1%}"


def interval(rate: Rate) -> str:
    return "" if not rate.interval else f"{rate.interval[0]:.1%}-{rate.interval[1]:.1%}"


# --- events -------------------------------------------------------------------------------------------


@cli.group()
def events() -> None:
    """Push work-order events."""


@events.command("push")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["auto", "ndjson", "csv"]), default="auto", show_default=True,
              help="auto: .csv files are CSV, others NDJSON")  # fmt: skip
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="write each rejected event with its error here (NDJSON), to fix and push again")  # fmt: skip
@click.option("--chunk", type=click.IntRange(1, 10_000), default=CHUNK, show_default=True, help="events per request")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.pass_context
def events_push(
    ctx: click.Context, files: Sequence[Path], fmt: str, rejects: Path | None, chunk: int, quiet: bool
) -> None:
    """Push the events of NDJSON or CSV FILES through /v1/events/bulk, in chunks.

    Prints the accepted, duplicate and rejected counts; exits 1 when any event was rejected.
    """
    pledge = client(ctx)
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    shown: list[str] = []
    out: TextIO | None = rejects.open("w", encoding="utf-8") if rejects else None

    def refuse(record: Record, error: dict[str, Any]) -> None:
        totals["rejected"] += 1
        if out:
            out.write(rejects_line(record, error))
        if len(shown) < 5:
            field = f"{error['field']}: " if error.get("field") else ""
            shown.append(f"{record.origin}: {field}{error.get('detail')}")

    def send(batch: list[Record]) -> None:
        try:
            result = pledge.push_events([r.event for r in batch if r.event is not None])
        except PledgeProblem as problem:  # the whole chunk refused: say what was done before it, and where it stopped
            click.echo(summary(totals))
            raise click.ClickException(f"stopped at {batch[0].origin}: {problem.one_line()}") from None
        totals["accepted"] += result.accepted
        totals["duplicates"] += result.duplicates
        for item in result.items:
            if item.status == "rejected":
                error = item.error.model_dump(mode="json") if item.error else {"status": 422, "detail": "rejected"}
                refuse(batch[item.index], error)

    size = sum(p.stat().st_size for p in files)
    progress = Progress(TextColumn("pushing"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                        console=stderr, disable=quiet or not stderr.is_terminal, transient=True)  # fmt: skip
    try:
        with progress:
            task = progress.add_task("push", total=size)
            batch: list[Record] = []
            for record in _records(files, fmt):
                progress.advance(task, record.size)
                if record.error:
                    refuse(record, {"status": 422, "field": None, "detail": record.error})
                    continue
                batch.append(record)
                if len(batch) >= chunk:
                    send(batch)
                    batch = []
            if batch:
                send(batch)
    finally:
        if out:
            out.close()
    click.echo(summary(totals))
    if totals["rejected"]:
        for line in shown:
            stderr.print(f"rejected: {line}", markup=False, highlight=False)
        where = f"written to {rejects}" if rejects else "pass --rejects FILE to keep them"
        stderr.print(f"{totals['rejected']} rejected events {where}", markup=False, highlight=False)
        ctx.exit(1)


def summary(totals: dict[str, int]) -> str:
    return f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, rejected {totals['rejected']}"


def _records(files: Sequence[Path], fmt: str) -> Iterator[Record]:
    for path in files:
        yield from read_records(path, file_format(path, fmt))


# --- tickets ------------------------------------------------------------------------------------------


@cli.group()
def tickets() -> None:
    """Read tickets."""


TICKET_HEADERS = ["id", "source", "external_id", "process", "segment", "customer", "status", "opened_at", "closed_at"]


def ticket_row(t: Ticket) -> list[Any]:
    return [t.id, t.source, t.external_id, t.process, t.segment, t.customer, t.status, instant(t.opened_at),
            instant(t.closed_at or t.cancelled_at)]  # fmt: skip


@tickets.command("get")
@click.argument("ref")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def tickets_get(ctx: click.Context, ref: str, fmt: str) -> None:
    """One ticket by id or SOURCE:EXTERNAL_ID, with its node runs."""
    ticket = client(ctx).get_ticket(ref)
    if fmt == "json":
        click.echo(dump(ticket))
        return
    if fmt == "table":  # one ticket: a field a line
        fields = [
            [name, "" if value is None else value]
            for name, value in zip(TICKET_HEADERS, ticket_row(ticket), strict=True)
        ]
        show(fmt, ["ticket", f"{ticket.source}:{ticket.external_id}"], fields, None, lambda: "")
    else:
        show(fmt, TICKET_HEADERS, [ticket_row(ticket)], None, lambda: "")
    rows = [[r.node, r.cycle, r.status, instant(r.started_at), instant(r.completed_at or r.cancelled_at),
             len(r.pauses), r.department] for r in ticket.node_runs]  # fmt: skip
    show(fmt, ["node", "cycle", "status", "started_at", "ended_at", "pauses", "department"], rows, "node runs",
         lambda: "")  # fmt: skip


@tickets.command("list")
@click.option("--process")
@click.option("--status", type=click.Choice(["open", "closed", "cancelled"]))
@click.option("--segment")
@click.option("--source")
@click.option("--customer")
@click.option("--from", "from_", help="opened at or after (RFC 3339 with offset)")
@click.option("--to", help="opened before")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True, help="page size")
@click.option("--cursor", help="next_cursor of the previous page")
@click.option("--all", "every", is_flag=True, help="every page, not only the first")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def tickets_list(ctx: click.Context, /, every: bool, fmt: str, **filters: Any) -> None:
    """Tickets, newest first."""
    pledge = client(ctx)
    filters = {k: v for k, v in filters.items() if v is not None}
    if every:
        found = list(pledge.iter_tickets(**filters))
        next_cursor = None
    else:
        page = pledge.list_tickets(**filters)
        found, next_cursor = page.items, page.next_cursor
    show(fmt, TICKET_HEADERS, [ticket_row(t) for t in found], None, lambda: dump(list(found)))
    if next_cursor and fmt != "json":
        stderr.print(f"more: --cursor {next_cursor}  (or --all)", markup=False, highlight=False)


# --- reports ------------------------------------------------------------------------------------------


def report_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--from", "from_", help="start of the period (RFC 3339 with offset)"),
            click.option("--to", help="end of the period, exclusive"),
            click.option("--process"),
            click.option("--node"),
            click.option("--segment"),
            click.option("--department"),
            click.option("--source"),
            click.option("--scope", type=click.Choice(["node", "end_to_end"])),
            click.option(
                "--param", "params", multiple=True, metavar="NAME=VALUE", help="any other report parameter (repeatable)"
            ),
            click.option("--format", "fmt", type=FORMATS, default="table", show_default=True),
        ]
    ):
        command = option(command)
    return command


def report_filters(params: Sequence[str], given: dict[str, Any]) -> dict[str, Any]:
    filters = {k: v for k, v in given.items() if v is not None and v != ()}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{param!r} is not NAME=VALUE", param_hint="--param")
        filters.setdefault(name, [])
        if not isinstance(filters[name], list):
            filters[name] = [filters[name]]
        filters[name].append(value)
    return filters


@cli.group()
def reports() -> None:
    """Print reports as tables, CSV or JSON."""


@reports.command("status")
@report_options
@click.option("--as-of", help="judge as of this instant (instead of a period)")
@click.option("--group-by", multiple=True, help="process, node, segment, department, ... (repeatable)")
@click.pass_context
def reports_status(ctx: click.Context, /, params: Sequence[str], fmt: str, **given: Any) -> None:
    """The seven-state table: runs per state, per group and in total."""
    report = client(ctx).status_report(**report_filters(params, given))
    keys = list(report.group_by)
    states = list(report.states) or list(STATES)  # the seven, and `unjudged`
    blank = "-" if fmt == "table" else None  # a run of no node (end to end): a visible cell in a table
    rows = [[*(r.group.get(k) or blank for k in keys), r.population, *(r.counts.get(s, 0) for s in states), r.total]
            for r in report.rows]  # fmt: skip
    label = ["total", *([blank] * (len(keys) - 1))] if keys else []
    rows += [[*label, t.population, *(t.counts.get(s, 0) for s in states), t.total]
             for t in report.totals]  # fmt: skip
    # a terminal table names each state on two lines (`in_progress` over `normal`) to stay narrow
    names = ["\n".join(s.rsplit("_", 1)) for s in states] if fmt == "table" else states
    headers = [*keys, "population", *names, "total"]
    title = f"Seven states as of {instant(report.as_of)}" + (
        f", runs active in [{instant(report.from_)}, {instant(report.to)})" if report.from_ and report.to else ""
    )
    show(fmt, headers, rows, title, lambda: dump(report))


@reports.command("achievement")
@report_options
@click.option("--group-by", multiple=True, help="process, node, segment, department, ... (repeatable)")
@click.option("--bucket", type=click.Choice(["day", "week", "month"]))
@click.option("--tz", help="time zone of the buckets")
@click.pass_context
def reports_achievement(ctx: click.Context, /, params: Sequence[str], fmt: str, **given: Any) -> None:
    """Shares of normal, acceptable and warning runs, with their 95 % intervals and counted durations."""
    report = client(ctx).achievement(**report_filters(params, given))
    keys = list(report.group_by)
    headers = [*keys, "population", "runs", "judged", "normal", "95% interval", "acceptable", "warning", "median",
               "p90"]  # fmt: skip
    rows = [[*(g.group.get(k) for k in keys), g.population, g.runs, g.judged, share(g.normal), interval(g.normal),
             share(g.acceptable), share(g.warning), g.counted_duration.get("median"), g.counted_duration.get("p90")]
            for g in report.groups]  # fmt: skip
    show(fmt, headers, rows, "Achievement", lambda: dump(report))


@reports.command("rankings")
@report_options
@click.option("--by", type=click.Choice(["department", "position"]))
@click.option("--min-sample", type=int)
@click.pass_context
def reports_rankings(ctx: click.Context, /, params: Sequence[str], fmt: str, **given: Any) -> None:
    """Departments (or positions) ranked by their share of normal runs."""
    report = client(ctx).rankings(**report_filters(params, given))
    rows = [[g.rank, g.key, g.name, g.runs, g.judged, share(g.normal), interval(g.normal)] for g in report.ranked]
    rows += [["-", g.key, g.name, g.runs, g.judged, share(g.normal), "under min_sample"] for g in report.insufficient]
    headers = ["rank", report.by, "name", "runs", "judged", "normal", "95% interval"]
    show(fmt, headers, rows, f"Ranking by {report.by} ({report.population} runs)", lambda: dump(report))


@reports.command("review")
@click.argument("agreement")
@report_options
@click.pass_context
def reports_review(ctx: click.Context, /, agreement: str, params: Sequence[str], fmt: str, **given: Any) -> None:
    """An SLA/OLA review of AGREEMENT (key or id): each covered commitment against its target, and credits."""
    review = client(ctx).agreement_review(agreement, **report_filters(params, given))
    rows = [[c.commitment, c.target_rate, c.judged, share(c.normal), interval(c.normal),
             {True: "met", False: "missed", None: ""}[c.met]] for c in review.commitments]  # fmt: skip
    title = f"Review of {review.agreement.get('title') or agreement}"
    show(fmt, ["commitment", "target", "judged", "normal", "95% interval", "met"], rows, title, lambda: dump(review))
    if fmt == "table":
        totals = ", ".join(f"{v} {k}" for k, v in review.totals.items()) or "none"
        stdout.print(f"credits: {totals} ({len(review.penalties)} penalty items)", markup=False, highlight=False)


# --- alerts -------------------------------------------------------------------------------------------


@cli.group()
def alerts() -> None:
    """Read alerts (scope reports:read) and acknowledge them (alerts:manage)."""


ALERT_HEADERS = ["id", "level", "state", "process", "node", "department", "raised_at", "acknowledged_by"]


def alert_row(a: Alert) -> list[Any]:
    return [a.id, a.level, a.state, a.process, a.node, a.department, instant(a.raised_at), a.acknowledged_by]


@alerts.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(["open", "acknowledged", "resolved"]),
              help="repeatable; default every state")  # fmt: skip
@click.option("--level", "levels", multiple=True, help="prewarning, commitment, tolerance, ... (repeatable)")
@click.option("--department", "departments", multiple=True, help="repeatable")
@click.option("--position", "positions", multiple=True, help="repeatable")
@click.option("--process")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True, help="page size")
@click.option("--cursor", help="next_cursor of the previous page")
@click.option("--all", "every", is_flag=True, help="every page, not only the first")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def alerts_list(
    ctx: click.Context,
    /,
    states: Sequence[str],
    levels: Sequence[str],
    departments: Sequence[str],
    positions: Sequence[str],
    every: bool,
    fmt: str,
    **filters: Any,
) -> None:
    """Alerts, newest first."""
    pledge = client(ctx)
    repeated = {"state": states, "level": levels, "department": departments, "position": positions}
    filters = {k: v for k, v in {**filters, **repeated}.items() if v not in (None, ())}
    if every:
        found = list(pledge.iter_alerts(**filters))
        next_cursor = None
    else:
        page = pledge.list_alerts(**filters)
        found, next_cursor = page.items, page.next_cursor
    show(fmt, ALERT_HEADERS, [alert_row(a) for a in found], None, lambda: dump(list(found)))
    if next_cursor and fmt != "json":
        stderr.print(f"more: --cursor {next_cursor}  (or --all)", markup=False, highlight=False)


@alerts.command("ack")
@click.argument("alert_id")
@click.option("--note", help="why, for the alert's history")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def alerts_ack(ctx: click.Context, alert_id: str, note: str | None, fmt: str) -> None:
    """Acknowledge ALERT_ID: someone is on it (it resolves by itself when its run ends)."""
    acknowledged = client(ctx).acknowledge_alert(alert_id, note=note)
    show(fmt, ALERT_HEADERS, [alert_row(acknowledged)], None, lambda: dump(acknowledged))


# --- API keys -----------------------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """Create, list, revoke and rotate API keys (scope admin)."""


KEY_HEADERS = ["id", "name", "prefix", "scopes", "sources", "status", "created_at", "expires_at"]


def key_row(k: Any) -> list[Any]:
    return [k.id, k.name, k.prefix, " ".join(k.scopes), " ".join(k.sources or []) or "(all)", k.status,
            instant(k.created_at), instant(k.expires_at)]  # fmt: skip


@keys.command("create")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, required=True, help="events:write, tickets:read, ... (repeatable)")
@click.option("--source", "sources", multiple=True, help="bind the key to these source systems (repeatable)")
@click.option("--expires-at", help="RFC 3339 instant with offset")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def keys_create(
    ctx: click.Context, name: str, scopes: Sequence[str], sources: Sequence[str], expires_at: str | None, fmt: str
) -> None:
    """A new key; its secret is printed once, now."""
    created = client(ctx).create_api_key(name, scopes, sources=sources or None, expires_at=expires_at)
    show_created(fmt, created)


def show_created(fmt: str, created: ApiKeyCreated) -> None:
    if fmt != "table":
        show(fmt, [*KEY_HEADERS, "key"], [[*key_row(created), created.key]], None, lambda: dump(created))
        return
    show(fmt, KEY_HEADERS, [key_row(created)], None, lambda: "")
    # a table may crop it: the whole key on its own line
    stdout.print(f"key (shown only now, store it): {created.key}", markup=False, highlight=False, crop=False)


@keys.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def keys_list(ctx: click.Context, fmt: str) -> None:
    """Every key (never their secrets)."""
    found = list(client(ctx).iter_api_keys())
    show(fmt, KEY_HEADERS, [key_row(k) for k in found], None, lambda: dump(list(found)))


@keys.command("revoke")
@click.argument("key_id")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str, fmt: str) -> None:
    """Refuse KEY_ID from now on."""
    revoked = client(ctx).revoke_api_key(key_id)
    show(fmt, KEY_HEADERS, [key_row(revoked)], None, lambda: dump(revoked))


@keys.command("rotate")
@click.argument("key_id")
@click.option("--grace", help="how long the old key keeps working (ISO 8601 duration, e.g. PT24H)")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def keys_rotate(ctx: click.Context, key_id: str, grace: str | None, fmt: str) -> None:
    """A new key replacing KEY_ID; its secret is printed once, now."""
    created = client(ctx).rotate_api_key(key_id, grace_period=grace)
    show_created(fmt, created)
