"""Which jobs a webhook delivery is starting now: the one-active-run rule for a burst of deliveries.

A delivery that may start its job claims the job's (job, warehouse) pairs, records itself in the store
and starts the runs, in a worker thread. Meanwhile other deliveries for the same pairs wait on the
event loop (no thread, no query) until the claim is decided: once the claimant's delivery is accepted
(its id recorded, so its runs are being started) they are answered 409 at once, without waiting for
the start; if the claimant ends without that (paused, a replay, a client gone), the next one claims.

Everything here runs on the event loop's thread but `Claim.accept`, which a worker thread calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

RunKey = tuple[str, str | None]
"""A job and its warehouse: what the one-active-run rule is about."""


@dataclass
class Claim:
    """One delivery deciding whether its job's runs start."""

    delivery: str
    loop: asyncio.AbstractEventLoop
    decided: asyncio.Future[None]
    accepted: bool = False

    def accept(self) -> None:
        """(Any thread.) The delivery is recorded and its runs are being started."""
        self.loop.call_soon_threadsafe(self._decide, True)

    def _decide(self, accepted: bool) -> None:
        self.accepted = self.accepted or accepted
        if not self.decided.done():
            self.decided.set_result(None)


@dataclass
class Starting:
    """The claims of the deliveries deciding now, by (job, warehouse)."""

    _claims: dict[RunKey, Claim] = field(default_factory=dict)

    async def settled(self, keys: list[RunKey]) -> Claim | None:
        """None once no delivery is deciding on `keys`; the claim whose delivery was accepted, if one was."""
        while claims := {id(c): c for key in keys if (c := self._claims.get(key)) is not None}:
            accepted = next((claim for claim in claims.values() if claim.accepted), None)
            if accepted is not None:
                return accepted
            await asyncio.wait(
                [claim.decided for claim in claims.values()], return_when=asyncio.FIRST_COMPLETED
            )
        return None

    @contextmanager
    def claimed(self, keys: list[RunKey], delivery: str) -> Iterator[Claim]:
        """`keys` are this delivery's to decide on until the block ends (call after `settled`, with
        no await between: nobody else can claim them meanwhile)."""
        loop = asyncio.get_running_loop()
        claim = Claim(delivery, loop, loop.create_future())
        self._claims.update(dict.fromkeys(keys, claim))
        try:
            yield claim
        finally:
            for key in keys:
                del self._claims[key]
            claim._decide(False)
