"""`python -m media_controller`: serve until SIGTERM/SIGINT; SIGTERM drains first (drain.py)."""

import asyncio
import logging
import signal

from aiohttp import web
from voicebot_protocol.media_registry import ControllerRecord
from voicebot_tracing import flush_tracing, heap, setup_logging, setup_tracing
from voicebot_tracing.gc_pauses import freeze_startup

from media_controller.app import SESSIONS, create_app
from media_controller.drain import drain
from media_controller.registry import Registration, advertised_url, controller_id_of
from media_controller.sessions import Sessions
from media_controller.settings import Settings

log = logging.getLogger("media_controller")


def _registration(settings: Settings, sessions: Sessions, port: int) -> Registration | None:
    cluster = settings.cluster
    if not (cluster.redis_url or cluster.advertise_url):
        return None  # a lone controller: call-api keeps using the URL it was configured with
    sessions.own_url = advertised_url(settings, port)
    if not cluster.redis_url:
        return None
    controller_id = controller_id_of(settings, port)

    def record() -> ControllerRecord:
        return ControllerRecord(
            controller_id=controller_id,
            url=sessions.own_url or "",
            capacity=settings.policy.max_sessions,
            sessions=len(sessions),
            draining=sessions.draining,
            heartbeat_seconds=cluster.heartbeat_seconds,
        )

    return Registration(
        cluster.redis_url, record, heartbeat=cluster.heartbeat_seconds, ttl=cluster.registry_ttl_seconds
    )


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    sessions = app[SESSIONS]
    registration = _registration(settings, sessions, port)
    if registration is not None:
        sessions.on_change = registration.publish_now
        registration.start()
    freeze_startup()  # full collections walk the calls' objects only: shorter stalls of the pacing
    log.info("listening", extra={"event": "listening", "host": host, "port": port, "url": sessions.own_url})
    stopped_by: list[signal.Signals] = []
    stop = asyncio.Event()

    def on_signal(signum: signal.Signals) -> None:
        stopped_by.append(signum)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    await stop.wait()
    if stopped_by[0] is signal.SIGTERM and settings.cluster.drain_grace_seconds > 0:
        await drain(
            sessions,
            settings.cluster.drain_grace_seconds,
            registration.publish_now if registration else lambda: None,
        )
    log.info("shutting down")
    if registration is not None:
        await registration.stop()
    await runner.cleanup()
    await asyncio.to_thread(flush_tracing)


def main() -> None:
    heap.limit_arenas()  # before any thread (Silero's, asyncio's): fewer malloc arenas to strand memory in
    settings = Settings()
    setup_logging("media-controller", settings.log_level)
    try:
        create_app(settings)  # the secrets' check, before anything listens
    except ValueError as refused:
        log.critical("refusing to start: %s", refused)
        raise SystemExit(2) from None
    setup_tracing("media-controller", settings.tracing.exporter, settings.tracing.otlp_endpoint)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
