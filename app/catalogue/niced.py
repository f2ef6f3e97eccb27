"""One worker thread at the lowest CPU priority, for catalogue work no request waits for.

Encoding titles and projecting a batch of uploads take seconds of CPU; on the service's own
core, a thread at normal priority halves the event loop's share meanwhile. The thread runs
under SCHED_IDLE (Linux applies it per thread): it gets only the CPU time nothing else
wants, and a waking event loop preempts it at once. Nice 19 alone is weaker under the EEVDF
scheduler (Linux 6.6 on): a running nice-19 task may finish its slice before a woken request
handler gets the core. Where SCHED_IDLE is refused the thread falls back to nice 19.
`GIL_SWITCH_S` bounds how long the loop then waits for the GIL.
"""

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

NICE = 19  # the lowest priority
# Python's default 5 ms lets a thread that holds the GIL make the event loop wait 5 ms at every
# hand-over; a 10,000-title burst then stalled requests past Redis's 0.25 s timeout (503s)
GIL_SWITCH_S = 0.0005


def _lower_priority() -> None:
    """Runs in the new thread; where neither is supported it stays as it is."""
    tid = threading.get_native_id()
    with suppress(OSError, AttributeError):
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        return
    with suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, tid, NICE)


def niced_thread(name: str) -> ThreadPoolExecutor:
    """An executor of one idle-priority thread; shut it down when the app stops."""
    sys.setswitchinterval(GIL_SWITCH_S)
    return ThreadPoolExecutor(1, name, initializer=_lower_priority)
