import numpy as np
import pytest
import soundfile as sf

from meshtalk.data.unregistered import UnregisteredDataset
from meshtalk.errors import MeshtalkError
from tests.model._ops import ellipsoid, ellipsoid_fibonacci, fallback_operators


def _ops_fn(verts, faces, k):
    return fallback_operators(verts, faces, k)


def test_sequences_with_their_own_meshes_and_padded_targets(tmp_path):
    (tmp_path / "unregistered").mkdir()
    (tmp_path / "wav").mkdir()
    v1, f1 = ellipsoid(1)
    v2, f2 = ellipsoid_fibonacci(60)
    targets = np.zeros((20, 70, 3), np.float32)
    lengths = np.where(np.arange(20) % 2 == 0, 60, 70)
    np.savez(tmp_path / "unregistered" / "a.npz", neutral_verts=v1, faces=f1, verts=targets, lengths=lengths)
    sf.write(tmp_path / "wav" / "a.wav", np.zeros(16000), 16000)
    np.savez(tmp_path / "unregistered" / "b.npz", neutral_verts=v2, faces=f2,
             verts=np.zeros((30, 60, 3)), audio=np.zeros(44100), sample_rate=44100, fps=25.0)
    (tmp_path / "splits.json").write_text('{"train": ["a", "b"], "val": ["b"]}')
    ds = UnregisteredDataset(tmp_path, "train", k_eig=8, ops_fn=_ops_fn)
    a, b = ds[0], ds[1]
    assert a.neutral.shape == (42, 3) and not a.registered
    assert a.num_frames == 20 and list(a.target_lengths[:2]) == [60, 70]
    assert b.fps == 25.0 and b.num_frames == 25 and len(b.audio) == 16000 and b.neutral.shape == (60, 3)
    assert [s.name for s in UnregisteredDataset(tmp_path, "val", k_eig=8, ops_fn=_ops_fn)] == ["b"]


def test_missing_folder_and_audio(tmp_path):
    with pytest.raises(MeshtalkError, match="unregistered"):
        UnregisteredDataset(tmp_path)
    (tmp_path / "unregistered").mkdir()
    v, f = ellipsoid(1)
    np.savez(tmp_path / "unregistered" / "x.npz", neutral_verts=v, faces=f, verts=np.zeros((5, 42, 3)))
    with pytest.raises(MeshtalkError, match="no audio"):
        UnregisteredDataset(tmp_path, ops_fn=_ops_fn)[0]
