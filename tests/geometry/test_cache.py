import multiprocessing as mp
import os

import numpy as np
import pytest
import torch

from meshtalk.geometry.cache import OperatorCache, operator_key
from meshtalk.geometry.operators import OperatorSettings, compute_operators
from tests.geometry.shapes import bumpy_sphere


@pytest.fixture(scope="module")
def mesh():
    return bumpy_sphere(1500, seed=2)


def _entries(d):
    return [p for p in d.rglob("*") if p.is_file()]


def test_hit_returns_identical_operators_and_serves_smaller_k(tmp_path, mesh):
    v, f = mesh
    a = compute_operators(v, f, 32, cache=tmp_path)
    assert len(_entries(tmp_path)) == 1
    b = compute_operators(v, f, 32, cache=tmp_path)
    assert torch.equal(a.evecs, b.evecs) and torch.equal(a.grad_x.values(), b.grad_x.values())
    c = compute_operators(v, f, 16, cache=tmp_path)  # served by slicing
    assert torch.equal(c.evecs, a.evecs[:, :16])
    assert len(_entries(tmp_path)) == 1


def test_key_depends_on_geometry_and_settings(mesh):
    v, f = mesh
    s = OperatorSettings(k=32)
    k0 = operator_key(v, f, s)
    v2 = v.copy()
    v2[0, 0] += 1e-12
    assert operator_key(v2, f, s) != k0
    assert operator_key(v, f[:, [0, 2, 1]], s) != k0
    assert operator_key(v, f, OperatorSettings(k=32, laplacian="robust")) != k0
    assert operator_key(v, f, OperatorSettings(k=64)) == k0  # k is served by slicing
    assert operator_key(v, None, s) != k0


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_corrupt_entry_is_detected_and_recomputed(tmp_path, mesh, damage, caplog):
    v, f = mesh
    ref = compute_operators(v, f, 16, cache=tmp_path)
    (path,) = _entries(tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :])
    else:
        path.write_bytes(b"")
    assert OperatorCache(tmp_path).load(v, f, OperatorSettings(k=16)) is None
    again = compute_operators(v, f, 16, cache=tmp_path)
    np.testing.assert_allclose(again.evals, ref.evals, rtol=1e-6)
    assert OperatorCache(tmp_path).load(v, f, OperatorSettings(k=16)) is not None  # repaired


def _fill(args):
    directory, seed = args
    v, f = bumpy_sphere(1500, seed=2)
    ops = compute_operators(v, f, 16, cache=directory)
    return float(ops.evals[5])


def test_two_processes_filling_the_same_entry(tmp_path):
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_fill, [(str(tmp_path), 0), (str(tmp_path), 1)])
    assert results[0] == pytest.approx(results[1], rel=1e-6)
    files = _entries(tmp_path)
    assert len(files) == 1 and not any(p.name.endswith(".tmp") for p in files)
    v, f = bumpy_sphere(1500, seed=2)
    assert OperatorCache(tmp_path).load(v, f, OperatorSettings(k=16)) is not None


def test_unwritable_cache_gives_one_line_error(tmp_path, mesh):
    if os.geteuid() == 0:
        target = tmp_path / "file"
        target.write_text("not a directory")
        directory = target  # a file where the cache directory should be
    else:
        directory = tmp_path / "ro"
        directory.mkdir()
        directory.chmod(0o500)
    from meshtalk.errors import MeshtalkError

    with pytest.raises(MeshtalkError, match="cannot write the operator cache"):
        compute_operators(*mesh, 8, cache=directory)
