"""OpenAIChatDialog against a fake OpenAI-compatible server speaking chat-completions SSE."""

import asyncio
import time

import pytest
from call_api.providers.base import ProviderError
from call_api.providers.dialog.openai_chat import OpenAIChatDialog
from call_api.providers.text import sentences

TIMEOUT = 0.5


def make_dialog(server, **kwargs) -> OpenAIChatDialog:
    return OpenAIChatDialog(
        base_url=f"{server.url}/v1",
        api_key="test-key",
        model="test-model",
        initial_vars={"contact_name": "Anna"},
        connect_timeout=TIMEOUT,
        first_token_timeout=TIMEOUT,
        token_timeout=TIMEOUT,
        **kwargs,
    )


async def collect(stream) -> list[str]:
    return [chunk async for chunk in stream]


async def test_reply_streams_tokens_and_keeps_history(fake_openai) -> None:
    dialog = make_dialog(fake_openai)
    started = time.perf_counter()
    chunks = await collect(dialog.reply("hi there"))
    print(f"\nLLM (fake) reply streamed in {(time.perf_counter() - started) * 1000:.1f} ms")
    assert chunks == fake_openai.tokens
    request = fake_openai.requests[-1]
    assert request["stream"] is True and request["model"] == "test-model"
    assert request["messages"][0]["role"] == "system" and "Anna" in request["messages"][0]["content"]
    assert request["messages"][-1] == {"role": "user", "content": "hi there"}
    # the next turn carries the whole conversation
    await collect(dialog.reply("book me in"))
    roles = [m["role"] for m in fake_openai.requests[-1]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert fake_openai.requests[-1]["messages"][2]["content"] == "Hello Anna. How can I help you today?"


async def test_sentences_are_cut_from_the_token_stream(fake_openai) -> None:
    dialog = make_dialog(fake_openai)
    assert await collect(sentences(dialog.reply("hi"))) == ["Hello Anna.", "How can I help you today?"]


async def test_record_heard_trims_the_last_bot_turn(fake_openai) -> None:
    dialog = make_dialog(fake_openai)
    await collect(dialog.reply("hi"))
    dialog.record_heard("Hello Anna.")
    await collect(dialog.reply("next"))
    assert fake_openai.requests[-1]["messages"][2] == {"role": "assistant", "content": "Hello Anna."}


async def test_end_marker_finishes_the_dialog_and_is_not_spoken(fake_openai) -> None:
    fake_openai.tokens = ["Goodbye", ", Anna.", " [E", "ND]"]
    dialog = make_dialog(fake_openai)
    assert "".join(await collect(dialog.reply("bye"))) == "Goodbye, Anna. "
    assert dialog.finished


async def test_static_greeting_needs_no_request(fake_openai) -> None:
    dialog = make_dialog(fake_openai, greeting="Hello {contact_name}, this is the clinic.")
    assert await collect(dialog.greeting()) == ["Hello Anna, this is the clinic."]
    assert fake_openai.requests == []


async def test_generated_greeting(fake_openai) -> None:
    dialog = make_dialog(fake_openai)
    assert "".join(await collect(dialog.greeting())) == "Hello Anna. How can I help you today?"
    assert fake_openai.requests[-1]["messages"][-1]["role"] == "user"  # the "greet the caller" cue


@pytest.mark.parametrize("mode", ["500", "hang", "hang_midway", "die_midway"])
async def test_failures_raise_provider_error_and_the_turn_can_be_retried(fake_openai, mode) -> None:
    dialog = make_dialog(fake_openai)
    fake_openai.mode = mode
    async with asyncio.timeout(5):  # never a hang
        with pytest.raises(ProviderError) as caught:
            await collect(dialog.reply("hi"))
    assert caught.value.provider == "llm"
    assert dialog.history.turns == []  # the failed turn left nothing behind
    fake_openai.mode = "ok"
    await collect(dialog.reply("hi"))
    assert [m["role"] for m in fake_openai.requests[-1]["messages"]] == ["system", "user"]


async def test_wrong_key_is_a_provider_error(fake_openai) -> None:
    dialog = make_dialog(fake_openai)
    dialog.api_key = "wrong"
    with pytest.raises(ProviderError, match="401"):
        await collect(dialog.reply("hi"))


async def test_unreachable_server_is_a_provider_error() -> None:
    dialog = OpenAIChatDialog(
        base_url="http://127.0.0.1:9/v1", api_key="k", model="m", connect_timeout=TIMEOUT
    )
    with pytest.raises(ProviderError):
        await collect(dialog.reply("hi"))
