"""Single-event POSTs that arrive together are ingested together.

A single event costs a transaction of about a dozen statements whatever it holds, so a partner system
pushing its events one by one, many at once, would be held to a few hundred events per second. Instead,
while one batch of a caller's single events is being written, the next ones wait and then go together
as one chunk: one transaction, the same statements as a bulk request, each request answered with its
own item's outcome. Alone, an event goes at once (no added wait); under load, a request waits for at
most the batch ahead of it, as it would wait for that batch's row locks anyway.

Each event keeps its own request id in the event log; the feed rows of a batch carry its first
request's id. Should a batch fail as a whole (a concurrent twin, a deadlock), each of its events is
ingested again alone, so one request's trouble is never another's answer.
"""

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from pledge_common.identity import Caller
from pledge_common.observability import current_request_id
from sqlalchemy.ext.asyncio import AsyncSession

from tracking_svc.config import Settings
from tracking_svc.ingest.schemas import EventIn
from tracking_svc.ingest.service import Outcome, ingest_chunk


@dataclass(slots=True)
class _Waiting:
    event: EventIn
    request_id: str | None
    answer: asyncio.Future[Outcome]


class SingleEvents:
    """Per caller (its identity decides which sources it may write), a queue of single events."""

    def __init__(
        self, unit_of_work: Callable[[], AbstractAsyncContextManager[AsyncSession]], settings: Settings
    ) -> None:
        self._unit_of_work = unit_of_work
        self._settings = settings
        self._queues: dict[Caller, list[_Waiting]] = {}
        self._drains: set[asyncio.Task[None]] = set()

    async def ingest(self, event: EventIn, caller: Caller) -> Outcome:
        """The event's outcome once it is committed (or refused); raises what ingesting it alone raised."""
        waiting = _Waiting(event, current_request_id(), asyncio.get_running_loop().create_future())
        queue = self._queues.get(caller)
        if queue is None:
            queue = self._queues[caller] = []
            drain = asyncio.create_task(self._drain(caller, queue))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        queue.append(waiting)
        return await asyncio.shield(waiting.answer)

    async def _drain(self, caller: Caller, queue: list[_Waiting]) -> None:
        batch: list[_Waiting] = []
        try:
            while queue:
                batch = queue[: self._settings.ingest_chunk_size]
                del queue[: len(batch)]
                await self._ingest(caller, batch)
        except BaseException as err:  # cancelled at shutdown: nobody waits for ever
            for waiting in [*batch, *queue]:
                if not waiting.answer.done():
                    waiting.answer.set_exception(err)
            raise
        finally:
            del self._queues[caller]

    async def _ingest(self, caller: Caller, batch: list[_Waiting]) -> None:
        try:
            async with self._unit_of_work() as session:  # commits at the end of the block
                result = await ingest_chunk(
                    session,
                    [w.event for w in batch],
                    caller=caller,
                    settings=self._settings,
                    request_ids=[w.request_id for w in batch],
                )
        except Exception as err:
            if len(batch) > 1:
                for waiting in batch:
                    await self._ingest(caller, [waiting])
            elif not batch[0].answer.done():
                batch[0].answer.set_exception(err)
            return
        for waiting, outcome in zip(batch, result.outcomes, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(outcome)
