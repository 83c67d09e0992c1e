"""Acceptance: a model trained with the unregistered (Chamfer) loss on remeshed targets reaches
within 1.5x of the registered model's vertex error on the same test sequences.

Two trainings: opt-in (``MESHTALK_SLOW_TESTS=1``) to keep the default suite short.
Status (see the issue-3 report): NOT met yet on this tiny setup; vertex spacing of the 162-vertex
template (~0.17) dwarfs the motion (mean 0.002), and Chamfer's target->prediction term pulls
vertices inwards by about curvature x spacing^2, which exceeds the motion itself.
"""

import os
import tempfile

import numpy as np
import pytest
import torch

from meshtalk.model import TalkingHead
from meshtalk.train import ExperimentConfig, Trainer
from tests.model._ops import ellipsoid, ellipsoid_fibonacci, make_ops
from tests.model._synth import make_sequence, tiny_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("MESHTALK_SLOW_TESTS"), reason="set MESHTALK_SLOW_TESTS=1"),
]


def _train(sequences, epochs=40):
    torch.manual_seed(0)
    cfg = ExperimentConfig(model=tiny_config(fusion="film"))
    cfg.train.out_dir = tempfile.mkdtemp(prefix="meshtalk-unreg-")
    cfg.train.epochs, cfg.train.lr, cfg.train.lr_schedule = epochs, 1e-2, "cosine"
    cfg.train.grad_clip = 1.0
    cfg.train.progress, cfg.train.val_every, cfg.train.checkpoint_every = False, 10**6, 10**6
    model = TalkingHead(cfg.model)
    Trainer(model, cfg, sequences).fit()
    return model.eval()


def _vertex_error(model, seqs):
    errs = []
    with torch.no_grad():
        for s in seqs:
            pred = model(torch.tensor(s.neutral), s.ops, torch.tensor(s.audio), s.num_frames)
            errs.append(torch.linalg.norm(pred - torch.tensor(s.target), dim=-1).mean().item())
    return float(np.mean(errs))


def test_unregistered_training_is_within_1_5x_of_registered():
    v, f = ellipsoid(2)
    vr, fr = ellipsoid_fibonacci(300)                 # the targets' own meshing
    ops = make_ops(v, f, 24)
    seeds = range(2)
    registered = [make_sequence(v, f, ops, s, n_frames=30) for s in seeds]
    unregistered = [make_sequence(v, f, ops, s, n_frames=30, target_verts=vr, target_faces=fr) for s in seeds]
    test = [make_sequence(v, f, ops, s, n_frames=30) for s in (10, 11)]
    err_reg = _vertex_error(_train(registered), test)
    err_unreg = _vertex_error(_train(unregistered), test)
    err_neutral = float(np.mean([np.linalg.norm(s.target - s.neutral[None], axis=-1).mean() for s in test]))
    assert err_reg < err_neutral
    assert err_unreg <= 1.5 * err_reg, (err_unreg, err_reg, err_neutral)
