"""`python -m bench.voices [--quick]`: the embedded speech engines measured offline, each in a
process of its own (so RSS is the engine's), printed as JSON.

TTS (piper, espeak): first-audio latency (text in → first PCM chunk), whole-reply time,
real-time factor (synthesis time / audio time), CPU seconds per audio second, RSS.
STT (whisper, with the state's phrases as hotwords; pocketsphinx with the dialog's grammar;
pocketsphinx's general language model): word error rate on espeak-ng and Piper renderings of the
clinic scenario's caller phrases and of free sentences, latency after end of speech (the utterance
is fed frame by frame as a call does, then finish() is timed), CPU seconds per utterance, RSS.
Latencies are p50/p95/p99 in ms.
The machine's load average is printed alongside: the figures are CPU-bound."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from call_api.providers.audio import resample_pcm
from call_api.providers.base import SpeechToText, TextToSpeech
from call_api.providers.dialog.scenario import ScenarioDialog
from call_api.providers.dialog.scenario_file import load_scenario
from call_api.providers.stt.accuracy import word_error_rate
from call_api.providers.text import normalize
from voicebot_callsim.audio import speech_pcm

RATE = 16000
FRAME = 640  # 20 ms of 16 kHz s16le, what a call feeds
BOT_REPLIES = [
    "Hello Ann, this is the city clinic. Would you like to book an appointment?",
    "Which day suits you, Monday, Wednesday or Friday?",
    "Morning or afternoon?",
    "Sorry, I did not catch that. Would you like to book an appointment? Please say yes or no.",
    "Your appointment is booked. We will send you a reminder the day before. Goodbye.",
    "I can help with that. The clinic opens at eight in the morning and closes at six.",
]
FREE_SENTENCES = [
    "I would like to move my appointment to next Tuesday.",
    "Can you tell me where the clinic is?",
    "My daughter has a fever and a sore throat.",
    "Is there a doctor who speaks Spanish?",
    "Please call me back after five o'clock.",
    "I need a prescription renewed for my blood pressure.",
]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    """This process and its finished children (espeak-ng runs as a subprocess)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    values = np.array(seconds) * 1000
    return {f"p{q}": round(float(np.percentile(values, q)), 1) for q in (50, 95, 99)} | {"n": len(seconds)}


def caller_phrases(quick: bool) -> list[tuple[list[str], str]]:
    """(the state's grammar, phrase) for every phrase the clinic scenario expects."""
    dialog = ScenarioDialog(load_scenario(), {"contact_name": "Ann"})
    out = []
    for state in dialog.scenario.states.values():
        if state.intents:
            dialog.state = state
            grammar = list(dialog.expected_phrases())
            out += [(grammar, phrase) for phrase in grammar]
    return out[::3] if quick else out


def make_tts(name: str) -> TextToSpeech:
    from call_api.providers.tts.espeak import EspeakTTS
    from call_api.providers.tts.piper import PiperTTS

    return PiperTTS() if name == "piper" else EspeakTTS()


async def bench_tts(name: str, quick: bool) -> dict[str, Any]:
    base_rss, started = rss_mb(), time.perf_counter()
    tts = make_tts(name)
    await tts.check()
    load_s, loaded_rss = time.perf_counter() - started, rss_mb()
    first, whole, audio_s = [], [], 0.0
    cpu_before = cpu_seconds()
    for text in BOT_REPLIES * (1 if quick else 3):
        started, first_at, size = time.perf_counter(), None, 0
        async for chunk in tts.synthesize(text):
            first_at = first_at or time.perf_counter()
            size += len(chunk)
        whole.append(time.perf_counter() - started)
        first.append((first_at or time.perf_counter()) - started)
        audio_s += size / 2 / tts.sample_rate
    cpu = cpu_seconds() - cpu_before
    return {
        "engine": f"tts.{name}",
        "voice": tts.voice,
        "first_audio_ms": percentiles_ms(first),
        "whole_reply_ms": percentiles_ms(whole),
        "real_time_factor": round(sum(whole) / audio_s, 3),
        "cpu_s_per_audio_s": round(cpu / audio_s, 3),
        "load_s": round(load_s, 2),
        "rss_mb": {"process": round(loaded_rss, 1), "engine": round(loaded_rss - base_rss, 1)},
    }


async def piper_16k(texts: list[str]) -> dict[str, bytes]:
    from call_api.providers.tts.piper import PiperTTS

    tts = PiperTTS()
    out = {}
    for text in texts:
        pcm = b"".join([chunk async for chunk in tts.synthesize(text)])
        out[text] = resample_pcm(pcm, tts.sample_rate, RATE)
    return out


