"""Steps die with their run: each process of a run asks the kernel to signal it when its starter dies.

A step runs in a process of its own session, so that a timeout can kill its whole process group without
touching the run; the price is that `kill -9` of `datakit run job` (or of its process group, or of
`datakit serve`) does not reach the step, which would go on loading and commit after the run was
recorded as abandoned — and a resume would load it again. So every process a run starts is tied to
the process that started it, with Linux's parent-death signal (`prctl(PR_SET_PDEATHSIG)`):

- the step server gets SIGTERM when the thread that started it ends (the run's thread; it also closes
  the server, so the signal never comes early); it then SIGKILLs each running step's process group —
  which reaches what a step started itself — and exits. It does the same when its stdin (the pipe from
  the run) reaches end of file, which also covers a parent that closed the pipe without dying;
- a step forked by the step server, and a step spawned directly (DATAKIT_STEP_SERVER=0, single-step
  plans, a server that could not start), get SIGKILL when their parent dies. SIGKILL, not a handler:
  a step blocked in a driver call for seconds would run a Python handler only afterwards.

The kernel sends these signals while the dying process exits, so the run's processes are gone within
milliseconds of it (`tests/orchestrate/test_lifeline.py` prints the time). Processes that a *spawned*
step starts itself (no server to kill its group) are not covered; a load starts none. Elsewhere than
Linux the request is a no-op, and only the step server's end-of-file watch remains.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send `sig` to this process when its parent ends; send it now if `parent` (the pid
    that started this process) is gone already. False where the kernel offers no such request."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # it ended before the request took effect: we were re-parented
        os.kill(os.getpid(), sig)
    return True
