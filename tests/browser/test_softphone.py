"""The softphone page (services/web) in a real headless Chromium, against the whole stack behind
the real nginx gateway: WebRTC (ICE, DTLS-SRTP, Opus with the browser's header extensions) into
mediasoup, the real Orchestrator, espeak-ng speaking and pocketsphinx listening."""

import os
import re
import shutil
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.browser.microphone import Microphone
from tests.browser.page import Softphone
from tests.browser.stack import BrowserStack
from tests.support.procs import REPO_ROOT, wait_until
from tests.support.speech import RATE, transcribe

SCREENSHOT = REPO_ROOT / "docs" / "images" / "softphone.png"
SILENT_RMS = 0.003  # the received track's level (0..1) counts as silence below this
SPEAKING_RMS = 0.02


def media_sessions_of(stack: BrowserStack, scoped_call_id: str) -> list[dict[str, Any]]:
    return [s for s in stack.media.get("/v1/stats")["sessions"] if s["call_id"] == scoped_call_id]


def assert_nothing_left(stack: BrowserStack, call_id: str) -> None:
    scoped = f"web~{call_id}"
    client = redis.Redis.from_url(stack.redis.url)

    def clean() -> bool:
        return not media_sessions_of(stack, scoped) and not client.keys(f"*{call_id}*")

    wait_until(clean, 20, "the call's media session and Redis keys to go")
    with pytest.raises(urllib.error.HTTPError) as gone:
        stack.media.get(f"/v1/sessions/{scoped}/stats")
    assert gone.value.code == 404


def save_screenshot(browser: webdriver.Chrome, tmp_path: Path) -> Path:
    shot = tmp_path / "softphone.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("VOICEBOT_UPDATE_SCREENSHOT") == "1":  # docs/softphone.md
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    return shot


async def test_a_browser_call_is_greeted_understood_and_leaves_nothing_behind(
    stack: BrowserStack, browser: webdriver.Chrome, microphone: Microphone, tmp_path: Path
) -> None:
    page = Softphone(browser, stack.page_url).open()
    assert page.state == "idle"
    page.call(muted=True)
    trace_id = page.js("return window.voicebot.traceId")
    call_id = page.js("return window.voicebot.callId")
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id), trace_id
    assert browser.find_element(By.ID, "trace-id").text == trace_id
    accepted = page.events("call_accepted")[0]

    # The greeting plays: its audio arrives over WebRTC and pocketsphinx hears the caller's name.
    play = page.wait_event("play_audio", 20)
    print(f"click → first bot audio: {play['at'] - accepted['at']:.0f} ms after call_accepted")
    greeting = page.wait_event("transcript", 30, role="bot")
    assert "Ann" in greeting["payload"]["text"]
    assert {"role": "bot", "text": greeting["payload"]["text"]} in page.transcript()
    spoken = [lv["rms"] for lv in page.levels() if play["at"] <= lv["at"] <= greeting["at"]]
    assert max(spoken) > SPEAKING_RMS, "the greeting's audio never reached the page"
    pcm = page.received_pcm(RATE)
    template = greeting["payload"]["text"].replace("Ann", "{}").rstrip("?.")
    heard = await transcribe(pcm, [template.format(n) for n in ("ann", "bob", "maria")])
    assert "ann" in heard.split(), heard

    # The fake microphone's "yes please" is understood: the transcript advances to the next question.
    since = len(page.events())
    page.say_once(microphone)
    caller = page.wait_event("transcript", 20, since, role="caller")
    assert "yes" in caller["payload"]["text"], caller
    reply = page.wait_event("play_audio", 20, since)
    assert "which day" in (reply["payload"]["text"] or "").lower()
    roles = [t["role"] for t in page.transcript()]
    assert roles[:2] == ["bot", "caller"], roles
    assert browser.find_element(By.ID, "bot-audio").text == "bot speaking"
    save_screenshot(browser, tmp_path)

    page.hangup()
    assert page.state == "ended"
    assert_nothing_left(stack, call_id)


async def test_talking_over_the_bot_stops_its_audio_at_once(
    stack: BrowserStack, browser: webdriver.Chrome, microphone: Microphone
) -> None:
    page = Softphone(browser, stack.page_url).open()
    page.call(muted=True)
    call_id = page.js("return window.voicebot.callId")
    play = page.wait_event("play_audio", 20)
    said = page.say_once(microphone)  # the next "yes please" of the fake microphone, over the greeting
    stop = page.wait_event("stop_audio", 10)
    assert stop["payload"]["stream_id"] == play["payload"]["stream_id"]
    print(f"barge-in onset → stop_audio at the page: {stop['at'] - said['onset']:.0f} ms")
    assert stop["at"] - said["onset"] < 2000
    assert browser.find_element(By.ID, "bot-audio").text == "bot stopped (barge-in)"
    interrupted = page.wait_event("transcript", 10, role="bot", interrupted=True)
    full = "Hello Ann, this is the city clinic. Would you like to book an appointment?"
    assert len(interrupted["payload"]["text"]) < len(full), "only what was heard stays in the transcript"

    # The received track itself goes silent: the server stopped sending, not only the page muting.
    # (For the first ~400 ms the browser's loss concealment fades the last sound out.)
    page.wait(lambda: page.levels()[-1]["at"] > stop["at"] + 1000, 20, "levels after stop_audio")
    levels = page.levels()
    before = [lv["rms"] for lv in levels if play["at"] <= lv["at"] < stop["at"]]
    after = [lv["rms"] for lv in levels if stop["at"] + 500 <= lv["at"] <= stop["at"] + 1000]
    assert max(before) > SPEAKING_RMS
    trace = [(round(lv["at"] - stop["at"]), round(lv["rms"], 4)) for lv in levels if lv["at"] >= stop["at"]]
    assert after and float(np.max(after)) < SILENT_RMS, f"bot audio after stop_audio: {trace[:60]}"

    page.hangup()
    assert_nothing_left(stack, call_id)
