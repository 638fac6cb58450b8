"""espeak-ng speaks each phrase the clinic scenario expects; pocketsphinx, listening with the
grammar the dialog gives it, must hear it back — the offline speech path end to end. The neural
voice too: Piper's phrases heard by pocketsphinx, Piper's free sentences transcribed by Whisper."""

import time

import pytest
from call_api.providers.audio import resample_pcm
from call_api.providers.dialog.matching import best_intent
from call_api.providers.dialog.scenario import ScenarioDialog
from call_api.providers.stt.accuracy import word_error_rate
from call_api.providers.stt.pocketsphinx import PocketsphinxSTT
from call_api.providers.stt.whisper import WhisperSTT
from call_api.providers.text import normalize
from call_api.providers.tts.espeak import EspeakTTS
from call_api.providers.tts.piper import PiperTTS

FRAME = 640  # 20 ms of 16 kHz s16le


async def speak(tts: EspeakTTS, text: str) -> tuple[bytes, float]:
    started = time.perf_counter()
    first_chunk_ms = 0.0
    chunks = []
    async for chunk in tts.synthesize(text):
        if not chunks:
            first_chunk_ms = (time.perf_counter() - started) * 1000
        chunks.append(chunk)
    return resample_pcm(b"".join(chunks), tts.sample_rate, 16000), first_chunk_ms


def every_state_phrases(dialog: ScenarioDialog) -> list[tuple[str, list[str]]]:
    """(state, grammar phrases) for each state that listens."""
    scenario = dialog.scenario
    out = []
    for state in scenario.states.values():
        if state.intents:
            dialog.state = state
            out.append((state.name, list(dialog.expected_phrases())))
    return out


async def test_espeak_speech_is_recognised_by_pocketsphinx(clinic_dialog) -> None:
    tts = EspeakTTS()
    stt = PocketsphinxSTT()
    await tts.check()
    await stt.check()
    right, total, partials_seen, right_intent = 0, 0, 0, 0
    misses = []
    decode_seconds = audio_seconds = 0.0
    first_chunks = []
    for state, phrases in every_state_phrases(clinic_dialog(contact_name="Anna")):
        for phrase in phrases:
            pcm, first_chunk_ms = await speak(tts, phrase)
            first_chunks.append(first_chunk_ms)
            session = await stt.open(phrases)
            partials = []
            started = time.perf_counter()
            for offset in range(0, len(pcm), FRAME):
                result = await session.feed(pcm[offset : offset + FRAME])
                if result is not None:
                    assert not result.final
                    partials.append(result.text)
            final = await session.finish()
            decode_seconds += time.perf_counter() - started
            audio_seconds += len(pcm) / 32000
            assert final.final
            total += 1
            partials_seen += bool(partials)
            if final.text == normalize(phrase):
                right += 1
            else:
                misses.append((state, phrase, final.text))
            # What matters to the dialog: the heard text selects the same intent as the phrase.
            intents = (
                *clinic_dialog().scenario.states[state].intents,
                *clinic_dialog().scenario.global_intents,
            )
            meant, heard = best_intent(phrase, intents), best_intent(final.text, intents)
            right_intent += bool(meant and heard and meant.intent.name == heard.intent.name)
    print(
        f"\nespeak→pocketsphinx: {right}/{total} phrases right, {right_intent}/{total} intents right; "
        f"misses: {misses}\n"
        f"TTS first chunk: median {sorted(first_chunks)[len(first_chunks) // 2]:.1f} ms, "
        f"max {max(first_chunks):.1f} ms; STT real-time factor {decode_seconds / audio_seconds:.3f}"
    )
    assert right / total >= 0.9, misses
    assert right_intent / total >= 0.95, misses
    assert partials_seen / total >= 0.9  # partial hypotheses stream while the caller speaks


