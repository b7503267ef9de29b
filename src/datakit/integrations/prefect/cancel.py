"""Cancel a Prefect flow run through Prefect's API (`datakit runs cancel` of a run with engine prefect).

The flow run is moved to `Cancelling`: a Prefect runner (`datakit prefect serve`) or worker then kills
the flow's process, and the flow's `on_cancellation` hook records the datakit run `cancelled`. A flow run
executing in a process of its own (`datakit prefect run job`) has no runner to kill it: the flow polls
datakit's cancel request (`flows.CancelWatch`), kills its steps' processes and ends `Cancelled`.
Without a configured API (`PREFECT_API_URL`), only that request is left to stop it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from datakit.errors import DatakitError
from datakit.log import get_logger, redact
from datakit.orchestrate.executor import CANCEL_POLL

if TYPE_CHECKING:
    from datakit.orchestrate.store import RunRecord, StateStore

log = get_logger(__name__)


def flow_run_id(run: RunRecord) -> UUID:
    """The flow run of a run Prefect executes (`prefect:<flow run id>`)."""
    try:
        return UUID((run.external_id or "").removeprefix("prefect:"))
    except ValueError:
        raise DatakitError(f"run {run.id} names no Prefect flow run ({run.external_id!r})") from None


def cancel_flow_run(run: RunRecord, actor: str) -> None:
    """Ask Prefect's API to cancel the run's flow run; a DatakitError saying how when it cannot."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL
    from prefect.states import Cancelling

    flow_run = flow_run_id(run)
    api = PREFECT_API_URL.value()
    if not api:  # Prefect's temporary local server: the flow runs in the process that started it
        log.info("run %d: no PREFECT_API_URL; its flow stops on datakit's cancel request", run.id)
        return
    state: Any = Cancelling(message=f"cancelled by {actor} (datakit runs cancel {run.id})")
    try:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(flow_run, state, force=True)
    except Exception as exc:  # the API's errors are many (HTTP, not found, timeouts): all say the same
        page = f" or on its page {run.external_url}" if run.external_url else ""
        raise DatakitError(
            f"run {run.id}: Prefect's API at {api} did not cancel flow run {flow_run}: {redact(str(exc))}",
            hint=f"cancel it in Prefect: `prefect flow-run cancel {flow_run}`{page}",
        ) from None
    log.warning("run %d: Prefect flow run %s cancelling, asked by %s", run.id, flow_run, actor)


class FlowCancelled(DatakitError):
    """An operator cancelled the run while its flow ran: the flow run ends `Cancelled`."""


class CancelWatch:
    """(In the flow's process.) Polls datakit's cancel request of run `run_id`; once asked, `by` says
    who, `requested` is set and `stop()` (the runner's `cancel`: kill the steps' processes) is called."""

    def __init__(
        self, store: StateStore, run_id: int, stop: Callable[[], None] | None, poll: float = CANCEL_POLL
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.stop_steps = stop
        self.poll = poll
        self.requested = threading.Event()
        self.by: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="datakit-prefect-cancel", daemon=True)

    def start(self) -> CancelWatch:
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self.poll):
            try:
                by = self.store.cancel_requested(self.run_id)
            except Exception as exc:  # a busy store: look again at the next poll
                log.warning("looking for a cancel request of run %d failed: %s", self.run_id, exc)
                continue
            if by is not None:
                log.warning("run %d cancelled by %s: stopping its steps", self.run_id, by)
                self.by = by
                self.requested.set()
                if self.stop_steps is not None:
                    self.stop_steps()
                return
