"""Speech with exact phone timelines from offline engines, and light augmentation.

A voice is named ``"<engine>:<voice>"``: ``"espeak:en-us+f3"``, ``"flite:slt"``,
``"festival:kal_diphone"``. :func:`synthesize` returns an :class:`Utterance` whose phone timeline
comes from the engine itself (espeak-ng phoneme-event sample positions, flite ``-psdur``, festival
``utt.save.segs``), mapped into the shared ARPAbet set of :mod:`meshtalk.data.synth.phones`.
:func:`align` (pocketsphinx) checks those timelines independently.

Whole voices are kept out of training: :data:`TEST_VOICES` lists them, one speaker per entry
(the kal and slt speakers appear in two engines each, so both of their voices stay in training).

Example:
    >>> utt = synthesize("Bob bought a map.", "espeak:en-us", rate=1.1)  # doctest: +SKIP
    >>> [p.label for p in utt.phones][:4]                                # doctest: +SKIP
    ['SIL', 'B', 'AA', 'B']
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.data.synth.align import align, boundary_errors
from meshtalk.data.synth.engines import ENGINES
from meshtalk.data.synth.phones import PHONE_SET, SILENCE, Phone

__all__ = [
    "Phone", "Utterance", "TEST_VOICES", "list_voices", "synthesize", "augment", "align",
    "boundary_errors", "is_test_voice", "save_utterance", "load_phones",
]

logger = logging.getLogger(__name__)

#: Voices never used for training: held-out speakers for the test split.
TEST_VOICES: tuple[str, ...] = (
    "flite:awb",
    "festival:ked_diphone",
    "espeak:en-gb-scotland",
    "espeak:en+f2",
)

_RATE_RANGE = (0.5, 2.0)
_PITCH_RANGE = (0.5, 2.0)
_PEAK = 0.9
_LEAD_RANGE_S = (0.05, 0.20)


@dataclass(frozen=True)
class Utterance:
    """Synthesized speech and its phone timeline.

    Attributes:
        audio: (N,) float32 mono waveform in [-1, 1].
        sample_rate: Hz.
        phones: contiguous spans covering [0, N / sample_rate], labels in the shared phone set,
            ``SIL`` for pauses and the leading/trailing silence.
        text: the text that was spoken.
        voice: ``"<engine>:<voice>"``.
        rate: speaking-rate factor it was made with (1 = the voice's default).
        pitch: pitch factor it was made with (1 = the voice's default).
    """

    audio: np.ndarray
    sample_rate: int
    phones: tuple[Phone, ...]
    text: str
    voice: str
    rate: float = 1.0
    pitch: float = 1.0

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / self.sample_rate


def _split_voice(voice: str) -> tuple[str, str]:
    if not isinstance(voice, str) or ":" not in voice:
        raise MeshtalkError(f"voice must look like 'engine:name' (e.g. 'espeak:en-us'), got {voice!r}")
    engine, name = voice.split(":", 1)
    if engine not in ENGINES:
        raise MeshtalkError(f"unknown speech engine {engine!r} in voice {voice!r}; engines: {', '.join(ENGINES)}")
    if not name:
        raise MeshtalkError(f"voice {voice!r} names no voice after the engine")
    return engine, name


def list_voices() -> list[str]:
    """The curated voices whose engine is installed here.

    Returns:
        Names like ``"espeak:en-us+f3"``, ``"flite:slt"``, ``"festival:kal_diphone"``, engine by
        engine in a fixed order. Test voices are included; see :func:`is_test_voice`.
    """
    return [f"{key}:{name}" for key, engine in ENGINES.items() for name in engine.voices()]


def is_test_voice(voice: str) -> bool:
    """Whether ``voice`` is held out of training (one of :data:`TEST_VOICES`)."""
    return voice in TEST_VOICES


def synthesize(
    text: str,
    voice: str,
    *,
    rate: float = 1.0,
    pitch: float = 1.0,
    sample_rate: int = 16000,
    seed: int = 0,
) -> Utterance:
    """Speak ``text`` with ``voice`` and return the audio with the engine's exact phone timeline.

    The engine's audio is resampled to ``sample_rate`` (polyphase, exact ratio), scaled to a peak
    of 0.9, and padded with a leading and trailing silence of 50–200 ms each drawn from ``seed``
    (the only random part; engines themselves are deterministic). The phone times shift with it.

    Args:
        text: English text; digits and punctuation are read by the engine's own front end.
        voice: ``"<engine>:<voice>"``, e.g. one of :func:`list_voices`. Any espeak-ng voice name
            (``"espeak:en-gb-x-rp+f2"``) is accepted.
        rate: speaking-rate factor in [0.5, 2] (1 = the voice's default; 1.2 = 20 % faster).
        pitch: pitch factor in [0.5, 2] (1 = default). flite's rms and festival's HTS voice ignore it.
        sample_rate: output rate in Hz, 8000..48000.
        seed: drives the silence padding.

    Returns:
        The :class:`Utterance`; ``audio`` (N,) float32.

    Raises:
        MeshtalkError: on bad arguments, a missing engine (naming the package to install) or an
            engine failure.
    """
    if not isinstance(text, str) or not text.strip():
        raise MeshtalkError(f"text to synthesize must be a non-empty string, got {text!r}")
    engine_key, name = _split_voice(voice)
    for what, value, (lo, hi) in (("rate", rate, _RATE_RANGE), ("pitch", pitch, _PITCH_RANGE)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
            raise MeshtalkError(f"{what} must be a number in [{lo}, {hi}], got {value!r}")
    if not isinstance(sample_rate, (int, np.integer)) or not 8000 <= sample_rate <= 48000:
        raise MeshtalkError(f"sample_rate must be an integer in [8000, 48000] Hz, got {sample_rate!r}")
    engine = ENGINES[engine_key]
    if not engine.available():
        raise MeshtalkError(engine.missing_message.format(voice=voice))
    if engine_key != "espeak" and name not in engine.voices():
        raise MeshtalkError(
            f"voice {voice!r} is not installed; installed {engine_key} voices: "
            f"{', '.join(engine.voices()) or 'none'}. {engine.missing_message.format(voice=voice)}"
        )
    out = engine.synthesize(text.strip(), name, rate=float(rate), pitch=float(pitch))
    if len(out.audio) == 0:
        raise MeshtalkError(f"voice {voice!r} produced no audio for {text[:60]!r}")

    audio = _resample(out.audio.astype(np.float64), out.sample_rate, int(sample_rate))
    peak = float(np.max(np.abs(audio)))
    if peak > 0:
        audio *= _PEAK / peak
    rng = np.random.default_rng(seed)
    lead_n, tail_n = (int(round(rng.uniform(*_LEAD_RANGE_S) * sample_rate)) for _ in range(2))
    audio = np.concatenate([np.zeros(lead_n), audio, np.zeros(tail_n)]).astype(np.float32)
    lead, total = lead_n / sample_rate, len(audio) / sample_rate
    phones = [Phone(SILENCE, 0.0, lead)] if lead_n else []
    for label, start, end in out.segments:
        phones.append(Phone(label, lead + start, lead + end))
    phones[-1] = replace(phones[-1], end=max(phones[-1].start, total - tail_n / sample_rate))
    phones.append(Phone(SILENCE, phones[-1].end, total))
    return Utterance(
        audio=audio, sample_rate=int(sample_rate), phones=_merge_silences(phones),
        text=text.strip(), voice=voice, rate=float(rate), pitch=float(pitch),
    )


def _resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return audio
    from scipy.signal import resample_poly

    g = math.gcd(rate_in, rate_out)
    return resample_poly(audio, rate_out // g, rate_in // g)


def _merge_silences(phones: list[Phone]) -> tuple[Phone, ...]:
    out: list[Phone] = []
    for p in phones:
        if p.end <= p.start:
            continue
        if out and p.label == SILENCE and out[-1].label == SILENCE:
            out[-1] = Phone(SILENCE, out[-1].start, p.end)
        else:
            out.append(p)
    return tuple(out)


def augment(
    utt: Utterance,
    *,
    seed: int,
    noise_snr_db: float | None = None,
    gain_db: float | None = None,
    room: float | None = None,
) -> Utterance:
    """Light, timeline-preserving augmentation: room-like filtering, additive noise, gain.

    Applied in that order, then clipped to [-1, 1]. The room response has its direct path at lag 0,
    so no phone moves.

    Args:
        utt: the utterance to augment.
        seed: seeds the noise and the room response (same seed → identical output).
        noise_snr_db: add noise (white mixed with a low-passed copy) at this SNR in dB relative to
            the speech's active-part power; ``None`` for none.
        gain_db: scale by this many dB; ``None`` for none.
        room: reverberation time RT60 in seconds (0.05..2) of a synthetic exponentially decaying
            room response with a gentle low-pass; ``None`` for none.

    Returns:
        A new :class:`Utterance` with the same phones, text and voice.

    Raises:
        MeshtalkError: on out-of-range parameters.
    """
    if not isinstance(utt, Utterance):
        raise MeshtalkError(f"augment expects an Utterance, got {type(utt).__name__}")
    rng = np.random.default_rng(seed)
    x = utt.audio.astype(np.float64)
    sr = utt.sample_rate
    if room is not None:
        if not (isinstance(room, (int, float)) and 0.05 <= room <= 2.0):
            raise MeshtalkError(f"room (RT60 in seconds) must be in [0.05, 2], got {room!r}")
        x = _reverberate(x, sr, float(room), rng)
    if noise_snr_db is not None:
        if not (isinstance(noise_snr_db, (int, float)) and -10 <= noise_snr_db <= 80):
            raise MeshtalkError(f"noise_snr_db must be in [-10, 80] dB, got {noise_snr_db!r}")
        x = x + _noise_at_snr(x, float(noise_snr_db), rng)
    if gain_db is not None:
        if not (isinstance(gain_db, (int, float)) and -40 <= gain_db <= 20):
            raise MeshtalkError(f"gain_db must be in [-40, 20] dB, got {gain_db!r}")
        x = x * 10.0 ** (float(gain_db) / 20.0)
    return replace(utt, audio=np.clip(x, -1.0, 1.0).astype(np.float32))


def _reverberate(x: np.ndarray, sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import fftconvolve, lfilter

    n = max(2, int(rt60 * sr))
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60)   # −60 dB at t = rt60
    tail = lfilter([0.35], [1.0, -0.65], tail)                   # walls absorb highs
    tail[: int(0.002 * sr)] = 0.0                                # first reflection after 2 ms
    rir = 0.25 * tail / (np.sqrt(np.sum(tail**2)) + 1e-12)      # reverberant/direct energy ≈ −12 dB
    rir[0] = 1.0
    y = fftconvolve(x, rir)[: len(x)]
    peak_in, peak_out = np.max(np.abs(x)), np.max(np.abs(y))
    return y * (peak_in / peak_out) if peak_out > 0 else y


def _noise_at_snr(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import lfilter

    white = rng.standard_normal(len(x))
    noise = 0.5 * white + lfilter([1.0], [1.0, -0.95], rng.standard_normal(len(x))) * 0.15
    active = np.abs(x) > 0.01 * (np.max(np.abs(x)) + 1e-12)
    power = np.mean(x[active] ** 2) if np.any(active) else np.mean(x**2)
    noise *= np.sqrt(power / (np.mean(noise**2) + 1e-20) / 10.0 ** (snr_db / 10.0))
    return noise


def save_utterance(utt: Utterance, wav_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``utt`` as a 16-bit PCM WAV and its timeline as ``<stem>.phones.json`` beside it.

    Both files are written to temporary names and renamed into place.

    Args:
        utt: the utterance.
        wav_path: the ``.wav`` path to write.

    Returns:
        (wav path, phones JSON path).
    """
    import soundfile

    wav_path = Path(wav_path)
    json_path = wav_path.with_name(wav_path.stem + ".phones.json")
    header = {
        "text": utt.text, "voice": utt.voice, "sample_rate": utt.sample_rate,
        "rate": utt.rate, "pitch": utt.pitch, "duration": round(utt.duration, 6),
        "phone_set": "ARPAbet (CMU, no stress) + SIL", "units": "seconds",
    }
    phone_lines = ",\n".join(
        "  " + json.dumps({"label": p.label, "start": round(p.start, 6), "end": round(p.end, 6)})
        for p in utt.phones
    )
    text = json.dumps(header, indent=1)[:-2] + ',\n "phones": [\n' + phone_lines + "\n ]\n}\n"
    umask = os.umask(0)
    os.umask(umask)
    for path, write in (
        (wav_path, lambda f: soundfile.write(f, utt.audio, utt.sample_rate, subtype="PCM_16", format="WAV")),
        (json_path, lambda f: f.write(text.encode())),
    ):
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return wav_path, json_path


def load_phones(path: str | os.PathLike) -> tuple[Phone, ...]:
    """Read a timeline written by :func:`save_utterance`.

    Args:
        path: a ``.phones.json`` file.

    Returns:
        The phones.

    Raises:
        MeshtalkError: if the file is missing or malformed.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        phones = tuple(Phone(str(d["label"]), float(d["start"]), float(d["end"])) for d in doc["phones"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MeshtalkError(f"cannot read phone timeline {path}: {exc}") from None
    bad = [p.label for p in phones if p.label not in PHONE_SET]
    if bad:
        raise MeshtalkError(f"{path}: labels outside the shared phone set: {sorted(set(bad))}")
    return phones
