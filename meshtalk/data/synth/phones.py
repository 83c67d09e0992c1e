"""The one phone set every engine's labels are mapped into, and the documented mappings.

The shared set is ARPAbet as used by the CMU Pronouncing Dictionary and by pocketsphinx's
``en-us`` acoustic model: 39 phones in upper case without stress digits, plus ``SIL`` for any
pause or silence. Each engine's native labels are mapped here, in one place:

- flite (``-psdur``) and festival (``utt.save.segs``) print lower-case ARPAbet ("radio" phone set)
  with ``pau`` for pauses. Reduced and syllabic variants fold into their full phone:
  ``ax → AH``, ``axr → ER``, ``ix → IH``, ``ux → UW``, ``el → L``, ``em → M``, ``en → N``,
  ``nx → N``, ``dx → T`` (flap), ``hv → HH``; ``pau``/``h#``/``brth`` → ``SIL``.
- espeak-ng phoneme events carry its English mnemonics (``'aI``, ``@2``, ``t#`` …). Stress and
  syllable marks (``' , % =``) are stripped, then :data:`ESPEAK_TO_ARPABET` applies. An
  r-coloured espeak vowel (``A@``, ``e@``, ``i@``, ``O@``, ``o@``, ``U@``, ``aI@``, ``aU@``) maps
  to two ARPAbet phones (vowel + ``R``/``ER``); its span is split 60 % / 40 %.
- pocketsphinx reports CMU phones directly (``SIL`` and its noise phones ``+NSN+`` … → ``SIL``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SILENCE = "SIL"

VOWELS = frozenset(
    "AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split()
)
CONSONANTS = frozenset(
    "B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split()
)
#: The shared phone set: 39 ARPAbet phones and ``SIL``.
PHONE_SET = VOWELS | CONSONANTS | {SILENCE}
#: Phones whose articulation closes the lips completely.
BILABIALS = frozenset({"P", "B", "M"})



@dataclass(frozen=True)
class Phone:
    """One labelled span of a phone timeline.

    Attributes:
        label: a label of :data:`PHONE_SET` (``"AH"``, ``"M"``, ``"SIL"``).
        start: start time in seconds from the first audio sample.
        end: end time in seconds (``end > start``).
    """

    label: str
    start: float
    end: float

    @property
    def centre(self) -> float:
        """The middle of the span, in seconds."""
        return 0.5 * (self.start + self.end)


_ARPABET_ALIASES = {
    "pau": SILENCE, "h#": SILENCE, "brth": SILENCE, "sil": SILENCE, "ssil": SILENCE,
    "ax": "AH", "axr": "ER", "ix": "IH", "ux": "UW", "el": "L", "em": "M", "en": "N",
    "nx": "N", "dx": "T", "hv": "HH",
}

#: espeak-ng English mnemonics (stress marks removed) → shared phones. A tuple of two phones means
#: the espeak phone's span is split between them (60 % / 40 %); an empty tuple joins the span to
#: the phone before.
ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # pauses and boundaries
    "_": (SILENCE,), "_:": (SILENCE,), "_!": (SILENCE,), "_|": (SILENCE,), "_^_": (SILENCE,),
    # vowels
    "@": ("AH",), "@2": ("AH",), "@5": ("AH",), "@-": ("AH",), "a#": ("AH",), "V": ("AH",),
    "3": ("ER",), "3:": ("ER",), "@r": ("ER",),
    "a": ("AE",), "aa": ("AE",), "A:": ("AA",), "A": ("AA",), "0": ("AA",), "A#": ("AA",),
    "aI": ("AY",), "aI2": ("AY",), "aI3": ("AY", "ER"), "aI@": ("AY", "ER"),
    "aU": ("AW",), "aU@": ("AW", "ER"), "VR": ("AH", "R"),
    "e": ("EH",), "E": ("EH",), "E2": ("EH",), "e#": ("EH",), "eI": ("EY",),
    "i": ("IY",), "i:": ("IY",), "I": ("IH",), "I#": ("IH",), "I2": ("IH",), "I2#": ("IH",),
    "O": ("AO",), "O:": ("AO",), "oU": ("OW",), "o": ("OW",), "O2": ("AO",), "oU#": ("OW",),
    "OI": ("OY",), "U": ("UH",), "u:": ("UW",), "u": ("UW",), "U@": ("UH", "R"),
    "A@": ("AA", "R"), "e@": ("EH", "R"), "i@": ("IH", "R"), "i@3": ("IH", "R"),
    "O@": ("AO", "R"), "o@": ("AO", "R"), "@L": ("L",), "@l": ("L",),
    # consonants
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "g": ("G",),
    "t#": ("T",), "d#": ("D",), "t2": ("T",), "d2": ("D",), "?": ("T",),
    "m": ("M",), "n": ("N",), "N": ("NG",), "n-": ("N",), "m-": ("M",),
    "f": ("F",), "v": ("V",), "T": ("TH",), "D": ("DH",), "s": ("S",), "z": ("Z",),
    "S": ("SH",), "Z": ("ZH",), "h": ("HH",), "x": ("K",), "C": ("HH",),
    "tS": ("CH",), "dZ": ("JH",), "l": ("L",), "l/": ("L",), "l/2": ("L",), "L": ("L",),
    "r": ("R",), "r-": ("R",), "*": ("T",), "w": ("W",), "w#": ("W",), "W": ("W",), "j": ("Y",),
    ";": (), "#": (),   # modifiers (palatalisation, …): their span joins the phone before
    "z/2": ("Z",), "s2": ("S",), "z#": ("Z",), "hw": ("W",),
}

_STRESS_MARKS = "'," + "%="


def arpabet_label(label: str) -> str:
    """Map an ARPAbet-like label (flite, festival, pocketsphinx) into the shared phone set.

    Args:
        label: a native label, any case, optionally with a stress digit (``"AH0"``, ``"pau"``).

    Returns:
        The shared label (``"AH"``, ``"SIL"``).

    Raises:
        ValueError: if the label has no mapping.
    """
    raw = label.strip()
    if raw.startswith("+") or raw.upper() in {"SIL", "<SIL>", "<S>", "</S>"}:
        return SILENCE
    low = raw.lower().rstrip("012")
    if low in _ARPABET_ALIASES:
        return _ARPABET_ALIASES[low]
    up = low.upper()
    if up in PHONE_SET:
        return up
    raise ValueError(f"no shared phone for ARPAbet-like label {label!r}")


def espeak_labels(mnemonic: str) -> tuple[str, ...]:
    """Map an espeak-ng English phoneme mnemonic into one or two shared phones.

    Args:
        mnemonic: the event's ``id.string`` (``"'aI"``, ``"@2"``, ``"_:"``).

    Returns:
        Zero, one or two shared labels (zero: a modifier whose span joins the previous phone).
        Unknown mnemonics fall back to a close relative (logged).
    """
    key = mnemonic.strip().lstrip(_STRESS_MARKS)
    if key in ESPEAK_TO_ARPABET:
        return ESPEAK_TO_ARPABET[key]
    # Fallbacks for rarely used variants: drop modifiers one at a time.
    for trimmed in (key.rstrip(";"), key.rstrip("#"), key.rstrip("0123456789"), key[:-1]):
        if trimmed in ESPEAK_TO_ARPABET:
            logger.debug("espeak phone %r mapped as %r", mnemonic, trimmed)
            return ESPEAK_TO_ARPABET[trimmed]
    logger.warning("espeak phone %r has no mapping; labelled AH", mnemonic)
    return ("AH",)
