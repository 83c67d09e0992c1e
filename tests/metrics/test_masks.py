"""RegionMask and mask files."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.io

from meshtalk.errors import MeshtalkError
from meshtalk.metrics.masks import RegionMask, load_region_mask


def test_describe_names_count_and_source():
    m = RegionMask("lips", np.array([3, 1, 2]), "hand-made", n_vertices=10)
    assert m.count == 3 and len(m) == 3
    assert m.describe() == "lips (3 v; hand-made)"
    assert m.indices.tolist() == [3, 1, 2]  # order kept
    assert m.as_bool(10).sum() == 3


@pytest.mark.parametrize("bad", [np.array([], dtype=int), np.array([[1, 2]]), np.array([0.5]), np.array([-1, 2])])
def test_bad_indices_are_refused(bad):
    with pytest.raises(MeshtalkError):
        RegionMask("x", bad, "test")


def test_check_rejects_out_of_range_and_other_meshing():
    m = RegionMask("lips", np.array([0, 9]), "t")
    with pytest.raises(MeshtalkError, match="out of range"):
        m.check(5)
    m2 = RegionMask("lips", np.array([0, 1]), "t", n_vertices=7)
    with pytest.raises(MeshtalkError, match="made for 7 vertices"):
        m2.check(8)
    with pytest.raises(MeshtalkError, match="out of range"):
        RegionMask("lips", np.array([0, 7]), "t", n_vertices=7)


def test_load_txt_codetalker_style(tmp_path):
    p = tmp_path / "lve.txt"
    p.write_text("4, 5, 6, 10")
    m = load_region_mask(p, n_vertices=20)
    assert m.indices.tolist() == [4, 5, 6, 10]
    assert m.name == "lve" and "lve.txt sha256:" in m.source


def test_load_mat_one_based(tmp_path):
    p = tmp_path / "FLAME_lips_idx.mat"
    scipy.io.savemat(p, {"lips_idx": np.array([[1, 2, 5]])})
    m = load_region_mask(p, key="lips_idx", one_based=True, name="lips")
    assert m.indices.tolist() == [0, 1, 4]
    assert "1-based" in m.describe()
    with pytest.raises(MeshtalkError, match="one_based"):
        scipy.io.savemat(tmp_path / "z.mat", {"k": np.array([[0, 1]])})
        load_region_mask(tmp_path / "z.mat", key="k", one_based=True)


def test_load_pkl_dict_needs_key(tmp_path):
    p = tmp_path / "FLAME_masks.pkl"
    with open(p, "wb") as fh:
        pickle.dump({"lips": np.array([1, 2]), "forehead": np.array([7])}, fh)
    assert load_region_mask(p, key="lips").indices.tolist() == [1, 2]
    with pytest.raises(MeshtalkError, match="several masks"):
        load_region_mask(p)
    with pytest.raises(MeshtalkError, match="no key"):
        load_region_mask(p, key="eyes")


def test_load_npy_bool_and_weights(tmp_path):
    np.save(tmp_path / "b.npy", np.array([True, False, True]))
    m = load_region_mask(tmp_path / "b.npy")
    assert m.indices.tolist() == [0, 2] and m.n_vertices == 3
    np.savetxt(tmp_path / "w.txt", np.array([0.05, 0.5, 0.2, 0.0]))
    m = load_region_mask(tmp_path / "w.txt", threshold=0.1)
    assert m.indices.tolist() == [1, 2] and "weight>0.1" in m.source
    with pytest.raises(MeshtalkError, match="not integers"):
        load_region_mask(tmp_path / "w.txt")


def test_load_errors(tmp_path):
    with pytest.raises(MeshtalkError, match="not found"):
        load_region_mask(tmp_path / "missing.npy")
    (tmp_path / "m.xyz").write_text("1 2")
    with pytest.raises(MeshtalkError, match="unknown mask format"):
        load_region_mask(tmp_path / "m.xyz")
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    with pytest.raises(MeshtalkError, match="cannot read"):
        load_region_mask(tmp_path / "broken.npy")
    np.save(tmp_path / "big.npy", np.array([0, 50]))
    with pytest.raises(MeshtalkError, match="out of range"):
        load_region_mask(tmp_path / "big.npy", n_vertices=10)
