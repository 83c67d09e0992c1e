"""Write one benchmark's section into docs/benchmarks.md without touching the others.

Each benchmark script owns a section delimited by ``<!-- BEGIN name -->`` / ``<!-- END name -->``
markers; re-running the script replaces only its section (appended if new). Writes are atomic.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Every section below is written by a script in `benchmarks/`; the command that produced it is "
    "given in the section. Timings are wall-clock on the machine named in each section; speed-ups "
    "are ratios against a reference run in the same process.\n"
)


def update_section(name: str, markdown: str, report: Path = REPORT) -> Path:
    """Replace (or append) the section ``name`` of the benchmark report.

    Args:
        name: section id, e.g. ``"operators"``; letters, digits, ``-`` and ``_``.
        markdown: the section body (should start with a ``## `` heading and name its command).
        report: the report file (default: ``docs/benchmarks.md`` of this checkout).
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"bad section name {name!r}")
    report.parent.mkdir(parents=True, exist_ok=True)
    import fcntl

    # benchmark scripts may finish at the same time: read-modify-write under an exclusive lock
    with open(report.parent / ".benchmarks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _update_locked(report, name, markdown)


def _update_locked(report: Path, name: str, markdown: str) -> Path:
    text = report.read_text() if report.exists() else HEADER
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    fd, tmp = tempfile.mkstemp(dir=report.parent, prefix=".benchmarks.", suffix=".md")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, report)
    return report
