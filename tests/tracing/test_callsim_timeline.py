"""callsim's per-call timeline picture: drawn from the report's outcome (events, barge_ins), each
mark where the JSON says it happened."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from voicebot_callsim import timeline
from voicebot_callsim.report import write_timelines

OUTCOME = {
    "call_id": "callsim-t-0",
    "events": [
        {"t_ms": 100.0, "event": "call_accepted"},
        {"t_ms": 200.0, "event": "play_audio", "payload": {"stream_id": "s1", "rtp_port": 1}},
        {"t_ms": 1800.0, "event": "transcript", "payload": {"role": "bot", "text": "hello"}},
        {"t_ms": 3000.0, "event": "transcript", "payload": {"role": "caller", "text": "a table"}},
        {"t_ms": 3300.0, "event": "play_audio", "payload": {"stream_id": "s2", "rtp_port": 1}},
        {"t_ms": 4100.0, "event": "stop_audio"},
        {"t_ms": 6000.0, "event": "call_ended"},
    ],
    "barge_ins": [{"text": "wait", "after_ms": 500, "stop_audio_ms": 100.0, "last_bot_packet_ms": 95.0}],
}


def test_the_timeline_reads_the_report() -> None:
    t = timeline.of_outcome(OUTCOME)
    assert t.bot == [(200.0, 1800.0), (3300.0, 4100.0)]  # ended by the bot's transcript, then by stop_audio
    assert t.caller == [3000.0]
    assert t.stops == [4100.0]
    assert t.barge_ins == [4000.0]  # caller onset = stop_audio − onset→stop_audio
    assert t.end_ms == 6000.0


def test_the_picture_shows_each_mark_where_it_happened(tmp_path: Path) -> None:
    report = {"outcomes": [dict(OUTCOME)]}
    write_timelines(report, tmp_path)
    path = Path(report["outcomes"][0]["timeline"])
    assert path == tmp_path / "callsim-t-0-timeline.png"
    image = Image.open(path).convert("RGB")
    assert image.size == (timeline.WIDTH, timeline.HEIGHT)

    def at(t_ms: float, lane: str) -> tuple[int, int, int]:
        return image.getpixel((timeline.x_of(t_ms, 6000.0), timeline.LANES[lane]))

    assert at(1000.0, "bot speech") == timeline.BOT  # inside the first reply
    assert at(2500.0, "bot speech") == timeline.BACKGROUND  # the caller's turn: bot silent
    assert at(3700.0, "bot speech") == timeline.BOT  # the interrupted reply
    assert at(5000.0, "bot speech") == timeline.BACKGROUND  # after stop_audio
    assert at(3000.0, "caller") == timeline.CALLER
    assert at(4000.0, "barge-in") == timeline.BARGE
    assert at(4100.0, "stop_audio") == timeline.STOP
    assert at(2000.0, "stop_audio") == timeline.BACKGROUND
