"""The media plane for tests: the real mediasoup service + media-controller on loopback
(voicebot_stack), and the telephony gateway's audio, RTP and signalling (tools/callsim): tests use
exactly what callsim and `make demo` use. Independent of media_controller's own RTP/Opus code.

    stack = start_media_stack(tmp_path)        # stack.controller_url, stack.stop()
    sender = RtpOpusSender(port)               # await sender.send_pcm(pcm, 16000)
    receiver = await RtpOpusReceiver.open()    # receiver.port, receiver.pcm()
"""

from voicebot_callsim.audio import best_correlation, envelope, read_audio, speech_wav
from voicebot_callsim.legs import GatewayLegs, Signal, connect_gateway
from voicebot_callsim.rtp import (
    AUDIO_LEVEL_EXT_ID,
    AUDIO_LEVEL_URI,
    ReceivedPacket,
    RtpOpusReceiver,
    RtpOpusSender,
    caller_rtp_parameters,
    opus_packets,
)
from voicebot_stack.media import MediaStack, start_controller, start_media_stack
from voicebot_stack.paths import MEDIASOUP_DIR, mediasoup_worker_bin

__all__ = [
    "AUDIO_LEVEL_EXT_ID",
    "AUDIO_LEVEL_URI",
    "MEDIASOUP_DIR",
    "GatewayLegs",
    "MediaStack",
    "ReceivedPacket",
    "RtpOpusReceiver",
    "RtpOpusSender",
    "Signal",
    "best_correlation",
    "caller_rtp_parameters",
    "connect_gateway",
    "envelope",
    "mediasoup_worker_bin",
    "opus_packets",
    "read_audio",
    "speech_wav",
    "start_controller",
    "start_media_stack",
]
