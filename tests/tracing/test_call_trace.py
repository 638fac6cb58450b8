"""One trace per call: a real call through call-api, the media-controller, the mediasoup service
and Redis, with the spans of all three services exported over OTLP/HTTP to a receiver of the test's
own and the JSON logs of every service read back."""

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

from voicebot_callsim.call import GatewayCall
from voicebot_protocol import CloseCode
from voicebot_stack.credentials import scoped_call_id

from tests.support.callapi import CALL_TERMINATED, call_start, connect, expect_close, open_call, recv_json
from tests.support.procs import Proc
from tests.tracing.calls import booking_call_with_barge_in
from tests.tracing.conftest import TracedStack
from tests.tracing.otlp import Span, missing_parents

SERVER, CLIENT = 2, 3  # OTLP span kinds

CALL_API_SPANS = {"call", "call_start", "factory", "bot_turn", "user_turn", "stt", "dialog.reply", "tts"}
CONTROLLER_SPANS = {
    "POST /v1/sessions",
    "POST /v1/sessions/{call_id}/signal",
    "DELETE /v1/sessions/{call_id}",
    "mediasoup session.open",
    "mediasoup session.close",
    "mediasoup session.setBotSpeaking",
}
MEDIASOUP_SPANS = {"session.open", "produce", "consume", "session.setBotSpeaking", "session.close"}


def json_lines(proc: Proc) -> Iterator[dict[str, Any]]:
    for line in proc.output().splitlines():
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def names(spans: list[Span], service: str) -> set[str]:
    return {s.name for s in spans if s.service == service}


def complete(spans: list[Span]) -> bool:
    """Every span we wait for is in, and the call's tree has no hole (late children are fine)."""
    return (
        CALL_API_SPANS <= names(spans, "call-api")
        and CONTROLLER_SPANS <= names(spans, "media-controller")
        and MEDIASOUP_SPANS <= names(spans, "mediasoup")
        and any(s.name.startswith("EVAL") for s in spans)  # the claim's release, after the call span
        and len(missing_parents(spans)) == 1
    )


