import pytest
import torch

from meshtalk.errors import MeshtalkError
from meshtalk.model import TalkingHead, load_model, save_model
from meshtalk.model.checkpoint import checkpoint_metadata
from tests.model._ops import ellipsoid, make_ops
from tests.model._synth import tiny_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = TalkingHead(tiny_config()).eval()
    torch.nn.init.normal_(model.decoder.last_lin.weight, std=0.1)
    path = save_model(model, tmp_path_factory.mktemp("ckpt") / "model.safetensors", metadata={"step": 7})
    return model, path


def test_round_trip_gives_identical_predictions(saved):
    model, path = saved
    assert path.with_suffix(".yaml").is_file()
    back = load_model(path)
    assert back.config == model.config
    v, f = ellipsoid(1)
    ops = make_ops(v, f, 12)
    neutral = torch.tensor(v, dtype=torch.float32)
    wav = torch.randn(8000)
    with torch.no_grad():
        torch.testing.assert_close(model(neutral, ops, wav, 12), back(neutral, ops, wav, 12))
    assert checkpoint_metadata(path)["step"] == "7"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "header"])
def test_corrupt_checkpoint_is_a_one_line_error(saved, tmp_path, damage):
    _, path = saved
    data = path.read_bytes()
    bad = tmp_path / "bad.safetensors"
    if damage == "truncate":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"\x00\x01not a checkpoint" * 10)
    elif damage == "empty":
        bad.write_bytes(b"")
    else:
        bad.write_bytes(data[:8] + b"{" * 16 + data[24:])
    with pytest.raises(MeshtalkError) as info:
        load_model(bad)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)


def test_foreign_safetensors_and_missing_file(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(MeshtalkError, match="not a meshtalk model"):
        load_model(other)
    with pytest.raises(MeshtalkError, match="not found"):
        load_model(tmp_path / "missing.safetensors")


def test_save_does_not_leave_temporary_files(saved):
    _, path = saved
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
