"""The corpus: every disturbance and every caller utterance, placed at a seeded random moment over the
bot's speech, as the two signals the media-controller sees: what it sent (the bot leg) and what comes
back (the caller leg)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np

from voicebot_corpus import noise
from voicebot_corpus.levels import RATE, samples_of_ms, to_pcm
from voicebot_corpus.line import echo_of, line_noise
from voicebot_corpus.speech import BACKGROUND_VOICE, BOT_VOICE, CALLER_VOICE, spoken

BOT_LEVEL_DBFS = -20.0
CALLER_LEVEL_DBFS = -22.0
BACKGROUND_BELOW_CALLER_DB = 25.0
LINE_NOISE_DBFS = -65.0

BOT_UTTERANCES = (
    "Your appointment with doctor Miller is on Thursday at half past ten in the morning.",
    "I found three times next week: Monday at nine, Wednesday at two, or Friday at eleven.",
)
BACKCHANNELS = ("mm-hmm", "uh-huh", "okay", "yeah")
INTERRUPTIONS = (
    "Wait, I need to change the date.",
    "No, that is not what I said.",
    "Can I talk to a person please?",
)
BACKGROUND_TALK = (
    "Did you remember to buy milk on the way home?",
    "The meeting has been moved to the other room.",
)
# Categories whose every case must not stop the bot; the others are speech and should.
MUST_NOT_STOP = ("noise", "click", "knock", "cough", "keyboard", "background_speech", "echo")
SHOULD_STOP = ("backchannel", "interruption", "interruption_over_echo")
INTERRUPTION_ECHO = (120.0, 12.0)  # delay ms, attenuation dB of the echo under an interruption


@dataclass(frozen=True)
class Case:
    name: str  # category/variant#repeat
    category: str
    should_stop: bool
    bot: np.ndarray  # int16: the bot leg, what the media plane sent, from t = 0
    caller: np.ndarray  # int16: the caller leg as the controller receives it, same clock
    event_ms: float  # the disturbance's start or the caller speech's onset
    event_end_ms: float


@dataclass(frozen=True)
class Variant:
    category: str
    name: str
    make: Callable[[np.random.Generator], np.ndarray]  # the disturbance alone, float audio
    echo: tuple[float, float] | None = None  # delay ms, attenuation dB of the bot echoed back


def _said(text: str, voice: str, level_dbfs: float) -> Callable[[np.random.Generator], np.ndarray]:
    def make(_rng: np.random.Generator) -> np.ndarray:
        return spoken(text, voice, level_dbfs)

    return make


def _nothing(_rng: np.random.Generator) -> np.ndarray:
    return np.zeros(0)


def _disturbances() -> Iterator[Variant]:
    for colour in ("white", "pink"):
        for ms in (100, 300, 500):
            for level in (-35, -25, -15):
                burst = partial(noise.noise_burst, colour=colour, ms=ms, level_dbfs=level)
                yield Variant("noise", f"{colour}-{ms}ms-{-level}dBFS", burst)
    for rate in (5, 20):
        for level in (-30, -15):
            train = partial(noise.click_train, ms=300, rate_hz=rate, level_dbfs=level)
            yield Variant("click", f"train-{rate}Hz-{-level}dBFS", train)
    for count in (2, 3):
        for level in (-25, -12):
            yield Variant(
                "knock", f"{count}x-{-level}dBFS", partial(noise.knock, count=count, level_dbfs=level)
            )
    for ms in (250, 400):
        for level in (-30, -20, -12):
            yield Variant("cough", f"{ms}ms-{-level}dBFS", partial(noise.cough, ms=ms, level_dbfs=level))
    for level in (-35, -25):
        yield Variant("keyboard", f"1500ms-{-level}dBFS", partial(noise.keyboard, ms=1500, level_dbfs=level))
    talk_level = CALLER_LEVEL_DBFS - BACKGROUND_BELOW_CALLER_DB
    for n, text in enumerate(BACKGROUND_TALK):
        yield Variant(
            "background_speech", f"talk{n}-{-talk_level:.0f}dBFS", _said(text, BACKGROUND_VOICE, talk_level)
        )


def _echoes() -> Iterator[Variant]:
    for delay in (40, 120, 250):
        for attenuation in (10, 15, 20):
            yield Variant("echo", f"{delay}ms-{attenuation}dB", _nothing, (delay, attenuation))


def _speech() -> Iterator[Variant]:
    for text in BACKCHANNELS:
        yield Variant("backchannel", text, _said(text, CALLER_VOICE, CALLER_LEVEL_DBFS))
    for n, text in enumerate(INTERRUPTIONS):
        make = _said(text, CALLER_VOICE, CALLER_LEVEL_DBFS)
        yield Variant("interruption", f"sentence{n}", make)
        yield Variant("interruption_over_echo", f"sentence{n}", make, INTERRUPTION_ECHO)


def variants() -> list[Variant]:
    return [*_disturbances(), *_echoes(), *_speech()]


def bot_speech(index: int) -> np.ndarray:
    return spoken(BOT_UTTERANCES[index % len(BOT_UTTERANCES)], BOT_VOICE, BOT_LEVEL_DBFS)


def place(variant: Variant, rng: np.random.Generator, name: str) -> Case:
    """One case: the bot speaks one of its utterances; the disturbance lands at a random moment
    while it speaks (an echo covers all of it)."""
    bot = bot_speech(int(rng.integers(len(BOT_UTTERANCES))))
    caller = line_noise(rng, len(bot), LINE_NOISE_DBFS)
    start = 0
    event = variant.make(rng)
    if event.size:
        latest = max(samples_of_ms(400), len(bot) - len(event) - samples_of_ms(200))
        start = int(rng.integers(samples_of_ms(400), latest + 1))
        end = min(len(bot), start + len(event))
        caller[start:end] += event[: end - start]
    if variant.echo is not None:
        delay, attenuation = variant.echo
        caller += echo_of(bot, delay, attenuation)
        if not event.size:
            start = samples_of_ms(delay)
    end_ms = (start + len(event)) * 1000 / RATE if event.size else len(bot) * 1000 / RATE
    return Case(
        name=name,
        category=variant.category,
        should_stop=variant.category in SHOULD_STOP,
        bot=to_pcm(bot),
        caller=to_pcm(caller),
        event_ms=start * 1000 / RATE,
        event_end_ms=min(end_ms, len(bot) * 1000 / RATE),
    )


def build_corpus(seed: int = 14, repeats: int = 3, categories: tuple[str, ...] | None = None) -> list[Case]:
    """Every variant `repeats` times at seeded random moments; the same seed gives the same corpus."""
    cases: list[Case] = []
    for variant in variants():
        if categories is not None and variant.category not in categories:
            continue
        for repeat in range(repeats):
            # One stream per case, drawn from the corpus seed: dropping categories keeps the others.
            case_rng = np.random.default_rng([seed, hash_name(f"{variant.category}/{variant.name}"), repeat])
            cases.append(place(variant, case_rng, f"{variant.category}/{variant.name}#{repeat}"))
    return cases


def hash_name(name: str) -> int:
    """A stable (not per-process salted) number for a name."""
    value = 0
    for byte in name.encode():
        value = (value * 131 + byte) % (2**31 - 1)
    return value
