import pytest

from meshtalk.errors import MeshtalkError
from meshtalk.model.config import TalkingHeadConfig, from_dict, load_yaml, save_yaml, to_dict


def test_yaml_round_trip(tmp_path):
    cfg = TalkingHeadConfig(k_eig=64, fusion="film")
    cfg.temporal.kind = "gru"
    cfg.decoder.mlp_hidden = (16, 8)
    cfg.template_extent = (0.1, 0.2, 0.3)
    path = save_yaml(cfg, tmp_path / "m.yaml")
    back = load_yaml(TalkingHeadConfig, path)
    assert back == cfg
    assert isinstance(back.decoder.mlp_hidden, tuple)


@pytest.mark.parametrize("data, match", [
    ({"widht": 3}, "unknown key 'widht'"),
    ({"k_eig": "many"}, "k_eig: expected an integer"),
    ({"temporal": {"kind": "lstm"}}, "temporal.kind"),
    ({"encoder": {"n_blocks": True}}, "expected an integer"),
])
def test_bad_config_values_are_named(data, match):
    with pytest.raises(MeshtalkError, match=match):
        from_dict(TalkingHeadConfig, data)


def test_missing_and_invalid_yaml_files(tmp_path):
    with pytest.raises(MeshtalkError, match="not found"):
        load_yaml(TalkingHeadConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("k_eig: [1,\n")
    with pytest.raises(MeshtalkError, match="not valid YAML"):
        load_yaml(TalkingHeadConfig, bad)


def test_defaults_are_the_reference_shape():
    d = to_dict(TalkingHeadConfig())
    assert d["encoder"]["width"] == 32 and d["encoder"]["n_blocks"] == 4
    assert d["decoder"]["width"] == 32 and d["decoder"]["n_blocks"] == 4
    assert d["k_eig"] == 128 and d["temporal"]["kind"] == "bilstm" and d["fusion"] == "concat"