async def test_a_session_can_be_abandoned_and_its_decoder_reused() -> None:
    stt = PocketsphinxSTT(max_idle_decoders=1)
    tts = EspeakTTS()
    pcm, _ = await speak(tts, "yes please")
    session = await stt.open(["yes please", "no thanks"])
    await session.feed(pcm[: len(pcm) // 2])
    await session.aclose()
    await session.aclose()  # idempotent
    again = await stt.open(["yes please", "no thanks"])
    for offset in range(0, len(pcm), FRAME):
        await again.feed(pcm[offset : offset + FRAME])
    assert (await again.finish()).text == "yes please"


async def test_unknown_words_are_left_out_of_the_grammar() -> None:
    stt = PocketsphinxSTT()
    pcm, _ = await speak(EspeakTTS(), "friday")
    session = await stt.open(["Zyxxqv", "Friday!", "monday zyxxqv"])
    await session.feed(pcm)
    assert (await session.finish()).text == "friday"


@pytest.mark.slow
async def test_without_phrases_the_general_language_model_listens() -> None:
    stt = PocketsphinxSTT()
    pcm, _ = await speak(EspeakTTS(), "yes I would like to book an appointment")
    session = await stt.open(())
    for offset in range(0, len(pcm), 3200):
        await session.feed(pcm[offset : offset + 3200])
    final = await session.finish()
    print(f"\nfree speech heard: {final.text!r}")
    # The general model is weak on synthetic speech: expect most of the words, not all.
    assert (
        len({"yes", "i", "would", "like", "to", "book", "an", "appointment"} & set(final.text.split())) >= 4
    )


FREE_SENTENCES = [
    "I would like to move my appointment to next Tuesday.",
    "Can you tell me where the clinic is?",
    "My daughter has a fever and a sore throat.",
]


async def piper_pcm(tts: PiperTTS, text: str) -> bytes:
    return resample_pcm(b"".join([chunk async for chunk in tts.synthesize(text)]), tts.sample_rate, 16000)


async def test_piper_speech_is_recognised_by_pocketsphinx(clinic_dialog) -> None:
    tts, stt = PiperTTS(), PocketsphinxSTT()
    right, total, right_intent, misses = 0, 0, 0, []
    rendered: dict[str, bytes] = {}
    for state, phrases in every_state_phrases(clinic_dialog(contact_name="Anna")):
        intents = (
            *clinic_dialog().scenario.states[state].intents,
            *clinic_dialog().scenario.global_intents,
        )
        for phrase in phrases:
            if phrase not in rendered:  # the global phrases recur in every state: render them once
                rendered[phrase] = await piper_pcm(tts, phrase)
            pcm = rendered[phrase]
            session = await stt.open(phrases)
            for offset in range(0, len(pcm), FRAME):
                await session.feed(pcm[offset : offset + FRAME])
            heard = (await session.finish()).text
            total += 1
            if heard == normalize(phrase):
                right += 1
            else:
                misses.append((state, phrase, heard))
            meant, understood = best_intent(phrase, intents), best_intent(heard, intents)
            right_intent += bool(meant and understood and meant.intent.name == understood.intent.name)
    print(f"\npiper→pocketsphinx: {right}/{total} phrases, {right_intent}/{total} intents; misses {misses}")
    assert right / total >= 0.9, misses
    assert right_intent / total >= 0.95, misses


async def test_piper_speech_is_transcribed_by_whisper() -> None:
    tts, stt = PiperTTS(), WhisperSTT()
    await stt.check()
    pairs, latencies = [], []
    for sentence in [*FREE_SENTENCES, "Yes please.", "Wednesday morning."]:
        pcm = await piper_pcm(tts, sentence)
        session = await stt.open(())
        await session.feed(pcm)
        started = time.perf_counter()
        pairs.append((sentence, (await session.finish()).text))
        latencies.append(time.perf_counter() - started)
    wer = word_error_rate(pairs)
    print(f"\npiper→whisper WER {wer:.2f}, after end of speech max {max(latencies):.2f} s: {pairs}")
    assert wer <= 0.1, pairs
