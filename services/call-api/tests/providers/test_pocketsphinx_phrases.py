"""pocketsphinx with a grammar hears one of the grammar's phrases, never a part of one: with no
path to the grammar's end it used to return the best partial path ("okay" → "book an", of "book an
appointment": an answer where the caller only acknowledged)."""

import pytest
from call_api.orchestrator.resume import backchannel_phrases
from call_api.providers.stt.pocketsphinx import PocketsphinxSTT
from call_api.providers.text import normalize
from call_api.settings import OrchestratorSettings
from voicebot_corpus.cases import CALLER_LEVEL_DBFS
from voicebot_corpus.levels import to_pcm
from voicebot_corpus.speech import spoken

FRAME = 640  # 20 ms of 16 kHz s16le
SILENCE = b"\x00" * FRAME * 15


@pytest.fixture(scope="module")
def stt() -> PocketsphinxSTT:
    return PocketsphinxSTT()


@pytest.mark.parametrize("voice", ["en-us+m3", "en-gb+m1"])
@pytest.mark.parametrize("said", ["okay", "mm-hmm", "no"])
async def test_the_final_text_is_a_whole_phrase_of_the_grammar(
    stt: PocketsphinxSTT, clinic_dialog, voice: str, said: str
) -> None:
    # what the orchestrator listens with after a barge-in in the greeting's state
    phrases = (
        *clinic_dialog(contact_name="Ann").expected_phrases(),
        *backchannel_phrases(OrchestratorSettings()),
    )
    audio = SILENCE + to_pcm(spoken(said, voice, CALLER_LEVEL_DBFS)).tobytes() + SILENCE
    session = await stt.open(phrases)
    for offset in range(0, len(audio), FRAME):
        await session.feed(audio[offset : offset + FRAME])
    result = await session.finish()
    assert result.text in {normalize(phrase) for phrase in phrases}, result.text
