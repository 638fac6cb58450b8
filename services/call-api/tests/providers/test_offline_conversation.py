"""A whole booking call with the offline providers only, the way the orchestrator wires them: the
dialog's sentences go to espeak-ng; the caller (also espeak-ng) is heard by pocketsphinx listening
for the dialog's expected phrases; what it hears drives the dialog."""

import contextlib

from call_api.providers.audio import resample_pcm
from call_api.providers.config import ProviderSettings, make_dialog, make_stt, make_tts
from call_api.providers.text import sentences

from tests.support.speech import transcribe


async def test_a_booking_call_end_to_end() -> None:
    settings = ProviderSettings(
        tts_provider="espeak", stt_provider="pocketsphinx", dialog_provider="scenario"
    )
    tts, stt = make_tts(settings), make_stt(settings)
    dialog = make_dialog(settings, {"contact_name": "Anna"})
    caller_voice = make_tts(settings.model_copy(update={"tts_voice": "en-us+m3"}))

    async def bot_says(text_chunks) -> str:
        said = []
        async for sentence in sentences(text_chunks):
            async with contextlib.aclosing(tts.synthesize(sentence)) as audio:
                assert sum([len(chunk) async for chunk in audio]) > 0
            said.append(sentence)
        return " ".join(said)

    async def caller_says(text: str) -> str:
        pcm = b"".join([chunk async for chunk in caller_voice.synthesize(text)])
        pcm = resample_pcm(pcm, caller_voice.sample_rate, 16000)
        return await transcribe(pcm, dialog.expected_phrases(), stt)

    transcript = [await bot_says(dialog.greeting())]
    for answer in ["yes please", "on friday", "in the afternoon"]:
        heard = await caller_says(answer)
        transcript.append(f"caller: {heard}")
        transcript.append(await bot_says(dialog.reply(heard)))
    print("\n" + "\n".join(transcript))
    assert transcript[0] == "Hello Anna, this is the city clinic. Would you like to book an appointment?"
    assert dialog.finished
    assert "booked for Friday afternoon" in transcript[-1]
