"""The client's ledger and the signalling table's bookkeeping, without any I/O: who may name which
id, what each method records, and what a change means for the legs."""

from typing import Any

import pytest
from media_controller.errors import MediaError
from media_controller.ledger import BotConsumed, ClientConsumer, ClientLedger, ProducerAdded, ProducerRemoved
from media_controller.signalling import CLIENT_METHODS, check_names, parse_params, service_params

CALL = "call-a"


def nobody(object_id: str) -> str | None:
    return None


def ledger_with_legs() -> ClientLedger:
    """A call whose client has a caller leg (transport tc, producer pc) and a bot leg (transport tb,
    consumer cb of the bot producer); the controller's own tap transport and consumer."""
    ledger = ClientLedger(bot_producer_id="bot-producer")
    ledger.internal |= {"bot-transport", "tap-transport", "tap-consumer"}
    record("createPlainTransport", ledger, {"comedia": True}, {"transport_id": "tc"})
    record("produce", ledger, {"transport_id": "tc", "rtp_parameters": {}}, {"producer_id": "pc"})
    record("createPlainTransport", ledger, {}, {"transport_id": "tb"})
    record("connectPlainTransport", ledger, {"transport_id": "tb", "ip": "127.0.0.1", "port": 4100}, {})
    record("consume", ledger, {"transport_id": "tb", "producer_id": "bot"}, consumed("cb", 1234))
    return ledger


def consumed(consumer_id: str, ssrc: int, payload_type: int = 100) -> dict[str, Any]:
    return {
        "consumer_id": consumer_id,
        "rtp_parameters": {"encodings": [{"ssrc": ssrc}], "codecs": [{"payloadType": payload_type}]},
    }


def record(method_name: str, ledger: ClientLedger, data: dict[str, Any], result: dict[str, Any]) -> list[Any]:
    """What the session does with a successful answer: parse, check the names, record."""
    method = CLIENT_METHODS[method_name]
    params = parse_params(method, data, ledger)
    check_names(method, params, ledger, nobody, CALL)
    return method.record(ledger, params, result)


def refusal(method_name: str, ledger: ClientLedger, data: dict[str, Any], owner: str | None = None) -> str:
    method = CLIENT_METHODS[method_name]
    params = parse_params(method, data, ledger)
    with pytest.raises(MediaError) as refused:
        check_names(method, params, ledger, lambda object_id: owner, CALL)
    return refused.value.code


def test_each_method_records_its_objects() -> None:
    ledger = ledger_with_legs()
    assert set(ledger.transports) == {"tc", "tb"}
    assert ledger.transports["tb"].remote_port == 4100 and ledger.transports["tc"].kind == "plain"
    assert ledger.producers == {"pc": "tc"}
    assert ledger.consumers == {"cb": ClientConsumer("tb", "bot-producer", 1234, 100)}
    record("createWebRtcTransport", ledger, {}, {"transport_id": "tw"})
    assert ledger.transports["tw"].kind == "webrtc"
    for name in ("pauseConsumer", "resumeConsumer"):
        assert record(name, ledger, {"consumer_id": "cb"}, {}) == []
    assert "cb" in ledger.consumers


def test_changes_tell_the_legs_what_happened() -> None:
    ledger = ClientLedger(bot_producer_id="bot-producer")
    record("createPlainTransport", ledger, {}, {"transport_id": "t1"})
    assert record("produce", ledger, {"transport_id": "t1", "rtp_parameters": {}}, {"producer_id": "p1"}) == [
        ProducerAdded("p1")
    ]
    first = record("consume", ledger, {"transport_id": "t1", "producer_id": "bot"}, consumed("c1", 1))
    assert first == [BotConsumed("t1", "c1")]
    again = record(
        "consume", ledger, {"transport_id": "t1", "producer_id": "bot-producer"}, consumed("c2", 2)
    )
    assert again == []  # bot_leg_ready once per session
    own = record("consume", ledger, {"transport_id": "t1", "producer_id": "p1"}, consumed("c3", 3))
    assert own == []  # consuming the client's own producer is not the bot leg
    assert record("closeProducer", ledger, {"producer_id": "p1"}, {}) == [ProducerRemoved("p1")]
    assert set(ledger.consumers) == {"c1", "c2"}  # c3 went with its producer


