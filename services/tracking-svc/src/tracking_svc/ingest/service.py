"""Ingest one chunk of events: validate, deduplicate, derive the touched tickets and node runs, write.

Per chunk the database sees a fixed handful of set-based statements (look up stored event ids; the
catalogue; lock the stored tickets; read the history of the touched runs; create the new tickets; append
the events; write the changed tickets and runs with their feed events) whatever the number of events.
New tickets and runs cannot exist yet, so they are written with their derived state and feed events at
once (runs by binary COPY); only stored ones are updated.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any
from uuid import UUID

import msgspec
from pledge_common.domain_metrics import count_ingest, count_outcomes
from pledge_common.identity import Caller
from pledge_common.jsonlimits import DEPTH_MESSAGE, MAX_BODY_DEPTH, deep_path, nesting_exceeds, value_depth_exceeds
from pledge_common.observability import current_request_id
from pledge_common.textguard import NUL_MESSAGE, nul_field
from sqlalchemy.ext.asyncio import AsyncSession

from tracking_svc.config import Settings
from tracking_svc.ingest import repository as repo
from tracking_svc.ingest.rules import (
    SHAPING,
    Fact,
    Inconsistent,
    RunState,
    TicketState,
    derive_node_runs,
    derive_ticket,
    feed_instant,
    ticket_pauses,
    version_of,
)
from tracking_svc.ingest.schemas import EVENT_DECODER, EventIn, decode_error, shape_error


class Unparseable:
    """An NDJSON line that cannot be an event (kept in place so that indexes stay right).

    Items reach `ingest_chunk` as decoded `EventIn`s, JSON texts of one item (bytes or `msgspec.Raw`,
    decoded and checked here), or `Unparseable`."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass(slots=True)
class Outcome:
    status: str  # accepted | duplicate | rejected
    event_id: str | None = None
    source: str | None = None
    ticket_id: UUID | None = None
    received_at: datetime | None = None
    error_status: int = 0
    field: str = ""
    detail: str = ""


def _rejected(status: int, field_: str, detail: str, event: EventIn | None = None) -> Outcome:
    return Outcome(
        "rejected",
        event_id=event.event_id if event else None,
        source=event.source if event else None,
        error_status=status,
        field=field_,
        detail=detail,
    )


@dataclass(slots=True)
class Candidate:
    index: int
    event: EventIn
    fact: Fact
    payload_hash: bytes
    body: str
    ticket_key: tuple[str, str]
    ticket_id: UUID | None = None


@dataclass(slots=True)
class TicketWork:
    row: repo.TicketRow
    candidates: list[Candidate] = field(default_factory=list)
    ticket_facts: list[Fact] = field(default_factory=list)
    node_facts: dict[str, list[Fact]] = field(default_factory=lambda: defaultdict(list))


_BODY = msgspec.json.Encoder()  # the event as stored in the log: normalised JSON, absent optionals omitted
_CANONICAL = msgspec.json.Encoder(order="sorted")


def payload_hash(event: EventIn, occurred_utc: datetime | None = None) -> bytes:
    """Identity of an event's content: the same event sent again in another JSON spelling (key order,
    time offset) hashes the same; any change of meaning hashes differently (→ 409)."""
    instant = occurred_utc if occurred_utc is not None else event.occurred_at.astimezone(UTC)
    canonical = event if instant is event.occurred_at else msgspec.structs.replace(event, occurred_at=instant)
    return blake2b(_CANONICAL.encode(canonical), digest_size=16).digest()


def _identity(raw: Any) -> tuple[str | None, str | None]:
    """event_id and source of an item that is not a valid event, when it names them."""
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None, None
    if not isinstance(value, dict):
        return None, None

    def text(v: Any) -> str | None:  # never echoes a NUL (an answer may be stored under an Idempotency-Key)
        return v if isinstance(v, str) and "\x00" not in v else None

    return text(value.get("event_id")), text(value.get("source"))


