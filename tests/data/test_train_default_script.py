"""Helpers of scripts/train_default_model.py that write figures into the model card."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_default_model.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_default_model", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("shift", [-3, 0, 2, 5])
def test_best_lag_recovers_a_known_delay(script, shift):
    truth = np.random.default_rng(0).standard_normal(200).cumsum()
    pred = np.roll(truth, shift)          # pred[t + shift] = truth[t]: pred lags by `shift`
    assert script._best_lag(pred[10:-10], truth[10:-10], max_lag=8) == shift


def _group(model, neutral, loudness):
    return {name: {"lve_mm2": v[0], "opening_dtw_mm": v[1]}
            for name, v in (("model", model), ("neutral", neutral), ("loudness", loudness))}


def test_verdict_needs_a_wide_margin_on_both_measures(script):
    wide = script.WIDE_MARGIN
    met = script._verdict(_group((10, 1), (10 * wide, wide), (10 * wide + 1, 2)))
    assert met.endswith("is met.")
    narrow = script._verdict(_group((19.2, 0.72), (62.2, 3.43), (20.4, 0.86)))   # this stop's model
    assert "not by a wide margin" in narrow and narrow.endswith("**not met**.")
    lost = script._verdict(_group((25, 1.7), (62, 3.4), (20, 0.86)))
    assert "does **not** beat the loudness baseline" in lost


def _seq(script, n_frames=90, fps=30.0):
    import torch

    t = torch.arange(n_frames, dtype=torch.float32)
    audio = torch.sin(torch.arange(int(n_frames / fps * 16000)) * 0.05)
    return script.Sequence("s", "h", audio, coef=torch.stack([t, 2 * t], 1), art=t[:, None].repeat(1, 4),
                           phones=(torch.arange(n_frames) // 10), n_frames=n_frames)


def test_augmented_crops_keep_targets_aligned_with_speed(script):
    import torch

    seq = _seq(script)
    rng = np.random.default_rng(0)
    waves, phones, arts, coefs = script.augmented_batch([seq] * 6, 40, rng, 30.0, {})
    coefs = torch.stack(coefs)
    assert waves.shape == (6, round(40 / 30 * 16000)) and phones.shape == (6, 40) and coefs.shape == (6, 40, 2)
    # no augmentation: consecutive frames, phones and curves from the same crop
    torch.testing.assert_close(arts[:, 1:, 0] - arts[:, :-1, 0], torch.ones(6, 39))
    torch.testing.assert_close(phones, (arts[:, :, 0] // 10).long())
    # tape speed: a crop of round(40 r) frames squeezed into 40 frames, curves resampled alike
    _, phones, arts, coefs = script.augmented_batch([seq] * 20, 40, rng, 30.0, {"speed": 0.2, "tilt": 0.5,
                                                                             "noise_snr_db": [20, 30]})
    coefs = torch.stack(coefs)
    steps = (arts[:, -1, 0] - arts[:, 0, 0]) / 39
    assert float(steps.min()) < 0.95 and float(steps.max()) > 1.05 and float(steps.min()) > 0.75
    torch.testing.assert_close(coefs[..., 1], 2 * coefs[..., 0])
    assert bool(((phones - (arts[:, :, 0] // 10)).abs() <= 1).all())


def test_extra_speech_has_no_mesh_targets(script):
    seq = _seq(script)
    extra = script.Sequence("x", "", seq.audio, None, seq.art, seq.phones, seq.n_frames)
    _, _, _, coefs = script.augmented_batch([seq, extra], 30, np.random.default_rng(1), 30.0, {"speed": 0.1})
    assert coefs[0].shape == (30, 2) and coefs[1] is None


def test_load_matching_skips_other_shapes(script):
    import torch

    a = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    b = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(5, 2))
    skipped = script.load_matching(b, a.state_dict())
    assert skipped == ["1.weight"]
    torch.testing.assert_close(b[0].weight, a[0].weight)
    assert script.load_matching(b, a.state_dict(), ("0.",)) == []
    assert script.aux_path(Path("x/model.safetensors")) == Path("x/model.aux.safetensors")


def test_dense_meshings_come_last_and_stay_out_of_the_base_list(script, tmp_path):
    """`meshings.dense` scans (here a point cloud, no faces) follow the others and are flagged, so
    the validation's "middle meshing" and the model's template extent do not move."""
    from meshtalk.data.synth.heads import make_head
    from meshtalk.data.synth.motion import MouthField

    head = make_head(3, name="h")
    field = MouthField(head)
    art = np.random.default_rng(0).uniform(0, 1, (20, 4))
    ms = script.build_meshings({"h": (head, field)}, {"template": True, "dense": {"point_cloud": [800]}},
                               8, tmp_path, art)["h"]
    assert [m.dense for m in ms] == [False, True]
    assert ms[0].name == "h/template" and ms[1].ops is not None
    assert ms[1].verts_c.shape[0] == 800 and ms[1].basis_c.shape[1] == 800
    assert ms[1].lips.sum() > 0


def test_validation_decodes_the_middle_meshing_the_template_and_the_dense_ones_up_to_a_size(script):
    """`train.validate_dense_max_vertices` keeps a large dense remesh out of validation only."""
    import torch

    def mesh(name, n, dense=False):
        return script.Meshing(name=f"h/{name}", head="h", verts_c=torch.zeros(n, 3), ops=None,
                              basis_c=torch.zeros(1, n, 3), moving=torch.zeros(n), extent_c=np.ones(3),
                              lips=torch.zeros(n), lip_pair=(0, 1), dense=dense)

    ms = [mesh("remesh_1k", 1000), mesh("remesh_2k", 2000), mesh("remesh_3k", 3000), mesh("template", 5000),
          mesh("remesh_30k", 30000, True), mesh("remesh_100k", 100000, True), mesh("pointcloud_20k", 20000, True)]
    names = lambda chosen: [m.name.split("/")[1] for m in chosen]   # noqa: E731
    assert names(script.validation_meshings(ms)) == ["remesh_3k", "template"]
    assert names(script.validation_meshings(ms, dense=True)) == [
        "remesh_3k", "template", "remesh_30k", "remesh_100k", "pointcloud_20k"]
    assert names(script.validation_meshings(ms, dense=True, max_vertices=40000)) == [
        "remesh_3k", "template", "remesh_30k", "pointcloud_20k"]


def test_resampled_heads_get_independent_cloud_samplings_in_one_draw_slot(script, tmp_path):
    """``dense.point_cloud_samplings``: a resampled (training) head gets that many different
    samplings of each cloud size, sharing one slot of the training draw; another head gets one."""
    from meshtalk.data.synth.heads import make_head
    from meshtalk.data.synth.motion import MouthField

    head = make_head(3, name="h")
    art = np.random.default_rng(0).uniform(0, 1, (20, 4))
    mcfg = {"template": True, "dense": {"point_cloud": [800, 500], "point_cloud_samplings": 3}}
    heads = {"h": (head, MouthField(head)), "v": (head, MouthField(head))}
    out = script.build_meshings(heads, mcfg, 8, tmp_path, art, given_normals=True, resampled={"h"})
    ms, single = out["h"], out["v"]
    assert [m.verts_c.shape[0] for m in ms] == [len(head.verts), 800, 800, 800, 500, 500, 500]
    assert [m.verts_c.shape[0] for m in single] == [len(head.verts), 800, 500]
    assert len({m.name for m in ms}) == 7                       # names stay unique
    assert [m.slot for m in ms[1:]] == ["h/pointcloud_800"] * 3 + ["h/pointcloud_500"] * 3
    assert len({m.slot for m in single}) == 3 and ms[0].slot != ms[1].slot
    first = ms[1].verts_c.numpy()
    for other in ms[2:4]:                                       # a different sampling, not a copy
        assert not np.allclose(other.verts_c.numpy(), first)
        assert other.lips.sum() > 0
    # the one sampling of a head that is not resampled is the first sampling (seed 7) of one that is
    np.testing.assert_array_equal(single[1].verts_c.numpy(), first)


def test_training_point_clouds_get_the_models_facing_cut(script, tmp_path):
    """``cut_facing`` (the model's) reaches the operators of point clouds with given normals only."""
    from meshtalk.data.synth.heads import make_head
    from meshtalk.data.synth.motion import MouthField

    head = make_head(3, name="h")
    art = np.random.default_rng(0).uniform(0, 1, (20, 4))
    mcfg = {"template": True, "dense": {"point_cloud": [800]}}
    runs = [script.build_meshings({"h": (head, MouthField(head))}, mcfg, 8, tmp_path, art,
                                  given_normals=True, cut_facing=cut, cut_rule=rule)["h"]
            for cut, rule in ((False, "full"), (True, "full"), (True, "opposed"))]
    np.testing.assert_array_equal(runs[0][0].ops.evals.numpy(), runs[1][0].ops.evals.numpy())   # template
    np.testing.assert_array_equal(runs[0][0].ops.evals.numpy(), runs[2][0].ops.evals.numpy())
    nnz = [r[1].ops.grad_x._nnz() for r in runs]                                               # the cloud
    assert nnz[0] > nnz[2] > nnz[1]            # the opposed rule cuts fewer pairs than the full one


def _full(model, neutral, loudness, n):
    keys = ("lve_mm2", "mve_mm", "opening_l1_mm", "opening_dtw_mm", "opening_corr")
    out = {name: dict(zip(keys, v)) for name, v in (("model", model), ("neutral", neutral), ("loudness", loudness))}
    out["n"] = n
    return out


def test_report_section_has_the_ratios_and_gap_and_keeps_other_sections(script, tmp_path):
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\n<!-- BEGIN other -->\nkeep me\n<!-- END other -->\n")
    summary = {
        "all": _full((12, 1, 1, 0.5, 0.9), (60, 3, 3, 3.0, 0), (24, 2, 2, 0.9, 0.5), 4),
        "template": _full((10, 1, 1, 0.4, 0.9), (60, 3, 3, 3.0, 0), (20, 2, 2, 0.8, 0.5), 2),
        "unseen meshings": _full((14, 1, 1, 0.6, 0.9), (60, 3, 3, 3.0, 0), (28, 2, 2, 1.0, 0.5), 2),
        "meshing remesh_100k": _full((14, 1, 1, 0.6, 0.9), (60, 3, 3, 3.0, 0), (28, 2, 2, 1.0, 0.5), 2),
        "voice flite:awb": _full((12, 1, 1, 0.5, 0.9), (60, 3, 3, 3.0, 0), (24, 2, 2, 0.9, 0.5), 4),
    }
    result = {"summary": summary, "eval_minutes": 1.5, "eval_date": "2026-11-23"}
    script.write_report(report, result, tmp_path / "model", tmp_path / "cfg.yaml")
    text = report.read_text()
    assert "keep me" in text and text.count("<!-- BEGIN default-model -->") == 1
    # hand-computed: all 60/12 = 5.00x, 3.0/0.5 = 6.00x, 24/12 = 2.00x, 0.9/0.5 = 1.80x
    assert "| all | 5.00x | 6.00x | 2.00x | 1.80x |" in text
    assert "| unseen meshings | 4.29x | 5.00x | 2.00x | 1.67x |" in text
    assert "(LVE on unseen meshings / LVE on the registered template): 1.40" in text   # 14 / 10
    assert "| meshing remesh_100k | 2 |" in text and "| voice flite:awb | 4 |" in text
    assert "is met." in text
    script.write_report(report, result, tmp_path / "model", tmp_path / "cfg.yaml")   # rewrite: still one section
    assert report.read_text().count("<!-- BEGIN default-model -->") == 1


def _rec(name, scan, duration, vertices=5000):
    return {"name": name, "duration": duration, "meshing": {"scan": scan, "vertices": vertices}}


def test_paired_plan_puts_every_scan_sequence_on_its_meshing_and_on_the_template(script):
    recs = [_rec("a", "remesh_2k", 3.0), _rec("b", "remesh_2k", 1.0), _rec("c", "pointcloud_20k", 2.0),
            _rec("d", "remesh_100k", 2.0, vertices=100000), _rec("e", "remesh_2k", 2.0)]
    plan = script.evaluation_plan(recs, {"paired": True, "max_scan_vertices": 110000})
    pairs = [(kind, r["name"]) for kind, r in plan]
    assert len(pairs) == 10
    for r in recs:   # each sequence exactly once on the template and once on its own meshing
        assert pairs.count(("template", r["name"])) == 1
        assert pairs.count((r["meshing"]["scan"], r["name"])) == 1
    assert script._per_meshing_range(plan) == [1, 3]
    # a cap per meshing keeps the shortest; too large meshings are left out
    plan = script.evaluation_plan(recs, {"paired": True, "scan_sequences": 1, "max_scan_vertices": 50000})
    assert [(k, r["name"]) for k, r in plan] == [("template", "c"), ("pointcloud_20k", "c"),
                                                 ("template", "b"), ("remesh_2k", "b")]
    # the protocol up to stage 9: N template sequences + the shortest of each meshing
    plan = script.evaluation_plan(recs, {"template_sequences": 2, "max_scan_vertices": 110000})
    assert [(k, r["name"]) for k, r in plan] == [("template", "a"), ("template", "b"), ("remesh_2k", "b"),
                                                 ("pointcloud_20k", "c"), ("remesh_100k", "d")]


def test_paired_summary_has_a_per_meshing_gap_against_the_same_sequences(script, tmp_path):
    def row(name, meshing, lve, mve, dtw):
        scores = {"lve_mm2": lve, "mve_mm": mve, "opening_l1_mm": 1.0, "opening_dtw_mm": dtw, "opening_corr": 0.5}
        return {"name": name, "meshing": meshing, "voice": "v", "model": scores, "neutral": scores,
                "loudness": scores}
    rows = [row("a", "template", 4.0, 1.0, 0.5), row("a", "pc", 12.0, 1.5, 1.0),
            row("b", "template", 6.0, 1.0, 0.5), row("b", "pc", 8.0, 1.0, 0.5),
            row("c", "template", 100.0, 9.0, 9.0), row("c", "remesh", 50.0, 9.0, 9.0)]
    s = script._summarise(rows)
    # pc's twins are a and b only: template LVE (4 + 6) / 2 = 5, pc LVE (12 + 8) / 2 = 10
    assert s["meshing pc"]["template_same"]["lve_mm2"] == pytest.approx(5.0)
    table = script._gap_table(s)
    assert "| pc | 2 | 10 / 5 | 2.00 | 1.25 | 0.75 / 0.5 |" in table
    assert "| remesh | 1 | 50 / 100 | 0.50 |" in table
    result = {"summary": s, "eval_minutes": 1.0, "protocol": {"paired": True, "sequences": 3, "per_meshing": [1, 2],
                                                              "opening_pair": "midpoints"}}
    report = tmp_path / "b.md"
    script.write_report(report, result, tmp_path / "model", tmp_path / "cfg.yaml")
    text = report.read_text()
    assert "| pc | 2 | 10 / 5 | 2.00 |" in text and "same speech" in text and "12 % of the mouth width" in text
    assert "(3 sequences; 1 to 2 per meshing)" in text


def test_transfer_to_points_carries_a_linear_motion_exactly(script):
    # a bent strip of triangles; each frame a different affine displacement field d(p) = A_t p + b_t,
    # which barycentric interpolation reproduces exactly at any point on the surface
    xs = np.linspace(0.0, 1.0, 6)
    verts = np.array([[x, y, 0.3 * x * x] for x in xs for y in (0.0, 0.5, 1.0)])
    faces = []
    for i in range(5):
        for j in range(2):
            a, b, c, d = 3 * i + j, 3 * i + j + 1, 3 * (i + 1) + j, 3 * (i + 1) + j + 1
            faces += [[a, c, b], [b, c, d]]
    faces = np.array(faces)
    rng = np.random.default_rng(3)
    mats, offs = rng.normal(size=(4, 3, 3)) * 0.1, rng.normal(size=(4, 3)) * 0.01
    motion = verts[None] + np.einsum("tij,vj->tvi", mats, verts) + offs[:, None]
    # points on the surface: random barycentric points of random faces
    f = rng.integers(0, len(faces), 50)
    w = rng.dirichlet(np.ones(3), 50)
    pts = np.einsum("nk,nkc->nc", w, verts[faces[f]])
    out = script.transfer_to_points(verts, faces, motion, pts)
    expect = pts[None] + np.einsum("tij,nj->tni", mats, pts) + offs[:, None]
    assert out.shape == (4, 50, 3)
    np.testing.assert_allclose(out, expect, atol=1e-12)
    # a point off the surface takes its closest surface point's displacement
    off = pts[:1] + np.array([[0.0, 0.0, 0.05]])
    out_off = script.transfer_to_points(verts, faces, motion, off)
    assert np.all(np.isfinite(out_off)) and out_off.shape == (4, 1, 3)


def test_gap_table_scores_the_template_animation_at_the_same_points(script):
    def scores(lve):
        return {"lve_mm2": lve, "mve_mm": 1.0, "opening_l1_mm": 1.0, "opening_dtw_mm": 0.5, "opening_corr": 0.5}

    def row(name, meshing, lve, at_points=None):
        r = {"name": name, "meshing": meshing, "voice": "v", "model": scores(lve), "neutral": scores(lve),
             "loudness": scores(lve)}
        if at_points is not None:
            r["template_at_points"] = scores(at_points[0])
            r["at_template_points"] = scores(at_points[1])
        return r
    rows = [row("a", "template", 4.0), row("a", "pc", 12.0, at_points=(8.0, 5.0)),
            row("b", "template", 6.0), row("b", "pc", 8.0, at_points=(12.0, 6.0))]
    s = script._summarise(rows)
    assert s["meshing pc"]["template_points"]["lve_mm2"] == pytest.approx(10.0)
    assert s["meshing pc"]["at_template"]["lve_mm2"] == pytest.approx(5.5)
    assert "template_points" not in s["template"] and "template_points" not in s["voice v"]
    table = script._gap_table(s)
    # pc: LVE 10 on it, 5 on the template's own vertices; 10 for the template's animation at its
    # points; its own animation at the template's vertices 5.5 against the template's 5
    assert "| pc | 2 | 10 / 5 | 2.00 | 1.00 | 0.5 / 0.5 | 10 / 10 | 1.00 | 5.5 / 5 | 1.10 |" in table
    assert "| unseen meshings | 2 | 10 / 5 | 2.00 |" in table
    assert script._gap_same_points(s) == (pytest.approx(1.0), pytest.approx(1.1))


def test_transfer_to_points_on_a_point_cloud(script):
    rng = np.random.default_rng(5)
    cloud = rng.normal(size=(200, 3))
    motion = cloud[None] + rng.normal(size=(3, 200, 3)) * 0.01
    # at the cloud's own points: their own motion
    np.testing.assert_allclose(script.transfer_to_points(cloud, None, motion, cloud), motion, atol=1e-6)
    # a translation of every point carries to any point unchanged
    shift = np.array([[0.1, -0.2, 0.3]])
    moved = np.stack([cloud + shift * t for t in range(3)])
    pts = rng.normal(size=(20, 3))
    np.testing.assert_allclose(script.transfer_to_points(cloud, None, moved, pts),
                               np.stack([pts + shift * t for t in range(3)]), atol=1e-12)


def test_load_matching_widens_the_input_layer_with_zero_columns(script):
    import torch

    from meshtalk.model import TalkingHead
    from tests.model._ops import ellipsoid, make_ops
    from tests.model._synth import tiny_config

    torch.manual_seed(0)
    old = TalkingHead(tiny_config()).eval()
    new = TalkingHead(tiny_config(normal_input=True)).eval()
    skipped = script.load_matching(new, old.state_dict())
    assert skipped == []
    w = new.geometry_encoder.first_lin.weight
    torch.testing.assert_close(w[:, :3], old.geometry_encoder.first_lin.weight)
    assert torch.count_nonzero(w[:, 3:]) == 0
    v, f = ellipsoid(2)
    ops = make_ops(v, f, 24)
    neutral = torch.tensor(v, dtype=torch.float32)
    with torch.no_grad():   # the widened model computes what the old one did
        torch.testing.assert_close(new.encode_geometry(neutral, ops), old.encode_geometry(neutral, ops))
    # a narrower or reshaped layer is not forced in
    back = TalkingHead(tiny_config()).eval()
    assert "geometry_encoder.first_lin.weight" in script.load_matching(back, new.state_dict())


def test_baseline_scores_and_their_mean_over_cloud_samplings(script):
    """``_baseline_scores``: a perfect prediction scores 0, the neutral baseline scores the true
    motion itself; ``_mean_scores`` averages each score over samplings; the protocol says so."""
    from meshtalk.metrics import RegionMask

    class Field:                       # moves every point 2 mm up per unit of the first channel
        def displace(self, pts, art):
            out = np.zeros((len(art), len(pts), 3))
            out[..., 1] = 0.002 * np.asarray(art)[:, :1]
            return out

    rng = np.random.default_rng(0)
    neutral = rng.normal(size=(30, 3)) * 0.01
    art = np.linspace(0, 1, 12)[:, None].repeat(4, 1)
    gt = neutral[None] + Field().displace(neutral, art)
    mask = RegionMask(name="lips", indices=np.arange(10), source="test", n_vertices=30)
    got = script._baseline_scores(gt.copy(), neutral, neutral, gt, Field(), art * 0.5, mask, (0, 1))
    assert got["model"]["lve_mm2"] == pytest.approx(0.0, abs=1e-9)
    # neutral: worst lip vertex error = the true displacement, (2 mm * a)^2, mean over frames
    assert got["neutral"]["lve_mm2"] == pytest.approx(np.mean((2.0 * art[:, 0]) ** 2))
    assert got["loudness"]["lve_mm2"] == pytest.approx(np.mean((1.0 * art[:, 0]) ** 2))
    other = {lab: {k: v + 1.0 for k, v in d.items()} for lab, d in got.items()}
    mean = script._mean_scores([got, other])
    assert mean["neutral"]["lve_mm2"] == pytest.approx(got["neutral"]["lve_mm2"] + 0.5)
    text = script._protocol({"protocol": {"paired": True, "sequences": 3, "per_meshing": [1, 2],
                                          "cloud_samplings": 4}})
    assert "3 more samplings" in text and f"{script.EVAL_CLOUD_SEED}-{script.EVAL_CLOUD_SEED + 2}" in text
    assert "samplings" not in script._protocol({"protocol": {"paired": True, "sequences": 3, "per_meshing": [1, 2]}})
