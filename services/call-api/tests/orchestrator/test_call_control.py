"""Call control in-process: the caller's keys (RFC 4733 from the media plane, SIP INFO from the
gateway) drive the dialog; a scenario's transfer sends `transfer`, and `transfer_result` either
ends the call (`transferred`) or lets the dialog go on."""

import asyncio
from typing import Any

from call_api.providers.dialog.scenario import ScenarioDialog
from call_api.providers.dialog.scenario_file import parse_scenario
from voicebot_protocol import Dtmf, EndReason, TransferResult
from voicebot_protocol.client import DtmfPayload, TransferResultPayload
from voicebot_protocol.media import BotLegReady, DtmfDetected

READY = BotLegReady(transport_id="t", consumer_id="c")
SCENARIO: dict[str, Any] = {
    "start": "confirm",
    "vars": {"agent": "sip:agent@pbx.example"},
    "transfer_failed": "Sorry, nobody can take your call.",
    "states": {
        "confirm": {
            "say": "Press 1 to confirm or 0 for an agent.",
            "intents": {
                "yes": {"digits": [1], "say": "Confirmed. Goodbye.", "end": True},
                "agent": {
                    "phrases": ["agent"],
                    "digits": ["0"],
                    "say": "Putting you through.",
                    "transfer": {"target": "{agent}"},
                },
            },
        }
    },
}


def scenario_call(new_call: Any, **knobs: Any) -> Any:
    call = new_call(silence_timeout=5.0, **knobs)
    call.orchestrator.dialog = ScenarioDialog(parse_scenario(SCENARIO))
    return call


def said(call: Any) -> list[str]:
    return [m.payload.text for m in call.timeline.client("transcript") if m.payload.role == "bot"]


async def listening(call: Any, times: int = 1) -> None:
    """Until the Orchestrator listens (an STT session opened) for the `times`th time."""
    t = call.timeline
    async with asyncio.timeout(2):
        while t.count(lambda e: e == ("stt", "open")) < times:
            await t.wait_for(lambda e: t.count(lambda x: x == ("stt", "open")) >= times)


def key(digit: str) -> DtmfDetected:
    return DtmfDetected(digit=digit, duration_ms=100, at_ms=0.0)


async def test_a_key_from_the_rtp_drives_the_scenario(new_call) -> None:
    call = scenario_call(new_call).start()
    call.media.push(READY)
    await listening(call)
    call.media.push(key("1"))
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED
    assert said(call)[-1].strip() == "Confirmed. Goodbye."
    assert not call.timeline.client("transfer")


async def test_a_sip_info_key_is_the_same_to_the_dialog(new_call) -> None:
    call = scenario_call(new_call).start()
    call.media.push(READY)
    await listening(call)
    call.send(Dtmf(payload=DtmfPayload(digit="1")))
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED
    assert said(call)[-1].strip() == "Confirmed. Goodbye."


async def test_a_key_pressed_during_the_greeting_is_answered_after_it(new_call) -> None:
    call = scenario_call(new_call)
    call.tts.held["Press 1 to confirm or 0 for an agent."] = asyncio.Event()
    call.start()
    call.media.push(READY)
    t = call.timeline
    await t.wait_for(t.tts("holding", "Press 1 to confirm or 0 for an agent."))
    call.media.push(key("1"))
    await asyncio.sleep(0)  # the key is queued; the greeting is not cut
    assert not t.client("stop_audio")
    call.tts.held["Press 1 to confirm or 0 for an agent."].set()
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED
    assert [s.strip() for s in said(call)] == ["Press 1 to confirm or 0 for an agent.", "Confirmed. Goodbye."]
    assert t.count(lambda e: e == ("stt", "open")) == 0  # answered without listening


async def test_an_unknown_key_reprompts(new_call) -> None:
    call = scenario_call(new_call).start()
    call.media.push(READY)
    await listening(call)
    call.media.push(key("7"))
    await listening(call, 2)
    assert said(call)[-1].strip() == "Press 1 to confirm or 0 for an agent."
    call.media.push(key("1"))
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED


async def test_a_dialog_without_keys_gets_the_digit_as_text(new_call) -> None:
    call = new_call(["Thanks."], silence_timeout=5.0).start()
    call.media.push(READY)
    await listening(call)
    call.media.push(key("#"))
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED
    assert ("dialog", "reply", "#") in call.timeline.entries


async def test_a_successful_transfer_ends_the_call_transferred(new_call) -> None:
    call = scenario_call(new_call).start()
    call.media.push(READY)
    await listening(call)
    call.media.push(key("0"))
    t = call.timeline
    await t.wait_for(t.sent("transfer"))
    transfer = t.client("transfer")[0]
    assert (transfer.payload.target, transfer.payload.mode) == ("sip:agent@pbx.example", "blind")
    # the dialog's words before the transfer were played first
    spoken = t.index(
        lambda e: e[0] == "client" and e[1].event == "transcript" and "through" in e[1].payload.text
    )
    assert spoken < t.index(t.sent("transfer"))
    call.send(TransferResult(payload=TransferResultPayload(ok=True, status=202)))
    result = await call.result()
    assert result is not None
    assert (result.reason, result.message) == (EndReason.TRANSFERRED, "transferred to sip:agent@pbx.example")


async def test_a_failed_transfer_lets_the_dialog_go_on(new_call) -> None:
    call = scenario_call(new_call).start()
    call.media.push(READY)
    await listening(call)
    call.send(Dtmf(payload=DtmfPayload(digit="0")))
    t = call.timeline
    await t.wait_for(t.sent("transfer"))
    call.send(TransferResult(payload=TransferResultPayload(ok=False, status=486, reason="Busy Here")))
    await listening(call, 2)
    assert said(call)[-1].strip() == "Sorry, nobody can take your call. Press 1 to confirm or 0 for an agent."
    call.media.push(key("1"))
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED


async def test_no_transfer_result_in_time_is_a_failed_transfer(new_call) -> None:
    call = scenario_call(new_call, transfer_timeout=0.05).start()
    call.media.push(READY)
    await listening(call)
    call.media.push(key("0"))
    await listening(call, 2)
    assert said(call)[-1].strip().startswith("Sorry, nobody can take your call.")
    # a late or unsolicited transfer_result changes nothing
    call.send(TransferResult(payload=TransferResultPayload(ok=True)))
    call.media.push(key("1"))
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED
