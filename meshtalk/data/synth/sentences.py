"""A fixed source of English sentences for the synthetic corpus, with a fixed split.

The sentences are generated combinatorially from small hand-written grammars (written for this
project, not taken from any corpus), with a fixed seed, so every install sees the same list in the
same order. Vocabulary is everyday English from the CMU dictionary, chosen to cover all ARPAbet
phones and to put bilabials (/p b m/), rounded vowels and wide vowels in many contexts.

The split is by sentence and never changes when the list grows: a sentence belongs to
``train``/``val``/``test`` by the SHA-1 of its text (80 / 10 / 10 %).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from meshtalk.errors import MeshtalkError

__all__ = ["sentences", "split_of", "SPLITS"]

SPLITS = ("train", "val", "test")
_SEED = 20261123
_COUNT = 600

_NAMES = (
    "Bob", "Mary", "Paul", "Emma", "Peter", "Maya", "Ben", "Molly", "Tom", "Judy", "Sam", "Ruth",
    "Mike", "Nora", "Jim", "Lucy", "George", "Anne", "Victor", "Zoe", "Owen", "Beth", "Walter", "Amy",
)
_PEOPLE = (
    "my brother", "her mother", "the pilot", "our neighbour", "the baker", "a young boy",
    "the old farmer", "his father", "the music teacher", "a tired doctor", "the team captain",
    "my best friend", "the school nurse", "a quiet woman", "the police officer", "your uncle",
)
_THINGS = (
    "a blue umbrella", "the broken lamp", "some warm bread", "a map of the moon", "the purple box",
    "an empty bottle", "the heavy book", "a bag of apples", "the morning paper", "a paper boat",
    "the brown puppy", "a bowl of soup", "the small camera", "a pair of boots", "the old piano",
    "a plum pie", "the new phone", "a jar of honey", "the garden hose", "a bunch of bananas",
    "the wooden spoon", "a bright yellow balloon", "the shopping list", "a cup of cocoa",
)
_PLACES = (
    "at the beach", "in the museum", "by the bridge", "near the bus stop", "in the kitchen",
    "behind the barn", "on the boat", "at the market", "under the table", "in the park",
    "by the window", "at the post office", "on the roof", "in the library", "across the pond",
    "beside the old mill", "at the top of the hill", "in the basement",
)
_TIMES = (
    "every morning", "before lunch", "last summer", "on Monday", "in the evening", "at midnight",
    "after the movie", "by noon", "early in the spring", "most weekends", "two days ago",
    "before the storm", "in a moment", "for a minute", "once a month", "at about five",
)
_VERBS_PAST = (
    "bought", "brought", "dropped", "found", "painted", "borrowed", "picked up", "moved",
    "opened", "carried", "played with", "wrapped", "mopped up", "packed", "washed", "boiled",
    "fixed", "hid", "kept", "lost", "showed me", "put away", "grabbed", "measured",
)
_ADJECTIVES = (
    "bumpy", "smooth", "cheerful", "gloomy", "enormous", "tiny", "bitter", "sweet", "purple",
    "foggy", "peaceful", "awful", "happy", "shiny", "muddy", "quiet", "windy", "pleasant",
)
_NOUNS = (
    "road", "weather", "music", "water", "room", "movie", "meal", "morning", "beach", "puppy",
    "boat", "garden", "market", "bridge", "problem", "answer", "story", "museum",
)
_QUESTIONS = (
    "Would you pass me {thing}?", "Did {name} remember {thing}?", "Why is the {noun} so {adj}?",
    "Can we meet {place} {time}?", "Who moved {thing} {place}?", "May I borrow {thing}?",
    "How much was {thing}?", "Where did {person} put {thing}?",
)
_STATEMENTS = (
    "{Name} {verb} {thing} {place}.",
    "{Person} {verb} {thing} {time}.",
    "{Name} thinks the {noun} is {adj} {time}.",
    "We saw {person} {place} {time}.",
    "Please bring {thing} to {name} {time}.",
    "The {noun} was {adj}, but {person} seemed happy.",
    "{Name} and {name2} {verb} {thing}.",
    "Maybe {person} {verb} {thing} {place}.",
    "I promise to be {place} {time}.",
    "{Person} both laughed and cried {time}.",
    "By the time {name} came home, the {noun} was {adj}.",
    "Remember to pay for {thing} {time}.",
    "{Name} made {thing} for {person}.",
    "It is a {adj} {noun}, and {name} wants more of it.",
    "Put {thing} {place}, please.",
    "{Person} blew out the candles and smiled.",
)


def _fill(template: str, rng: np.random.Generator) -> str:
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    name, name2 = pick(_NAMES), pick(_NAMES)
    while name2 == name:
        name2 = pick(_NAMES)
    person = pick(_PEOPLE)
    text = template.format(
        Name=name, name=name, name2=name2, Person=person[0].upper() + person[1:], person=person,
        thing=pick(_THINGS), place=pick(_PLACES), time=pick(_TIMES), verb=pick(_VERBS_PAST),
        adj=pick(_ADJECTIVES), noun=pick(_NOUNS),
    )
    return text[0].upper() + text[1:]


@lru_cache(maxsize=1)
def _all_sentences() -> tuple[str, ...]:
    rng = np.random.default_rng(_SEED)
    templates = _STATEMENTS + _QUESTIONS
    seen: dict[str, None] = {}
    while len(seen) < _COUNT:
        seen.setdefault(_fill(templates[int(rng.integers(len(templates)))], rng), None)
    return tuple(seen)


def split_of(sentence: str) -> str:
    """The split (``"train"``, ``"val"`` or ``"test"``) a sentence belongs to, by its SHA-1.

    Args:
        sentence: any text.

    Returns:
        One of :data:`SPLITS`; 80 / 10 / 10 % of sentences on average.
    """
    bucket = int(hashlib.sha1(sentence.strip().encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if bucket < 8 else ("val" if bucket == 8 else "test")


def sentences(split: str | None = None) -> list[str]:
    """The fixed sentence list (600 distinct sentences), optionally one split of it.

    Args:
        split: ``None`` for all, or one of :data:`SPLITS`.

    Returns:
        Sentences in a fixed order.

    Raises:
        MeshtalkError: on an unknown split name.
    """
    if split is not None and split not in SPLITS:
        raise MeshtalkError(f"split must be one of {', '.join(SPLITS)} or None, got {split!r}")
    return [s for s in _all_sentences() if split is None or split_of(s) == split]
