"""Acceptance: a model trained with the unregistered loss on remeshed targets reaches within 1.5x
of the registered model's vertex error on the same test sequences.

Honest setup: the unregistered targets are a *different meshing* of the surface (300 Fibonacci
points with their own triangulation, deformed by the same field) and carry no correspondence; the
test error of both models is measured on held-out sequences against exact per-vertex ground truth
on the template. The default unregistered loss (point-to-surface through local quadric fits) meets
the bound; plain vertex-to-point Chamfer does not: on this 162-vertex template its sampling bias
(about curvature x spacing^2) exceeds the motion itself, and it is kept here as the control that
shows the test can fail.
"""

import tempfile

import numpy as np
import pytest
import torch

from meshtalk.model import TalkingHead
from meshtalk.train import ExperimentConfig, Trainer
from tests.model._ops import ellipsoid, ellipsoid_fibonacci, make_ops
from tests.model._synth import make_sequence, tiny_config

pytestmark = pytest.mark.slow          # about 30 s on one core: three tiny trainings


def _train(sequences, epochs=80, **loss):
    torch.manual_seed(0)
    cfg = ExperimentConfig(model=tiny_config(fusion="film"))
    cfg.train.out_dir = tempfile.mkdtemp(prefix="meshtalk-unreg-")
    cfg.train.epochs, cfg.train.lr, cfg.train.lr_schedule = epochs, 1e-2, "cosine"
    cfg.train.grad_clip = 1.0
    cfg.train.progress, cfg.train.val_every, cfg.train.checkpoint_every = False, 10**6, 10**6
    for key, value in loss.items():
        setattr(cfg.loss, key, value)
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
    seeds = range(3)
    registered = [make_sequence(v, f, ops, s, n_frames=30) for s in seeds]
    unregistered = [make_sequence(v, f, ops, s, n_frames=30, target_verts=vr, target_faces=fr) for s in seeds]
    assert unregistered[0].target.shape[1] != len(v)
    test = [make_sequence(v, f, ops, s, n_frames=30) for s in (10, 11)]
    err_neutral = float(np.mean([np.linalg.norm(s.target - s.neutral[None], axis=-1).mean() for s in test]))
    err_reg = _vertex_error(_train(registered), test)
    err_unreg = _vertex_error(_train(unregistered, unregistered="surface"), test)
    assert err_reg < 0.5 * err_neutral, (err_reg, err_neutral)     # the baseline did learn
    assert err_unreg <= 1.5 * err_reg, (err_unreg, err_reg, err_neutral)
    err_chamfer = _vertex_error(_train(unregistered, unregistered="chamfer"), test)
    assert err_chamfer > 1.5 * err_reg, (err_chamfer, err_reg)
