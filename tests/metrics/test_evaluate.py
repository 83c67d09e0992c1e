"""Directory evaluation and ``meshtalk evaluate`` on small synthetic data sets."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import trimesh
from scipy.io import wavfile

from meshtalk.cli import main
from meshtalk.errors import MeshtalkError
from meshtalk.metrics.classic import classic_metrics
from meshtalk.metrics.evaluate import discover_sequences, evaluate_directories, load_templates
from meshtalk.metrics.masks import RegionMask, load_region_mask
from tests.metrics import heads

SUBJ = "FaceTalk_170809_00138_TA"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, small_head):
    """FaceFormer-layout GT and flat predictions for two sentences, with masks and templates."""
    root = tmp_path_factory.mktemp("ff")
    v, f = np.asarray(small_head.vertices), np.asarray(small_head.faces)
    gt_dir, pred_dir = root / "gt", root / "pred"
    (gt_dir / "vertices_npy").mkdir(parents=True)
    pred_dir.mkdir()
    (root / "wav").mkdir()
    rng = np.random.default_rng(0)
    seqs = {}
    for k in (1, 2):
        name = f"{SUBJ}_sentence0{k}"
        a = heads.opening_signal(40, seed=k)
        gt = heads.talking_sequence(v, a)
        pred = heads.talking_sequence(v, 0.8 * a) + rng.normal(scale=5e-5, size=gt.shape)
        np.save(gt_dir / "vertices_npy" / f"{name}.npy", gt.reshape(len(a), -1).astype(np.float32))
        np.save(pred_dir / f"{name}_condition_{SUBJ}.npy", pred.astype(np.float32))
        wavfile.write(root / "wav" / f"{name}.wav", 16000, (heads.speech_audio(a, seed=k) * 3000).astype(np.int16))
        seqs[name] = (pred.astype(np.float32).astype(np.float64), gt.astype(np.float32).astype(np.float64))
    with open(root / "templates.pkl", "wb") as fh:
        pickle.dump({SUBJ: v}, fh)
    lips = np.flatnonzero((np.abs(v[:, 0]) < 0.03) & (np.abs(v[:, 1] - heads.MOUTH_Y) < 0.012) & (v[:, 2] > 0))
    upper = np.flatnonzero(v[:, 1] > 0.02)
    np.save(root / "lips.npy", lips)
    (root / "upper.txt").write_text(", ".join(map(str, upper)))
    trimesh.Trimesh(v, f, process=False).export(root / "template.ply")
    return root, v, f, seqs


def test_registered_dataset_matches_classic_metrics(dataset, tmp_path):
    root, v, f, seqs = dataset
    lips = load_region_mask(root / "lips.npy", name="lips")
    upper = load_region_mask(root / "upper.txt", name="upper-face")
    tpl = load_templates(root / "templates.pkl")
    rep = evaluate_directories(root / "pred", root / "gt", lip_mask=lips, upper_mask=upper, templates=tpl,
                               faces=f, audio_dir=root)
    ref = classic_metrics([(n, p, g, v) for n, (p, g) in seqs.items()], lips, upper)
    assert rep.summary["lve"] == ref.lve and rep.summary["fdd"] == ref.fdd
    assert rep.summary["mve"] == pytest.approx(ref.mve, rel=1e-13)
    assert rep.summary["abs_fdd"] == ref.abs_fdd
    assert [r["gt"] for r in rep.rows] == list(seqs)
    # the prediction opens 80 % as wide: amplitude difference negative, lag 0, speech correlation high
    assert rep.summary["opening_amplitude_diff"] < 0 and rep.summary["mean_abs_lag_ms"] == 0.0
    assert rep.summary["speech_corr_gt"] > 0.5
    table = rep.table()
    assert f"lips ({lips.count} v; lips.npy sha256:" in table and "upper-face (" in table
    out = rep.write_json(tmp_path / "r.json")
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert data["masks"]["lips"] == lips.describe() and len(data["sequences"]) == 2
    csv_text = rep.write_csv(tmp_path / "r.csv").read_text()
    assert csv_text.splitlines()[0].startswith("name,gt,frames,nan_frames,registered,lve")
    assert "nan" not in csv_text.lower().replace("nan_frames", "")
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left


def test_automatic_lip_mask_when_none_given(dataset):
    root, v, f, _ = dataset
    rep = evaluate_directories(root / "pred", root / "gt", faces=f)
    assert "lips-auto" in rep.masks["lips"] and "automatic" in rep.masks["lips"]
    assert rep.summary["lve"] > 0 and "fdd" not in rep.summary


def test_bad_sequences_lengths_nan_and_vertex_counts(dataset, tmp_path):
    root, v, f, seqs = dataset
    (name, (p, g)), (name2, (p2, g2)) = seqs.items()
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    (gt_dir / "vertices_npy").mkdir(parents=True)
    pred_dir.mkdir()
    np.save(gt_dir / "vertices_npy" / f"{name}.npy", g)
    bad = p[:35].copy()
    bad[7] = np.nan
    np.save(pred_dir / f"{name}.npy", bad)
    lips = RegionMask("lips", np.arange(0, 100), "test")
    rep = evaluate_directories(pred_dir, gt_dir, lip_mask=lips, faces=f)
    row = rep.rows[0]
    assert row["frames"] == 34 and row["nan_frames"] == 1 and rep.summary["nan_frames"] == 1
    assert any("truncated to 35" in w for w in rep.warnings)
    assert any("left out 1 of 35" in w for w in rep.warnings)
    keep = np.r_[0:7, 8:35]
    ref = classic_metrics([(name, p[keep], g[keep], None)], lips)
    assert rep.summary["lve"] == ref.lve
    assert "warning: " in rep.table()
    with pytest.raises(MeshtalkError, match="frames 7"):
        evaluate_directories(pred_dir, gt_dir, lip_mask=lips, faces=f, nan_policy="raise")
    # a prediction on another meshing: one-line error in registered mode, suggesting the others
    np.save(pred_dir / f"{name}.npy", p[:, :-5])
    with pytest.raises(MeshtalkError) as err:
        evaluate_directories(pred_dir, gt_dir, lip_mask=lips, mode="registered")
    assert "\n" not in str(err.value) and "--unregistered" in str(err.value)


def test_empty_and_unmatched_directories(tmp_path, dataset):
    root = dataset[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(MeshtalkError) as err:
        evaluate_directories(tmp_path / "empty", root / "gt")
    assert str(err.value).startswith("no sequences in") and "\n" not in str(err.value)
    with pytest.raises(MeshtalkError, match="not a directory"):
        discover_sequences(tmp_path / "missing")
    (tmp_path / "other").mkdir()
    np.save(tmp_path / "other" / "someone_else.npy", np.zeros((3, 12)))
    with pytest.raises(MeshtalkError, match="matches a ground-truth name"):
        evaluate_directories(tmp_path / "other", root / "gt")


def test_unregistered_layout(small_head, tmp_path):
    v, f = np.asarray(small_head.vertices), np.asarray(small_head.faces)
    dec = small_head.simplify_quadric_decimation(face_count=len(f) // 2)
    dv, df = np.asarray(dec.vertices), np.asarray(dec.faces)
    a = heads.opening_signal(12, seed=5)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    np.savez(tmp_path / "gt" / "s01.npz", verts=heads.talking_sequence(v, a), faces=f)
    np.savez(tmp_path / "pred" / "s01.npz", verts=heads.talking_sequence(dv, a), faces=df)
    np.savez(tmp_path / "pred" / "s02.npz", verts=heads.talking_sequence(dv, a), faces=df)
    rep = evaluate_directories(tmp_path / "pred", tmp_path / "gt", max_points=3000)
    row = rep.rows[0]
    assert row["registered"] is False and row["lve"] is None
    assert 0 < row["chamfer"] < 1e-4 and 0 < row["hausdorff"] < 1e-2
    # same motion on two meshings: the opening curves agree closely
    assert abs(row["opening_amplitude_diff"]) < 0.05 * a.std() + 1e-4 and row["lag_frames"] == 0
    assert any("s02 has no ground truth" in w for w in rep.warnings)
    # the kernel distance is O(F²) per frame: check it on a coarse head and two frames
    coarse = heads.make_head(2)
    cv, cf = np.asarray(coarse.vertices), np.asarray(coarse.faces)
    (tmp_path / "kg").mkdir()
    (tmp_path / "kp").mkdir()
    np.savez(tmp_path / "kg" / "s.npz", verts=heads.talking_sequence(cv, a[4:6]), faces=cf)
    np.savez(tmp_path / "kp" / "s.npz", verts=heads.talking_sequence(cv, a[4:6]) + 1e-3, faces=cf)
    krep = evaluate_directories(tmp_path / "kp", tmp_path / "kg", kernel_sigma=0.01)
    assert krep.rows[0]["kernel"] > 0 and krep.summary["kernel"] == krep.rows[0]["kernel"]
    np.savez(tmp_path / "gt" / "s01.npz", verts=heads.talking_sequence(v, a))
    with pytest.raises(MeshtalkError, match="'verts' and 'faces'"):
        evaluate_directories(tmp_path / "pred", tmp_path / "gt")


def test_cli_evaluate(dataset, tmp_path, capsys):
    root = dataset[0]
    out = tmp_path / "report.json"
    args = ["evaluate", str(root / "pred"), str(root / "gt"), "--lip-mask", str(root / "lips.npy"),
            "--upper-mask", str(root / "upper.txt"), "--templates", str(root / "templates.pkl"),
            "--faces", str(root / "template.ply"), "--json", str(out), "--csv", str(tmp_path / "r.csv")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "lve" in text and "lips (" in text and "sha256:" in text
    assert json.loads(out.read_text())["summary"]["lve"] > 0
    assert main(args) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", str(tmp_path / "empty"), str(root / "gt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("meshtalk: error: no sequences in") and "\n" not in err
    assert main(["evaluate", str(root / "pred"), str(root / "gt"), "--orientation", "1,2"]) == 2
