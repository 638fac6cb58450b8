"""`python -m bench.browser [--calls N]`: browser calls through the softphone page in a real
headless Chromium against a stack of its own (tests/browser); JSON with p50/p95/p99 (ms) on stdout.

Per call: click on Call → `call_accepted` at the page, click → first bot audio at the page (the
received track's level first above the speech floor after `play_audio`), and barge-in onset (the
fake microphone's voice, unmuted over the greeting) → `stop_audio` at the page. Not registered in
`python -m bench` (its scenarios need no browser); run it on its own."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.stats import summarize
from tests.browser.chromium import missing, start_chromium
from tests.browser.microphone import make_microphone
from tests.browser.page import Softphone
from tests.browser.stack import start_browser_stack

SPEAKING_RMS = 0.02

CLICK = "const at = performance.now(); document.getElementById('call').click(); return at;"


def first_audio_at(page: Softphone, after: float, timeout: float = 10.0) -> float:
    def heard() -> float | None:
        return next(
            (lv["at"] for lv in page.levels() if lv["at"] >= after and lv["rms"] > SPEAKING_RMS), None
        )

    found: float = page.wait(heard, timeout, "the first bot audio at the page")
    return found


def one_call(page: Softphone, microphone: Any) -> dict[str, float]:
    page.open()
    page.js("window.voicebot.mute(true)")
    clicked = float(page.js(CLICK))
    page.wait(lambda: page.state == "in_call", 20, "state in_call")
    accepted = page.wait_event("call_accepted", 10)
    play = page.wait_event("play_audio", 20)
    audio = first_audio_at(page, play["at"])
    said = page.say_once(microphone)
    stop = page.wait_event("stop_audio", 10)
    page.hangup()
    return {
        "click_to_call_accepted_ms": accepted["at"] - clicked,
        "click_to_play_audio_ms": play["at"] - clicked,
        "click_to_first_bot_audio_ms": audio - clicked,
        "barge_in_onset_to_stop_audio_ms": stop["at"] - said["onset"],
    }


def run(calls: int) -> dict[str, Any]:
    why = missing()
    if why:
        raise SystemExit(why)
    samples: dict[str, list[float]] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        base = Path(tmp)
        stack = start_browser_stack(base, web_env={"tokens_per_minute": str(max(10, 2 * calls))})
        try:
            microphone = make_microphone(base)
            driver = start_chromium(
                profile=base / "profile", microphone_wav=microphone.wav, server_cert=stack.certs.cert
            )
            try:
                page = Softphone(driver, stack.page_url)
                for _ in range(calls):
                    try:
                        for name, value in one_call(page, microphone).items():
                            samples.setdefault(name, []).append(value)
                    except AssertionError as failed:
                        failures.append(str(failed)[:300])
            finally:
                driver.quit()
        finally:
            stack.stop()
    return {
        "scenario": "browser",
        "calls": calls,
        "failed": len(failures),
        "failures": failures[:5],
        "metrics": {name: summarize(values) for name, values in samples.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args(argv)
    result = run(args.calls)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
