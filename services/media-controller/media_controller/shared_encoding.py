"""Bot audio encoded once per distinct audio, for every call of the controller process.

A stream's PCM is cut into slices of SLICE_SECONDS from its start; a slice's key is a digest of the
codec's parameters and every slice so far (a chain), so two streams that received the same audio
reach the same keys, and the second one takes the packets the first one encoded (a filler, a
repeated prompt, the same greeting). A stream that runs ahead of every other one encodes; its
encoder moves along with the newest slice, so whoever needs the next slice of that audio continues
with it. When none is there (the audio diverged from what was cached, or the stream that encoded it
stopped), a fresh encoder starts at that slice: for Opus that costs a codec restart mid-stream (the
decoder copes, as with a new talker), for G.711 nothing.

A slice is kept only while a stream that played it is still open (then forgotten: no bot audio,
which may be personal, outlives the calls that played it), and the least recently used ones beyond
MAX_SLICES anyway."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from media_controller.call_codecs import AudioEncoder

SLICE_SECONDS = 0.06  # encoded just ahead of the pacer: a long reply's first packet waits for no more
MAX_SLICES = 20_000  # ≈ 20 min of distinct audio (a few MB of packets)
_FLUSHED, _SLICE = b"F", b"S"

EncoderFactory = Callable[[], AudioEncoder]


@dataclass(eq=False, slots=True)
class Slice:
    key: bytes
    packets: tuple[bytes, ...] = ()
    encoder: AudioEncoder | None = field(default=None, repr=False)  # its state: right after this slice
    owner: object = None  # the stream that encoded it
    users: int = 0  # open streams that played it


class SharedEncoding:
    def __init__(self, max_slices: int = MAX_SLICES) -> None:
        self.max_slices = max_slices
        self._slices: OrderedDict[bytes, Slice] = OrderedDict()
        self.encoded = 0  # slices encoded here ...
        self.shared = 0  # ... and slices taken from the cache

    def start(self, parameters: str) -> Slice:
        """The chain of a new stream: before its first slice."""
        return Slice(hashlib.sha256(parameters.encode()).digest())

    def next(
        self, after: Slice, pcm: bytes, make_encoder: EncoderFactory, owner: object, *, final: bool = False
    ) -> Slice:
        """The slice that follows `after` with this PCM (the last one, flushed, if `final`), encoded
        by `owner` (a stream) unless it is cached."""
        # SHA-256 (OpenSSL's, in hardware on current CPUs) is twice as fast here as hashlib's
        # blake2b, and every stream hashes every slice it plays, cached or not.
        key = hashlib.sha256(b"".join((after.key, _FLUSHED if final else _SLICE, pcm))).digest()
        cached = self._slices.get(key)
        if cached is not None:
            self._slices.move_to_end(key)
            self.shared += 1
            cached.users += 1
            return cached
        encoder, after.encoder = after.encoder, None
        if encoder is None:
            encoder = make_encoder()
        packets = encoder.encode(pcm)
        if final:
            packets += encoder.flush()
        made = Slice(key, tuple(packets), None if final else encoder, owner, users=1)
        self.encoded += 1
        if self.max_slices == 0:
            return made  # sharing is off: every stream encodes its own audio
        self._slices[key] = made
        while len(self._slices) > self.max_slices:
            self._slices.popitem(last=False)
        return made

    def leave(self, played: list[Slice], owner: object) -> None:
        """A stream closed after playing these slices: each one no open stream played any more is
        forgotten; the encoder it left at its last slice is not kept waiting for a continuation
        that may never come (a follower of the same audio starts a fresh one)."""
        if played and played[-1].owner is owner:
            played[-1].encoder = None
        for done in played:
            done.users -= 1
            if done.users <= 0 and self._slices.get(done.key) is done:
                del self._slices[done.key]

    def __len__(self) -> int:
        return len(self._slices)


_PROCESS = SharedEncoding()


def process_encoding() -> SharedEncoding:
    """The controller's one cache (its size set from the settings at start: `configure`)."""
    return _PROCESS


def configure(max_slices: int) -> None:
    _PROCESS.max_slices = max_slices
