"""Shorter pauses of the garbage collector's full collections, for a service with real-time work
(the media-controller paces every call's bot audio on its one event loop).

A full (oldest generation) collection walks every tracked object and holds the event loop while
it does. Most of those objects are the service's own, made while it started (modules, settings,
pydantic's schemas, the app) and alive until it stops: once it is ready they are moved out of the
collector's reach (`gc.freeze`), so a full collection walks only what its calls made. Measured in
the media-controller at 200 sessions: 117 000 tracked objects, 88 000 of them from its start; a
full collection over all of them held the loop, and so every call's packets, 47–52 ms."""

import gc


def freeze_startup() -> int:
    """Call once the service is ready, before its first call; returns the objects frozen."""
    gc.collect()  # what starting left as garbage is freed, not kept for ever
    gc.freeze()
    return gc.get_freeze_count()
