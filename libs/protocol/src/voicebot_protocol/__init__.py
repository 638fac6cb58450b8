"""The voice-bot protocol: every message of /api/v1/call and of the internal
call-api ⇄ media-controller channel, defined once and used by every side."""

from voicebot_protocol.client import (
    PROTOCOL_VERSION,
    CallAccepted,
    CallEnded,
    CallFailed,
    CallStart,
    CallTerminated,
    ClientMessage,
    Dtmf,
    ErrorEvent,
    MediasoupRequest,
    MediasoupResponse,
    PlayAudio,
    PlaybackAck,
    ServerMessage,
    StopAudio,
    Transcript,
    Transfer,
    TransferResult,
)
from voicebot_protocol.codes import CloseCode, EndReason, ErrorCode, FailureCode
from voicebot_protocol.errors import ProtocolError
from voicebot_protocol.parser import parse_client_message, parse_server_message

__all__ = [
    "PROTOCOL_VERSION",
    "CallAccepted",
    "CallEnded",
    "CallFailed",
    "CallStart",
    "CallTerminated",
    "ClientMessage",
    "CloseCode",
    "Dtmf",
    "EndReason",
    "ErrorCode",
    "ErrorEvent",
    "FailureCode",
    "MediasoupRequest",
    "MediasoupResponse",
    "PlayAudio",
    "PlaybackAck",
    "ProtocolError",
    "ServerMessage",
    "StopAudio",
    "Transcript",
    "Transfer",
    "TransferResult",
    "parse_client_message",
    "parse_server_message",
]
