"""Draining on SIGTERM, like call-api's: the controller refuses new sessions at once (code
`draining`, and its registry record says so), lets the open calls go on for up to the grace period,
then returns so that shutdown closes whatever is left (those calls get media_failure)."""

import logging
from collections.abc import Callable

from media_controller.sessions import Sessions

log = logging.getLogger(__name__)


async def drain(sessions: Sessions, grace_seconds: float, on_draining: Callable[[], None]) -> None:
    sessions.draining = True
    on_draining()
    log.warning("draining", extra={"sessions": len(sessions), "grace_s": grace_seconds})
    if not await sessions.wait_idle(grace_seconds):
        log.warning("grace period over; closing the remaining sessions", extra={"sessions": len(sessions)})
    else:
        log.info("drained: no session left")
