"""Independent phone timelines by forced alignment with pocketsphinx, and boundary comparison.

pocketsphinx (PyPI wheel; ships the CMU ``en-us`` acoustic model and dictionary) aligns 16 kHz
speech to a transcript in 10 ms frames. It knows nothing of the engine that produced the audio:
given only ``text`` it uses the CMU dictionary; given ``pronunciation`` (a phone sequence with
``SIL`` at pauses, e.g. an engine's own labels) it aligns that sequence instead, so both timelines
have the same phones and every boundary can be compared one to one. Either way, the times come from
the acoustics alone.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from typing import Sequence

import numpy as np

from meshtalk.errors import MeshtalkError, MissingExtraError
from meshtalk.data.synth.phones import SILENCE, Phone, arpabet_label

logger = logging.getLogger(__name__)

_ALIGN_RATE = 16000
_FRAME_S = 0.01
#: pocketsphinx frame i analyses a 25.6 ms window starting at 10·i ms, so a change of state first
#: reported at frame i lies near the middle of that frame's window overlap: 10·i + 7.8 ms.
_FRAME_OFFSET_S = 0.0078

_DITHER = 6e-5

_decoder_lock = threading.Lock()
_decoder = None


def _get_decoder():
    global _decoder
    if _decoder is None:
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise MissingExtraError("pocketsphinx", "speech", "forced alignment") from None
        # Wide beams: alignment searches one path only, and synthetic speech with very short
        # phones (20–30 ms, near the 3-frame minimum of an HMM phone) falls off default beams.
        _decoder = Decoder(
            samprate=_ALIGN_RATE, bestpath=False, beam=1e-100, wbeam=1e-80, pbeam=1e-100, loglevel="FATAL"
        )
    return _decoder


def _words_for(text: str, pronunciation: Sequence[str] | None, decoder) -> list[str]:
    if pronunciation is None:
        words = re.findall(r"[a-z0-9']+", text.lower())
        missing = [w for w in words if decoder.lookup_word(w) is None]
        if missing:
            raise MeshtalkError(
                f"words not in the pocketsphinx dictionary: {', '.join(sorted(set(missing)))}; "
                "pass pronunciation= to align them"
            )
        if not words:
            raise MeshtalkError(f"nothing to align in text {text!r}")
        return words
    chunks: list[list[str]] = [[]]
    for raw in pronunciation:
        try:
            label = arpabet_label(raw)
        except ValueError as exc:
            raise MeshtalkError(f"pronunciation: {exc}") from None
        if label == SILENCE:
            chunks.append([])
        else:
            chunks[-1].append(label)
    words = []
    for chunk in (c for c in chunks if c):
        phones = " ".join(chunk)
        name = "mt" + hashlib.sha1(phones.encode()).hexdigest()[:16]
        if decoder.lookup_word(name) is None:
            decoder.add_word(name, phones, True)
        words.append(name)
    if not words:
        raise MeshtalkError("pronunciation has no phones other than SIL")
    return words


def align(
    audio: np.ndarray,
    sample_rate: int,
    text: str,
    *,
    pronunciation: Sequence[str] | None = None,
) -> tuple[Phone, ...]:
    """Force-align speech to its transcript with pocketsphinx.

    Args:
        audio: (N,) float waveform in [-1, 1]; resampled to 16 kHz when needed.
        sample_rate: Hz.
        text: the words spoken (CMU-dictionary words; punctuation is ignored).
        pronunciation: optional phone labels to align instead of the dictionary's, in order,
            ``SIL`` allowed between words or at pauses (the silences themselves are re-detected).

    Returns:
        Contiguous phones covering [0, N / sample_rate] in the shared phone set, ``SIL`` for
        silence; resolution 10 ms.

    Raises:
        MeshtalkError: if pocketsphinx cannot align the audio to the text, or a word is unknown.
        MissingExtraError: if pocketsphinx is not installed.
    """
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.size == 0 or not np.all(np.isfinite(audio)):
        raise MeshtalkError(f"audio must be a non-empty finite (N,) array, got shape {audio.shape}")
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise MeshtalkError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    duration = audio.size / sample_rate
    x = audio.astype(np.float64)
    if sample_rate != _ALIGN_RATE:
        from scipy.signal import resample_poly

        g = math.gcd(int(sample_rate), _ALIGN_RATE)
        x = resample_poly(x, _ALIGN_RATE // g, int(sample_rate) // g)
    # Dither: runs of exact digital zeros (synthetic pauses) derail pocketsphinx's noise and
    # cepstral-mean estimates; a fixed-seed noise at about -84 dBFS keeps it deterministic.
    x = x + _DITHER * np.random.default_rng(0).standard_normal(x.size)
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()

    with _decoder_lock:
        decoder = _get_decoder()
        words = _words_for(text, pronunciation, decoder)
        try:
            decoder.set_align_text(" ".join(words))
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            decoder.set_alignment()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            segments = [
                (p.name, p.start * _FRAME_S, (p.start + p.duration) * _FRAME_S)
                for w in decoder.get_alignment()
                for p in w
            ]
        except RuntimeError as exc:
            raise MeshtalkError(f"pocketsphinx could not align the audio to {text[:60]!r}: {exc}") from None
    phones: list[Phone] = []
    cursor = 0.0
    for name, start, end in segments:
        label = arpabet_label(name)
        start = min(max(start + _FRAME_OFFSET_S, cursor), duration) if start > 0 else 0.0
        end = min(end + _FRAME_OFFSET_S, duration)
        if end <= start:
            continue
        if start > cursor:
            phones.append(Phone(SILENCE, cursor, start))
        if phones and label == SILENCE and phones[-1].label == SILENCE:
            phones[-1] = Phone(SILENCE, phones[-1].start, end)
        else:
            phones.append(Phone(label, start, end))
        cursor = end
    if cursor < duration:
        if phones and phones[-1].label == SILENCE:
            phones[-1] = Phone(SILENCE, phones[-1].start, duration)
        else:
            phones.append(Phone(SILENCE, cursor, duration))
    return tuple(phones)


def _boundaries(phones: Sequence[Phone]) -> list[float]:
    """Start of every non-silent phone, and its end where silence or the end follows."""
    out: list[float] = []
    for i, p in enumerate(phones):
        if p.label == SILENCE:
            continue
        out.append(p.start)
        if i + 1 == len(phones) or phones[i + 1].label == SILENCE:
            out.append(p.end)
    return out


def boundary_errors(reference: Sequence[Phone], hypothesis: Sequence[Phone]) -> np.ndarray:
    """Absolute differences between the phone boundaries of two timelines of the same speech.

    When both timelines have the same sequence of non-silent labels (as after aligning with
    ``pronunciation=``), boundaries are paired one to one. Otherwise each reference boundary is
    paired with the nearest hypothesis boundary (a lenient fallback, logged).

    Args:
        reference: phones of one timeline (e.g. the engine's).
        hypothesis: phones of the other (e.g. the forced alignment's).

    Returns:
        (B,) float64 errors in seconds, one per reference boundary.
    """
    ref_b, hyp_b = _boundaries(reference), _boundaries(hypothesis)
    ref_seq = [p.label for p in reference if p.label != SILENCE]
    hyp_seq = [p.label for p in hypothesis if p.label != SILENCE]
    if ref_seq == hyp_seq:
        # Same phones; pauses may differ, so pair by phone index: every start, and the end of
        # each phone that the reference follows with silence (or the end).
        ref_idx = [i for i, p in enumerate(reference) if p.label != SILENCE]
        hyp_np = [p for p in hypothesis if p.label != SILENCE]
        errors = []
        for k, i in enumerate(ref_idx):
            errors.append(abs(reference[i].start - hyp_np[k].start))
            if i + 1 == len(reference) or reference[i + 1].label == SILENCE:
                errors.append(abs(reference[i].end - hyp_np[k].end))
        return np.asarray(errors, dtype=np.float64)
    logger.info("phone sequences differ (%d vs %d phones); nearest-boundary pairing", len(ref_seq), len(hyp_seq))
    hyp = np.asarray(sorted(hyp_b), dtype=np.float64)
    if hyp.size == 0 or not ref_b:
        return np.full(len(ref_b), np.inf)
    return np.asarray([np.min(np.abs(hyp - b)) for b in ref_b], dtype=np.float64)
