import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from meshtalk.geometry.frames import mesh_vertex_normals, point_cloud_normals, tangent_frames
from meshtalk.geometry.gradients import gradient_operators, knn_neighbors, mesh_neighbors
from tests.geometry.shapes import fibonacci_sphere, grid


def _tilted_irregular_plane(seed=0):
    v, f = grid(25)
    rng = np.random.default_rng(seed)
    v[:, :2] += rng.uniform(-0.01, 0.01, size=(len(v), 2))  # irregular, still planar
    R = Rotation.random(random_state=seed).as_matrix()
    return v @ R.T + rng.normal(size=3), f


@pytest.mark.parametrize("cloud", [False, True])
def test_gradient_is_exact_on_linear_functions(cloud):
    v, f = _tilted_irregular_plane()
    normals = point_cloud_normals(v) if cloud else mesh_vertex_normals(v, f)
    frames = tangent_frames(normals)
    src, dst = knn_neighbors(v, 12) if cloud else mesh_neighbors(len(v), f)
    gx, gy = gradient_operators(v, frames, src, dst)
    a = np.array([0.3, -1.2, 2.0])
    fun = v @ a
    # expected: the tangent components of a in each vertex frame (computed without the operator)
    np.testing.assert_allclose(gx @ fun, frames[:, 0] @ a, atol=1e-6)
    np.testing.assert_allclose(gy @ fun, frames[:, 1] @ a, atol=1e-6)
    np.testing.assert_allclose(gx @ np.ones(len(v)), 0, atol=1e-9)  # constants have no gradient


def test_frames_are_orthonormal_and_right_handed():
    v, f = fibonacci_sphere(500)
    fr = tangent_frames(mesh_vertex_normals(v, f))
    np.testing.assert_allclose(np.einsum("vij,vkj->vik", fr, fr), np.broadcast_to(np.eye(3), fr.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(fr), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("vd,vd->v", fr[:, 2], v), 1.0, atol=2e-3)  # outward on a sphere


def test_gradient_on_a_sphere_approximates_the_surface_gradient():
    v, f = fibonacci_sphere(8000)
    frames = tangent_frames(mesh_vertex_normals(v, f))
    gx, gy = gradient_operators(v, frames, *mesh_neighbors(len(v), f))
    fun = v[:, 2]  # z restricted to the sphere: surface gradient = e_z - (n.e_z) n
    ez = np.array([0, 0, 1.0])
    tangential = ez - v[:, 2:3] * v
    np.testing.assert_allclose(gx @ fun, (frames[:, 0] * tangential).sum(1), atol=0.02)
    np.testing.assert_allclose(gy @ fun, (frames[:, 1] * tangential).sum(1), atol=0.02)
