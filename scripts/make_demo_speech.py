#!/usr/bin/env python3
"""Make the bundled demo speech: ``data/demo/speech.wav`` and ``data/demo/speech.phones.json``.

About 10 s of 16 kHz mono speech from a held-out voice (one of ``TEST_VOICES``, so the shipped
model never trained on it), with its exact phone timeline. Deterministic: running it again writes
the same bytes (given the same engine versions).

Usage:
    python scripts/make_demo_speech.py [--voice flite:awb] [--out data/demo/speech.wav]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from meshtalk.data.synth.speech import TEST_VOICES, list_voices, save_utterance, synthesize
from meshtalk.errors import MeshtalkError

logger = logging.getLogger("make_demo_speech")

DEMO_TEXT = (
    "Bob and Mary brought a paper map to the beach. "
    "Would you pass me the purple umbrella? "
    "Maybe we should move the boat before the storm, but I promise it will be fun. "
    "Please be back by nine."
)
DEFAULT_VOICE = "flite:awb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--voice", default=DEFAULT_VOICE, help=f"a voice of TEST_VOICES (default {DEFAULT_VOICE})")
    parser.add_argument("--out", type=Path, default=root / "data" / "demo" / "speech.wav")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        if args.voice not in TEST_VOICES:
            raise MeshtalkError(f"the demo uses a held-out voice; choose one of {', '.join(TEST_VOICES)}")
        if args.voice not in list_voices():
            raise MeshtalkError(f"voice {args.voice!r} is not installed here; installed: {', '.join(list_voices())}")
        utt = synthesize(DEMO_TEXT, args.voice, rate=1.0, pitch=1.0, sample_rate=16000, seed=args.seed)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        wav, phones = save_utterance(utt, args.out)
    except MeshtalkError as exc:
        logger.error("%s", exc)
        return 2
    logger.info("wrote %s (%.2f s, %d phones) and %s", wav, utt.duration, len(utt.phones), phones)
    return 0


if __name__ == "__main__":
    sys.exit(main())
