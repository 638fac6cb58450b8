"""The process helpers of the harness live in voicebot_stack (tools/stack); re-exported for the tests."""

from voicebot_stack.paths import REPO_ROOT, VENV_BIN
from voicebot_stack.probes import http_ok, port_open
from voicebot_stack.procs import Proc, free_port, free_ports, free_sip_port, wait_until

__all__ = [
    "REPO_ROOT",
    "VENV_BIN",
    "Proc",
    "free_port",
    "free_ports",
    "free_sip_port",
    "http_ok",
    "port_open",
    "wait_until",
]
