"""The synthetic talking-face corpus on disk: registered (FaceFormer) and unregistered layouts.

One sequence = one sentence spoken by one voice, animating one head. The speech engine gives the
phone timeline, :func:`~meshtalk.data.synth.articulation.articulation_curves` the jaw/lip curves,
and the displacement field of :mod:`meshtalk.data.synth.motion` the exact motion of any meshing.

Layout of ``DIR`` (everything written to a temporary name, then renamed)::

    manifest.json                     generator settings, heads, voices, splits, one record per sequence
    templates.pkl                     {subject: (V, 3) float32} neutral templates (subject = head),
                                      all in one topology (vertex i = the same point on every head)
    faces/<subject>.npy               (F, 3) int32 template triangles (the same for every subject)
    templates/<subject>.obj           the template mesh
    wav/<subject>_<sentence>.wav      16 kHz mono PCM-16 speech
    wav/<subject>_<sentence>.phones.json   the engine's phone timeline
    vertices_npy/<subject>_<sentence>.npy  (T, V*3) float32 template motion at ``fps``
    articulation/<subject>_<sentence>.npy  (T, 4) float32 jaw, lip_aperture, protrusion, spread
    unregistered/<subject>_<sentence>.npz  the same motion on another meshing of the head:
        neutral_verts (V, 3) float32, faces (F, 3) int32 (absent for a point cloud),
        normals (V, 3) float32, articulation (T, 4) float32, fps () float64, subject () str,
        verts (T, P, 3) float32 targets: every vertex in order (P = V) when V ≤ ``DENSE_LIMIT``,
        else P = ``TARGET_POINTS`` vertices, target_index (P,) int32 saying which;
        motion_points (V, 3) float32 only for a noisy scan: the clean surface points whose
        motion its vertices carry (``verts = neutral_verts + displace(motion_points)``)
    splits.json                       {"train": [name, ...], "val": [...], "test": [...]}

Splits are fixed by construction: a sequence is in split X only if its head, its voice and its
sentence all belong to X (test voices: :data:`~meshtalk.data.synth.speech.TEST_VOICES`).
The same seed gives the same bytes in every file.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshtalk.data.synth.heads import Head, make_head
from meshtalk.data.synth.motion import MouthField
from meshtalk.data.synth.scans import Scan, make_scan, permute
from meshtalk.errors import MeshtalkError

__all__ = ["CorpusConfig", "build_corpus", "make_sentence", "DENSE_LIMIT", "FORMAT_VERSION"]

log = logging.getLogger(__name__)

def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()

FORMAT_VERSION = 1
#: Unregistered meshes up to this many vertices store every frame's vertices.
DENSE_LIMIT = 12000
#: Surface samples per frame stored for bigger unregistered meshes.
TARGET_POINTS = 6000
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class CorpusConfig:
    """Settings of one corpus build.

    Attributes:
        out: output directory (created; must be empty unless ``overwrite``).
        hours: hours of speech to generate (> 0).
        seed: master seed; the same seed gives byte-identical files.
        fps: motion frame rate.
        heads: number of heads (default from the hours: 10·√hours, 3..24).
        voices: voices to use (default every installed one).
        sample_rate: audio rate in Hz.
        template_vertices: vertex count of each head's template.
        unregistered: also write the unregistered layout.
        overwrite: allow a non-empty ``out``.
        progress: show a tqdm progress bar.
    """

    out: Path
    hours: float
    seed: int = 0
    fps: float = 30.0
    heads: int | None = None
    voices: tuple[str, ...] | None = None
    sample_rate: int = 16000
    template_vertices: int = 6000
    unregistered: bool = True
    overwrite: bool = False
    progress: bool = True


# ----------------------------------------------------------------------------------------------
# sentences

_SUBJECTS = ("the man", "a baby", "my mother", "the pilot", "his brother", "our boss", "a monkey",
             "the farmer", "Bob", "Pam", "the woman", "every player", "the poet", "a tourist",
             "the old sailor", "my neighbour", "the young doctor", "a waiter", "the teacher",
             "Maria", "the children", "Martin", "the busy mayor", "a shepherd")
_VERBS = ("bought", "moved", "painted", "grabbed", "kept", "found", "washed", "fixed", "opened",
          "brought", "played with", "looked at", "sold", "watched", "borrowed", "buried",
          "carried", "mopped", "pushed", "threw", "chose", "measured", "ate", "cooked")
_OBJECTS = ("a blue umbrella", "the broken piano", "some warm bread", "a map of Boston",
            "the purple balloon", "two heavy boxes", "a bottle of milk", "the shiny bicycle",
            "my favourite book", "a bowl of soup", "the wooden boat", "five ripe apples",
            "the small blue phone", "a pair of boots", "the old window", "a bag of beans",
            "the spotted dog", "a cup of coffee", "the yellow moon", "a pile of maps",
            "the huge machine", "a bunch of flowers", "the red shoe", "some fresh fish")
_TAILS = ("", "", " before lunch", " in the morning", " by the river", " at the museum",
          " with a smile", " for a few minutes", " near the beach", " on Monday",
          " under the bridge", " after the movie", " without any help", " at midnight")
_QUESTIONS = ("Why did {s} do that?", "Would you bring me {o}?", "Is {o} really worth it?",
              "Who moved {o}?", "How much did {s} pay?", "Where is {o} now?")
_EXCLAIMS = ("Oh no, {s} missed the bus!", "Wow, that was amazing!", "Please open the window.",
             "Maybe tomorrow.", "Yes, I think so.", "Mind the gap between the train and the platform.")


def make_sentence(index: int, *, seed: int = 0) -> str:
    """The ``index``-th sentence of the corpus text generator (deterministic).

    Statements, questions and short exclamations from a small English grammar rich in bilabials
    (/p b m/) and rounded vowels.

    Args:
        index: non-negative sentence index.
        seed: text seed.

    Returns:
        One sentence with final punctuation.
    """
    rng = np.random.default_rng([int(seed), int(index), 0x7E47])
    s, v, o, t = (x[rng.integers(len(x))] for x in (_SUBJECTS, _VERBS, _OBJECTS, _TAILS))
    kind = rng.uniform()
    if kind < 0.7:
        text = f"{s} {v} {o}{t}."
        return text[0].upper() + text[1:]
    if kind < 0.85:
        return _QUESTIONS[rng.integers(len(_QUESTIONS))].format(s=s, o=o)
    if rng.uniform() < 0.5:
        return f"{s} {v} {o}, and then {_SUBJECTS[rng.integers(len(_SUBJECTS))]} " \
               f"{_VERBS[rng.integers(len(_VERBS))]} it{t}.".capitalize()
    return _EXCLAIMS[rng.integers(len(_EXCLAIMS))].format(s=s, o=o)


def _sentence_split(index: int) -> str:
    r = index % 10
    return "test" if r == 0 else "val" if r == 1 else "train"


# ----------------------------------------------------------------------------------------------
# deterministic, atomic writers


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_npy(path: Path, array: np.ndarray) -> None:
    _atomic_write(path, lambda f: np.lib.format.write_array(f, np.ascontiguousarray(array),
                                                            allow_pickle=False))


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez`` but byte-reproducible: fixed member timestamps, fixed order."""

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key in arrays:
                buf = io.BytesIO()
                value = np.asarray(arrays[key])
                if value.ndim:
                    value = np.ascontiguousarray(value)
                np.lib.format.write_array(buf, value, allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue())

    _atomic_write(path, write)


