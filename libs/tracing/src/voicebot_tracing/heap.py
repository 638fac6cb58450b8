"""Gives the C heap's free memory back to the kernel (glibc's malloc_trim), for every Python
service: call-api's workers and the media-controller.

Why: a burst of calls makes decoders and buffers in C (pocketsphinx, onnxruntime, CTranslate2 in
call-api; Silero's ggml contexts and PyAV's codecs in the media-controller), from several threads
and so several malloc arenas. Once they are freed glibc keeps those pages: an arena only shrinks
from its top, and a fragmented one not at all, so a process's RSS would stay at the burst's peak
(measured: 11 pocketsphinx decoders built and freed left +108 MB; 100 Silero contexts +300 MB; a
trim took both back to the start). malloc_trim(0) returns every arena's free pages. Requests are
merged (at most one trim every TRIM_DELAY_SECONDS, that long after the first request) and it runs
in a thread: it walks the arenas under their locks, a few milliseconds.

When a process's last call ends (call-api's registry.py, the media-controller's sessions.py) the
trim is preceded by a full garbage collection, if the process is still idle then: a burst leaves
thousands of reference cycles (tasks, spans, sockets) that only the oldest generation's rare
collection would free, and the memory they hold cannot go back to the kernel before. It runs on
the event loop (≈ 70 ms of CPU over a warm call-api worker's 100 000 objects) at a moment no call
is there to notice. Providers may add a release of their own (`on_idle`), run in the trim's thread
just before it."""

import asyncio
import ctypes
import functools
import gc
import logging
import os
import weakref
from collections.abc import Callable

TRIM_DELAY_SECONDS = 2.0
ARENAS = 2  # glibc's default is 8 per core: more arenas, more memory stranded between them
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)

_due: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.TimerHandle]" = (
    weakref.WeakKeyDictionary()
)
_collect_if: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Callable[[], bool]]" = (
    weakref.WeakKeyDictionary()
)
_running: set[asyncio.Task[bool]] = set()
_idle_releases: list[Callable[[], None]] = []
log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """None where the C library is not glibc (musl has no malloc_trim)."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Call before the process starts threads (gunicorn's post_fork): at most `arenas` malloc
    arenas, as MALLOC_ARENA_MAX would (an environment value, when set, is left alone)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))


def trim_now() -> bool:
    """Blocking: True if some memory went back to the kernel."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


def trim_soon(delay: float = TRIM_DELAY_SECONDS) -> None:
    """A trim `delay` seconds from now, unless one is already due (nothing outside an event loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if loop not in _due:
        _due[loop] = loop.call_later(delay, _start_trim, loop)


def collect_and_trim_soon(still_idle: Callable[[], bool], delay: float = TRIM_DELAY_SECONDS) -> None:
    """The worker has no call left: the coming trim (one is made due) first collects all garbage,
    if `still_idle()` is true then."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    _collect_if[loop] = still_idle
    trim_soon(delay)


def on_idle(release: Callable[[], None]) -> None:
    """`release` (blocking) runs before the trim that follows a worker's last call."""
    _idle_releases.append(release)


def _release_and_trim() -> bool:
    for release in list(_idle_releases):
        try:
            release()
        except Exception:
            log.exception("idle memory release failed")
    return trim_now()


def _start_trim(loop: asyncio.AbstractEventLoop) -> None:
    _due.pop(loop, None)
    still_idle = _collect_if.pop(loop, None)
    idle = still_idle is not None and still_idle()
    if idle:
        gc.collect()
    task = asyncio.ensure_future(asyncio.to_thread(_release_and_trim if idle else trim_now))
    _running.add(task)
    task.add_done_callback(_finished)


def _finished(task: "asyncio.Task[bool]") -> None:
    _running.discard(task)
    if not task.cancelled():
        task.exception()  # a loop shutting down refuses the thread: nothing to trim then