def make_stt(name: str) -> SpeechToText:
    from call_api.providers.stt.pocketsphinx import PocketsphinxSTT
    from call_api.providers.stt.whisper import WhisperSTT

    if name == "whisper":
        whisper = WhisperSTT()
        whisper.load()
        return whisper
    return PocketsphinxSTT()


async def transcribe(stt: SpeechToText, pcm: bytes, grammar: list[str]) -> tuple[str, float]:
    """(text, seconds from the end of the audio to the final transcript)."""
    session = await stt.open(grammar)
    try:
        for offset in range(0, len(pcm), FRAME):
            await session.feed(pcm[offset : offset + FRAME])
        ended = time.perf_counter()
        text = (await session.finish()).text
        return text, time.perf_counter() - ended
    finally:
        await session.aclose()


async def bench_stt(name: str, quick: bool) -> dict[str, Any]:
    """name: whisper | pocketsphinx (grammar for the scenario's phrases) | pocketsphinx-lm (free)."""
    phrases = caller_phrases(quick)
    free = FREE_SENTENCES[:3] if quick else FREE_SENTENCES
    piper = await piper_16k([p for _, p in phrases] + free)  # rendered before the engine's RSS is read
    base_rss = rss_mb()
    stt = make_stt(name.removesuffix("-lm"))
    await transcribe(stt, piper[free[0]], [])  # the first decoder / model warm-up is not measured
    loaded_rss = rss_mb()
    cases: list[tuple[str, str, list[str], str, bytes]] = []
    for voice, render in (("espeak", lambda text: speech_pcm(text, RATE)), ("piper", piper.__getitem__)):
        render_: Callable[[str], bytes] = render
        if name != "pocketsphinx-lm":  # the grammar only knows the scenario's phrases
            cases += [(voice, "phrases", grammar, p, render_(p)) for grammar, p in phrases]
        if name != "pocketsphinx":
            cases += [(voice, "free", [], s, render_(s)) for s in free]
    results: dict[tuple[str, str], list[tuple[str, str]]] = {}
    latencies: list[float] = []
    audio_s, cpu_before = 0.0, cpu_seconds()
    for voice, kind, grammar, text, pcm in cases:
        heard, latency = await transcribe(stt, pcm, grammar)  # whisper: the phrases as hotwords
        results.setdefault((voice, kind), []).append((text, heard))
        latencies.append(latency)
        audio_s += len(pcm) / 2 / RATE
    cpu = cpu_seconds() - cpu_before
    return {
        "engine": f"stt.{name}",
        "wer": {
            f"{voice}.{kind}": round(word_error_rate(pairs), 3) for (voice, kind), pairs in results.items()
        },
        "phrases_exact": {
            f"{voice}.{kind}": f"{sum(normalize(t) == normalize(h) for t, h in pairs)}/{len(pairs)}"
            for (voice, kind), pairs in results.items()
        },
        "after_end_of_speech_ms": percentiles_ms(latencies),
        "cpu_s_per_utterance": round(cpu / len(cases), 3),
        "cpu_s_per_audio_s": round(cpu / audio_s, 3),
        "rss_mb": {
            "process": round(loaded_rss, 1),
            "engine": round(loaded_rss - base_rss, 1),
            "after_run": round(rss_mb(), 1),
        },
        "misses": [(t, h) for pairs in results.values() for t, h in pairs if normalize(t) != normalize(h)][
            :12
        ],
    }


ENGINES = ["tts.piper", "tts.espeak", "stt.whisper", "stt.pocketsphinx", "stt.pocketsphinx-lm"]


async def one(engine: str, quick: bool) -> dict[str, Any]:
    kind, name = engine.split(".", 1)
    return await (bench_tts(name, quick) if kind == "tts" else bench_stt(name, quick))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.voices", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer sentences and phrases")
    parser.add_argument("--engine", choices=ENGINES, action="append", help="only these (repeatable)")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    engines = args.engine or ENGINES
    if args.in_process:
        print(json.dumps(asyncio.run(one(engines[0], args.quick))))
        return
    report: dict[str, Any] = {
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "cores": os.cpu_count(),
    }
    for engine in engines:
        command = [sys.executable, "-m", "bench.voices", "--in-process", "--engine", engine]
        done = subprocess.run(command + (["--quick"] if args.quick else []), capture_output=True, text=True)
        if done.returncode != 0:
            report[engine] = {
                "error": done.stderr.strip().splitlines()[-1:] or ["exit " + str(done.returncode)]
            }
            continue
        report[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    report["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