def test_closing_a_transport_forgets_what_was_on_it() -> None:
    ledger = ledger_with_legs()
    assert record("closeTransport", ledger, {"transport_id": "tc"}, {}) == [ProducerRemoved("pc")]
    assert set(ledger.transports) == {"tb"} and ledger.producers == {}
    assert record("closeTransport", ledger, {"transport_id": "tb"}, {}) == []
    assert ledger.transports == {} and ledger.consumers == {}
    assert refusal("closeConsumer", ledger, {"consumer_id": "cb"}, owner=CALL) == "not_found"


def test_the_bot_alias_and_the_delivery_of_the_bot_audio() -> None:
    ledger = ledger_with_legs()
    params = parse_params(CLIENT_METHODS["consume"], {"transport_id": "tb", "producer_id": "bot"}, ledger)
    assert service_params(CLIENT_METHODS["consume"], params, CALL) == {
        "call_id": CALL,
        "transport_id": "tb",
        "producer_id": "bot-producer",
    }
    consumer, transport = ledger.bot_delivery() or (None, None)
    assert (
        consumer is not None
        and consumer.ssrc == 1234
        and transport is not None
        and transport.remote_port == 4100
    )
    record("createPlainTransport", ledger, {}, {"transport_id": "tb2"})
    record("consume", ledger, {"transport_id": "tb2", "producer_id": "bot"}, consumed("cb2", 99))
    latest = ledger.bot_delivery()
    assert (
        latest is not None and latest[0].ssrc == 99 and latest[1] is not None and latest[1].remote_port == 0
    )
    assert ClientLedger(bot_producer_id="b").bot_delivery() is None


def test_ids_of_the_controller_or_of_another_call_are_foreign() -> None:
    ledger = ledger_with_legs()
    assert refusal("closeProducer", ledger, {"producer_id": "bot-producer"}) == "foreign_object"
    assert (
        refusal("pauseProducer", ledger, {"producer_id": "bot"}) == "not_found"
    )  # the alias is consume's only
    assert refusal("closeTransport", ledger, {"transport_id": "tap-transport"}) == "foreign_object"
    assert refusal("closeTransport", ledger, {"transport_id": "bot-transport"}) == "foreign_object"
    assert refusal("closeConsumer", ledger, {"consumer_id": "tap-consumer"}) == "foreign_object"
    assert refusal("closeTransport", ledger, {"transport_id": "theirs"}, owner="call-b") == "foreign_object"
    assert refusal("consume", ledger, {"transport_id": "tb", "producer_id": "theirs"}, owner="call-b") == (
        "foreign_object"
    )
    assert refusal("consume", ledger, {"transport_id": "theirs", "producer_id": "bot"}, owner="call-b") == (
        "foreign_object"
    )
    assert refusal(
        "connectPlainTransport", ledger, {"transport_id": "nope", "ip": "127.0.0.1", "port": 9}
    ) == ("not_found")
    assert refusal("resumeConsumer", ledger, {"consumer_id": "nope"}, owner=CALL) == "not_found"


def test_a_call_owns_its_own_and_the_controllers_ids() -> None:
    ledger = ledger_with_legs()
    for object_id in ("tc", "tb", "pc", "cb", "bot-producer", "tap-transport", "tap-consumer"):
        assert ledger.owns(object_id), object_id
    assert not ledger.owns("theirs") and not ledger.owns("")


def test_the_table_is_the_whitelist_and_parameters_are_strict() -> None:
    ledger = ClientLedger(bot_producer_id="b")
    assert "stats" not in CLIENT_METHODS and "session.close" not in CLIENT_METHODS
    with pytest.raises(ValueError, match=r"^comedia: "):
        parse_params(CLIENT_METHODS["createPlainTransport"], {"comedia": "yes"}, ledger)
    with pytest.raises(ValueError, match=r"^listen_ip: "):
        parse_params(CLIENT_METHODS["createPlainTransport"], {"listen_ip": "0.0.0.0"}, ledger)
    with pytest.raises(ValueError, match=r"^ip: "):  # not "ip.ipv4": union branches stay out of it
        parse_params(
            CLIENT_METHODS["connectPlainTransport"], {"transport_id": "t", "ip": "x", "port": 1}, ledger
        )
    close = CLIENT_METHODS["closeConsumer"]
    assert service_params(close, parse_params(close, {"consumer_id": "c"}, ledger), CALL) == {
        "call_id": CALL,
        "kind": "consumer",
        "id": "c",
    }
    pause = CLIENT_METHODS["pauseProducer"]
    assert service_params(pause, parse_params(pause, {"producer_id": "p"}, ledger), CALL) == {
        "call_id": CALL,
        "id": "p",
    }
