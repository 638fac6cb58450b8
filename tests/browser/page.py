"""The softphone page in the browser, through its scripting hook window.voicebot (docs/softphone.md)."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable
from typing import Any

from selenium import webdriver
from voicebot_callsim.audio import read_audio

from tests.browser.microphone import Microphone

SAY_ONE_UTTERANCE = """
const [period, unmuteAt, muteAt, done] = arguments;
const phase = ((performance.now() - window.voicebot.micStartedAt) / 1000) % period;
const delay = ((unmuteAt - phase) % period + period) % period;
setTimeout(() => {
  window.voicebot.mute(false);
  const unmutedAt = performance.now();
  setTimeout(() => {
    window.voicebot.mute(true);
    done({unmutedAt, mutedAt: performance.now()});
  }, (muteAt - unmuteAt) * 1000);
}, delay * 1000);
"""

RECORDING = """
const done = arguments[0];
window.voicebot.recording().then(done, (e) => done('error: ' + e));
"""


class Softphone:
    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        self.url = url

    def open(self) -> Softphone:
        self.driver.get(self.url)
        self.wait(lambda: self.js("return typeof window.voicebot === 'object'"), 10, "the page's hook")
        return self

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def now(self) -> float:
        """The page's clock (performance.now(), ms): every time the page records is on it."""
        return float(self.js("return performance.now()"))

    @property
    def state(self) -> str:
        return str(self.js("return window.voicebot.state"))

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Poll the page (each look is a round trip to the browser) until `check` is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; state {self.state}, "
                    f"error {self.js('return window.voicebot.error')}"
                )
            time.sleep(0.05)

    def call(self, *, muted: bool = True, timeout: float = 20.0) -> None:
        self.js("window.voicebot.mute(arguments[0]); window.voicebot.call();", muted)
        self.wait(lambda: self.state == "in_call", timeout, "state in_call")

    def hangup(self) -> None:
        self.js("window.voicebot.hangup()")

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.js(
            "return window.voicebot.events.map(e => ({event: e.event, at: e.at, payload: e.payload}))"
        )
        return [e for e in events if name is None or e["event"] == name]

    def wait_event(self, name: str, timeout: float, since: int = 0, **payload: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for event in self.events()[since:]:
                if event["event"] == name and all(
                    (event["payload"] or {}).get(k) == v for k, v in payload.items()
                ):
                    return event
            return None

        result: dict[str, Any] = self.wait(found, timeout, f"event {name} {payload or ''}")
        return result

    def transcript(self) -> list[dict[str, str]]:
        return list(self.js("return window.voicebot.transcript"))

    def levels(self) -> list[dict[str, float]]:
        return list(self.js("return window.voicebot.levels()"))

    def say_once(self, microphone: Microphone) -> dict[str, float]:
        """Unmute for the next utterance of the fake microphone, then mute again; the page's times
        of unmuting and muting, and of the voice's onset (ms, page clock)."""
        unmute_at = max(0.0, microphone.speech_start - 0.25)
        mute_at = min(microphone.period - 0.05, microphone.speech_end + 0.35)
        times: dict[str, float] = self.driver.execute_async_script(
            SAY_ONE_UTTERANCE, microphone.period, unmute_at, mute_at
        )
        times["onset"] = times["unmutedAt"] + (microphone.speech_start - unmute_at) * 1000
        return times

    def received_pcm(self, rate: int = 16000) -> bytes:
        """The page's recording of the bot's received track, decoded to PCM s16le mono."""
        encoded = self.driver.execute_async_script(RECORDING)
        if not encoded or str(encoded).startswith("error"):
            raise AssertionError(f"no recording from the page: {encoded!r}")
        return read_audio(io.BytesIO(base64.b64decode(encoded)), rate)
