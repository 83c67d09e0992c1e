import json

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from meshtalk.cli import main as cli_main
from meshtalk.model import TalkingHead, load_model
from meshtalk.model.config import to_dict
from meshtalk.train import ExperimentConfig, Trainer
from tests.model._ops import ellipsoid, make_ops
from tests.model._synth import make_sequence, tiny_config, trained_model


def test_overfits_a_tiny_synthetic_dataset():
    """Acceptance: the training loss falls at least 20x (untrained model -> trained model)."""
    _, info = trained_model()
    ratio = info["initial_loss"] / info["final_loss"]
    assert ratio >= 20, f"loss fell only {ratio:.1f}x ({info['initial_loss']:.3g} -> {info['final_loss']:.3g})"
    lines = (info["out_dir"] / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == info["config"].train.epochs
    assert (info["out_dir"] / "checkpoints" / "last.safetensors").is_file()


@pytest.fixture(scope="module")
def tiny_data():
    v, f = ellipsoid(1)
    ops = make_ops(v, f, 12)
    return [make_sequence(v, f, ops, s, n_frames=12) for s in range(2)]


def _config(out_dir, epochs):
    cfg = ExperimentConfig(model=tiny_config(k=12, width=8))
    cfg.train.out_dir = str(out_dir)
    cfg.train.epochs = epochs
    cfg.train.lr = 1e-3
    cfg.train.progress = False
    cfg.train.val_every = 1
    return cfg


def test_checkpoints_resume_and_metrics_log(tmp_path, tiny_data):
    torch.manual_seed(0)
    trainer = Trainer(TalkingHead(_config(tmp_path, 2).model), _config(tmp_path, 2), tiny_data, tiny_data[:1])
    trainer.fit()
    assert trainer.step == 4
    ckpt = tmp_path / "checkpoints"
    assert {p.name for p in ckpt.iterdir()} >= {"last.safetensors", "last.state.pt", "best.safetensors"}
    assert not [p for p in ckpt.iterdir() if p.name.startswith(".")]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2] and "val_vertex_l2" in records[0]
    # resume: a new trainer continues at step 4, epoch 2 and runs one more epoch
    cfg3 = _config(tmp_path, 3)
    resumed = Trainer(TalkingHead(cfg3.model), cfg3, tiny_data, tiny_data[:1])
    resumed.fit()
    assert resumed.step == 6 and resumed.epoch == 3
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 3
    model = load_model(ckpt / "last.safetensors")
    assert model.config.template_extent is not None       # stored for the alignment warnings


@pytest.mark.parametrize("loss", [{"unregistered": "chamfer"}, {"unregistered": "surface"},
                                  {"unregistered": "surface", "surface_reverse": 0.5, "surface_reference_frame": 0}])
def test_unregistered_sequences_train(tmp_path, tiny_data, loss):
    from tests.model._ops import ellipsoid_fibonacci

    v, f = ellipsoid(1)
    vb, fb = ellipsoid_fibonacci(50)
    seq = make_sequence(v, f, tiny_data[0].ops, 0, n_frames=12, target_verts=vb, target_faces=fb)
    seq.target_lengths[::2] = 40                           # pretend some frames have fewer points
    cfg = _config(tmp_path, 1)
    for key, value in loss.items():
        setattr(cfg.loss, key, value)
    trainer = Trainer(TalkingHead(cfg.model), cfg, [seq])
    record = trainer.fit()
    assert np.isfinite(record["train_loss"]) and record["train_loss"] > 0
    parts = trainer.evaluate([seq])
    assert loss["unregistered"] in parts and "tangential" in parts


def test_unregistered_loss_config_errors(tmp_path, tiny_data):
    from meshtalk.errors import MeshtalkError
    from tests.model._ops import ellipsoid_fibonacci

    v, f = ellipsoid(1)
    vb, fb = ellipsoid_fibonacci(50)
    seq = make_sequence(v, f, tiny_data[0].ops, 0, n_frames=12, target_verts=vb, target_faces=fb)
    for bad, match in (({"surface_reference_frame": 12}, "outside a 12-frame"), ({"unregistered": "icp"}, "surface")):
        cfg = _config(tmp_path, 1)
        for key, value in bad.items():
            setattr(cfg.loss, key, value)
        with pytest.raises(MeshtalkError, match=match) as info:
            Trainer(TalkingHead(cfg.model), cfg, [seq]).fit()
        assert "\n" not in str(info.value)


def test_cli_train_on_faceformer_layout(tmp_path, tiny_data):
    import trimesh

    root = tmp_path / "data"
    (root / "wav").mkdir(parents=True)
    (root / "vertices_npy").mkdir()
    (root / "templates").mkdir()
    v, f = ellipsoid(1)
    trimesh.Trimesh(v, f, process=False).export(root / "templates" / "F2.obj")
    for i, seq in enumerate(tiny_data):
        stem = f"F2_e{i + 1:02d}"
        np.save(root / "vertices_npy" / f"{stem}.npy", seq.target.reshape(len(seq.target), -1))
        sf.write(root / "wav" / f"{stem}.wav", seq.audio, 16000)
    cfg = to_dict(_config(tmp_path / "run", 1))
    cfg["data"] = {"layout": "faceformer", "root": str(root), "dataset": "biwi", "val_split": None}
    cfg["train"]["device"] = "cpu"
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(cfg))
    assert cli_main(["train", "--config", str(tmp_path / "exp.yaml")]) == 0
    model = load_model(tmp_path / "run" / "checkpoints" / "last.safetensors")
    assert model.config.fps == 25.0


def test_cli_train_reports_bad_config(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("train: {epoch: 3}\n")
    assert cli_main(["train", "--config", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'epoch'" in err and len(err.strip().splitlines()) == 1
