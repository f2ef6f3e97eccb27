"""One worker thread at the lowest CPU priority, for catalogue work no request waits for.

Encoding titles and projecting a batch of uploads take seconds of CPU; on the service's own
core, a thread at normal priority halves the event loop's share meanwhile. At nice 19 (that
thread only: Linux applies nice per thread) the loop runs first whenever it has work, and the
catalogue takes what is left. `GIL_SWITCH_S` bounds how long the loop then waits for the GIL.
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
    """Runs in the new thread; where per-thread nice is unsupported it stays as it is."""
    with suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


def niced_thread(name: str) -> ThreadPoolExecutor:
    """An executor of one thread at nice 19; shut it down when the app stops."""
    sys.setswitchinterval(GIL_SWITCH_S)
    return ThreadPoolExecutor(1, name, initializer=_lower_priority)