EVENT_DEPTH = 2  # an event's own nesting around its ticket's attributes: {"ticket": {"attributes": ...}}


def _too_deep(text: bytes, limit: int, settings: Settings) -> tuple[str, str]:
    """(field, message) of an item nested deeper than an event may be: its attributes, or the field at fault."""
    path = deep_path(text, limit) or ()
    if path[:2] == ("ticket", "attributes"):
        return "ticket.attributes", DEPTH_MESSAGE.format(limit=settings.max_attributes_depth)
    field_ = ".".join(path[:2] if path[:1] == ("ticket",) else path[:1]) or "body"
    return field_, f"the event is {DEPTH_MESSAGE.format(limit=limit)}"


def parse_items(
    raw_items: Sequence[Any], caller: Caller, settings: Settings, now: datetime
) -> tuple[list[Outcome | None], list[Candidate], dict[int, int]]:
    """Validate each item on its own: outcomes of the items already decided, the candidates, and the
    duplicates inside the chunk (index → index of the first copy)."""
    outcomes: list[Outcome | None] = [None] * len(raw_items)
    candidates: list[Candidate] = []
    twins: dict[int, int] = {}
    seen: dict[tuple[str, str], Candidate] = {}
    latest = now + timedelta(seconds=settings.max_clock_skew_seconds)
    may_write: dict[str, bool] = {}
    decode = EVENT_DECODER.decode
    encode = _BODY.encode
    item_depth = EVENT_DEPTH + settings.max_attributes_depth
    for i, raw in enumerate(raw_items):
        if type(raw) is EventIn:
            event = raw
        elif type(raw) is Unparseable:
            outcomes[i] = _rejected(422, "body", raw.message)
            continue
        else:
            text = raw if type(raw) is bytes else bytes(raw)
            if nesting_exceeds(text, item_depth):  # checked before decoding: a decoder recurses per level
                rejected = outcomes[i] = _rejected(422, *_too_deep(text, item_depth, settings))
                if not nesting_exceeds(text, MAX_BODY_DEPTH):  # still safe to decode for its names
                    rejected.event_id, rejected.source = _identity(raw)
                continue
            try:
                event = decode(text)
            except msgspec.DecodeError as err:
                rejected = outcomes[i] = _rejected(422, *decode_error(err))
                rejected.event_id, rejected.source = _identity(raw)
                continue
            nul = nul_field(text)
            if nul is not None:
                rejected = outcomes[i] = _rejected(422, nul, NUL_MESSAGE)
                rejected.event_id, rejected.source = _identity(raw)
                continue
        problem = shape_error(event)
        if problem is not None:
            outcomes[i] = _rejected(422, *problem, event=event)
            continue
        source = event.source
        allowed = may_write.get(source)
        if allowed is None:
            allowed = may_write[source] = caller.can_see_source(source)
        if not allowed:
            outcomes[i] = _rejected(403, "source", f"this caller may not write events of source {source}", event)
            continue
        occurred = event.occurred_at
        if occurred > latest:
            outcomes[i] = _rejected(
                422,
                "occurred_at",
                f"{occurred.isoformat()} is in the future (more than {settings.max_clock_skew_seconds:g} s "
                f"after the service's clock, {now.isoformat()})",
                event,
            )
            continue
        ticket = event.ticket
        attributes = ticket.attributes
        if attributes is not None and value_depth_exceeds(attributes, settings.max_attributes_depth):
            outcomes[i] = _rejected(
                422, "ticket.attributes", DEPTH_MESSAGE.format(limit=settings.max_attributes_depth), event
            )
            continue
        if attributes is not None and len(encode(attributes)) > settings.max_attributes_bytes:
            outcomes[i] = _rejected(
                422, "ticket.attributes", f"larger than {settings.max_attributes_bytes} bytes of JSON", event
            )
            continue
        occurred_utc = occurred if occurred.tzinfo is UTC else occurred.astimezone(UTC)
        digest = payload_hash(event, occurred_utc)
        key = (source, event.event_id)
        twin = seen.get(key)
        if twin is not None:
            if twin.payload_hash == digest:
                twins[i] = twin.index
            else:
                outcomes[i] = _conflict(event)
            continue
        fact = Fact(
            event.event_id, event.type, occurred_utc, event.node, event.reason, event.department, event.position
        )
        candidate = Candidate(i, event, fact, digest, encode(event).decode(), (source, ticket.external_id))
        seen[key] = candidate
        candidates.append(candidate)
    return outcomes, candidates, twins


