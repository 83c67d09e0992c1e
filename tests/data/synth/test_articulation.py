"""Tests for meshtalk.data.synth.articulation."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.data.synth import engines
from meshtalk.data.synth.articulation import PARAMETERS, Articulation, articulation_curves
from meshtalk.data.synth.phones import BILABIALS, VOWELS, Phone
from meshtalk.data.synth.speech import synthesize
from meshtalk.errors import MeshtalkError

OPEN_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY"}
EPS = 1e-6


def _timeline(spec: str, dur: float = 0.1) -> list[Phone]:
    """'SIL B AA M SIL' → equal-length phones of ``dur`` seconds."""
    return [Phone(lab, i * dur, (i + 1) * dur) for i, lab in enumerate(spec.split())]


def _check_closures_and_openings(phones, art: Articulation) -> None:
    n = len(art.jaw)
    for p in phones:
        i = int(round(p.centre * art.fps))
        if i >= n:
            continue
        if p.label in BILABIALS:
            assert art.lip_aperture[i] <= EPS, f"{p} not closed: {art.lip_aperture[i]}"
        elif p.label in VOWELS and p.end - p.start >= 0.05:
            assert art.lip_aperture[i] > 0.05 and art.jaw[i] > 0.1, f"{p} not open"
            if p.label in OPEN_VOWELS and p.end - p.start >= 0.08:
                assert art.jaw[i] > 0.3, f"{p}: jaw {art.jaw[i]}"


@pytest.mark.parametrize("fps, duration", [(30.0, 1.0), (30.0, 1.2345), (25.0, 2.0), (29.97, 0.71), (60.0, 0.0)])
def test_articulation_length_and_ranges(fps, duration):
    art = articulation_curves(_timeline("SIL B AA M IY W UW SIL"), fps=fps, duration=duration)
    assert len(art.jaw) == round(duration * fps)
    arr = art.as_array()
    assert arr.shape == (round(duration * fps), len(PARAMETERS)) and arr.dtype == np.float32
    assert np.all(np.isfinite(arr))
    assert np.all((arr[:, :3] >= 0) & (arr[:, :3] <= 1)) and np.all(np.abs(arr[:, 3]) <= 1)
    assert np.allclose(art.times, np.arange(len(art.jaw)) / fps)


def test_articulation_closes_on_bilabials_hand_timeline():
    # Short bilabials between open vowels, at several frame rates and phase offsets.
    for fps in (25.0, 30.0, 60.0):
        for shift in (0.0, 0.011, 0.023):
            phones = [Phone("SIL", 0.0, 0.2 + shift)]
            t = 0.2 + shift
            for lab, d in [("AA", 0.15), ("B", 0.035), ("AE", 0.12), ("M", 0.04), ("AA", 0.1), ("P", 0.03),
                           ("IY", 0.1), ("M", 0.06), ("B", 0.03), ("AO", 0.2), ("SIL", 0.2)]:
                phones.append(Phone(lab, t, t + d))
                t += d
            art = articulation_curves(phones, fps=fps)
            _check_closures_and_openings(phones, art)


@pytest.mark.parametrize("voice", ["espeak:en-us", "flite:slt", "festival:ked_diphone"])
def test_articulation_on_engine_timelines(voice):
    key, name = voice.split(":")
    if not engines.ENGINES[key].available() or (key != "espeak" and name not in engines.ENGINES[key].voices()):
        pytest.skip(f"{voice} not installed")
    utt = synthesize("Bob and Pam may bump a big bamboo map.", voice, rate=1.3)
    art = articulation_curves(utt.phones, fps=30.0, duration=utt.duration)
    assert len(art.jaw) == round(utt.duration * 30.0)
    _check_closures_and_openings(utt.phones, art)


def test_articulation_coarticulation_and_smoothness():
    before_uw = articulation_curves(_timeline("SIL T UW SIL", 0.12), fps=100)
    before_iy = articulation_curves(_timeline("SIL T IY SIL", 0.12), fps=100)
    i = int(round(0.18 * 100))                      # centre of /t/
    assert before_uw.protrusion[i] > before_iy.protrusion[i] + 0.2     # anticipatory rounding
    assert before_iy.spread[i] > before_uw.spread[i] + 0.3
    tl = _timeline("SIL M AA P IY B UW M AA SIL", 0.1)
    coarse, fine = articulation_curves(tl, fps=200).as_array(), articulation_curves(tl, fps=400).as_array()
    step_coarse = np.abs(np.diff(coarse, axis=0)).max(axis=0)
    step_fine = np.abs(np.diff(fine, axis=0)).max(axis=0)
    # Continuous: halving the frame period halves the largest step (a jump would not shrink) ...
    assert np.all(step_fine < 0.6 * step_coarse)
    # ... and no faster than a lip release (about 20 aperture units per second).
    assert np.all(step_coarse * 200 < 20.0)


def test_articulation_rest_in_silence_and_gaps():
    phones = [Phone("AA", 0.5, 0.7), Phone("AA", 1.5, 1.7)]     # gaps are silence
    art = articulation_curves(phones, fps=30, duration=2.5)
    assert art.jaw[int(0.1 * 30)] < 0.05 and art.lip_aperture[int(1.1 * 30)] < 0.05
    assert art.jaw[int(2.4 * 30)] < 0.05
    assert art.jaw[int(0.6 * 30)] > 0.6


def test_articulation_accepts_tuples_and_is_deterministic():
    tl = [("SIL", 0.0, 0.1), ("M", 0.1, 0.2), ("OW", 0.2, 0.4), ("SIL", 0.4, 0.6)]
    a = articulation_curves(tl, fps=30)
    b = articulation_curves([Phone(*p) for p in tl], fps=30)
    assert a.as_array().tobytes() == b.as_array().tobytes()
    s1, s2 = articulation_curves(tl, fps=30, seed=4), articulation_curves(tl, fps=30, seed=4)
    assert s1.as_array().tobytes() == s2.as_array().tobytes()
    s3 = articulation_curves(tl, fps=30, seed=5)
    assert not np.array_equal(s1.as_array(), s3.as_array())
    for art in (s1, s3):
        assert art.lip_aperture[int(round(0.15 * 30))] <= EPS


@pytest.mark.parametrize(
    "phones, kwargs, match",
    [
        ([("XX", 0, 1)], {}, "outside the shared phone set"),
        ([("AA", 0, float("nan"))], {}, "bad times"),
        ([("AA", 0.5, 0.2)], {}, "bad times"),
        ([("AA", 0.5, 0.6), ("B", 0.1, 0.2)], {}, "time order"),
        ([("AA", 0, 1)], {"fps": 0}, "fps"),
        ([("AA", 0, 1)], {"duration": -1.0}, "duration"),
        ([("AA", 0)], {}, "Phone or"),
    ],
)
def test_articulation_rejects_bad_input(phones, kwargs, match):
    with pytest.raises(MeshtalkError, match=match):
        articulation_curves(phones, **kwargs)


# ARPAbet → VocalTractLab's (German SAMPA) segment inventory; diphthongs split in two; "" = pause.
_VTL = {
    "AA": "a", "AE": "E", "AH": "a", "AO": "O", "AW": "aU", "AY": "aI", "EH": "E", "ER": "6", "EY": "e: I",
    "IH": "I", "IY": "i:", "OW": "o: U", "OY": "OY", "UH": "U", "UW": "u:", "P": "p", "B": "b", "M": "m",
    "T": "t", "D": "d", "K": "k", "G": "g", "N": "n", "NG": "N", "F": "f", "V": "v", "TH": "T", "DH": "D",
    "S": "s", "Z": "z", "SH": "S", "ZH": "Z", "CH": "tS", "JH": "dZ", "L": "l", "R": "6", "W": "U", "Y": "j",
    "HH": "h", "SIL": "",
}


def _vocaltractlab_tract(vtl, phones, tmp_path):
    """Tract parameters of VocalTractLab's own gestural model for the same timeline: (t, {name: (N,)})."""
    lines = []
    for p in phones:
        parts = _VTL[p.label].split() or [""]
        for sym in parts:
            lines.append(f"name = {sym}; duration_s = {(p.end - p.start) / len(parts):.6f};")
    seg, ges, tract = tmp_path / "x.seg", tmp_path / "x.ges", tmp_path / "x.tract"
    seg.write_text("\n".join(lines) + "\n")
    vtl.phoneme_file_to_gesture_file(str(seg), str(ges))
    vtl.gesture_file_to_motor_file(str(ges), str(tract))
    rows = [r.split() for r in tract.read_text().splitlines() if r.strip() and not r.lstrip().startswith("#")]
    states = np.array([[float(x) for x in r] for r in rows if len(r) == 19])
    names = [p["name"] for p in vtl.get_param_info("tract")]
    t = np.arange(len(states)) / vtl.get_constants()["sr_internal"]
    return t, {n: states[:, i] for i, n in enumerate(names)}


def test_articulation_agrees_with_vocaltractlab(tmp_path):
    """An independent articulatory model (VocalTractLab's gestural score for the same phones)
    moves the lips the same way: lip distance LD ~ lip aperture, protrusion LP ~ protrusion."""
    vtl = pytest.importorskip("vocaltractlab_cython")
    if not engines.ENGINES["espeak"].available():
        pytest.skip("espeak-ng not installed: pip install 'meshtalk[speech]'")
    phones = synthesize("Would you pass me the wooden spoon?", "espeak:en-us").phones
    art = articulation_curves(phones, fps=100)
    t_vtl, tract = _vocaltractlab_tract(vtl, phones, tmp_path)
    t = art.times
    speech = np.zeros(t.size, bool)
    for p in phones:
        if p.label != "SIL":
            speech |= (t >= p.start) & (t < p.end)
    corr = {}
    for ours, theirs in (("lip_aperture", "LD"), ("protrusion", "LP")):
        corr[ours] = np.corrcoef(getattr(art, ours)[speech], np.interp(t, t_vtl, tract[theirs])[speech])[0, 1]
    assert corr["lip_aperture"] > 0.6 and corr["protrusion"] > 0.6, corr
