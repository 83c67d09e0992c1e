"""Tests for meshtalk/render/renderer.py: shading, per-frame checks, heat colours, layout."""

from __future__ import annotations

import numpy as np
import pytest

from meshtalk.render.camera import frame_face
from meshtalk.render.colormap import heat_colors
from meshtalk.render.renderer import (
    BACKGROUND,
    Frame,
    MeshRenderer,
    RenderError,
    check_frame,
    side_by_side,
    vertex_normals,
)

from .conftest import needs_pyrender

SIZE = 96


def test_vertex_normals_of_a_sphere_are_radial(head):
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=3, radius=2.0)
    n = vertex_normals(sphere.vertices, sphere.faces)
    radial = sphere.vertices / np.linalg.norm(sphere.vertices, axis=1, keepdims=True)
    assert n.dtype == np.float32
    assert np.min(np.sum(n * radial, axis=1)) > 0.999


def test_vertex_normals_of_a_flat_grid_and_an_isolated_vertex():
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [5, 5, 5]], np.float64)
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    n = vertex_normals(verts, faces)
    np.testing.assert_allclose(n, np.tile([0.0, 0.0, 1.0], (5, 1)), atol=1e-7)


def blank(h=32, w=32):
    return Frame(np.full((h, w, 3), 200, np.uint8), np.zeros((h, w), np.float32))


def test_check_frame_refuses_black_blank_and_uniform_frames():
    black = Frame(np.zeros((32, 32, 3), np.uint8), np.ones((32, 32), np.float32))
    with pytest.raises(RenderError, match="frame 3 rendered all black"):
        check_frame(black, 3)
    with pytest.raises(RenderError, match="blank"):
        check_frame(blank())
    depth = np.zeros((32, 32), np.float32)
    depth[8:24, 8:24] = 1.0
    with pytest.raises(RenderError, match="uniform"):
        check_frame(Frame(np.full((32, 32, 3), 90, np.uint8), depth))
    shaded = np.full((32, 32, 3), 90, np.uint8)
    shaded[8:24, 8:24] = np.linspace(40, 220, 16, dtype=np.uint8)[None, :, None]
    check_frame(Frame(shaded, depth))  # a shaded mesh passes


@pytest.fixture(scope="module")
def renderer(head):
    verts, faces = head
    with MeshRenderer(faces, frame_face(verts), SIZE) as r:
        yield r