async def test_one_trace_per_call_across_every_service(traced: TracedStack) -> None:
    stack, receiver = traced.stack, traced.receiver
    trace_id = secrets.token_hex(16)
    call_id = f"trace-{uuid.uuid4().hex[:8]}"
    call = GatewayCall(stack.call_api.ws_url, call_id, {"contact_name": "Ann"}, trace_id=trace_id)
    try:
        await booking_call_with_barge_in(call)
    finally:
        await call.aclose()
    assert call.trace_id == trace_id  # call_accepted names the gateway's trace id

    spans = await asyncio.to_thread(receiver.wait_for, complete, trace_id, 20, "the call's spans")

    # One tree: a single root, the call-api's "call" span, under the gateway's (remote) parent.
    roots = missing_parents(spans)
    [(remote_parent, root_spans)] = roots.items()
    assert [(s.service, s.name, s.kind) for s in root_spans] == [("call-api", "call", SERVER)]
    assert remote_parent and remote_parent not in {s.span_id for s in spans}
    assert root_spans[0].attributes["call.id"] == call_id
    assert root_spans[0].attributes["call.outcome"] == "ended"
    assert root_spans[0].attributes["call.reason"] == "dialog_completed"
    by_id = {s.span_id: s for s in spans}

    def ancestors(span: Span) -> list[str]:
        chain = []
        while span.parent_span_id in by_id:
            span = by_id[span.parent_span_id]
            chain.append(span.name)
        return chain

    # Turns under the call, provider steps under turns, Redis under whoever asked.
    for span in spans:
        if span.name in ("bot_turn", "user_turn"):
            assert ancestors(span)[-1] == "call"
        if span.name in ("tts", "dialog.reply"):
            assert "bot_turn" in ancestors(span), (span.name, ancestors(span))
        if span.name == "stt":
            assert ancestors(span)[0] == "user_turn"
    assert len([s for s in spans if s.name == "bot_turn"]) >= 3  # greeting, two replies (+ cut one)
    assert len([s for s in spans if s.name == "user_turn"]) >= 2
    redis_spans = [s for s in spans if s.attributes.get("db.system") == "redis"]
    assert any("call_start" in ancestors(s) for s in redis_spans), "the call's claim in Redis"
    assert any("tts" in ancestors(s) for s in redis_spans), "the TTS cache lookups"
    assert all(ancestors(s)[-1] == "call" for s in redis_spans)

    # call-api → media-controller over HTTP: the controller's server span hangs under the
    # call-api's aiohttp client span; the controller's commands to mediasoup under its requests.
    opened = next(s for s in spans if s.name == "POST /v1/sessions")
    media_call_id = scoped_call_id(call_id)  # the media plane names the call within its gateway
    assert opened.kind == SERVER and opened.attributes["call.id"] == media_call_id
    client = by_id[opened.parent_span_id]
    assert (client.service, client.kind) == ("call-api", CLIENT)
    assert "factory" in ancestors(client)
    for span in spans:
        if span.service == "media-controller" and span.name.startswith("mediasoup "):
            assert span.kind == CLIENT and span.attributes["call.id"] == media_call_id
            assert by_id[span.parent_span_id].service == "media-controller"
    # … and the mediasoup service's SERVER span of each command under the controller's CLIENT span.
    for span in spans:
        if span.service == "mediasoup":
            caller = by_id[span.parent_span_id]
            assert span.kind == SERVER and span.attributes["call.id"] == media_call_id
            assert (caller.service, caller.name, caller.kind) == (
                "media-controller",
                f"mediasoup {span.name}",
                CLIENT,
            )

    # Every JSON log line of every service has trace_id and call_id; the call's lines carry its trace.
    services = {
        "call-api": stack.call_api.proc,
        "media-controller": stack.media.controller,
        "mediasoup": stack.media.service,
    }

    def mediasoup_events() -> set[Any]:
        return {r.get("event") for r in json_lines(stack.media.service) if r["call_id"] == media_call_id}

    # The spans came over OTLP; the log lines of the same moments may still be in the log pipes.
    await asyncio.to_thread(
        stack.media.service.wait_logged,
        lambda: {"session_opened", "session_closed"} <= mediasoup_events(),
        "mediasoup's session_opened and session_closed",
    )
    for service, proc in services.items():
        assert proc is not None
        # call-api logs the client's call_id; the media plane names the call within its gateway
        named = call_id if service == "call-api" else media_call_id
        await asyncio.to_thread(
            proc.wait_logged,
            lambda p=proc, n=named: len([r for r in json_lines(p) if r.get("call_id") == n]) >= 3,
            "3 lines of the call",
        )
        records = list(json_lines(proc))
        assert records, service
        missing = [r for r in records if "trace_id" not in r or "call_id" not in r]
        assert not missing, f"{service}: lines without trace_id/call_id: {missing[:3]}"
        of_call = [r for r in records if r["call_id"] == named]
        assert len(of_call) >= 3, f"{service}: {len(of_call)} lines of the call"
        wrong = [r for r in of_call if r["trace_id"] != trace_id]
        assert not wrong, f"{service}: lines of the call with another trace id: {wrong[:3]}"
    assert {"session_opened", "session_closed"} <= mediasoup_events()
    assert receiver.bad_requests == []
    # Nothing is recorded outside a call: no span anywhere without a parent (probes' Redis PINGs,
    # the filler's cache lookup at start-up are not traced).
    assert [(s.service, s.name) for s in receiver.spans if not s.parent_span_id] == []


async def test_incoming_traceparent_is_continued_and_a_missing_trace_id_is_made(
    traced: TracedStack,
) -> None:
    stack, receiver = traced.stack, traced.receiver
    # A W3C traceparent (what nginx forwards along with X-Trace-ID): the call span is its child,
    # and the call is traced even when the caller did not sample it (flags 00).
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    headers = {"X-Trace-ID": trace_id, "traceparent": f"00-{trace_id}-{parent_id}-00"}
    ws = await open_call(stack.call_api.ws_url, f"tp-{uuid.uuid4().hex[:8]}", headers, contact_name="Bob")
    await ws.send(CALL_TERMINATED)
    assert (await expect_close(ws, 10))[0] == CloseCode.NORMAL

    def call_span_in(spans: list[Span]) -> bool:
        return any(s.name == "call" for s in spans) and any(s.service == "media-controller" for s in spans)

    spans = await asyncio.to_thread(receiver.wait_for, call_span_in, trace_id, 20, "the call span")
    call_span = next(s for s in spans if s.name == "call")
    assert call_span.parent_span_id == parent_id

    # No trace id at all: call-api makes one, names it in call_accepted, and traces the call under it.
    ws = await connect(stack.call_api.ws_url)
    await ws.send(call_start(f"nt-{uuid.uuid4().hex[:8]}", contact_name="Bob"))
    accepted = await recv_json(ws, 10)
    await ws.send(CALL_TERMINATED)
    assert (await expect_close(ws, 10))[0] == CloseCode.NORMAL
    made = accepted["payload"]["trace_id"]
    spans = await asyncio.to_thread(receiver.wait_for, call_span_in, made, 20, "the made-up trace")
    [(remote_parent, [root])] = missing_parents(spans).items()
    assert root.name == "call" and remote_parent
