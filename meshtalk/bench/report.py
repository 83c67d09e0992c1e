"""The ``bench`` section of ``docs/benchmarks.md``: markdown tables and links to the plots.

The section is delimited like every other benchmark's (``<!-- BEGIN bench -->`` ...
``<!-- END bench -->``) and written with ``benchmarks/_report.py:update_section`` of the checkout
the package lives in; an installed package without that file uses the same rule here.
"""

from __future__ import annotations

import importlib.util
import math
import os
import platform
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from meshtalk.bench.quality import METHODS, QualityResult
from meshtalk.bench.speed import SpeedRow

__all__ = ["SECTION", "bench_markdown", "quality_markdown", "speed_markdown", "write_section"]

#: Section id in the report.
SECTION = "bench"
FULL_COMMAND = "meshtalk bench --out docs/img/bench-full --report docs/benchmarks.md"
QUICK_COMMAND = "meshtalk bench --quick"


def _fmt(x: float, spec: str = "{:.3g}") -> str:
    return "–" if x is None or not math.isfinite(x) else spec.format(x)


def _trio(d: dict, key: str, spec: str = "{:.3g}") -> str:
    return " / ".join(_fmt(d[m][key], spec) for m in METHODS)


def quality_markdown(result: QualityResult, *, plots: dict[str, str] | None = None) -> str:
    """Markdown of the quality tables (``plots``: name -> relative link of a PNG)."""
    s = result.summary
    head = ("| test subset | n | LVE mm² | opening DTW mm | opening Fréchet mm | opening corr. |\n"
            "|---|---|---|---|---|---|")

    def rows(groups: Sequence[str]) -> list[str]:
        return [f"| {g} | {s[g]['n']} | {_trio(s[g], 'lve_mm2')} | {_trio(s[g], 'opening_dtw_mm')} | "
                f"{_trio(s[g], 'opening_frechet_mm')} | {_trio(s[g], 'opening_corr', '{:.2f}')} |"
                for g in groups if g in s]

    order = ["all"] + [g for p in ("meshing ", "voice ", "head ") for g in s if g.startswith(p)]
    lines = [
        "### Quality on the synthetic test split",
        "",
        f"Model: `{result.model}`. Every cell is **model / neutral mesh / loudness-driven jaw** "
        f"(loudness gains jaw {result.gains.jaw:.3g}, lip aperture {result.gains.lip_aperture:.3g}, "
        "fitted on training-split speech; the baseline moves the head's true displacement field). "
        "Means over sequences; lower is better except the correlation. LVE uses each meshing's "
        "automatic lip mask (named below); the opening curve is the distance between the automatic "
        "upper and lower lip landmarks. Test material: held-out sentences, voices "
        f"({', '.join(sorted({r['voice'] for r in result.rows}))}) and heads "
        f"({', '.join(sorted({r['head'] for r in result.rows}))}).",
        "",
        head,
        *rows(order),
        "",
        "| meshing | vertices | lip mask (LVE) | auto mouth width mm (head's own) | GT opening range mm |",
        "|---|---|---|---|---|",
    ]
    seen: dict[str, list[dict]] = {}
    for r in result.rows:
        seen.setdefault(r["meshing"], []).append(r)
    for m, rs in seen.items():
        rng = sum(r["gt_opening_range_mm"] for r in rs) / len(rs)
        flag = " (landmarks miss the parting lips: curve metrics left out)" if rng < 0.5 else ""
        widths = f"{rs[0].get('auto_mouth_width_mm', math.nan):.1f} ({rs[0].get('true_mouth_width_mm', math.nan):.1f})"
        lines.append(f"| {m} | {rs[0]['vertices']} | {result.masks[m]} | {widths} | {rng:.2f}{flag} |")
    lines += ["", "The automatic lip landmarks (`meshtalk.metrics.find_lip_landmarks`) set the lip mask and "
              "the opening curve; where their mouth width is far from the head's own, the LVE of that "
              "meshing measures a different region and is not comparable across meshings."]
    if plots:
        lines.append("")
        for key, caption in (("heatmap", "Mean per-vertex error of the model"),
                             ("curves", "Mouth opening: ground truth, model, baselines")):
            if key in plots:
                lines.append(f"![{caption}]({plots[key]})")
    return "\n".join(lines)


