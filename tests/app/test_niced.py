"""Catalogue work runs on a thread the scheduler gives only idle time, the loop untouched."""

import os
import sys
import threading

from app.catalogue.niced import GIL_SWITCH_S, niced_thread


def scheduling() -> tuple[int, int]:
    tid = threading.get_native_id()
    return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)


def test_the_catalogue_thread_runs_idle_and_the_caller_does_not() -> None:
    before = scheduling()
    executor = niced_thread("test-idle")
    try:
        policy, _ = executor.submit(scheduling).result(timeout=10)
    finally:
        executor.shutdown(wait=True)
    assert policy == os.SCHED_IDLE
    assert scheduling() == before  # per thread: the event loop's thread keeps its priority
    assert sys.getswitchinterval() == GIL_SWITCH_S
