"""Tests for meshtalk.data.synth.phones: the shared phone set and each engine's mapping."""

from __future__ import annotations

import pytest

from meshtalk.data.synth.phones import (
    BILABIALS, CONSONANTS, ESPEAK_TO_ARPABET, PHONE_SET, SILENCE, VOWELS, arpabet_label, espeak_labels,
)


def test_phone_set_is_cmu_arpabet_plus_silence():
    assert len(VOWELS) == 15 and len(CONSONANTS) == 24 and not VOWELS & CONSONANTS
    assert PHONE_SET == VOWELS | CONSONANTS | {SILENCE}
    assert BILABIALS == {"P", "B", "M"}


@pytest.mark.parametrize(
    "native, shared",
    [("pau", "SIL"), ("ax", "AH"), ("AH0", "AH"), ("em", "M"), ("el", "L"), ("dx", "T"),
     ("aa", "AA"), ("SIL", "SIL"), ("+NSN+", "SIL"), ("hh", "HH"), ("axr", "ER")],
)
def test_arpabet_label(native, shared):
    assert arpabet_label(native) == shared


def test_arpabet_label_rejects_unknown():
    with pytest.raises(ValueError, match="no shared phone"):
        arpabet_label("qq")


def test_espeak_table_maps_into_the_shared_set():
    for mnemonic, labels in ESPEAK_TO_ARPABET.items():
        assert len(labels) <= 2, mnemonic
        assert all(label in PHONE_SET for label in labels), mnemonic


@pytest.mark.parametrize(
    "mnemonic, labels",
    [("'aI", ("AY",)), (",aU", ("AW",)), ("@2", ("AH",)), ("t#", ("T",)), ("_:", ("SIL",)),
     ("A@", ("AA", "R")), ("m", ("M",)), ("p", ("P",)), (";", ()), ("'i:", ("IY",))],
)
def test_espeak_labels(mnemonic, labels):
    assert espeak_labels(mnemonic) == labels


def test_espeak_unknown_falls_back():
    assert espeak_labels("b#") == ("B",)
    assert espeak_labels("%%%weird") == ("AH",)