def speed_markdown(rows: Sequence[SpeedRow], *, seconds: float, plot: str | None = None) -> str:
    """Markdown of the speed table (``plot``: relative link of the PNG)."""
    threads = rows[0].threads if rows else "?"
    lines = [
        "### Speed and peak memory per vertex count",
        "",
        f"A held-out synthetic head remeshed to each size; each size in a fresh subprocess ({threads} "
        f"torch threads, CPU). Precompute = operators (Laplacian, eigenbasis, gradients; no cache); "
        f"audio encode = {seconds:g} s of audio; decode per frame = {rows[0].frames if rows else '?'} "
        "frames decoded at once; timings are the best of several calls after a warm-up (wall clock, "
        "so on shared cores a stalled thread can still inflate one figure); peak RSS of the whole "
        "subprocess (imports and model included).",
        "",
        "| target | vertices | precompute s | audio encode s | decode ms/frame | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.target_vertices} | {r.vertices} | {r.precompute_s:.3g} | {r.audio_encode_s:.3g} | "
                     f"{r.decode_ms_per_frame:.3g} | {r.peak_rss_mib:.0f} |")
    if plot:
        lines += ["", f"![Time vs vertex count]({plot})"]
    return "\n".join(lines)


def bench_markdown(*, quick: bool, wall_s: float, quality: QualityResult | None,
                   speed: Sequence[SpeedRow] | None, speed_seconds: float,
                   plots: dict[str, str] | None = None, command: str | None = None,
                   cpu_s: float | None = None, load: float | None = None) -> str:
    """The whole ``bench`` section (``cpu_s``: user+system CPU time of the run and its subprocesses;
    ``load``: the 1-minute load average at the end, since the cores may be shared)."""
    plots = plots or {}
    cmd = command or (QUICK_COMMAND if quick else FULL_COMMAND)
    lines = [
        f"## meshtalk bench ({'quick' if quick else 'full'} run)",
        "",
        f"Command: `{cmd}` — wall time {wall_s / 60:.1f} min"
        + (f" (CPU time {cpu_s / 60:.1f} min)" if cpu_s is not None else "")
        + f" on {os.cpu_count()} CPU cores ({platform.machine()}, Python {platform.python_version()})"
        + (f", shared: load average {load:.1f} at the end" if load is not None else "")
        + ". The full benchmark (3 test "
        "heads, 4 test voices, 5 sentences, 8 meshings up to a ~100k-vertex scan, sizes up to 100k "
        f"vertices) is `{FULL_COMMAND}`.",
        "",
    ]
    if quality is not None:
        lines += [quality_markdown(quality, plots=plots), ""]
    if speed:
        lines += [speed_markdown(speed, seconds=speed_seconds, plot=plots.get("speed")), ""]
    return "\n".join(lines)


def _checkout_update_section():
    """``benchmarks/_report.py:update_section`` of the checkout, or None."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "_report.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("_meshtalk_benchmarks_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.update_section


def write_section(report: Path, markdown: str, name: str = SECTION) -> Path:
    """Replace (or append) section ``name`` of ``report`` atomically; other sections are kept."""
    update = _checkout_update_section()
    if update is not None:
        return update(name, markdown, report=Path(report))
    report = Path(report)  # pragma: no cover - installed package without the checkout's helper
    report.parent.mkdir(parents=True, exist_ok=True)
    text = report.read_text() if report.exists() else "# Benchmarks\n"
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    fd, tmp = tempfile.mkstemp(dir=report.parent, prefix=".benchmarks.", suffix=".md")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, report)
    return report
