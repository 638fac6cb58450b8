"""`python -m sip_gateway`: the SIP stack (its own thread) and a /healthz HTTP probe, until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from voicebot_tracing import setup_logging

from sip_gateway.call import Call
from sip_gateway.settings import Settings
from sip_gateway.sipstack import IncomingCall, SipLeg, SipStack

log = logging.getLogger("sip_gateway")


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.calls: set[asyncio.Task[None]] = set()
        self.stack: SipStack | None = None

    def on_new_call(self, leg: SipLeg, incoming: IncomingCall) -> None:
        task = asyncio.create_task(Call(self.settings, leg, incoming).run())
        self.calls.add(task)
        task.add_done_callback(self.calls.discard)

    async def healthz(self, _: web.Request) -> web.Response:
        alive = self.stack is not None and self.stack.thread.is_alive()
        body = {"status": "ok" if alive else "down", "calls": len(self.calls)}
        body["refused"] = self.stack.refused if self.stack else 0
        return web.json_response(body, status=200 if alive else 503)


async def serve(settings: Settings) -> None:
    gateway = Gateway(settings)
    gateway.stack = SipStack(settings, asyncio.get_running_loop(), gateway.on_new_call)
    gateway.stack.start()
    app = web.Application()
    app.router.add_get("/healthz", gateway.healthz)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, settings.health_host, settings.health_port).start()
    log.info(
        "listening",
        extra={
            "event": "listening",
            "sip": f"udp:{settings.sip_host}:{settings.sip_port}",
            "health_port": settings.health_port,
        },
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down", extra={"calls": len(gateway.calls)})
    for task in list(gateway.calls):
        task.cancel()
    await asyncio.gather(*gateway.calls, return_exceptions=True)
    await runner.cleanup()
    gateway.stack.stop()


def main() -> None:
    settings = Settings()
    setup_logging("sip-gateway", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
