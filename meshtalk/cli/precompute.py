"""``meshtalk precompute MESH``: compute the operators of a mesh into the operator cache."""

from __future__ import annotations

import time


def register(sub) -> None:
    p = sub.add_parser("precompute", help="compute Laplacian, eigenbasis and gradients into the cache")
    p.add_argument("meshes", nargs="+", metavar="MESH", help="one or more meshes / point clouds")
    p.add_argument("-k", type=int, default=128, help="number of eigenpairs (default 128)")
    p.add_argument("--laplacian", default="auto", choices=["auto", "cotan", "robust", "pointcloud"])
    p.add_argument("--eigen-method", default="auto", choices=["auto", "lanczos", "arpack", "dense"])
    p.add_argument("--cache-dir", default=None, help="cache directory (default $MESHTALK_CACHE or ~/.cache/meshtalk)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] for the eigensolver's dense work")
    p.add_argument("--cut-facing", action="store_true",
                   help="point clouds with normals: leave out neighbour pairs joined across open space "
                        "(the lips' slit), as a model with cut_facing does")
    from meshtalk.geometry.cloud import CUT_RULES

    p.add_argument("--cut-rule", default="full", choices=CUT_RULES,
                   help="with --cut-facing: which pairs to leave out (a model's cut_rule; the default "
                        "model's is opposed: only pairs whose normals point apart)")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from meshtalk.errors import MeshtalkError
    from meshtalk.geometry.cache import OperatorCache, operator_key
    from meshtalk.geometry.io import load_mesh
    from meshtalk.geometry.operators import OperatorSettings, compute_operators

    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise MeshtalkError("--device cuda: no CUDA GPU is available to torch (see docs/install.md)")
    cache = OperatorCache(args.cache_dir)
    for path in tqdm(args.meshes, desc="precompute", unit="mesh", disable=len(args.meshes) < 2):
        mesh = load_mesh(path)
        cut = bool(args.cut_facing and mesh.normals is not None and mesh.faces is None)
        settings = OperatorSettings(k=args.k, laplacian=args.laplacian, eigen_method=args.eigen_method,
                                    cut_facing=cut, cut_rule=args.cut_rule)
        t0 = time.perf_counter()
        ops = compute_operators(
            mesh.verts, mesh.faces, args.k, laplacian=args.laplacian, eigen_method=args.eigen_method,
            cache=cache, device=args.device, name=str(path), normals=mesh.normals, cut_facing=cut,
            cut_rule=args.cut_rule,
        )
        seconds = time.perf_counter() - t0
        entry = cache.path_for(operator_key(mesh.verts, mesh.faces, settings, mesh.normals))
        print(
            f"{path}: V={ops.n_verts} k={ops.k} laplacian={ops.laplacian} eigensolver={ops.eigen_method} "
            f"max residual={float(ops.residuals.max()):.1e} {seconds:.2f}s -> {entry}"
        )
    return 0
