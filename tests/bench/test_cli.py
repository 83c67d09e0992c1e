"""meshtalk/cli/bench.py: the CLI writes its report section (other sections kept) and its PNGs."""

from __future__ import annotations

import json

import pytest

from meshtalk.cli import main


def test_bench_quick_writes_section_and_plots(tmp_path, tiny_model_dir, voice, capsys):
    report = tmp_path / "docs" / "benchmarks.md"
    report.parent.mkdir()
    report.write_text("# Benchmarks\n\n<!-- BEGIN other -->\n## other\nkept\n<!-- END other -->\n")
    out = tmp_path / "docs" / "img" / "bench"
    rc = main(["bench", "--quick", "--model", str(tiny_model_dir), "--out", str(out), "--report", str(report),
               "--sizes", "600", "--sentences", "1", "--voices", voice, "--threads", "1", "--no-progress"])
    assert rc == 0
    text = report.read_text()
    assert "<!-- BEGIN other -->\n## other\nkept\n<!-- END other -->" in text
    assert text.count("<!-- BEGIN bench -->") == 1 and "<!-- END bench -->" in text
    assert "| all | 3 |" in text                       # 1 voice x 1 sentence x 3 meshings
    assert "lips-auto (" in text and "| 600 |" in text
    for name in ("error_heatmap.png", "opening_curves.png", "speed.png"):
        png = out / name
        assert f"](img/bench/{name})" in text
        import matplotlib.image as mpimg

        assert 0 < png.stat().st_size < 300_000 and mpimg.imread(png)[..., :3].std() > 0.02
    q = json.loads((out / "quality.json").read_text())
    assert {r["meshing"] for r in q["rows"]} == {"template", "remesh_2k", "pointcloud_2k"}
    assert "wrote the 'bench' section" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--no-quality", "--no-speed"], "nothing to do"),
    (["--sizes", "2k"], "--sizes must be"),
    (["--model", "does/not/exist"], "model not found"),
    (["--threads", "0"], "--threads"),
])
def test_bench_errors_are_one_line(argv, message, tmp_path, capsys):
    rc = main(["bench", "--report", str(tmp_path / "b.md"), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
