"""The gunicorn worker class of the call-api: uvicorn's worker plus a graceful drain of calls.

`uvicorn_worker.UvicornWorker` is the maintained home of the spec's `uvicorn.workers.UvicornWorker`
(deprecated in uvicorn). uvicorn's shutdown would close every call's WebSocket with 1012 the moment
SIGTERM arrives, so this worker's server runs call_api.lifecycle.drain first (see there)."""

import sys
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from call_api.lifecycle import drain
from call_api.settings import Settings


class DrainingServer(Server):
    async def shutdown(self, sockets: Any = None) -> None:
        # config.app is the application object itself (config.loaded_app may be wrapped by uvicorn).
        state = getattr(self.config.app, "state", None)
        registry = getattr(state, "registry", None)
        if registry is not None:
            settings: Settings = state.settings  # type: ignore[union-attr]
            await drain(registry, settings.drain_grace_seconds, heartbeat=self.config.callback_notify)
        await super().shutdown(sockets)


class CallApiWorker(UvicornWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = Settings()
        self.CONFIG_KWARGS = {
            **UvicornWorker.CONFIG_KWARGS,
            "ws_max_size": settings.transport_max_message_bytes,
        }
        super().__init__(*args, **kwargs)

    async def _serve(self) -> None:
        # UvicornWorker._serve with DrainingServer in place of uvicorn's Server.
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
