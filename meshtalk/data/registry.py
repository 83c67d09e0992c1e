"""Registry of the public datasets in the FaceFormer layout: frame rates, folders and splits.

Dataset specifics live here, never in the model. Each :class:`DatasetSpec` says where the files
are, the frame rate on disk and the one delivered (VOCASET is stored at 60 fps and used at 30),
how a file stem maps to a subject and a sentence number, and the standard splits (subjects, and
sentence ranges where the convention has them). Sources: FaceFormer / CodeTalker (VOCASET,
BIWI) and ScanTalk (BIWI_6, Multiface), as summarised in ``shared/research``.
"""

from __future__ import annotations

import dataclasses
import re

from meshtalk.errors import MeshtalkError


@dataclasses.dataclass(frozen=True)
class SplitSpec:
    """Which sequences form a split.

    Attributes:
        subjects: subject ids; a sequence's subject matches an id when equal to it or when it
            contains it as a ``_``-separated part (``170728_03272`` matches
            ``FaceTalk_170728_03272_TA``).
        sentences: inclusive (first, last) sentence numbers, or None for all.
    """

    subjects: tuple[str, ...]
    sentences: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is stored in the FaceFormer layout.

    Attributes:
        name: registry key.
        fps: motion frame rate delivered to training.
        fps_on_disk: frame rate of the stored vertex arrays.
        vertices_dirs: candidate folders of ``<stem>.npy`` arrays (first existing wins).
        wav_dir: folder of ``<stem>.wav``.
        subject_rule: ``"strip_last"`` (subject = stem minus its last ``_`` token) or
            ``"first_token"`` (subject = first ``_`` token).
        skip_stem: regex of stems to ignore (e.g. BIWI's emotional takes).
        faces_files: candidate meshes (relative to the root) supplying the shared faces.
        splits: ``train`` / ``val`` / ``test`` (and optional extra) splits.
    """

    name: str
    fps: float
    fps_on_disk: float
    vertices_dirs: tuple[str, ...] = ("vertices_npy", "vertices")
    wav_dir: str = "wav"
    subject_rule: str = "strip_last"
    skip_stem: str | None = None
    faces_files: tuple[str, ...] = ()
    splits: dict[str, SplitSpec] = dataclasses.field(default_factory=dict)

    def subject_of(self, stem: str) -> str:
        """Subject id of a file stem."""
        if self.subject_rule == "first_token":
            return stem.split("_")[0]
        return stem.rsplit("_", 1)[0] if "_" in stem else stem

    @staticmethod
    def sentence_of(stem: str) -> int | None:
        """Sentence number: the trailing digits of the stem (``..._sentence07`` -> 7, ``F2_e01`` -> 1)."""
        m = re.search(r"(\d+)$", stem)
        return int(m.group(1)) if m else None


def subject_matches(subject: str, ids: tuple[str, ...]) -> bool:
    """Whether ``subject`` is one of ``ids`` (exactly, or containing it as ``_``-joined parts)."""
    for sid in ids:
        if subject == sid or f"_{sid}_" in f"_{subject}_":
            return True
    return False


_VOCA_TRAIN = ("170728_03272", "170904_00128", "170725_00137", "170915_00223",
               "170811_03274", "170913_03279", "170904_03276", "170912_03278")
_VOCA_VAL = ("170811_03275", "170908_03277")
_VOCA_TEST = ("170809_00138", "170731_00024")
_BIWI_FF_TRAIN = ("F2", "F3", "F4", "M3", "M4", "M5")
_MULTIFACE_TRAIN = ("20171024", "20180226", "20180227", "20180406", "20180418", "20180426",
                    "20180510", "20180927", "20190529")

REGISTRY: dict[str, DatasetSpec] = {
    # VOCASET, FaceFormer/VOCA subject split; sentences 1-40 for training, 21-40 for val/test.
    "vocaset": DatasetSpec(
        name="vocaset", fps=30.0, fps_on_disk=60.0,
        faces_files=("templates/FLAME_sample.ply", "flame_model/FLAME_sample.ply", "FLAME_sample.ply"),
        splits={
            "train": SplitSpec(_VOCA_TRAIN, (1, 40)),
            "val": SplitSpec(_VOCA_VAL, (21, 40)),
            "test": SplitSpec(_VOCA_TEST, (21, 40)),
        },
    ),
    # BIWI (23,370 vertices, FaceFormer/CodeTalker split): same subjects, sentences 1-32 / 33-36
    # / 37-40; "test_b" are the unseen subjects.
    "biwi": DatasetSpec(
        name="biwi", fps=25.0, fps_on_disk=25.0,
        faces_files=("templates/BIWI.ply", "BIWI.ply"),
        splits={
            "train": SplitSpec(_BIWI_FF_TRAIN, (1, 32)),
            "val": SplitSpec(_BIWI_FF_TRAIN, (33, 36)),
            "test": SplitSpec(_BIWI_FF_TRAIN, (37, 40)),
            "test_b": SplitSpec(("F1", "F5", "F6", "F7", "F8", "M1", "M2", "M6")),
        },
    ),
    # BIWI_6 (ScanTalk's 3,895-vertex remesh, metres); emotional takes (<SUBJ>_eNN) skipped.
    "biwi6": DatasetSpec(
        name="biwi6", fps=25.0, fps_on_disk=25.0, subject_rule="first_token", skip_stem=r"^[^_]+_e\d+$",
        faces_files=("templates/F1.obj",),
        splits={
            "train": SplitSpec(("F1", "F2", "F3", "F4", "F5", "F6", "M1", "M2", "M3", "M4")),
            "val": SplitSpec(("F7", "M5")),
            "test": SplitSpec(("F8", "M6")),
        },
    ),
    # Multiface (ScanTalk's 5,471-vertex version), 30 fps, subject split.
    "multiface": DatasetSpec(
        name="multiface", fps=30.0, fps_on_disk=30.0, subject_rule="first_token",
        faces_files=("templates/20180227.ply",),
        splits={
            "train": SplitSpec(_MULTIFACE_TRAIN),
            "val": SplitSpec(("20190828", "20190521")),
            "test": SplitSpec(("20181017", "20180105")),
        },
    ),
}


def get_spec(name: str | DatasetSpec) -> DatasetSpec:
    """Look a dataset up by name (case-insensitive), or return a spec given as is.

    Raises:
        MeshtalkError: unknown name (the message lists the known ones).
    """
    if isinstance(name, DatasetSpec):
        return name
    key = str(name).lower().replace("-", "").replace("_", "")
    aliases = {"voca": "vocaset", "biwi6": "biwi6", "multiface": "multiface", "vocaset": "vocaset",
               "biwi": "biwi"}
    key = aliases.get(key, key)
    if key not in REGISTRY:
        raise MeshtalkError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[key]
