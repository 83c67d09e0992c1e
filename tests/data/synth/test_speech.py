"""Tests for meshtalk.data.synth.speech (and the engines behind it)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meshtalk.data.synth import engines, speech
from meshtalk.data.synth.phones import PHONE_SET, SILENCE, VOWELS
from meshtalk.data.synth.speech import (
    TEST_VOICES, Utterance, augment, list_voices, load_phones, save_utterance, synthesize,
)
from meshtalk.errors import MeshtalkError

TEXT = "Bob, please keep the map by the blue boat."
ONE_VOICE_PER_ENGINE = {"espeak": "espeak:en-us", "flite": "flite:slt", "festival": "festival:kal_diphone"}


def _need(voice: str) -> None:
    engine = engines.ENGINES[voice.split(":")[0]]
    if not engine.available():
        pytest.skip(f"{voice}: engine not installed ({engine.missing_message.format(voice=voice)})")
    if voice.split(":")[0] != "espeak" and voice.split(":", 1)[1] not in engine.voices():
        pytest.skip(f"{voice}: voice not installed")


def _f0_median(audio: np.ndarray, sr: int) -> float:
    """Median F0 (Hz) of loud 40 ms frames by autocorrelation: an oracle independent of the engines."""
    frame, f0s = int(0.04 * sr), []
    peak = np.abs(audio).max()
    for i in range(0, len(audio) - frame, frame):
        s = audio[i:i + frame].astype(np.float64)
        s -= s.mean()
        if np.sqrt(np.mean(s**2)) < 0.1 * peak:
            continue
        ac = np.correlate(s, s, "full")[frame - 1:]
        lo, hi = int(sr / 400), int(sr / 60)
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.4 * ac[0]:
            f0s.append(sr / k)
    return float(np.median(f0s))


def test_speech_espeak_is_installed_here():
    # The project's setup installs espeakng-loader (extra "speech"); most tests below need it.
    _need("espeak:en-us")
    assert "espeak:en-us" in list_voices()


def test_speech_list_voices_and_test_voices():
    voices = list_voices()
    assert len(voices) == len(set(voices))
    for v in voices:
        assert v.split(":")[0] in engines.ENGINES
    curated = {f"{k}:{n}" for k, e in engines.ENGINES.items() for n in e.VOICES}
    assert set(TEST_VOICES) <= curated
    # Held-out voices span at least two engines and leave every engine some training voices.
    assert len({v.split(":")[0] for v in TEST_VOICES}) >= 2
    for key, e in engines.ENGINES.items():
        assert any(f"{key}:{n}" not in TEST_VOICES for n in e.VOICES)


@pytest.mark.parametrize("voice", sorted(ONE_VOICE_PER_ENGINE.values()))
def test_speech_utterance_is_well_formed(voice):
    _need(voice)
    utt = synthesize(TEXT, voice, sample_rate=16000, seed=3)
    assert isinstance(utt, Utterance)
    assert utt.audio.dtype == np.float32 and utt.audio.ndim == 1
    assert np.all(np.isfinite(utt.audio)) and np.abs(utt.audio).max() <= 1.0
    assert utt.sample_rate == 16000 and utt.voice == voice and utt.text == TEXT
    # Contiguous cover of [0, duration], shared labels, silence at both ends.
    assert utt.phones[0].start == 0.0
    assert utt.phones[-1].end == pytest.approx(len(utt.audio) / 16000, abs=1e-9)
    for a, b in zip(utt.phones, utt.phones[1:]):
        assert a.end == pytest.approx(b.start, abs=1e-9)
    assert all(p.end > p.start and p.label in PHONE_SET for p in utt.phones)
    assert utt.phones[0].label == SILENCE and utt.phones[-1].label == SILENCE
    labels = [p.label for p in utt.phones]
    assert labels.count("B") >= 3 and "M" in labels and "P" in labels


@pytest.mark.parametrize("voice", sorted(ONE_VOICE_PER_ENGINE.values()))
def test_speech_timeline_matches_audio_energy(voice):
    """Silences of the timeline are quiet in the audio and vowels are loud (oracle: the audio)."""
    _need(voice)
    utt = synthesize(TEXT, voice, seed=1)
    x, sr = utt.audio.astype(np.float64), utt.sample_rate

    def rms(p, trim=0.015):
        a, b = int((p.start + trim) * sr), int((p.end - trim) * sr)
        return np.sqrt(np.mean(x[a:b] ** 2)) if b > a else None

    sil = [r for p in utt.phones if p.label == SILENCE and (r := rms(p)) is not None]
    vow = [r for p in utt.phones if p.label in VOWELS and (r := rms(p, 0.01)) is not None]
    assert max(sil) < 0.2 * np.median(vow)


@pytest.mark.parametrize("voice", sorted(ONE_VOICE_PER_ENGINE.values()))
def test_speech_determinism(voice):
    _need(voice)
    a = synthesize(TEXT, voice, rate=1.1, pitch=0.9, seed=5)
    b = synthesize(TEXT, voice, rate=1.1, pitch=0.9, seed=5)
    assert a.audio.tobytes() == b.audio.tobytes()
    assert a.phones == b.phones
    c = synthesize(TEXT, voice, rate=1.1, pitch=0.9, seed=6)   # seed moves the silence padding only
    assert c.phones[0].end != a.phones[0].end
    core = lambda u: [(p.label, round(p.end - p.start, 6)) for p in u.phones[1:-1]]  # noqa: E731
    assert core(c) == core(a)


@pytest.mark.parametrize("voice", ["espeak:en-us", "espeak:en-us+f3", "espeak:en+f2"])
def test_speech_espeak_is_reproducible_after_other_voices(voice):
    _need(voice)
    # libespeak-ng keeps state between calls and breathy variants draw noise; the engine reloads
    # the library and seeds the noise so that calls don't interact.
    first = synthesize(TEXT, voice, seed=0)
    synthesize("Something else entirely, said by another voice.", "espeak:en-gb-x-rp+m5", seed=0)
    again = synthesize(TEXT, voice, seed=0)
    assert first.audio.tobytes() == again.audio.tobytes()


@pytest.mark.parametrize("voice", sorted(ONE_VOICE_PER_ENGINE.values()))
def test_speech_rate_scales_duration(voice):
    _need(voice)
    spoken = lambda u: u.phones[-1].start - u.phones[0].end  # noqa: E731 - between the paddings
    slow, fast = synthesize(TEXT, voice, rate=0.8), synthesize(TEXT, voice, rate=1.4)
    ratio = spoken(fast) / spoken(slow)
    assert 0.8 / 1.4 * 0.85 < ratio < 0.8 / 1.4 * 1.15


@pytest.mark.parametrize("voice", ["espeak:en-us", "flite:slt", "festival:kal_diphone"])
def test_speech_pitch_raises_f0(voice):
    _need(voice)
    low = synthesize(TEXT, voice, pitch=0.8)
    high = synthesize(TEXT, voice, pitch=1.4)
    assert _f0_median(high.audio, high.sample_rate) > 1.2 * _f0_median(low.audio, low.sample_rate)


def test_speech_sample_rates():
    _need("espeak:en-us")
    a = synthesize("Hello there.", "espeak:en-us", sample_rate=16000)
    b = synthesize("Hello there.", "espeak:en-us", sample_rate=22050)
    assert b.sample_rate == 22050
    assert a.duration == pytest.approx(b.duration, abs=0.002)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(text="", voice="espeak:en-us"), "non-empty"),
        (dict(text="hi", voice="en-us"), "engine:name"),
        (dict(text="hi", voice="mbrola:us1"), "unknown speech engine"),
        (dict(text="hi", voice="espeak:"), "names no voice"),
        (dict(text="hi", voice="espeak:no-such-voice"), "no voice"),
        (dict(text="hi", voice="espeak:en-us", rate=5.0), "rate"),
        (dict(text="hi", voice="espeak:en-us", pitch=float("nan")), "pitch"),
        (dict(text="hi", voice="espeak:en-us", sample_rate=1000), "sample_rate"),
    ],
)
def test_speech_rejects_bad_input(kwargs, match):
    _need("espeak:en-us")
    with pytest.raises(MeshtalkError, match=match):
        synthesize(**kwargs)


def test_speech_missing_engine_names_the_package(monkeypatch):
    monkeypatch.setattr(engines.FliteEngine, "available", lambda self: False)
    with pytest.raises(MeshtalkError, match="apt-get install flite"):
        synthesize("hi", "flite:kal")
    monkeypatch.setattr(engines.FestivalEngine, "available", lambda self: False)
    with pytest.raises(MeshtalkError, match="festival"):
        synthesize("hi", "festival:kal_diphone")
    assert not any(v.startswith(("flite:", "festival:")) for v in list_voices())


def test_speech_augment_keeps_timeline_and_hits_targets():
    _need("espeak:en-us")
    utt = synthesize(TEXT, "espeak:en-us", seed=0)
    x = utt.audio.astype(np.float64)

    noisy = augment(utt, seed=1, noise_snr_db=20.0)
    assert noisy.phones == utt.phones and noisy.text == utt.text and noisy.voice == utt.voice
    noise = noisy.audio.astype(np.float64) - x
    active = np.abs(x) > 0.01 * np.abs(x).max()
    snr = 10 * np.log10(np.mean(x[active] ** 2) / np.mean(noise**2))
    assert snr == pytest.approx(20.0, abs=0.5)

    quiet = augment(utt, seed=1, gain_db=-6.0)
    assert np.allclose(quiet.audio, x * 10 ** (-6 / 20), atol=1e-6)

    wet = augment(utt, seed=1, room=0.4)
    y = wet.audio.astype(np.float64)
    # Direct path at lag 0: the reverberant signal is best aligned with the dry one without shift.
    lags = range(-40, 41)
    corr = [np.dot(x[max(0, -k):len(x) - max(0, k)], y[max(0, k):len(y) - max(0, -k)]) for k in lags]
    assert list(lags)[int(np.argmax(corr))] == 0
    assert not np.allclose(y, x, atol=1e-3)

    both = augment(utt, seed=7, noise_snr_db=15, gain_db=3, room=0.3)
    again = augment(utt, seed=7, noise_snr_db=15, gain_db=3, room=0.3)
    assert both.audio.tobytes() == again.audio.tobytes()
    assert np.abs(both.audio).max() <= 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(noise_snr_db=200.0), "noise_snr_db"), (dict(gain_db=60.0), "gain_db"), (dict(room=5.0), "room"),
     (dict(room=-1.0), "room")],
)
def test_speech_augment_rejects_bad_input(kwargs, match):
    utt = Utterance(np.zeros(100, np.float32), 16000, (speech.Phone(SILENCE, 0.0, 100 / 16000),), "x", "espeak:en-us")
    with pytest.raises(MeshtalkError, match=match):
        augment(utt, seed=0, **kwargs)
    with pytest.raises(MeshtalkError, match="expects an Utterance"):
        augment(utt.audio, seed=0)


def test_speech_save_and_load_round_trip(tmp_path):
    import soundfile

    _need("espeak:en-us")

    utt = synthesize("Maybe tomorrow.", "espeak:en-us")
    wav, js = save_utterance(utt, tmp_path / "utt.wav")
    assert js.name == "utt.phones.json"
    audio, sr = soundfile.read(wav, dtype="float32")
    assert sr == utt.sample_rate and np.allclose(audio, utt.audio, atol=1 / 32767)
    phones = load_phones(js)
    assert [p.label for p in phones] == [p.label for p in utt.phones]
    assert np.allclose([p.end for p in phones], [p.end for p in utt.phones], atol=1e-6)
    assert json.loads(js.read_text())["voice"] == "espeak:en-us"
    assert not list(tmp_path.glob("*.tmp"))
    bad = tmp_path / "bad.phones.json"
    bad.write_text(json.dumps({"phones": [{"label": "QQ", "start": 0, "end": 1}]}))
    with pytest.raises(MeshtalkError, match="outside the shared phone set"):
        load_phones(bad)
    with pytest.raises(MeshtalkError, match="cannot read"):
        load_phones(tmp_path / "missing.json")


def test_speech_demo_bundle():
    """data/demo/speech.wav and its timeline: 16 kHz mono, ≈10 s, a held-out voice, aligned."""
    import soundfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    wav, js = root / "data" / "demo" / "speech.wav", root / "data" / "demo" / "speech.phones.json"
    assert wav.stat().st_size < 1_000_000
    info = soundfile.info(str(wav))
    assert info.samplerate == 16000 and info.channels == 1 and 8.0 <= info.duration <= 12.0
    doc = json.loads(js.read_text())
    assert doc["voice"] in TEST_VOICES
    phones = load_phones(js)
    assert phones[-1].end == pytest.approx(info.duration, abs=1e-3)
    assert sum(p.label in {"P", "B", "M"} for p in phones) >= 10
    pytest.importorskip("pocketsphinx")
    from meshtalk.data.synth.align import align, boundary_errors

    audio, sr = soundfile.read(str(wav), dtype="float32")
    forced = align(audio, sr, doc["text"], pronunciation=[p.label for p in phones])
    assert boundary_errors(phones, forced).mean() <= 0.020
