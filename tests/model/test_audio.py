import pytest
import torch

from meshtalk.errors import MeshtalkError
from meshtalk.model.audio import AudioEncoder, normalize_waveform, num_motion_frames
from meshtalk.model.config import AudioEncoderConfig


def _scratch():
    return AudioEncoder(AudioEncoderConfig(kind="scratch", scratch_hidden=32, scratch_layers=1,
                                           scratch_heads=2, scratch_conv_dim=16))


@pytest.mark.parametrize("seconds, fps", [(1.0, 30), (1.3, 25), (0.7, 60), (2.0, 24.0)])
def test_output_length_equals_motion_frames(seconds, fps):
    enc = _scratch().eval()
    n = int(seconds * 16000)
    T = num_motion_frames(n, fps)
    assert T == round(seconds * fps)
    with torch.no_grad():
        out = enc(torch.randn(1, n), T)
    assert out.shape == (1, T, 32)


def test_one_sample_and_silence():
    enc = _scratch().eval()
    with torch.no_grad():
        one = enc(torch.zeros(1), num_motion_frames(1, 30))
        silent = enc(torch.zeros(1, 16000), 30)
    assert one.shape == (1, 1, 32) and torch.isfinite(one).all() and torch.isfinite(silent).all()
    assert torch.equal(normalize_waveform(torch.zeros(1, 5)), torch.zeros(1, 5))


def _save_tiny(kind, folder):
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model

    cfg_cls, model_cls = (HubertConfig, HubertModel) if kind == "hubert" else (Wav2Vec2Config, Wav2Vec2Model)
    cfg = cfg_cls(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    model_cls(cfg).save_pretrained(folder)


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert"])
def test_pretrained_from_local_folder(kind, tmp_path):
    _save_tiny(kind, tmp_path / kind)
    enc = AudioEncoder(AudioEncoderConfig(kind=kind, source=str(tmp_path / kind), freeze_transformer=False))
    cnn = list(enc.backbone.feature_extractor.parameters())
    assert cnn and not any(p.requires_grad for p in cnn)
    assert any(p.requires_grad for p in enc.backbone.encoder.parameters())
    out = enc(torch.randn(2, 8000), 15)
    assert out.shape == (2, 15, 32)
    out.sum().backward()
    frozen = AudioEncoder(AudioEncoderConfig(kind=kind, source=str(tmp_path / kind), freeze_transformer=True))
    assert not any(p.requires_grad for p in frozen.parameters())
    # rebuild from the stored HF config without the folder (what a checkpoint does)
    rebuilt = AudioEncoder(AudioEncoderConfig(kind=kind, source="/gone", hf_config=enc.config.hf_config),
                           load_pretrained=False)
    rebuilt.load_state_dict(enc.state_dict())
    enc.eval(), rebuilt.eval()
    x = torch.randn(1, 8000)
    with torch.no_grad():
        torch.testing.assert_close(enc(x, 10), rebuilt(x, 10))


@pytest.mark.parametrize("source", ["/no/such/folder", "./missing-model", "facebook/not-a-cached-model-xyz"])
def test_missing_model_is_a_one_line_error_naming_the_fix(source, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MeshtalkError) as info:
        AudioEncoder(AudioEncoderConfig(kind="hubert", source=source))
    msg = str(info.value)
    assert "\n" not in msg and "folder" in msg and "--audio-encoder" in msg


def test_pretrained_kind_without_source():
    with pytest.raises(MeshtalkError, match="needs a source"):
        AudioEncoder(AudioEncoderConfig(kind="wav2vec2"))
