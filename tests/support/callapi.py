"""The call-api under real gunicorn (voicebot_stack) and the gateway client's raw-frame mode
(voicebot_callsim.raw), re-exported for the tests."""

from voicebot_callsim.raw import (
    CALL_TERMINATED,
    call_start,
    connect,
    expect_close,
    mediasoup_request,
    open_call,
    recv_frame,
    recv_json,
    start_call,
)
from voicebot_stack.callapi import TEST_FACTORIES, CallApiServer, factory_path
from voicebot_stack.paths import CALL_API_DIR

__all__ = [
    "CALL_API_DIR",
    "CALL_TERMINATED",
    "TEST_FACTORIES",
    "CallApiServer",
    "call_start",
    "connect",
    "expect_close",
    "factory_path",
    "mediasoup_request",
    "open_call",
    "recv_frame",
    "recv_json",
    "start_call",
]
