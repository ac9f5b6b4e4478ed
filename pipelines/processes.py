"""Worker processes that leave nothing behind: the forkserver every pool of this process forks
its workers from, and multiprocessing's helpers, ended when the last pool ends.

forkserver, not fork: the crawl process runs threads (reactor, DNS pool, pebble's own) and
forking a threaded process can deadlock the child. Pools call `pool_started()` before they
start workers and `pool_ended()` once their workers are gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any

_open_pools = 0  # pools of this process whose workers are running


def pool_started() -> None:
    global _open_pools
    _start_forkserver_deaf_to_ctrl_c()
    _open_pools += 1


def pool_ended() -> None:
    global _open_pools
    _open_pools -= 1
    if _open_pools == 0:  # the helpers serve every pool of the process
        _stop_helpers()


def _start_forkserver_deaf_to_ctrl_c() -> None:
    """Start the forkserver with SIGINT ignored. Ignored signals stay ignored across exec, and
    Python then installs no KeyboardInterrupt handler, so the forkserver and every worker it
    forks ignore Ctrl-C from birth. Otherwise a Ctrl-C in the second a worker starts (before
    pebble makes it ignore SIGINT) kills it, breaks the pool and hangs the crawl that waits
    for it. The main process handles Ctrl-C: it stops the workers."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be changed in the main thread
    from multiprocessing import forkserver

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_helpers() -> None:
    """Stop the forkserver, then the resource tracker, and reap them; called when the last
    pool of this process has ended. Left alone they exit only after this process does, when
    they read end-of-file on their pipes. While another pool runs they are still needed (its
    workers also hold the tracker's pipe). The forkserver's `_stop` is private in CPython 3.8
    to 3.13 and made for this; the tracker is given two seconds to go."""
    from multiprocessing import forkserver, resource_tracker

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        with contextlib.suppress(OSError):  # already gone
            stop()
    tracker: Any = resource_tracker._resource_tracker  # private attributes, read with care
    fd, pid = getattr(tracker, "_fd", None), getattr(tracker, "_pid", None)
    if fd is None or pid is None:
        return
    with tracker._lock:
        with contextlib.suppress(OSError):
            os.close(fd)
        tracker._fd = None  # the next pool starts a new one
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)
        tracker._pid = None
