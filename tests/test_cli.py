"""The command line: one-line errors, exit codes, no cache entry on bad input."""

import subprocess
import sys

import numpy as np
import pytest
import trimesh

from meshtalk.cli import main
from tests.geometry.shapes import bumpy_sphere


def _run(*args, env_cache):
    return subprocess.run(
        [sys.executable, "-m", "meshtalk", *args],
        capture_output=True, text=True, env={"MESHTALK_CACHE": str(env_cache), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def sphere_obj(tmp_path_factory):
    p = tmp_path_factory.mktemp("m") / "sphere.obj"
    trimesh.Trimesh(*bumpy_sphere(1200), process=False).export(p)
    return p


def test_info_and_precompute(sphere_obj, tmp_path, capsys):
    assert main(["info", str(sphere_obj)]) == 0
    out = capsys.readouterr().out
    assert "vertices:      1200" in out and "watertight:    yes" in out
    assert main(["precompute", str(sphere_obj), "-k", "16", "--cache-dir", str(tmp_path)]) == 0
    assert len(list(tmp_path.rglob("*.npz"))) == 1


def test_precompute_cut_facing_keys_a_cloud_with_normals_apart(tmp_path, capsys):
    rng = np.random.default_rng(0)
    p = rng.normal(size=(600, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    cloud = tmp_path / "cloud.npy"
    np.save(cloud, np.concatenate([p, p], axis=1))            # (N, 6): points and their normals
    for flag in ([], ["--cut-facing"], ["--cut-facing", "--cut-rule", "opposed"]):
        assert main(["precompute", str(cloud), "-k", "8", "--cache-dir", str(tmp_path / "c"), *flag]) == 0
    entries = [line.rsplit("-> ", 1)[1] for line in capsys.readouterr().out.splitlines() if "-> " in line]
    assert len(entries) == 3 and len(set(entries)) == 3
    assert len(list((tmp_path / "c").rglob("*.npz"))) == 3


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("empty.obj", "", "empty file"),
        ("nan.obj", "v 0 0 0\nv nan 0 0\nv 0 1 0\nv 1 1 1\nf 1 2 3\n", "NaN"),
        ("three.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n", "only 3 points"),
        ("range.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 1\nf 1 2 7\n", "outside"),
        ("text.ply", "this is not a mesh at all", "text.ply"),
    ],
)
def test_bad_input_one_line_error_nonzero_exit_no_cache_entry(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    cache = tmp_path / "cache"
    r = _run("precompute", str(path), "-k", "8", env_cache=cache)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meshtalk: error:"), r.stderr
    assert name in lines[0] and match.lower() in lines[0].lower()
    assert "Traceback" not in r.stderr
    assert not cache.exists() or not any(cache.rglob("*.npz"))


def test_missing_file(tmp_path):
    r = _run("info", str(tmp_path / "nope.obj"), env_cache=tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
