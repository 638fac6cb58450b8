"""docs/schema is the current export of the models, and real messages validate against it."""

import json
from pathlib import Path

import jsonschema
from voicebot_protocol import CallAccepted, CallEnded, CallFailed, PlayAudio, StopAudio
from voicebot_protocol.client import CallAcceptedPayload, PlayAudioPayload
from voicebot_protocol.schema import build_schemas, render, write_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "schema"


def load(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text())


def test_docs_schema_is_current() -> None:
    expected = {name: render(schema) for name, schema in build_schemas().items()}
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    stale = sorted(
        name for name in expected.keys() | on_disk.keys() if expected.get(name) != on_disk.get(name)
    )
    assert not stale, f"docs/schema is stale ({stale}): run `make schema`"


def test_the_cli_writes_the_same_files(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    assert {p.name for p in written} == {p.name for p in SCHEMA_DIR.glob("*.json")}


def test_spec_messages_validate() -> None:
    client = load("client-message.schema.json")
    jsonschema.validate(
        {"event": "call_start", "payload": {"call_id": "a1", "initial_vars": {"contact_name": "Ann"}}}, client
    )
    jsonschema.validate({"event": "call_terminated"}, client)
    jsonschema.validate({"event": "mediasoup_request", "payload": {"method": "produce", "data": {}}}, client)

    server = load("server-message.schema.json")
    for message in (
        CallAccepted(payload=CallAcceptedPayload(call_id="a1", trace_id="0" * 31 + "1")),
        StopAudio(),
        CallFailed(reason="TTS unavailable", code="tts_unavailable"),
        CallEnded(reason="server shutting down", code="server_shutdown"),
        PlayAudio(payload=PlayAudioPayload(stream_id="s", rtp_port=12345)),
    ):
        jsonschema.validate(json.loads(message.to_json()), server)


def test_schema_rejects_what_the_parser_rejects() -> None:
    call_start = load("client.call_start.schema.json")
    for bad in (
        {"payload": {"call_id": "a"}},  # no event
        {"event": "call_start", "payload": {}},
        {"event": "call_start", "payload": {"call_id": "a b"}},
        {"event": "call_start", "payload": {"call_id": "a"}, "extra": 1},
    ):
        validator = jsonschema.Draft202012Validator(call_start)
        assert list(validator.iter_errors(bad)), bad
