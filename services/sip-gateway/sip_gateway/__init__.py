"""The SIP telephony gateway: answers INVITEs from trunks and PBXs (sippy's RFC 3261 stack), turns
each call into one /api/v1/call WebSocket session and points the trunk's RTP straight at mediasoup."""
