"""Provider interfaces: async, streaming, cancellable (cancel the consuming task to stop)."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class ProviderError(Exception):
    """A provider failed (unreachable, 5xx, timeout, stream died). `provider` is e.g. "tts"."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


@dataclass(frozen=True)
class SttResult:
    text: str
    final: bool


class SttSession(Protocol):
    """One utterance (or one continuous stream) of caller audio: PCM s16le mono 16 kHz."""

    async def feed(self, pcm: bytes) -> SttResult | None:
        """Push audio; may return a partial result."""
        ...

    async def finish(self) -> SttResult:
        """End of utterance: the final transcript (text may be empty)."""
        ...

    async def aclose(self) -> None: ...


class SpeechToText(Protocol):
    name: str
    # How long finish() may take after the caller stopped (None: the Orchestrator's provider
    # timeout); a local model on a busy CPU needs more than a streaming cloud service.
    final_timeout: float | None

    async def open(self, phrases: Sequence[str] = ()) -> SttSession:
        """phrases: what the dialog expects next (a grammar for offline engines, hints for cloud ones)."""
        ...


class TextToSpeech(Protocol):
    name: str
    voice: str
    sample_rate: int

    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """PCM s16le mono at `sample_rate`, in chunks, first chunk as early as possible."""
        ...

    async def check(self) -> None:
        """Raise ProviderError if the service cannot be reached (the factory's start check)."""
        ...


class Dialog(Protocol):
    """The "brain" of one call: a scripted scenario or an LLM. One instance per call."""

    def greeting(self) -> AsyncIterator[str]:
        """The bot's opening, streamed as text chunks."""
        ...

    def reply(self, caller_text: str) -> AsyncIterator[str]:
        """The answer to what the caller said, streamed as text chunks (tokens or sentences)."""
        ...

    def expected_phrases(self) -> Sequence[str]:
        """What the caller may say next (feeds the STT grammar); empty = free speech."""
        ...

    def record_heard(self, spoken_text: str) -> None:
        """After a barge-in: replace the last bot turn in the context by the part actually heard."""
        ...

    @property
    def finished(self) -> bool:
        """True once the dialog reached its end; the orchestrator hangs up after the last reply."""
        ...


# --- call control: optional parts of a Dialog (docs/providers.md, "Call control") -----------------


@runtime_checkable
class DigitDialog(Protocol):
    """A dialog that answers DTMF keys itself. A dialog without it gets the digit as caller text
    (`reply("1")`)."""

    def reply_to_digit(self, digit: str) -> AsyncIterator[str]:
        """The answer to a key the caller pressed ("0"-"9", "*", "#", "A"-"D")."""
        ...


@runtime_checkable
class TransferDialog(Protocol):
    """A dialog that can hand the call to a human. After each reply the Orchestrator asks
    `take_transfer()`; a target makes it send the client `transfer` and wait for
    `transfer_result`: ok ends the call (`call_ended transferred`), otherwise the dialog goes on
    with `transfer_failed(reason)`."""

    def take_transfer(self) -> str | None:
        """The target (e.g. "sip:agent@pbx") of a transfer the last reply asked for, once; else None."""
        ...

    def transfer_failed(self, reason: str) -> AsyncIterator[str]:
        """What to say when the transfer did not happen (the call goes on)."""
        ...