def _conflict(event: EventIn) -> Outcome:
    return _rejected(
        409,
        "event_id",
        f"event {event.event_id} of source {event.source} was already received with a different payload",
        event,
    )


@dataclass(slots=True)
class ChunkResult:
    outcomes: list[Outcome]

    @property
    def any_rejected(self) -> bool:
        return any(o.status == "rejected" for o in self.outcomes)


class ConcurrentTwin(Exception):
    """Another request stored one of these event ids while this chunk was being derived."""


async def ingest_chunk(
    session: AsyncSession,
    raw_items: Sequence[Any],
    *,
    caller: Caller,
    settings: Settings,
    atomic: bool = False,
    request_ids: Sequence[str | None] | None = None,
) -> ChunkResult:
    """Ingest a chunk; one outcome per item, in order. With `atomic`, nothing is written if any item fails.

    The event log records each event's request id: `request_ids` per item (single events ingested
    together), else the current request's."""
    now = datetime.now(UTC)
    outcomes, candidates, twins = parse_items(raw_items, caller, settings, now)

    # 1. already in the log: a duplicate answers as the first time; another payload under the same id is a 409
    stored = await repo.stored_events(session, [(c.event.source, c.event.event_id) for c in candidates])
    fresh: list[Candidate] = []
    for c in candidates:
        known = stored.get((c.event.source, c.event.event_id))
        if known is None:
            fresh.append(c)
        elif known.payload_hash == c.payload_hash:
            outcomes[c.index] = Outcome(
                "duplicate", c.event.event_id, c.event.source, known.ticket_id, known.received_at
            )
        else:
            outcomes[c.index] = _conflict(c.event)

    # 2. process, node and segment keys against this service's copy of commitment-svc's catalogue
    catalogue, segments = await repo.known_catalogue(
        session,
        sorted({c.event.ticket.process for c in fresh}),
        sorted({c.event.ticket.segment for c in fresh if c.event.ticket.segment is not None}),
    )
    valid: list[Candidate] = []
    for c in fresh:
        problem = _catalogue_problem(c.event, catalogue, segments)
        if problem is None:
            valid.append(c)
        else:
            outcomes[c.index] = _rejected(422, *problem, event=c.event)

    # 3-5. lock the stored tickets, read their history, derive; then create the new tickets. Should another
    # request create one of them meanwhile, plan again (with it locked and its history read).
    inserted_here: set[UUID] = set()
    for _ in range(3):
        plan = await _plan(session, valid, catalogue, outcomes, inserted_here)
        for c in plan.accepted:
            outcomes[c.index] = Outcome("accepted", c.event.event_id, c.event.source, c.ticket_id, now)
        for index, original in twins.items():
            first = outcomes[original]
            assert first is not None
            outcomes[index] = (
                Outcome("duplicate", first.event_id, first.source, first.ticket_id, first.received_at)
                if first.status in ("accepted", "duplicate")
                else first
            )
        result = ChunkResult([o for o in outcomes if o is not None])
        assert len(result.outcomes) == len(raw_items)
        if atomic and result.any_rejected:
            count_ingest("ticket_event", 0, 0, len(result.outcomes))  # nothing of the chunk is written
            return result
        created = await repo.insert_tickets(session, plan.new_tickets)
        inserted_here.update(created)
        if len(created) == len(plan.new_tickets):
            break
        for c in valid:
            outcomes[c.index] = None
        for index in twins:
            outcomes[index] = None
    else:
        raise ConcurrentTwin

    # 6. write the events, the changed tickets, the runs (each change of a ticket or run with its feed event)
    try:
        request_id = current_request_id()
        item_request_ids = request_ids if request_ids is not None else [request_id] * len(raw_items)
        await repo.insert_events(
            session,
            [
                (
                    c.event.source,
                    c.event.event_id,
                    c.ticket_id,  # type: ignore[misc]
                    c.fact.type,
                    c.fact.occurred_at,
                    c.fact.node,
                    c.fact.reason,
                    c.fact.department,
                    c.fact.position,
                    c.payload_hash,
                    c.body,
                    now,
                    item_request_ids[c.index],
                )
                for c in plan.accepted
            ],
        )
        await repo.update_tickets(session, plan.ticket_updates)
        # the upsert first: a refreshed ticket re-sends its stored runs, which must not include the new ones
        upserted_tickets = {r.ticket_id: plan.run_tickets[r.ticket_id] for r in plan.run_upserts}
        await repo.upsert_runs(session, plan.run_upserts, list(upserted_tickets.values()), plan.refresh)
        await repo.insert_new_runs(session, plan.new_runs, plan.run_tickets)
    except repo.ConcurrentInsert:
        raise ConcurrentTwin from None
    count_outcomes(session, "ticket_event", [o.status for o in result.outcomes])
    return result


