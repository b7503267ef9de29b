"""The claims of deliveries that start a job (`datakit.server.starting`), on a real event loop."""

from __future__ import annotations

import asyncio
import threading

from datakit.server.starting import Claim, Starting

DAILY = ("daily", None)


def test_a_claim_accepted_from_a_worker_thread_answers_the_waiters_before_the_claim_ends() -> None:
    async def scenario() -> tuple[Claim | None, bool]:
        starting = Starting()
        with starting.claimed([DAILY], "d-1") as claim:
            waiter = asyncio.create_task(starting.settled([DAILY]))
            await asyncio.sleep(0)  # the waiter waits on the claim
            assert not waiter.done()
            threading.Thread(target=claim.accept).start()  # as the worker thread does
            seen = await waiter
            return seen, claim in starting._claims.values()

    seen, still_claimed = asyncio.run(scenario())
    assert seen is not None and seen.delivery == "d-1" and seen.accepted
    assert still_claimed


def test_a_claim_that_ends_unaccepted_lets_the_next_delivery_decide() -> None:
    async def scenario() -> list[str]:
        starting = Starting()
        order: list[str] = []
        refused = asyncio.Event()

        async def delivery(name: str, accept: bool) -> None:
            if (claim := await starting.settled([DAILY])) is not None:
                order.append(f"{name}: 409 ({claim.delivery} is starting)")
                refused.set()
                return
            with starting.claimed([DAILY], name) as mine:
                order.append(f"{name}: claims")
                await asyncio.sleep(0)
                if accept:
                    mine.accept()  # the accept crosses the loop, as from a thread
                    await refused.wait()  # the start goes on until the waiter has its answer

        # d-1 is a replay (ends unaccepted): d-2 claims next and is accepted; d-3 is answered 409
        await asyncio.gather(delivery("d-1", False), delivery("d-2", True), delivery("d-3", True))
        return order

    assert asyncio.run(scenario()) == ["d-1: claims", "d-2: claims", "d-3: 409 (d-2 is starting)"]


def test_unrelated_jobs_do_not_wait_for_each_other() -> None:
    async def scenario() -> Claim | None:
        starting = Starting()
        with starting.claimed([DAILY], "d-1"):
            return await starting.settled([("hourly", None)])  # at once: nothing to wait for

    assert asyncio.run(scenario()) is None