@needs_pyrender
def test_rendered_face_is_shaded_centred_and_fills_the_frame(renderer, head):
    frame = renderer.render(head[0])
    assert frame.color.shape == (SIZE, SIZE, 3) and frame.color.dtype == np.uint8
    assert 0.15 < frame.coverage < 0.85
    mask = frame.depth > 0
    ys, xs = np.nonzero(mask)
    assert abs(xs.mean() - SIZE / 2) < 3 and abs(ys.mean() - SIZE / 2) < 3
    assert frame.color[mask].std() > 8.0  # smooth shading, not a flat silhouette
    bg = np.round(np.asarray(BACKGROUND) * 255)
    np.testing.assert_allclose(frame.color[0, 0], bg, atol=2)
    # The key light is on the upper left: that side of the face is brighter.
    lum = frame.color.astype(np.float64).mean(axis=2)
    left = lum[:, : SIZE // 2][mask[:, : SIZE // 2]].mean()
    right = lum[:, SIZE // 2:][mask[:, SIZE // 2:]].mean()
    assert left > right


@needs_pyrender
def test_heat_colours_show_up_in_the_image(renderer, head):
    verts = head[0]
    values = 0.8 * (verts[:, 0] > 0)  # right half warm (yellow), left half cold (blue)
    frame = renderer.render(verts, heat_colors(values, 0.0, 1.0))
    mask = frame.depth > 0
    img = frame.color.astype(np.float64)
    half = SIZE // 2
    left = img[:, :half][mask[:, :half]].mean(axis=0)
    right = img[:, half:][mask[:, half:]].mean(axis=0)
    assert left[2] > left[0] + 20  # cold: blue dominates red
    assert right[0] > right[2] + 40  # warm: red/yellow dominates blue


@needs_pyrender
def test_a_mesh_out_of_view_is_refused_not_rendered(renderer, head):
    with pytest.raises(RenderError, match="frame 7 is blank"):
        renderer.render(head[0] + [0.0, 0.0, 100.0], index=7)
    collapsed = np.zeros_like(head[0])
    with pytest.raises(RenderError, match="blank"):
        renderer.render(collapsed, index=1)


@needs_pyrender
def test_bad_vertices_raise(renderer, head):
    bad = head[0].copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        renderer.render(bad)
    with pytest.raises(ValueError, match="shape"):
        renderer.render(head[0][:10])
    with pytest.raises(ValueError, match="colors"):
        renderer.render(head[0], np.zeros((3, 3)))


def test_side_by_side_layout_labels_and_even_size():
    a = np.full((31, 20, 3), 10, np.uint8)
    b = np.full((31, 21, 3), 250, np.uint8)
    out = side_by_side([a, b])
    assert out.shape == (32, 42, 3)
    assert (out[:31, :20] == 10).all() and (out[:31, 20:41] == 250).all()
    big = np.full((120, 120, 3), 240, np.uint8)
    labelled = side_by_side([big, big], ["ground truth", "prediction"])
    assert (labelled[:30] != 240).any(axis=2).sum() > 20  # text drawn near the top
    assert (labelled[60:] == 240).all()  # nothing drawn elsewhere
    with pytest.raises(ValueError, match="heights"):
        side_by_side([a, big])
    with pytest.raises(ValueError, match="labels"):
        side_by_side([a, b], ["one"])


def test_downsample_averages_colour_and_keeps_the_nearest_depth():
    from meshtalk.render.renderer import _downsample

    rng = np.random.default_rng(1)
    color = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
    depth = rng.uniform(1, 2, (8, 6)).astype(np.float32)
    depth[:2, :2] = 0.0  # an empty block
    depth[2, 0] = 0.0  # a partly covered block
    small, near = _downsample(color, depth, 2)
    expected = color.reshape(4, 2, 3, 2, 3).astype(np.float64).mean(axis=(1, 3))
    assert small.shape == (4, 3, 3) and near.shape == (4, 3)
    assert np.abs(small - expected).max() <= 0.5 + 1e-9
    assert near[0, 0] == 0.0
    assert near[1, 0] == pytest.approx(min(depth[3, 0], depth[2, 1], depth[3, 1]))


@needs_pyrender
def test_default_rendering_is_anti_aliased(head):
    """Against a 4x4-supersampled reference, the outline of the default image (4x MSAA on EGL,
    2x2 supersampling on OSMesa) is close; an aliased outline is about 12 grey levels off."""
    from scipy.ndimage import binary_dilation, binary_erosion

    verts, faces = head
    cam = frame_face(verts)
    frames = {}
    for ss in (None, 1, 2, 4):
        with MeshRenderer(faces, cam, SIZE, supersample=ss) as r:
            frames[ss] = r.render(verts)
    ref = frames[4].color.astype(np.float64)
    mask = frames[4].depth > 0
    outline = binary_dilation(mask) & ~binary_erosion(mask)

    def outline_error(ss):
        return np.abs(frames[ss].color - ref)[outline].mean()

    assert outline_error(None) < 7.0
    assert outline_error(2) < 0.6 * outline_error(1)
    assert np.abs(frames[2].color - ref).mean() < 1.0  # the same picture elsewhere
    assert frames[2].coverage == pytest.approx(frames[4].coverage, abs=0.01)


def test_bad_supersample_is_refused(head):
    with pytest.raises(ValueError, match="supersample"):
        MeshRenderer(head[1], frame_face(head[0]), SIZE, supersample=0)


@needs_pyrender
def test_shaders_are_compiled_once_not_per_frame(head):
    verts, faces = head
    with MeshRenderer(faces, frame_face(verts), 32) as r:
        cache = r._renderer._renderer._program_cache
        for t in range(4):
            r.render(verts * (1 + 0.01 * t))
        assert len(cache._program_cache) == 1
        r.render(verts, heat_colors(verts[:, 0]))  # vertex colours: one more program
        r.render(verts)
        assert len(cache._program_cache) == 2


def test_orient_faces_flips_clockwise_meshes_only(head):
    from meshtalk.render.renderer import orient_faces

    verts, faces = head
    np.testing.assert_array_equal(orient_faces(verts, faces, (0, 0, 1)), faces)
    np.testing.assert_array_equal(orient_faces(verts, faces[:, ::-1], (0, 0, 1)), faces)
    # An open mask (front half only), wound both ways, seen from +Z and from +X.
    front = faces[verts[faces].mean(axis=1)[:, 2] > 0]
    np.testing.assert_array_equal(orient_faces(verts, front[:, ::-1], (0, 0, 1)), front)
    np.testing.assert_array_equal(orient_faces(verts, front, (0, 0, 1)), front)
    np.testing.assert_array_equal(orient_faces(verts, faces[:, ::-1], (1, 0, 0)), faces)


@needs_pyrender
def test_clockwise_mesh_renders_like_the_original_after_orienting(head):
    from meshtalk.render.renderer import orient_faces

    verts, faces = head
    cam = frame_face(verts)
    with MeshRenderer(faces, cam, 48) as r:
        good = r.render(verts).color.astype(np.float64)
    with MeshRenderer(faces[:, ::-1], cam, 48) as r:
        inverted = r.render(verts).color.astype(np.float64)
    with MeshRenderer(orient_faces(verts, faces[:, ::-1], (0, 0, 1)), cam, 48) as r:
        fixed = r.render(verts).color.astype(np.float64)
    assert np.abs(fixed - good).max() == 0
    assert np.abs(inverted - good).mean() > 5  # lit from the wrong side without the fix


def test_vertex_normals_match_the_geometry_package(head):
    from meshtalk.geometry.frames import mesh_vertex_normals
    from meshtalk.render.renderer import vertex_face_incidence

    verts, faces = head
    bumpy = verts * (1 + 0.1 * np.sin(7 * verts[:, [0]] / 0.08))
    incidence = vertex_face_incidence(faces, len(verts))
    np.testing.assert_allclose(vertex_normals(bumpy, faces, incidence),
                               mesh_vertex_normals(bumpy, faces), atol=1e-6)