@dataclass(slots=True)
class Plan:
    """What a chunk writes, derived before anything is written."""

    accepted: list[Candidate] = field(default_factory=list)
    new_tickets: list[repo.NewTicket] = field(default_factory=list)
    ticket_updates: list[repo.TicketUpdate] = field(default_factory=list)
    run_upserts: list[repo.RunUpsert] = field(default_factory=list)  # runs that may exist: upserted in SQL
    new_runs: list[repo.RunUpsert] = field(default_factory=list)  # runs of nodes without a stored event
    run_tickets: dict[UUID, repo.TicketFields] = field(default_factory=dict)
    refresh: list[UUID] = field(default_factory=list)


async def _plan(
    session: AsyncSession,
    valid: list[Candidate],
    catalogue: dict[str, dict[str, repo.NodeDefaults]],
    outcomes: list[Outcome | None],
    inserted_here: set[UUID],
) -> Plan:
    """Lock the stored tickets of `valid`, read the history they touch and derive every change; rejected
    candidates get their outcome. `inserted_here`: tickets this transaction created (no stored events)."""
    # the tickets: a ticket keeps the process it was opened with; ids of new ones are minted here
    first_process: dict[tuple[str, str], str] = {}
    for c in valid:
        first_process.setdefault(c.ticket_key, c.event.ticket.process)
    tickets = await repo.lock_tickets(session, sorted(first_process)) if first_process else {}
    missing = [key for key in first_process if key not in tickets]
    for key, ticket_id in zip(missing, repo.time_ordered_ids(len(missing)), strict=True):
        tickets[key] = repo.TicketRow(
            ticket_id, key[0], key[1], first_process[key], "open", None, None, None, None, "", None, "", "", [], True
        )
    work: dict[UUID, TicketWork] = {}
    for c in valid:
        row = tickets[c.ticket_key]
        if row.id in inserted_here:
            row.inserted = True
        if row.process_key != c.event.ticket.process:
            outcomes[c.index] = _rejected(
                422,
                "ticket.process",
                f"ticket {row.external_id} of source {row.source} belongs to process {row.process_key}",
                c.event,
            )
            continue
        c.ticket_id = row.id
        w = work.get(row.id)
        if w is None:
            w = work[row.id] = TicketWork(row)
        w.candidates.append(c)

    # the stored history of what this chunk touches (only tickets that existed before it have any)
    ticket_level: list[UUID] = []
    all_nodes: list[UUID] = []
    pairs: set[tuple[UUID, str]] = set()
    for ticket_id, w in work.items():
        if w.row.inserted:
            continue
        ticket_level.append(ticket_id)  # ends and reopens shape the node cycles; status needs the rest
        if any(c.fact.type in SHAPING for c in w.candidates):
            all_nodes.append(ticket_id)
        else:
            pairs.update((ticket_id, c.fact.node) for c in w.candidates if c.fact.node is not None)
    for ticket_id, fact in await repo.history(session, ticket_level, sorted(pairs), all_nodes):
        w = work[ticket_id]
        if fact.node is None:
            w.ticket_facts.append(fact)
        else:
            w.node_facts[fact.node].append(fact)

    # derive; an event that would contradict the history is refused on its own
    plan = Plan()
    for w in work.values():
        nodes = catalogue.get(w.row.process_key, {})
        ok, ticket_state, runs, derived_nodes = _derive(w, nodes, outcomes)
        plan.accepted.extend(ok)
        if not ok:
            continue  # a new ticket none of whose events is accepted is not created
        row = w.row
        pauses = ticket_pauses(row.pauses, derived_nodes, runs)
        update, descriptive_changed = _ticket_update(row, ticket_state, ok, pauses)
        if update is not None:
            if row.inserted and row.id not in inserted_here:
                plan.new_tickets.append(repo.NewTicket(row.source, row.external_id, row.process_key, update))
            else:
                plan.ticket_updates.append(update)
        if descriptive_changed and not row.inserted:
            plan.refresh.append(row.id)
        if runs:
            segment, customer_ref = (update.segment, update.customer_ref) if update else (row.segment, row.customer_ref)
            plan.run_tickets[row.id] = repo.TicketFields(
                row.id, row.source, row.external_id, row.process_key, segment, customer_ref
            )
            stored_nodes = () if row.inserted else w.node_facts.keys()
            for run in runs:
                (plan.run_upserts if run.node_key in stored_nodes else plan.new_runs).append(_run_upsert(row.id, run))
    return plan


