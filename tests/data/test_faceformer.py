import io
import logging
import pickle

import numpy as np
import pytest
import soundfile as sf

from meshtalk.data.faceformer import FaceFormerDataset, load_pickle, resample_frames
from meshtalk.data.registry import REGISTRY, get_spec, subject_matches
from meshtalk.errors import MeshtalkError
from tests.model._ops import ellipsoid, fallback_operators

SUBJ_TRAIN = "FaceTalk_170728_03272_TA"
SUBJ_TEST = "FaceTalk_170809_00138_TA"


class _Py2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` (BINSTRING), like VOCASET's templates.pkl."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        self.write(pickle.BINSTRING + len(obj).to_bytes(4, "little") + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def _py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _ops_fn(verts, faces, k):
    return fallback_operators(verts, faces, k)


@pytest.fixture
def voca_root(tmp_path):
    verts, faces = ellipsoid(1)
    import trimesh

    (tmp_path / "templates").mkdir()
    trimesh.Trimesh(verts, faces, process=False).export(tmp_path / "templates" / "FLAME_sample.ply")
    templates = {SUBJ_TRAIN: verts + 0.01, SUBJ_TEST: verts - 0.01}
    (tmp_path / "templates.pkl").write_bytes(_py2_pickle(templates))
    (tmp_path / "wav").mkdir()
    (tmp_path / "vertices_npy").mkdir()
    rng = np.random.default_rng(0)
    for subj in templates:
        for sent in (1, 2, 25):
            stem = f"{subj}_sentence{sent:02d}"
            n60 = 60  # 1 s at 60 fps on disk
            motion = templates[subj][None] + 0.001 * rng.standard_normal((n60, len(verts), 3))
            np.save(tmp_path / "vertices_npy" / f"{stem}.npy", motion.reshape(n60, -1))  # flat (T, V*3)
            seconds = 1.0 if sent != 2 else 0.8       # sentence 2: audio shorter than the motion
            sf.write(tmp_path / "wav" / f"{stem}.wav", rng.standard_normal(int(22050 * seconds)) * 0.1, 22050)
    # a motion file whose wav is missing
    np.save(tmp_path / "vertices_npy" / f"{SUBJ_TRAIN}_sentence03.npy", np.zeros((10, len(verts) * 3)))
    return tmp_path


def test_py2_pickle_needs_latin1_and_is_read():
    arr = np.arange(6.0).reshape(2, 3)
    data = _py2_pickle({"a": arr})
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(data)
    import tempfile, os

    with tempfile.NamedTemporaryFile(delete=False) as fh:
        fh.write(data)
    try:
        np.testing.assert_array_equal(load_pickle(fh.name)["a"], arr)
    finally:
        os.unlink(fh.name)


def test_vocaset_split_rates_and_quirks(voca_root, caplog):
    with caplog.at_level(logging.WARNING):
        ds = FaceFormerDataset(voca_root, "vocaset", "train", k_eig=8, ops_fn=_ops_fn)
    assert any("without a wav" in r.message for r in caplog.records)
    names = [e[0] for e in ds.entries]
    assert names == [f"{SUBJ_TRAIN}_sentence{s:02d}" for s in (1, 2, 25)]
    s1 = ds[0]
    assert s1.fps == 30 and s1.target.shape == (30, 42, 3)        # 60 fps on disk -> 30
    assert len(s1.audio) == 16000                                    # 22.05 kHz -> 16 kHz
    np.testing.assert_allclose(s1.neutral, ds.templates[SUBJ_TRAIN], atol=1e-6)
    assert s1.faces.shape == (80, 3) and s1.registered and s1.ops is not None
    s2 = ds[1]                                                        # 0.8 s of audio
    assert s2.target.shape[0] == 24 and len(s2.audio) == 24 / 30 * 16000
    assert ds.operators(SUBJ_TRAIN) is ds.operators(SUBJ_TRAIN)      # built once per template


def test_test_split_uses_sentences_21_to_40(voca_root):
    ds = FaceFormerDataset(voca_root, "vocaset", "test", k_eig=8, ops_fn=_ops_fn)
    assert [e[0] for e in ds.entries] == [f"{SUBJ_TEST}_sentence25"]


def test_errors_are_one_line(voca_root, tmp_path):
    with pytest.raises(MeshtalkError, match="no split 'dev'"):
        FaceFormerDataset(voca_root, "vocaset", "dev", ops_fn=_ops_fn)
    with pytest.raises(MeshtalkError, match="unknown dataset"):
        get_spec("voxceleb")
    with pytest.raises(MeshtalkError, match="not found"):
        FaceFormerDataset(tmp_path / "nothing", "vocaset", ops_fn=_ops_fn)
    with pytest.raises(MeshtalkError, match="no usable sequence"):
        FaceFormerDataset(voca_root, "vocaset", "val", ops_fn=_ops_fn)


def test_biwi6_templates_from_obj_and_emotional_takes_skipped(tmp_path):
    import trimesh

    verts, faces = ellipsoid(1)
    (tmp_path / "templates").mkdir()
    (tmp_path / "vertices").mkdir()
    (tmp_path / "wav").mkdir()
    for subj in ("F1", "F8"):
        trimesh.Trimesh(verts, faces, process=False).export(tmp_path / "templates" / f"{subj}.obj")
        for stem in (f"{subj}_01", f"{subj}_e01"):
            np.save(tmp_path / "vertices" / f"{stem}.npy", np.tile(verts, (25, 1, 1)))   # (T, V, 3)
            sf.write(tmp_path / "wav" / f"{stem}.wav", np.zeros(16000), 16000)
    train = FaceFormerDataset(tmp_path, "biwi6", "train", k_eig=8, ops_fn=_ops_fn)
    assert [e[0] for e in train.entries] == ["F1_01"]
    assert train[0].fps == 25 and train[0].target.shape == (25, 42, 3)
    assert [e[0] for e in FaceFormerDataset(tmp_path, "biwi6", "test", k_eig=8, ops_fn=_ops_fn).entries] == ["F8_01"]


def test_registry_conventions():
    assert REGISTRY["vocaset"].fps_on_disk == 60 and REGISTRY["vocaset"].fps == 30
    assert REGISTRY["biwi"].fps == 25 and REGISTRY["multiface"].fps == 30
    assert len(REGISTRY["vocaset"].splits["train"].subjects) == 8
    assert subject_matches("FaceTalk_170728_03272_TA", ("170728_03272",))
    assert not subject_matches("FaceTalk_170728_03272_TA", ("170728_0327",))
    assert REGISTRY["biwi"].sentence_of("F2_e07") == 7


def test_resample_frames():
    x = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32)
    assert resample_frames(x, 60, 30).shape[0] == 5
    y = resample_frames(x, 25, 30)
    assert y.shape[0] == 12
    np.testing.assert_allclose(y[:, 0, 0], np.clip(np.arange(12) * 25 / 30, 0, 9), atol=1e-5)
