"""A telephony call through the real back end, as a SIP gateway places it (docs/media-signalling.md,
"A SIP trunk"): call_start with codec pcmu, ONE symmetric plain transport, G.711 RTP without
header extensions both ways, RFC 4733 keys in the RTP driving the scenario, and a transfer that
ends the call `transferred`."""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass

from voicebot_callsim import raw
from voicebot_callsim.call import GatewayCall
from voicebot_protocol import CloseCode

from tests.support.fullstack import FullStack
from tests.support.speech import RATE, transcribe, with_prefixes
from tests.support.telephony import SymmetricGateway, connect_symmetric


@dataclass
class TelephonyCall(GatewayCall):
    codec: str = "pcmu"

    async def start(self, open_timeout: float = 10.0) -> None:
        """GatewayCall.start, with the negotiated codec in call_start."""
        self.connect_started = time.monotonic()
        self._ws = await raw.connect(
            self.url, {}, open_timeout=open_timeout, max_size=2**22, token=self.token
        )
        self._reader = asyncio.create_task(self._read(), name=f"telephony-{self.call_id}")
        start = json.loads(raw.call_start(self.call_id, None, **self.initial_vars))
        start["payload"]["codec"] = self.codec
        await self._ws.send(json.dumps(start))
        accepted = await self.events.wait(lambda e: e.name in ("call_accepted", "call_failed"), open_timeout)
        assert accepted.name == "call_accepted", accepted.message


async def test_a_g711_call_with_keys_and_a_transfer(stack: FullStack) -> None:
    call = TelephonyCall(stack.call_api.ws_url, f"sip-{uuid.uuid4().hex[:8]}", {"contact_name": "Ann"})
    gateway = await SymmetricGateway.open("pcmu")
    await call.start()
    try:
        consumed = await connect_symmetric(call.signal, gateway)
        # a phone line streams from the answer on: mediasoup opens the caller's stream on its
        # first audio packet (telephone-events before any audio would be dropped)
        await gateway.send_silence(0.2)
        assert consumed["rtp_parameters"]["codecs"][0]["mimeType"] == "audio/PCMU"
        play = await call.wait_event("play_audio", 20)
        payload = play.message["payload"]
        assert (payload["codec"], payload["payload_type"], payload["clock_rate"]) == ("pcmu", 0, 8000)
        assert payload["rtp_port"] == gateway.port
        greeting = await call.wait_event("transcript", 20, role="bot")
        # The whole greeting: a loaded machine may stall the pacer for a few hundred ms mid-sentence;
        # nothing else is sent until a key is pressed.
        await gateway.wait_quiet(1.5, 20)
        greeting_pcm = gateway.pcm(RATE)

        # key 1 in the RTP = "yes" at the offer (pressed at once: the bot listens for 8 s)
        since = len(call.events)
        await gateway.press(1)
        await gateway.send_silence(0.2)
        # the bot's greeting, as PCMU at the gateway's socket, is understood. The grammar is the
        # greeting and its leading parts: in telephone-band (4 kHz) audio pocketsphinx's wideband
        # model often follows only the first sentence (with the name) of it.
        template = greeting.message["payload"]["text"].replace("Ann", "{}").rstrip("?.")
        phrases = with_prefixes(template.format(n) for n in ("ann", "bob", "maria"))
        heard = await transcribe(greeting_pcm, phrases)
        assert "ann" in heard.split(), heard
        reply = await call.wait_event("transcript", 20, since, role="bot")
        assert "which day" in reply.message["payload"]["text"].lower()
        await gateway.wait_quiet(0.3, 10)

        # key 0 = the reception: transfer, then transfer_result ok ends the call
        since = len(call.events)
        await gateway.press(0)
        await gateway.send_silence(0.2)
        transfer = await call.wait_event("transfer", 20, since)
        assert transfer.message["payload"] == {"target": "sip:reception@127.0.0.1", "mode": "blind"}
        await call.send({"event": "transfer_result", "payload": {"ok": True, "status": 202}})
        ended = await call.wait_event("call_ended", 20, since)
        assert ended.message["code"] == "transferred"
        await asyncio.wait_for(call.closed.wait(), 15)
        assert call.close_code == CloseCode.NORMAL
    finally:
        gateway.close()
        await call.aclose()
