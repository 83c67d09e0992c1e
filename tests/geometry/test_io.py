import numpy as np
import pytest
import trimesh

from meshtalk.errors import MeshtalkError
from meshtalk.geometry.io import inspect_mesh, load_mesh
from tests.geometry.shapes import fibonacci_sphere, grid


def test_obj_keeps_vertex_order_with_uvs_and_polygons(tmp_path):
    # texture coordinates that differ per corner would make some loaders split vertices
    p = tmp_path / "quad.obj"
    p.write_text(
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 2 2 2\n"
        "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvt 0.5 0.5\n"
        "f 4/1 3/5 2/2 1/3\n"
    )
    m = load_mesh(p)
    np.testing.assert_array_equal(m.verts[:, 0], [0, 1, 1, 0, 2])
    np.testing.assert_array_equal(m.faces, [[3, 2, 1], [3, 1, 0]])  # fan triangulation
    assert inspect_mesh(m.verts, m.faces).n_unreferenced_verts == 1


@pytest.mark.parametrize("suffix", [".ply", ".stl", ".off", ".glb"])
def test_other_formats_keep_vertex_order(tmp_path, suffix):
    v, f = fibonacci_sphere(300)
    perm = np.random.default_rng(0).permutation(len(v))
    v = v[perm]
    inv = np.argsort(perm)
    f = inv[f]
    p = tmp_path / f"m{suffix}"
    trimesh.Trimesh(v, f, process=False).export(p)
    m = load_mesh(p)
    if suffix == ".stl":  # STL stores triangle soup: order of first appearance, per face corner
        np.testing.assert_allclose(m.verts.reshape(-1, 3)[: 3], v[f[0]], atol=1e-6)
    else:
        np.testing.assert_allclose(m.verts, v, atol=1e-6)
        np.testing.assert_array_equal(m.faces, f)


def test_point_clouds(tmp_path):
    pts = np.random.default_rng(1).normal(size=(100, 3))
    np.save(tmp_path / "c.npy", pts)
    np.savetxt(tmp_path / "c.xyz", pts)
    trimesh.PointCloud(pts).export(tmp_path / "c.ply")
    for name in ["c.npy", "c.xyz", "c.ply"]:
        m = load_mesh(tmp_path / name)
        assert m.is_point_cloud
        np.testing.assert_allclose(m.verts, pts, atol=1e-6)


@pytest.mark.parametrize(
    "content,match",
    [
        ("", "empty file"),
        ("v 0 0 0\nv nan 0 0\nv 0 1 0\nv 1 1 1\nf 1 2 3\n", "NaN/inf"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\n", "only 3 points"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 1\nf 1 2 9\n", "outside"),
        ("hello, I am not a mesh\n", "no vertices"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, content, match):
    p = tmp_path / "bad.obj"
    p.write_text(content)
    with pytest.raises(MeshtalkError, match=match) as exc:
        load_mesh(p)
    assert str(p) in str(exc.value) and "\n" not in str(exc.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(MeshtalkError, match="no such file"):
        load_mesh(tmp_path / "nope.obj")
    (tmp_path / "x.doc").write_text("x")
    with pytest.raises(MeshtalkError, match="unknown mesh format"):
        load_mesh(tmp_path / "x.doc")
    (tmp_path / "garbage.ply").write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(MeshtalkError, match="garbage.ply"):
        load_mesh(tmp_path / "garbage.ply")


def test_report_of_a_bad_scan():
    v, f = grid(6)  # 36 vertices
    v = np.concatenate([v, [[9, 9, 9]], v[[0, 1, 6]] + [0, 0, 5], [[0.5, 0.5, 1.0]]])
    # 36: unused; 37-39: a separate triangle; 40: apex of a fin on the interior edge (7, 8)
    a, b = 7, 8
    f = np.concatenate([f, [[0, 1, 0]], [[37, 38, 39]], [[a, b, 40]]])
    r = inspect_mesh(v, f)
    assert r.n_degenerate_faces == 1
    assert r.n_unreferenced_verts == 1
    assert r.n_components == 2
    assert r.n_nonmanifold_edges == 1
    text = r.summary()
    assert "degenerate" in text and "not used" in text and "2 connected components" in text
    watertight = inspect_mesh(*fibonacci_sphere(200))
    assert watertight.is_watertight and watertight.problems() == []


def _ply_points_with_normals(path, pts, nrm):
    header = ("ply\nformat ascii 1.0\nelement vertex %d\nproperty float x\nproperty float y\nproperty float z\n"
              "property float nx\nproperty float ny\nproperty float nz\nend_header\n" % len(pts))
    path.write_text(header + "".join(" ".join(f"{x:.9g}" for x in (*p, *q)) + "\n" for p, q in zip(pts, nrm)))


def test_point_cloud_files_keep_their_normals(tmp_path):
    v, _ = fibonacci_sphere(200)
    nrm = 2.5 * v                                   # outward, not unit length: scaled on load
    _ply_points_with_normals(tmp_path / "pc.ply", v, nrm)
    m = load_mesh(tmp_path / "pc.ply")
    assert m.is_point_cloud
    np.testing.assert_allclose(m.normals, v / np.linalg.norm(v, axis=1, keepdims=True), atol=1e-6)
    np.savetxt(tmp_path / "pc.xyz", np.hstack([v, nrm]))
    np.testing.assert_allclose(load_mesh(tmp_path / "pc.xyz").normals, m.normals, atol=1e-6)
    np.save(tmp_path / "pc.npy", np.hstack([v, nrm]))
    np.testing.assert_allclose(load_mesh(tmp_path / "pc.npy").normals, m.normals, atol=1e-12)
    np.testing.assert_allclose(load_mesh(tmp_path / "pc.npy").verts, v)
    # no normals in the file, or unusable ones: None (the operators estimate them)
    np.savetxt(tmp_path / "plain.xyz", v)
    assert load_mesh(tmp_path / "plain.xyz").normals is None
    bad = nrm.copy()
    bad[3] = 0.0
    np.savetxt(tmp_path / "bad.xyz", np.hstack([v, bad]))
    assert load_mesh(tmp_path / "bad.xyz").normals is None
    with pytest.raises(MeshtalkError, match=r"\(N, 6\)"):
        np.save(tmp_path / "four.npy", np.hstack([v, v[:, :1]]))
        load_mesh(tmp_path / "four.npy")
