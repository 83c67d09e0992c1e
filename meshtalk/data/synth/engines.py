"""Offline speech engines behind one seam: each returns audio and its own exact phone timeline.

Three engines are wrapped, each optional and found at run time:

- **espeak-ng** through ctypes on ``libespeak-ng`` (from the ``espeakng-loader`` wheel when
  installed, else the system library found by :func:`ctypes.util.find_library`). Phone times are
  the sample positions of its phoneme events, so they are exact for its own audio.
- **flite** (Debian package ``flite``) with ``-psdur``: each segment's end time.
- **festival** (Debian packages ``festival`` and ``festvox-*``) with ``utt.save.segs``.

All engines return :class:`EngineOutput` with labels already in the shared phone set
(:mod:`meshtalk.data.synth.phones`). Rate and pitch are passed as factors (1 = the voice's default).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshtalk.errors import MeshtalkError
from meshtalk.data.synth.phones import SILENCE, arpabet_label, espeak_labels

logger = logging.getLogger(__name__)

_SUBPROCESS_TIMEOUT_S = 120


@dataclass(frozen=True)
class EngineOutput:
    """What an engine produced for one text.

    Attributes:
        audio: (N,) float32 mono waveform at ``sample_rate``, not normalised.
        sample_rate: the engine's native rate in Hz.
        segments: (label, start_s, end_s) in the shared phone set, contiguous from 0 to N/rate.
    """

    audio: np.ndarray
    sample_rate: int
    segments: tuple[tuple[str, float, float], ...]


def _contiguous(segments: list[tuple[str, float, float]], duration: float) -> tuple[tuple[str, float, float], ...]:
    """Clip to [0, duration], fill gaps with silence, drop empty spans and merge adjacent pauses."""
    out: list[tuple[str, float, float]] = []
    cursor = 0.0
    for label, start, end in segments:
        start, end = max(start, cursor), min(end, duration)
        if end <= start:
            continue
        if start > cursor:
            out.append((SILENCE, cursor, start))
        out.append((label, start, end))
        cursor = end
    if cursor < duration:
        out.append((SILENCE, cursor, duration))
    merged: list[tuple[str, float, float]] = []
    for seg in out:
        if merged and seg[0] == SILENCE and merged[-1][0] == SILENCE:
            merged[-1] = (SILENCE, merged[-1][1], seg[2])
        else:
            merged.append(seg)
    return tuple(merged)


# --------------------------------------------------------------------------------------- espeak-ng
class _EspeakId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _EspeakEvent(ctypes.Structure):
    # espeak_EVENT from speak_lib.h
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EspeakId),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent)
)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_PHONEME_EVENTS = 0x1
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_ESPEAK_RATE = 1
_ESPEAK_PITCH = 3
_ESPEAK_DEFAULT_WPM = 175
_ESPEAK_DEFAULT_PITCH = 50
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_NOISE_SEED = 1


class EspeakEngine:
    """espeak-ng through ctypes: the library is loaded fresh for each call; calls hold a lock.

    Voice names are espeak-ng's (``"en-us"``, ``"en"`` = British English, ``"en-gb-scotland"``),
    optionally with a variant (``"+f3"``, ``"+m3"``). Phone times are the phoneme events' sample
    positions, except that voiceless stops start at their closure (see :func:`_stop_closures`).
    """

    name = "espeak"
    #: Curated English voices and variants (accent × variant): distinct enough to count as voices.
    VOICES = (
        "en-us", "en-us+m3", "en-us+f3", "en-us-nyc+f2", "en", "en+f2", "en-gb-x-rp+m5",
        "en-gb-scotland", "en-gb-x-gbclan",
    )
    missing_message = (
        "voice '{voice}' needs libespeak-ng: pip install 'meshtalk[speech]' "
        "(espeakng-loader) or apt-get install espeak-ng"
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lib: ctypes.CDLL | None = None
        self._rate = 0
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._callback = _SYNTH_CALLBACK(self._on_synth)

    @staticmethod
    def _locate() -> tuple[str | None, str | None]:
        """Return (library path, data path) or (None, None) when espeak-ng is not installed."""
        try:
            import espeakng_loader
        except ImportError:
            espeakng_loader = None
        if espeakng_loader is not None:
            return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
        found = ctypes.util.find_library("espeak-ng")
        return found, None

    def available(self) -> bool:
        """Whether libespeak-ng can be found."""
        return self._locate()[0] is not None

    def voices(self) -> list[str]:
        """Curated English voice names (without the engine prefix)."""
        return list(self.VOICES) if self.available() else []

    def _load(self) -> ctypes.CDLL:
        """dlopen and initialise libespeak-ng (undone by :meth:`_unload`)."""
        lib_path, data_path = self._locate()
        if lib_path is None:
            raise MeshtalkError(self.missing_message.format(voice="espeak:*"))
        lib = ctypes.CDLL(lib_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        path = data_path.encode() if data_path else None
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, path, _PHONEME_EVENTS)
        if rate <= 0:
            raise MeshtalkError(f"libespeak-ng at {lib_path} failed to initialise (data: {data_path})")
        lib.espeak_SetSynthCallback(self._callback)
        self._lib, self._rate = lib, rate
        return lib

    def _unload(self) -> None:
        """Terminate and dlclose the library, so that the next load starts from fresh state.

        libespeak-ng keeps synthesis state across calls (pitch flutter phase, wave generator),
        which shifts later utterances by a few samples; reloading makes each call reproducible.
        """
        lib, self._lib = self._lib, None
        if lib is None:
            return
        lib.espeak_Terminate()
        import _ctypes

        _ctypes.dlclose(lib._handle)

    def _on_synth(self, wav, n, events) -> int:  # noqa: ANN001 - ctypes callback
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                self._events.append((events[i].sample, events[i].id.string.decode("ascii", "replace")))
            i += 1
        return 0

    def synthesize(self, text: str, voice: str, *, rate: float, pitch: float) -> EngineOutput:
        """Synthesize ``text`` with an espeak-ng voice name such as ``"en-us+f3"``."""
        with self._lock:
            try:
                return self._synthesize_locked(text, voice, rate=rate, pitch=pitch)
            finally:
                self._unload()

    def _synthesize_locked(self, text: str, voice: str, *, rate: float, pitch: float) -> EngineOutput:
        lib = self._load()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise MeshtalkError(f"espeak-ng has no voice {voice!r} (see: espeak-ng --voices=en)")
        wpm = int(round(np.clip(_ESPEAK_DEFAULT_WPM * rate, 80, 450)))
        lib.espeak_SetParameter(_ESPEAK_RATE, wpm, 0)
        lib.espeak_SetParameter(_ESPEAK_PITCH, int(round(np.clip(_ESPEAK_DEFAULT_PITCH * pitch, 0, 100))), 0)
        _seed_noise(lib)
        self._chunks, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data, len(data))
        err = lib.espeak_Synth(buf, len(data), 0, 1, 0, _ESPEAK_CHARS_UTF8, None, None)
        if err != 0:
            raise MeshtalkError(f"espeak-ng failed to synthesize (error {err}): {text[:60]!r}")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        events = sorted(self._events, key=lambda e: e[0])
        sr = self._rate
        audio = pcm.astype(np.float32) / 32768.0
        duration = len(audio) / sr
        segments: list[tuple[str, float, float]] = []
        for k, (sample, mnemonic) in enumerate(events):
            end_sample = events[k + 1][0] if k + 1 < len(events) else len(audio)
            start, end = sample / sr, end_sample / sr
            labels = espeak_labels(mnemonic)
            if not labels:                       # a modifier: its span belongs to the phone before
                if segments:
                    segments[-1] = (segments[-1][0], segments[-1][1], end)
            elif len(labels) == 1:
                segments.append((labels[0], start, end))
            else:
                cut = start + 0.6 * (end - start)
                segments += [(labels[0], start, cut), (labels[1], cut, end)]
        return EngineOutput(audio, sr, _contiguous(_stop_closures(segments, audio, sr), duration))


def _seed_noise(lib: ctypes.CDLL) -> None:
    """Seed the noise sources of breathy variants (f1–f5 …) so that they repeat exactly.

    espeak-ng ≥ 1.52 has its own generator (``espeak_ng_SetRandSeed``); older releases draw from
    the C library's ``rand()``, which is seeded instead.
    """
    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed(ctypes.c_long(_ESPEAK_NOISE_SEED))
    else:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.srand(ctypes.c_uint(_ESPEAK_NOISE_SEED))


_VOICELESS_STOPS = frozenset({"P", "T", "K", "CH"})
_CLOSURE_MAX_S = 0.08
_CLOSURE_KEEP = 0.4
_CLOSURE_LEVEL = 0.3
_ENVELOPE_S = 0.005


def _stop_closures(
    segments: list[tuple[str, float, float]], audio: np.ndarray, sr: int
) -> list[tuple[str, float, float]]:
    """Move espeak-ng's voiceless-stop events from the release back to the closure onset.

    espeak-ng emits the phoneme event of /p t k tʃ/ at the burst, so the stop's closure (the
    silent gap, during which the lips are already sealed for /p/) is counted in the phone before.
    The onset is found in the audio itself: the last moment before the event at which the 5 ms
    peak envelope is still ≥ 30 % of the previous phone's peak, searched no further back than
    80 ms and never taking more than 60 % of the previous phone. Stops after a pause stay as they
    are (their closure is in the pause).
    """
    out = list(segments)
    win = max(1, int(_ENVELOPE_S * sr))
    for k in range(1, len(out)):
        label, start, end = out[k]
        prev_label, prev_start, _ = out[k - 1]
        if label not in _VOICELESS_STOPS or prev_label == SILENCE or prev_label in _VOICELESS_STOPS:
            continue
        e = int(round(start * sr))
        q0 = int(round(prev_start * sr))
        lo = max(q0 + int(_CLOSURE_KEEP * (e - q0)), e - int(_CLOSURE_MAX_S * sr))
        head = np.abs(audio[q0: q0 + max(win, int(0.6 * (e - q0)))])
        if e - lo < win or head.size == 0:
            continue
        level = _CLOSURE_LEVEL * float(head.max())
        onset = lo
        for t in range(e, lo - 1, -max(1, win // 2)):
            if np.abs(audio[max(t - win, 0): t]).max(initial=0.0) >= level:
                onset = t
                break
        if onset < e:
            out[k - 1] = (prev_label, prev_start, onset / sr)
            out[k] = (label, onset / sr, end)
    return out


# ------------------------------------------------------------------------------------------- flite
def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    audio, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    return audio[:, 0].copy(), int(sr)


class FliteEngine:
    """The ``flite`` command line with ``-psdur`` (segment end times in seconds)."""

    name = "flite"
    VOICES = ("kal16", "awb", "rms", "slt", "kal")
    missing_message = "voice '{voice}' needs the Debian package flite: apt-get install flite"

    @functools.cached_property
    def _binary(self) -> str | None:
        return shutil.which("flite")

    def available(self) -> bool:
        """Whether the ``flite`` binary is on PATH."""
        return self._binary is not None

    @functools.cached_property
    def _installed_voices(self) -> list[str]:
        out = subprocess.run([self._binary, "-lv"], capture_output=True, text=True, timeout=30).stdout
        names = set(out.replace("Voices available:", "").split())
        return [v for v in self.VOICES if v in names]

    def voices(self) -> list[str]:
        """The curated voices this flite build has (``awb_time`` is a clock-only voice, left out)."""
        return self._installed_voices if self.available() else []

    def synthesize(self, text: str, voice: str, *, rate: float, pitch: float) -> EngineOutput:
        """Synthesize with flite; ``rate`` via ``duration_stretch``, ``pitch`` via ``f0_shift``.

        ``f0_shift`` acts on kal/kal16/awb/slt; the rms voice ignores it (its pitch stays default).
        """
        if not self.available():
            raise MeshtalkError(self.missing_message.format(voice=f"flite:{voice}"))
        with tempfile.TemporaryDirectory(prefix="meshtalk-flite-") as tmp:
            wav = Path(tmp) / "out.wav"
            cmd = [
                self._binary, "-voice", voice, "-psdur",
                "--setf", f"duration_stretch={1.0 / rate:.6f}", "--setf", f"f0_shift={pitch:.6f}",
                "-t", text, "-o", str(wav),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_SUBPROCESS_TIMEOUT_S)
            if proc.returncode != 0 or not wav.exists():
                raise MeshtalkError(f"flite failed for voice {voice!r}: {proc.stderr.strip()[:200]}")
            audio, sr = _read_wav(wav)
        segments: list[tuple[str, float, float]] = []
        start = 0.0
        for token in proc.stdout.split():
            label, _, end = token.rpartition(":")
            if not label:
                continue
            end_s = float(end)
            segments.append((arpabet_label(label), start, end_s))
            start = end_s
        return EngineOutput(audio, sr, _contiguous(segments, len(audio) / sr))


# ---------------------------------------------------------------------------------------- festival
_FESTIVAL_SCRIPT = """
(define (meshtalk_synth voicefn txt wavfile segsfile stretch pitch)
  (eval (list voicefn))
  (if (boundp 'hts_engine_params)
      (if hts_engine_params
          (set! hts_engine_params (append hts_engine_params (list (list "-r" (/ 1.0 stretch)))))))
  (Parameter.set 'Duration_Stretch stretch)
  (if (boundp 'int_lr_params)
      (set! int_lr_params
            (mapcar (lambda (x)
                      (if (member_string (car x) '("target_f0_mean" "target_f0_std"))
                          (list (car x) (* pitch (car (cdr x))))
                          x))
                    int_lr_params)))
  (set! utt (utt.synth (eval (list 'Utterance 'Text txt))))
  (utt.save.wave utt wavfile 'riff)
  (utt.save.segs utt segsfile))
"""


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FestivalEngine:
    """The ``festival`` command line in batch mode; labels from ``utt.save.segs`` (end times).

    Rate and pitch: diphone voices (kal, ked) follow ``Duration_Stretch`` and the F0 target of
    ``int_lr_params``; the HTS voice (slt) follows the rate through hts_engine's ``-r`` and keeps
    its own pitch.
    """

    name = "festival"
    VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
    missing_message = (
        "voice '{voice}' needs the Debian packages festival and its voice: apt-get install "
        "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
    )

    @functools.cached_property
    def _binary(self) -> str | None:
        return shutil.which("festival")

    def available(self) -> bool:
        """Whether the ``festival`` binary is on PATH."""
        return self._binary is not None

    @functools.cached_property
    def _installed_voices(self) -> list[str]:
        proc = subprocess.run(
            [self._binary, "--batch", "(print (voice.list))"],
            capture_output=True, text=True, timeout=60,
        )
        names = set(proc.stdout.replace("(", " ").replace(")", " ").split())
        return [v for v in self.VOICES if v in names]

    def voices(self) -> list[str]:
        """The curated voices installed for festival."""
        return self._installed_voices if self.available() else []

    def synthesize(self, text: str, voice: str, *, rate: float, pitch: float) -> EngineOutput:
        """Synthesize with festival in batch mode (about 0.2 s start-up per call)."""
        if not self.available():
            raise MeshtalkError(self.missing_message.format(voice=f"festival:{voice}"))
        with tempfile.TemporaryDirectory(prefix="meshtalk-festival-") as tmp:
            wav, segs, script = Path(tmp) / "out.wav", Path(tmp) / "out.segs", Path(tmp) / "synth.scm"
            script.write_text(_FESTIVAL_SCRIPT)
            call = (
                f"(meshtalk_synth 'voice_{voice} {_scheme_string(text)} {_scheme_string(str(wav))} "
                f"{_scheme_string(str(segs))} {1.0 / rate:.6f} {pitch:.6f})"
            )
            proc = subprocess.run(
                [self._binary, "--batch", str(script), call],
                capture_output=True, text=True, timeout=_SUBPROCESS_TIMEOUT_S,
            )
            if proc.returncode != 0 or not wav.exists() or not segs.exists():
                raise MeshtalkError(
                    f"festival failed for voice {voice!r}: {(proc.stderr or proc.stdout).strip()[:200]}"
                )
            audio, sr = _read_wav(wav)
            lines = segs.read_text().splitlines()
        segments: list[tuple[str, float, float]] = []
        start = 0.0
        body = lines[lines.index("#") + 1:] if "#" in lines else lines
        for line in body:
            parts = line.split()
            if len(parts) != 3:
                continue
            end = float(parts[0])
            segments.append((arpabet_label(parts[2]), start, end))
            start = end
        return EngineOutput(audio, sr, _contiguous(segments, len(audio) / sr))


ENGINES: dict[str, EspeakEngine | FliteEngine | FestivalEngine] = {
    "espeak": EspeakEngine(),
    "flite": FliteEngine(),
    "festival": FestivalEngine(),
}