def _save_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _obj_text(verts: np.ndarray, faces: np.ndarray) -> str:
    lines = ["# meshtalk synthetic head (metres, +Z forward, +Y up)"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# planning


def _roles(n: int, n_test: int, n_val: int) -> dict[str, list[int]]:
    """Indices 0..n-1 split into train/val/test; val (and test) borrow train when too few."""
    idx = list(range(n))
    test = idx[n - n_test:] if n > n_test else idx
    rest = [i for i in idx if i not in test] or idx
    val = rest[len(rest) - n_val:] if 0 < n_val < len(rest) else rest
    train = [i for i in rest if i not in val] or rest
    return {"train": train, "val": val, "test": test}


def _plan_heads(n: int) -> dict[str, list[int]]:
    n_test = max(1, round(0.15 * n))
    n_val = max(1, round(0.1 * n)) if n >= 3 else 0
    return _roles(n, n_test, n_val)


def _plan_voices(voices: list[str]) -> dict[str, list[str]]:
    from meshtalk.data.synth.speech import TEST_VOICES

    test = [v for v in voices if v in TEST_VOICES]
    rest = [v for v in voices if v not in TEST_VOICES]
    if not rest:
        raise MeshtalkError("no training voice is installed (only held-out test voices)")
    if not test:
        log.warning("no held-out test voice installed; the test split shares training voices")
        test = rest
    val = rest[-1:] if len(rest) >= 3 else rest
    train = [v for v in rest if v not in val] or rest
    return {"train": train, "val": val, "test": test}


#: Unregistered meshings drawn per sequence (then given a fresh vertex order).
_POOL = {
    "train": (("remesh", {"target_vertices": 3000}), ("remesh", {"target_vertices": 9000}),
              ("remesh", {"target_vertices": 20000}), ("decimate", {"target_vertices": 5000}),
              ("subdivide", {"levels": 1}), ("noise", {"sigma": 0.0003}),
              ("holes", {"count": 4})),
    "test": (("remesh", {"target_vertices": 2000}), ("remesh", {"target_vertices": 12000}),
             ("remesh", {"target_vertices": 100000}), ("decimate", {"target_vertices": 4000}),
             ("subdivide", {"levels": 1}), ("noise", {"sigma": 0.0003}),
             ("holes", {"count": 4}), ("pointcloud", {"count": 20000})),
}


def _provenance(scan: Scan) -> dict:
    return {k: v for k, v in scan.provenance.items() if k != "seconds"}


# ----------------------------------------------------------------------------------------------
# the build


def _head_record(head: Head, role: list[str]) -> dict:
    lm = head.landmarks
    points = np.stack([lm.left_corner, lm.right_corner, lm.upper_lip, lm.lower_lip])
    nearest = np.argmin(((head.verts[None] - points[:, None]) ** 2).sum(-1), axis=1)
    return {
        "seed": head.seed,
        "params": {k: (float(v) if not isinstance(v, bool) else v)
                   for k, v in vars(head.params).items()},
        "landmarks": {k: [round(c, 7) for c in v] for k, v in lm.as_dict().items()},
        "landmark_vertices": dict(zip(("left_corner", "right_corner", "upper_lip", "lower_lip"),
                                      (int(i) for i in nearest))),
        "template_vertices": int(len(head.verts)),
        "template_faces": int(len(head.faces)),
        "splits": role,
    }


def build_corpus(config: CorpusConfig) -> dict:
    """Generate a corpus as described in the module docstring.

    Args:
        config: the settings.

    Returns:
        The manifest (also written to ``out/manifest.json``, last: a folder without it is an
        interrupted build).

    Raises:
        MeshtalkError: on bad settings, a non-empty output directory, or no usable voice.
    """
    from meshtalk.data.synth.articulation import articulation_curves
    from meshtalk.data.synth.speech import augment, list_voices, save_utterance, synthesize

    if not (isinstance(config.hours, (int, float)) and 0 < config.hours <= 1000):
        raise MeshtalkError(f"--hours must be in (0, 1000], got {config.hours}")
    if not 1 <= config.fps <= 240:
        raise MeshtalkError(f"--fps must be in [1, 240], got {config.fps}")
    if int(config.seed) < 0:
        raise MeshtalkError(f"--seed must be non-negative, got {config.seed}")
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise MeshtalkError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not config.overwrite:
        raise MeshtalkError(f"--out {out} is not empty; choose a new directory or pass --overwrite")
    voices = list(config.voices) if config.voices else list_voices()
    if not voices:
        raise MeshtalkError("no speech engine is installed: make setup-system installs espeak-ng, "
                            "flite and festival")
    n_heads = (int(config.heads) if config.heads is not None
               else int(min(24, max(3, math.ceil(10 * math.sqrt(config.hours))))))
    if n_heads < 1:
        raise MeshtalkError(f"--heads must be at least 1, got {n_heads}")
    for sub in ("faces", "templates", "wav", "vertices_npy", "articulation") + (
            ("unregistered",) if config.unregistered else ()):
        (out / sub).mkdir(parents=True, exist_ok=True)

    seed = int(config.seed)
    head_roles = _plan_heads(n_heads)
    voice_roles = _plan_voices(voices)
    heads = [make_head(seed * 1000 + i, name=f"head{i:03d}",
                       template_vertices=config.template_vertices) for i in range(n_heads)]
    roles_of = {h.name: [s for s in SPLITS if i in head_roles[s]] for i, h in enumerate(heads)}
    fields = {h.name: MouthField(h) for h in heads}

    templates = {h.name: h.verts.astype(np.float32) for h in heads}
    _atomic_write(out / "templates.pkl", lambda f: pickle.dump(templates, f, protocol=4))
    for h in heads:
        _save_npy(out / "faces" / f"{h.name}.npy", h.faces.astype(np.int32))
        _save_text(out / "templates" / f"{h.name}.obj", _obj_text(h.verts, h.faces))

    scans: dict[tuple[str, str, int], tuple[Scan, np.ndarray]] = {}

    def pick_scan(head: Head, split: str, choice: int) -> tuple[Scan, np.ndarray]:
        """Scan ``choice`` of the head's pool for ``split``, made on first use."""
        pool_name = "train" if split == "train" else "test"
        key = (head.name, pool_name, choice)
        if key not in scans:
            kind, kw = _POOL[pool_name][choice]
            kw = dict(kw)
            if kind in ("noise", "holes", "pointcloud"):
                kw["seed"] = seed
            scan = make_scan(head, kind, **kw)
            scans[key] = (scan, fields[head.name].basis(scan.motion_source))
        return scans[key]

    budget = {"train": 0.8, "val": 0.1, "test": 0.1}
    target_s = {s: config.hours * 3600.0 * budget[s] for s in SPLITS}
    done_s = dict.fromkeys(SPLITS, 0.0)
    next_sentence = {s: 0 for s in SPLITS}
    rng = np.random.default_rng([seed, 0xC0A7])
    records = []

    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=round(config.hours * 3600.0), unit="s", desc="synth", leave=False)
    try:
        while True:
            open_splits = [s for s in SPLITS if done_s[s] < target_s[s]]
            if not open_splits:
                break
            # the split furthest behind its share goes next: interleaves train/val/test
            split = min(open_splits, key=lambda s: (done_s[s] / target_s[s], SPLITS.index(s)))
            head = heads[head_roles[split][rng.integers(len(head_roles[split]))]]
            voice = voice_roles[split][rng.integers(len(voice_roles[split]))]
            # next sentence index belonging to this split
            idx = next_sentence[split]
            while _sentence_split(idx) != split:
                idx += 1
            next_sentence[split] = idx + 1
            text = make_sentence(idx, seed=seed)
            rate = float(np.round(rng.uniform(0.85, 1.2), 3))
            pitch = float(np.round(rng.uniform(0.85, 1.2), 3))
            utt_seed = int(rng.integers(2**31))
            utt = synthesize(text, voice, rate=rate, pitch=pitch,
                             sample_rate=config.sample_rate, seed=utt_seed)
            aug = None
            if rng.uniform() < 0.3:
                aug = {"noise_snr_db": float(np.round(rng.uniform(15, 40), 2)),
                       "gain_db": float(np.round(rng.uniform(-6, 3), 2)),
                       "room": float(np.round(rng.uniform(0.1, 0.6), 3))}
                utt = augment(utt, seed=utt_seed, **aug)
            duration = len(utt.audio) / utt.sample_rate
            art = articulation_curves(utt.phones, fps=config.fps, duration=duration)
            curves = np.asarray(art.as_array(), dtype=np.float64)
            name = f"{head.name}_s{idx:05d}"

            save_utterance(utt, out / "wav" / f"{name}.wav")
            _save_npy(out / "articulation" / f"{name}.npy", curves.astype(np.float32))
            field = fields[head.name]
            coef = field.coefficients(curves)
            basis = field.basis(head.verts)
            motion = head.verts[None] + np.einsum("tk,kvd->tvd", coef, basis)
            _save_npy(out / "vertices_npy" / f"{name}.npy",
                      motion.reshape(len(motion), -1).astype(np.float32))

            record = {"name": name, "split": split, "subject": head.name, "voice": voice,
                      "sentence": idx, "text": text, "rate": rate, "pitch": pitch,
                      "augmentation": aug, "frames": int(len(curves)),
                      "duration": round(duration, 6)}
            if config.unregistered:
                pool_size = len(_POOL["train" if split == "train" else "test"])
                scan, scan_basis = pick_scan(head, split, int(rng.integers(pool_size)))
                order_seed = int(rng.integers(2**31))
                record["meshing"] = _write_unregistered(out / "unregistered" / f"{name}.npz",
                                                        head, scan, scan_basis, coef, curves,
                                                        config.fps, order_seed)
            records.append(record)
            done_s[split] += duration
            if bar is not None:
                bar.update(round(duration))
    finally:
        if bar is not None:
            bar.close()

    manifest = {
        "format_version": FORMAT_VERSION,
        "generator": "meshtalk.data.synth.corpus",
        "seed": seed,
        "hours_requested": config.hours,
        "hours": round(sum(r["duration"] for r in records) / 3600.0, 6),
        "fps": config.fps,
        "sample_rate": config.sample_rate,
        "units": "metres; +Z forward, +Y up, +X subject's left",
        "layout": {"registered": "FaceFormer (templates.pkl, wav/, vertices_npy/)",
                   "unregistered": "unregistered/<name>.npz"},
        "splits": {
            "rule": "a sequence is in split X only if its head, voice and sentence are all in X",
            "heads": {s: [heads[i].name for i in head_roles[s]] for s in SPLITS},
            "voices": voice_roles,
            "sentences": "index % 10 == 0: test, == 1: val, else train",
        },
        "heads": {h.name: _head_record(h, roles_of[h.name]) for h in heads},
        "sequences": records,
    }
    splits_doc = {s: [r["name"] for r in records if r["split"] == s] for s in SPLITS}
    _save_text(out / "splits.json", json.dumps(splits_doc, indent=1) + "\n")
    _save_text(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    log.info("corpus: %d sequences, %.3f h of speech, in %s", len(records), manifest["hours"], out)
    return manifest


def _write_unregistered(path: Path, head: Head, scan: Scan, basis: np.ndarray, coef: np.ndarray,
                        curves: np.ndarray, fps: float, order_seed: int) -> dict:
    """Write one sequence on ``scan`` (in a fresh vertex order); returns its manifest record."""
    order = np.random.default_rng([order_seed, 0x9E4]).permutation(len(scan.verts))
    verts = scan.verts[order]
    arrays = {"neutral_verts": verts.astype(np.float32)}
    if not scan.is_point_cloud:
        arrays["faces"] = permute(head, seed=order_seed, base=scan).faces.astype(np.int32)
    if scan.motion_points is not None:
        arrays["motion_points"] = scan.motion_points[order].astype(np.float32)
    arrays.update({
        "normals": scan.normals[order].astype(np.float32),
        "articulation": curves.astype(np.float32),
        "fps": np.float64(fps),
        "subject": np.str_(head.name),
    })
    if len(verts) <= DENSE_LIMIT:
        index = np.arange(len(verts))
    else:
        rng = np.random.default_rng([order_seed, 0x7A6])
        index = np.sort(rng.choice(len(verts), size=TARGET_POINTS, replace=False))
        arrays["target_index"] = index.astype(np.int32)
    motion = verts[index][None] + np.einsum("tk,kvd->tvd", coef, basis[:, order[index]])
    arrays["verts"] = motion.astype(np.float32)
    _save_npz(path, arrays)
    return {"scan": scan.name, "provenance": _provenance(scan), "vertex_order_seed": order_seed,
            "vertices": int(len(verts)), "faces": int(len(arrays.get("faces", ()))),
            "target_points": int(len(index)), "in_correspondence": len(index) == len(verts)}
