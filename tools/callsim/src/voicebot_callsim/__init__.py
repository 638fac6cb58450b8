"""callsim: behaves like a telephony gateway — WSS to /api/v1/call, the whole protocol, caller audio
sent and bot audio received as Opus RTP on real UDP sockets. The one gateway client of the tests and
the bench: `call.GatewayCall` for whole calls, `raw` for protocol tests (any text or binary frame,
raw replies, close codes), `events.EventLog` for every timestamped wait."""
