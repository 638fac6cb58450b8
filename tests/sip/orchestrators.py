"""A call-control stand-in for the Orchestrator (loaded by call-api in tests of call control only):
it answers the gateway's mediasoup signalling with fixed loopback values (no media plane), and acts
on `initial_vars["customer_id"]` (the caller's X-Customer-Id header):

- "hangup": the bot ends the call after a second (call_ended → the gateway's BYE);
- "transfer": a `transfer` event to `TRANSFER_TARGET`, then `call_ended transferred` on success;
- "dtmf": waits for a `dtmf` message, logs it, then ends the call.

The real Orchestrator drives the same events from its dialog (transfer actions, digit intents)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from call_api.orchestrator.base import CallResult, WebSocketIn, WebSocketOut
from voicebot_protocol import EndReason
from voicebot_protocol.client import (
    Dtmf,
    MediasoupRequest,
    MediasoupResponse,
    MediasoupResponsePayload,
    Transfer,
    TransferPayload,
    TransferResult,
)

log = logging.getLogger("tests.sip.orchestrators")
TRANSFER_TARGET = "sip:agent@127.0.0.1:5099"
ROUTER_CODECS = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {"kind": "audio", "mimeType": "audio/PCMU", "clockRate": 8000},
    {"kind": "audio", "mimeType": "audio/PCMA", "clockRate": 8000},
    {"kind": "audio", "mimeType": "audio/telephone-event", "clockRate": 8000},
]
ANSWERS: dict[str, dict[str, Any]] = {
    "getRouterRtpCapabilities": {"rtp_capabilities": {"codecs": ROUTER_CODECS}},
    "createPlainTransport": {"transport_id": "t-1", "ip": "127.0.0.1", "port": 40000},
    "connectPlainTransport": {},
    "produce": {"producer_id": "p-1"},
    "consume": {"consumer_id": "c-1", "producer_id": "bot", "kind": "audio", "rtp_parameters": {}},
}


class CallControlOrchestrator:
    def __init__(self, call_id: str, initial_vars: dict[str, Any]) -> None:
        self.call_id = call_id
        self.mode = str(initial_vars.get("customer_id", ""))

    async def run(self, websocket_in: WebSocketIn, websocket_out: WebSocketOut) -> CallResult | None:
        consumed = asyncio.Event()
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        async def read() -> None:
            async for message in websocket_in:
                if isinstance(message, MediasoupRequest):
                    method = message.payload.method
                    if method == "consume":
                        consumed.set()
                    answer = MediasoupResponsePayload(
                        request_id=message.payload.request_id, data=ANSWERS.get(method, {})
                    )
                    await websocket_out(MediasoupResponse(payload=answer))
                else:
                    await inbox.put(message)
            await inbox.put(None)

        reader = asyncio.create_task(read())
        try:
            await consumed.wait()
            await asyncio.sleep(1.0)  # the trunk has the 200 OK and has ACKed by then
            if self.mode == "hangup":
                return CallResult(EndReason.DIALOG_COMPLETED, "dialog completed")
            if self.mode == "transfer":
                await websocket_out(Transfer(payload=TransferPayload(target=TRANSFER_TARGET)))
            while (message := await inbox.get()) is not None:
                if isinstance(message, TransferResult) and message.payload.ok:
                    log.info("transfer accepted", extra={"status": message.payload.status})
                    return CallResult(EndReason.TRANSFERRED, "transferred")
                if isinstance(message, Dtmf) and self.mode == "dtmf":
                    log.info("dtmf received", extra={"digit": message.payload.digit})
                    return CallResult(EndReason.DIALOG_COMPLETED, f"digit {message.payload.digit}")
            return None
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def aclose(self) -> None:
        return None


async def create_call_control_orchestrator(
    call_id: str, trace_id: str, initial_vars: dict[str, Any]
) -> CallControlOrchestrator:
    return CallControlOrchestrator(call_id, initial_vars)
