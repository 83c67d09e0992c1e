"""Tests for meshtalk.data.synth.align, and the acceptance check of the engines' phone timelines.

Every engine's own timeline is compared with an independent pocketsphinx forced alignment of its
audio; the issue asks for ≤ 20 ms mean boundary disagreement on a sample of each voice.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from meshtalk.data.synth import engines
from meshtalk.data.synth.align import align, boundary_errors
from meshtalk.data.synth.phones import SILENCE, Phone
from meshtalk.data.synth.sentences import sentences
from meshtalk.data.synth.speech import synthesize
from meshtalk.errors import MeshtalkError

pytest.importorskip("pocketsphinx")
logger = logging.getLogger(__name__)

ALL_VOICES = [f"{k}:{n}" for k, e in engines.ENGINES.items() for n in e.VOICES]
# A fixed sample: the first five sentences of the test split, two of them at another rate and pitch.
_PROSODY = [(1.0, 1.0), (1.0, 1.0), (1.2, 1.1), (1.0, 1.0), (0.85, 0.9)]
SAMPLE = [(s, rate, pitch) for s, (rate, pitch) in zip(sentences("test"), _PROSODY)]


def _need(voice: str) -> None:
    key, name = voice.split(":", 1)
    engine = engines.ENGINES[key]
    if not engine.available() or (key != "espeak" and name not in engine.voices()):
        pytest.skip(f"{voice} not installed: {engine.missing_message.format(voice=voice)}")


@pytest.mark.parametrize("voice", ALL_VOICES)
def test_align_agrees_with_engine_timeline(voice):
    _need(voice)
    errors = []
    for i, (text, rate, pitch) in enumerate(SAMPLE):
        utt = synthesize(text, voice, rate=rate, pitch=pitch, seed=i)
        forced = align(utt.audio, utt.sample_rate, utt.text, pronunciation=[p.label for p in utt.phones])
        assert [p.label for p in forced if p.label != SILENCE] == [p.label for p in utt.phones if p.label != SILENCE]
        errors.append(boundary_errors(utt.phones, forced))
    e = np.concatenate(errors)
    logger.info("%s: mean %.1f ms, median %.1f ms, %d boundaries", voice, 1e3 * e.mean(), 1e3 * np.median(e), e.size)
    assert e.size > 100
    assert e.mean() <= 0.020, f"{voice}: mean boundary disagreement {1e3 * e.mean():.1f} ms"


def test_align_with_dictionary_pronunciations():
    _need("flite:rms")
    text = sentences("test")[0]
    utt = synthesize(text, "flite:rms")
    forced = align(utt.audio, utt.sample_rate, text)
    assert forced[0].start == 0.0 and forced[-1].end == pytest.approx(utt.duration)
    for a, b in zip(forced, forced[1:]):
        assert a.end == pytest.approx(b.start)
    # Dictionary and engine pronunciations may differ a little; boundaries still agree.
    assert boundary_errors(utt.phones, forced).mean() < 0.030


def test_boundary_errors_oracle():
    ref = (Phone("SIL", 0, 0.1), Phone("B", 0.1, 0.2), Phone("AA", 0.2, 0.4), Phone("SIL", 0.4, 0.5),
           Phone("M", 0.5, 0.6), Phone("SIL", 0.6, 0.7))
    hyp = (Phone("SIL", 0, 0.11), Phone("B", 0.11, 0.18), Phone("AA", 0.18, 0.43),
           Phone("M", 0.43, 0.62), Phone("SIL", 0.62, 0.7))
    # Paired by phone: B start, AA start, AA end (silence follows), M start, M end.
    assert np.allclose(boundary_errors(ref, hyp), [0.01, 0.02, 0.03, 0.07, 0.02])
    other = (Phone("SIL", 0, 0.12), Phone("P", 0.12, 0.4), Phone("SIL", 0.4, 0.7))
    assert np.allclose(boundary_errors(ref, other), [0.02, 0.08, 0.0, 0.1, 0.2])   # nearest boundary


def test_align_rejects_bad_input():
    with pytest.raises(MeshtalkError, match="non-empty finite"):
        align(np.zeros(0), 16000, "hello")
    with pytest.raises(MeshtalkError, match="non-empty finite"):
        align(np.full(1600, np.nan), 16000, "hello")
    with pytest.raises(MeshtalkError, match="sample_rate"):
        align(np.zeros(1600), 0, "hello")
    with pytest.raises(MeshtalkError, match="not in the pocketsphinx dictionary"):
        align(np.zeros(16000), 16000, "hello qzxvbnm")
    with pytest.raises(MeshtalkError, match="no shared phone"):
        align(np.zeros(16000), 16000, "hello", pronunciation=["HH", "QQ"])
    with pytest.raises(MeshtalkError, match="no phones other than SIL"):
        align(np.zeros(16000), 16000, "hello", pronunciation=["SIL"])
    with pytest.raises(MeshtalkError, match="could not align"):
        align(np.zeros(8000), 16000, "the united states of america declared independence")