def _catalogue_problem(
    event: EventIn, catalogue: dict[str, dict[str, repo.NodeDefaults]], segments: set[str]
) -> tuple[str, str] | None:
    nodes = catalogue.get(event.ticket.process)
    if nodes is None:
        return "ticket.process", f"unknown process {event.ticket.process}"
    if event.node is not None and event.node not in nodes:
        return "node", f"unknown node {event.node} of process {event.ticket.process}"
    if event.ticket.segment is not None and event.ticket.segment not in segments:
        return "ticket.segment", f"unknown segment {event.ticket.segment}"
    return None


def _derive_all(
    ticket_facts: list[Fact],
    node_facts: dict[str, list[Fact]],
    nodes: dict[str, repo.NodeDefaults],
    derive_status: bool,
    touched_nodes: set[str],
) -> tuple[TicketState | None, list[RunState]]:
    status = derive_ticket(ticket_facts) if derive_status else None
    shaping = [f for f in ticket_facts if f.type in SHAPING]
    runs: list[RunState] = []
    for node in sorted(touched_nodes):
        defaults = nodes.get(node, repo.NodeDefaults(None, None))
        runs.extend(derive_node_runs(node, node_facts[node], shaping, defaults.department, defaults.position))
    return status, runs


def _derive(
    w: TicketWork, nodes: dict[str, repo.NodeDefaults], outcomes: list[Outcome | None]
) -> tuple[list[Candidate], TicketState | None, list[RunState], set[str]]:
    """Accept every candidate of the ticket if together they are consistent with its history; otherwise
    take them one by one in arrival order and refuse each that would contradict what is accepted so far.
    Also answers the nodes whose runs were derived (all of them when a ticket event shapes their cycles).

    Only ticket-level events can be refused (node runs follow from any set of events)."""
    shaping = any(c.fact.type in SHAPING for c in w.candidates)
    derive_status = any(c.fact.node is None for c in w.candidates)
    touched = set(w.node_facts) if shaping else set()
    touched.update(c.fact.node for c in w.candidates if c.fact.node is not None)

    ticket_facts = list(w.ticket_facts)
    node_facts: dict[str, list[Fact]] = defaultdict(list, {k: list(v) for k, v in w.node_facts.items()})
    for c in w.candidates:
        (ticket_facts if c.fact.node is None else node_facts[c.fact.node]).append(c.fact)
    try:
        status, runs = _derive_all(ticket_facts, node_facts, nodes, derive_status, touched)
        return list(w.candidates), status, runs, touched
    except Inconsistent:
        pass

    ticket_facts = list(w.ticket_facts)
    node_facts = defaultdict(list, {k: list(v) for k, v in w.node_facts.items()})
    ok: list[Candidate] = []
    for c in w.candidates:
        target = ticket_facts if c.fact.node is None else node_facts[c.fact.node]
        target.append(c.fact)
        try:
            if c.fact.node is None:
                derive_ticket(ticket_facts)
        except Inconsistent as problem:
            target.pop()
            outcomes[c.index] = _rejected(422, problem.field, problem.message, c.event)
            continue
        ok.append(c)
    status, runs = _derive_all(ticket_facts, node_facts, nodes, derive_status, touched)
    return ok, status, runs, touched


