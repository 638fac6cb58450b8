"""What the bot said in one stream (its sentences and the PCM length of each), and which part of
it the caller actually heard."""

from dataclasses import dataclass, field

BYTES_PER_SAMPLE = 2


@dataclass
class Utterance:
    sample_rate: int
    sentences: list[tuple[str, int]] = field(default_factory=list)  # (text, PCM bytes)

    def add(self, sentence: str, pcm_bytes: int) -> None:
        if self.sentences and self.sentences[-1][0] == sentence:
            text, size = self.sentences[-1]
            self.sentences[-1] = (text, size + pcm_bytes)
        else:
            self.sentences.append((sentence, pcm_bytes))

    @property
    def text(self) -> str:
        return " ".join(text for text, _ in self.sentences)

    @property
    def duration_ms(self) -> float:
        return sum(size for _, size in self.sentences) * 1000 / (self.sample_rate * BYTES_PER_SAMPLE)

    def heard_text(self, played_ms: float) -> str:
        """Whole sentences played, plus the share of words of the one cut off (by duration)."""
        return self._split(played_ms)[0]

    def rest_text(self, played_ms: float) -> str:
        """What `heard_text` leaves out: the cut sentence's remaining words and the ones after it."""
        return self._split(played_ms)[1]

    def _split(self, played_ms: float) -> tuple[str, str]:
        heard: list[str] = []
        rest: list[str] = []
        left = played_ms
        for text, size in self.sentences:
            length = size * 1000 / (self.sample_rate * BYTES_PER_SAMPLE)
            if rest:
                rest.append(text)
                continue
            if left >= length:
                heard.append(text)
                left -= length
                continue
            words = text.split()
            share = int(len(words) * left / length) if length else 0
            if share:
                heard.append(" ".join(words[:share]))
            rest.append(" ".join(words[share:]))
        return " ".join(heard), " ".join(part for part in rest if part)
