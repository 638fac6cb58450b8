"""callsim: behaves like a telephony gateway — WSS to /api/v1/call, the whole protocol, caller audio
sent and bot audio received as Opus RTP on real UDP sockets."""
