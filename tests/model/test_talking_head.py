import pytest
import torch

from meshtalk.model import TalkingHead, TalkingHeadConfig
from meshtalk.model.config import TemporalConfig
from tests.model._ops import ellipsoid, make_ops
from tests.model._synth import tiny_config


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_default_head_has_the_reference_parameter_counts():
    """Counts published for the reference head (research note): DN_e 30,368; DN_d 31,363 (its
    first linear 64->32 is our concat fusion); BiLSTM 3 x (32 -> 2 x 16) 19,200."""
    model = TalkingHead(TalkingHeadConfig())
    assert _count(model.geometry_encoder) == 30_368
    assert _count(model.decoder) + _count(model.fusion) == 31_363
    assert _count(model.temporal) == 19_200
    assert model.audio_projection.out_features == 32


@pytest.fixture(scope="module")
def mesh():
    v, f = ellipsoid(2)
    return torch.tensor(v, dtype=torch.float32), make_ops(v, f, 24)


def test_untrained_model_returns_the_neutral_mesh(mesh):
    neutral, ops = mesh
    model = TalkingHead(tiny_config()).eval()
    with torch.no_grad():
        out = model(neutral, ops, torch.randn(16000), 30)
    assert out.shape == (30, len(neutral), 3)
    torch.testing.assert_close(out, neutral[None].expand_as(out))


@pytest.mark.parametrize("temporal", ["bilstm", "gru", "transformer", "none"])
@pytest.mark.parametrize("fusion", ["concat", "film"])
def test_configurations_run_and_chunking_does_not_change_output(mesh, temporal, fusion):
    neutral, ops = mesh
    torch.manual_seed(0)
    cfg = tiny_config(fusion=fusion)
    cfg.temporal = TemporalConfig(kind=temporal, layers=1, hidden=16, heads=2)
    model = TalkingHead(cfg).eval()
    torch.nn.init.normal_(model.decoder.last_lin.weight, std=0.1)
    with torch.no_grad():
        g = model.encode_geometry(neutral, ops)
        a = model.encode_audio(torch.randn(1, 12000), 22)[0]
        full = model.decode(g, a, ops, chunk_frames=64)
        chunked = model.decode(g, a, ops, chunk_frames=5)
    assert full.shape == (22, len(neutral), 3) and full.abs().sum() > 0
    torch.testing.assert_close(full, chunked, atol=1e-5, rtol=1e-4)


def test_gradient_checkpointing_gives_the_same_gradients(mesh):
    neutral, ops = mesh
    torch.manual_seed(0)
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        model = TalkingHead(tiny_config(gradient_checkpointing=ckpt)).train()
        torch.nn.init.normal_(model.decoder.last_lin.weight, std=0.1)
        torch.manual_seed(1)
        out = model(neutral, ops, torch.randn(8000), 15, chunk_frames=4)
        out.pow(2).mean().backward()
        grads.append(model.geometry_encoder.first_lin.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-4)


def test_bad_neutral_shape(mesh):
    _, ops = mesh
    with pytest.raises(ValueError, match=r"neutral must be \(V, 3\)"):
        TalkingHead(tiny_config()).encode_geometry(torch.zeros(10, 2), ops)


def test_normal_input_feeds_the_frame_normals(mesh):
    import dataclasses

    neutral, ops = mesh
    torch.manual_seed(0)
    model = TalkingHead(tiny_config(normal_input=True)).eval()
    assert model.geometry_encoder.first_lin.in_features == 6
    flipped = dataclasses.replace(ops, frames=ops.frames * torch.tensor([1.0, 1.0, -1.0])[:, None])
    with torch.no_grad():
        g = model.encode_geometry(neutral, ops)
        g_flip = model.encode_geometry(neutral, flipped)
        # the normal columns of the first layer are what sees them: zeroed, the normals do not matter
        model.geometry_encoder.first_lin.weight[:, 3:] = 0.0
        h, h_flip = model.encode_geometry(neutral, ops), model.encode_geometry(neutral, flipped)
    assert (g - g_flip).abs().max() > 1e-4
    torch.testing.assert_close(h, h_flip)
    # a 3-input model with the same weights gives the same code (the widened model starts as it)
    plain = TalkingHead(tiny_config()).eval()
    own = plain.state_dict()
    plain.load_state_dict({k: (v[:, :3] if k == "geometry_encoder.first_lin.weight" else v)
                           for k, v in model.state_dict().items() if k in own})
    with torch.no_grad():
        torch.testing.assert_close(plain.encode_geometry(neutral, ops), h)
