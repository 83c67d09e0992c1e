"""Shared fixtures: the procedural head and talking sequences on it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.metrics import heads


@pytest.fixture(scope="session")
def head():
    """Template head, icosphere subdivision 6 (40,962 vertices)."""
    return heads.make_head(6)


@pytest.fixture(scope="session")
def small_head():
    """Coarser head for sequences, icosphere subdivision 5 (10,242 vertices)."""
    return heads.make_head(5)


@pytest.fixture(scope="session")
def talking(small_head):
    """(neutral (V, 3), faces, opening (T,), gt (T, V, 3)) at 30 fps, 90 frames."""
    v = np.asarray(small_head.vertices)
    a = heads.opening_signal(90, seed=3)
    return v, np.asarray(small_head.faces), a, heads.talking_sequence(v, a)
