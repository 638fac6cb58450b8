"""Which mediasoup objects a call's client created through signalling (the only ones it may name),
and the controller's own objects of the call, which the client may never name (except the bot
producer, which it consumes). Pure bookkeeping: no I/O, no asyncio."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from media_controller import errors

TransportKind = Literal["plain", "webrtc"]
# What a signalling method names by id; "consumable" is a producer the client may consume: one of
# its own, or the call's bot producer.
NamedKind = Literal["transport", "producer", "consumer", "consumable"]

BOT_ALIAS = "bot"  # stands for the call's bot producer in `consume`


@dataclass
class ClientTransport:
    kind: TransportKind
    remote_port: int = 0  # plain: the port the client connected it to (where it receives RTP)


@dataclass(frozen=True)
class ClientConsumer:
    transport_id: str
    producer_id: str
    ssrc: int
    payload_type: int


# --- what a change to the ledger means for the legs -------------------------------------------------


@dataclass(frozen=True)
class ProducerAdded:
    producer_id: str


@dataclass(frozen=True)
class ProducerRemoved:
    producer_id: str


@dataclass(frozen=True)
class BotConsumed:
    """The first consumer of the bot producer on a client transport (at most once per ledger)."""

    transport_id: str
    consumer_id: str


Change = ProducerAdded | ProducerRemoved | BotConsumed


@dataclass
class ClientLedger:
    bot_producer_id: str = ""
    transports: dict[str, ClientTransport] = field(default_factory=dict)
    producers: dict[str, str] = field(default_factory=dict)  # producer id → transport id
    # producer id → the codec its RFC 4733 telephone-events ride on (call_codecs.py)
    dtmf_carriers: dict[str, str] = field(default_factory=dict)
    consumers: dict[str, ClientConsumer] = field(default_factory=dict)
    internal: set[str] = field(default_factory=set)  # the controller's own ids (tap leg, tap consumer)
    bot_consumed: bool = False

    # --- questions ----------------------------------------------------------------------------------

    def owns(self, object_id: str) -> bool:
        """The id belongs to this call (its client's or the controller's)."""
        return (
            object_id in self.transports
            or object_id in self.producers
            or object_id in self.consumers
            or object_id in self.internal
            or (bool(object_id) and object_id == self.bot_producer_id)
        )

    def check(
        self, kind: NamedKind, object_id: str, owner_of: Callable[[str], str | None], call_id: str
    ) -> None:
        """Raises foreign_object for an id of another call or of the controller, else not_found,
        unless the client may name this id as this kind."""
        if kind == "consumable":
            if object_id == self.bot_producer_id:
                return
            kind = "producer"
        if object_id in self._table(kind):
            return
        owner = owner_of(object_id)
        controller_owned = object_id in self.internal or object_id == self.bot_producer_id
        if controller_owned or (owner is not None and owner != call_id):
            raise errors.foreign_object(f"{kind} {object_id} does not belong to this call's client")
        raise errors.not_found(f"no {kind} {object_id} in this call")

    def resolve_producer(self, producer_id: str) -> str:
        return self.bot_producer_id if producer_id == BOT_ALIAS else producer_id

    def bot_delivery(self) -> tuple[ClientConsumer, ClientTransport | None] | None:
        """The latest client consumer of the bot producer and its transport, if any."""
        for consumer in reversed(self.consumers.values()):
            if consumer.producer_id == self.bot_producer_id:
                return consumer, self.transports.get(consumer.transport_id)
        return None

    def _table(
        self, kind: NamedKind
    ) -> dict[str, ClientTransport] | dict[str, str] | dict[str, ClientConsumer]:
        if kind == "transport":
            return self.transports
        if kind == "consumer":
            return self.consumers
        return self.producers

    # --- the client's objects come and go -------------------------------------------------------------

    def add_transport(self, transport_id: str, kind: TransportKind) -> list[Change]:
        self.transports[transport_id] = ClientTransport(kind)
        return []

    def connect_transport(self, transport_id: str, port: int) -> list[Change]:
        transport = self.transports.get(transport_id)
        if transport is not None:
            transport.remote_port = port
        return []

    def add_producer(
        self, producer_id: str, transport_id: str, dtmf_carrier: str | None = None
    ) -> list[Change]:
        self.producers[producer_id] = transport_id
        if dtmf_carrier is not None:
            self.dtmf_carriers[producer_id] = dtmf_carrier
        return [ProducerAdded(producer_id)]

    def add_consumer(self, consumer_id: str, consumer: ClientConsumer) -> list[Change]:
        self.consumers[consumer_id] = consumer
        if consumer.producer_id != self.bot_producer_id or self.bot_consumed:
            return []
        self.bot_consumed = True
        return [BotConsumed(consumer.transport_id, consumer_id)]

    def remove_consumer(self, consumer_id: str) -> list[Change]:
        self.consumers.pop(consumer_id, None)
        return []

    def remove_producer(self, producer_id: str) -> list[Change]:
        """mediasoup closes a producer's consumers with it."""
        self.dtmf_carriers.pop(producer_id, None)
        if self.producers.pop(producer_id, None) is None:
            return []
        for consumer_id, consumer in list(self.consumers.items()):
            if consumer.producer_id == producer_id:
                del self.consumers[consumer_id]
        return [ProducerRemoved(producer_id)]

    def remove_transport(self, transport_id: str) -> list[Change]:
        """mediasoup closes a transport's producers and consumers with it."""
        self.transports.pop(transport_id, None)
        changes: list[Change] = []
        for producer_id, on_transport in list(self.producers.items()):
            if on_transport == transport_id:
                changes += self.remove_producer(producer_id)
        for consumer_id, consumer in list(self.consumers.items()):
            if consumer.transport_id == transport_id:
                del self.consumers[consumer_id]
        return changes
