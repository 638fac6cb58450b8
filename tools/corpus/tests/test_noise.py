"""The disturbance generators: the level asked for, the duration asked for, fixed by the seed."""

import numpy as np
import pytest
from voicebot_corpus import noise
from voicebot_corpus.levels import RATE, active_dbfs, samples_of_ms


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("colour", ["white", "pink"])
@pytest.mark.parametrize("ms", [100, 300, 500])
@pytest.mark.parametrize("level", [-35.0, -15.0])
def test_noise_burst_has_its_duration_and_level(colour: str, ms: int, level: float) -> None:
    burst = noise.noise_burst(rng(), colour, ms, level)
    assert len(burst) == samples_of_ms(ms)
    assert active_dbfs(burst) == pytest.approx(level, abs=0.01)


def test_pink_noise_falls_3_db_an_octave_and_white_is_flat() -> None:
    def band_db(audio: np.ndarray, low: float, high: float) -> float:
        power = np.abs(np.fft.rfft(audio)) ** 2
        freqs = np.fft.rfftfreq(len(audio), 1 / RATE)
        return float(10 * np.log10(power[(freqs >= low) & (freqs < high)].mean()))

    pink, white = noise.pink(rng(), 2000), noise.white(rng(), 2000)
    assert band_db(pink, 250, 500) - band_db(pink, 2000, 4000) == pytest.approx(9.0, abs=1.5)
    assert abs(band_db(white, 250, 500) - band_db(white, 2000, 4000)) < 1.0


def test_the_same_seed_gives_the_same_audio_and_another_seed_other_audio() -> None:
    for make in (
        lambda g: noise.noise_burst(g, "pink", 300, -25),
        lambda g: noise.cough(g, 300, -20),
        lambda g: noise.keyboard(g, 1500, -25),
        lambda g: noise.knock(g, 3, -12),
        lambda g: noise.click_train(g, 300, 20, -15),
    ):
        assert np.array_equal(make(rng(7)), make(rng(7)))
        assert not np.array_equal(make(rng(7)), make(rng(8)))


def test_a_burst_fades_in_and_out_so_its_edges_are_not_clicks() -> None:
    burst = noise.noise_burst(rng(), "white", 300, -15)
    edge = samples_of_ms(1)
    assert np.abs(burst[:edge]).max() < 0.1 * np.abs(burst).max()
    assert np.abs(burst[-edge:]).max() < 0.1 * np.abs(burst).max()


def test_a_click_train_has_one_click_a_period() -> None:
    train = noise.click_train(rng(), 300, 20, -15)
    loud = np.abs(train) > 0.2 * np.abs(train).max()
    loud_at = np.flatnonzero(loud)
    clicks = np.split(loud_at, np.flatnonzero(np.diff(loud_at) > samples_of_ms(10)) + 1)
    assert len(clicks) == 6  # 300 ms at 20 Hz


def test_keyboard_strikes_are_short_and_apart() -> None:
    typing = noise.keyboard(rng(), 1500, -25)
    assert len(typing) == samples_of_ms(1500)
    frames = typing[: len(typing) // 320 * 320].reshape(-1, 320)
    silent = np.sqrt(np.mean(frames**2, axis=1)) < 10 ** (-60 / 20)
    assert 0.3 < silent.mean() < 0.95  # mostly gaps between strikes, never a steady noise
    assert active_dbfs(typing) == pytest.approx(-25, abs=0.01)


@pytest.mark.parametrize("ms", [250, 400])
def test_a_cough_starts_loud_and_decays(ms: int) -> None:
    burst = noise.cough(rng(), ms, -20)
    assert len(burst) == samples_of_ms(ms)
    quarter = len(burst) // 4
    first, last = burst[:quarter], burst[-quarter:]
    assert np.sqrt(np.mean(first**2)) > 4 * np.sqrt(np.mean(last**2))
    assert active_dbfs(burst) == pytest.approx(-20, abs=0.01)
