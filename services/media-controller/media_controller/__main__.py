"""`python -m media_controller`: serve until SIGTERM/SIGINT."""

import asyncio
import logging
import signal

from aiohttp import web
from voicebot_tracing import flush_tracing, setup_logging, setup_tracing

from media_controller.app import create_app
from media_controller.settings import Settings

log = logging.getLogger("media_controller")


async def serve(settings: Settings) -> None:
    runner = web.AppRunner(create_app(settings), access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    log.info("listening", extra={"event": "listening", "host": host, "port": port})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
    await asyncio.to_thread(flush_tracing)


def main() -> None:
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