def _ticket_update(
    row: repo.TicketRow, state: TicketState | None, accepted: list[Candidate], pauses: list[dict[str, Any]]
) -> tuple[repo.TicketUpdate | None, bool]:
    """The ticket's new row if anything changed (always for a new ticket), and whether its segment or
    customer changed (then its node runs are re-sent on the feed, since they carry both)."""
    segment, segment_version = row.segment, row.segment_version
    customer_ref, customer_ref_version = row.customer_ref, row.customer_ref_version
    attributes: dict[str, Any] | None = None
    attributes_version = row.attributes_version
    for c in accepted:
        t = c.event.ticket
        if t.segment is None and t.customer_ref is None and t.attributes is None:
            continue  # names none of the descriptive fields (most events)
        version = version_of(c.fact.occurred_at, c.fact.event_id)
        if t.segment is not None and version > segment_version:
            segment, segment_version = t.segment, version
        if t.customer_ref is not None and version > customer_ref_version:
            customer_ref, customer_ref_version = t.customer_ref, version
        if t.attributes is not None and version > attributes_version:
            attributes, attributes_version = t.attributes, version
    if state is None:
        state = TicketState(row.status, row.opened_at, row.closed_at, row.cancelled_at)
    descriptive_changed = (segment, customer_ref) != (row.segment, row.customer_ref)
    changed = (
        row.inserted
        or descriptive_changed
        or attributes is not None
        or pauses != row.pauses
        or (state.status, state.opened_at, state.closed_at, state.cancelled_at)
        != (row.status, row.opened_at, row.closed_at, row.cancelled_at)
    )
    if not changed:
        return None, False
    return (
        repo.TicketUpdate(
            id=row.id,
            status=state.status,
            opened_at=state.opened_at,
            closed_at=state.closed_at,
            cancelled_at=state.cancelled_at,
            segment=segment,
            segment_version=segment_version,
            customer_ref=customer_ref,
            customer_ref_version=customer_ref_version,
            attributes=repo.dumps(attributes) if attributes is not None else None,
            attributes_version=attributes_version,
            pauses=repo.dumps(pauses),
        ),
        descriptive_changed,
    )


def _run_upsert(ticket_id: UUID, run: RunState) -> repo.RunUpsert:
    return repo.RunUpsert(
        ticket_id=ticket_id,
        node_key=run.node_key,
        cycle=run.cycle,
        status=run.status,
        started_at=run.started_at,
        completed_at=run.completed_at,
        cancelled_at=run.cancelled_at,
        pauses=repo.dumps(
            [
                {"start": feed_instant(p.start), "end": feed_instant(p.end) if p.end else None, "reason": p.reason}
                for p in run.pauses
            ]
        ),
        department=run.department,
        position=run.position,
        ended_by_ticket=run.ended_by_ticket,
    )
