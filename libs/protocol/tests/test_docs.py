"""docs/protocol.md names every code the protocol uses."""

from pathlib import Path

from voicebot_protocol import CloseCode, EndReason, ErrorCode, FailureCode

PROTOCOL_DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


def test_every_code_is_documented() -> None:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    missing = [
        f"{enum.__name__}.{code.name}"
        for enum in (ErrorCode, FailureCode, EndReason)
        for code in enum
        if f"`{code.value}`" not in text
    ]
    missing += [f"CloseCode.{code.name}" for code in CloseCode if f"| {code.value} |" not in text]
    assert not missing, f"not in docs/protocol.md: {missing}"
