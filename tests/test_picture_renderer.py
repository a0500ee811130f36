"""The camera pictures' worker process: it draws, it is replaced after its quota, a dead one is replaced."""
from __future__ import annotations

import io
import os
import signal
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pyvista as pv
import pytest
from PIL import Image

from twin.memory import resident_mb, workers_mb
from twin.picture_renderer import PictureRenderer, SceneMesh, Shot


@pytest.fixture(scope="module")
def box() -> list[SceneMesh]:
    cube = pv.Cube(x_length=4, y_length=4, z_length=4).triangulate()
    return [SceneMesh(np.asarray(cube.points), cube.regular_faces, (0.8, 0.2, 0.1), 1.0)]


def shot(width: int = 160, height: int = 90) -> Shot:
    return Shot((10.0, -10.0, 6.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), 40.0, (0.5, 100.0), width, height, "CAM-T")


def red_share(png: bytes) -> float:
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return float(((image[..., 0] > image[..., 2] + 60)).mean())


def test_pictures_are_drawn_in_a_worker_replaced_after_its_quota(box):
    renderer = PictureRenderer(box, warm_shot=shot(), pictures_per_process=2)
    try:
        pictures = [renderer.submit(shot()).result(timeout=120) for _ in range(3)]
        assert all(p.png[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
        assert Image.open(io.BytesIO(pictures[0].png)).size == (160, 90)
        assert red_share(pictures[0].png) > 0.05, "the red box is in the picture"
        pids = [p.worker_pid for p in pictures]
        assert os.getpid() not in pids
        assert pids[0] == pids[1] != pids[2], "a fresh worker after two pictures"
        assert workers_mb() >= resident_mb(pids[2]) > 10, "the worker's memory is counted as the twin's"
        bigger = renderer.submit(shot(320, 180)).result(timeout=120)
        assert Image.open(io.BytesIO(bigger.png)).size == (320, 180)
    finally:
        renderer.close()


def test_a_worker_that_dies_is_replaced_at_the_next_picture(box):
    renderer = PictureRenderer(box)
    try:
        first = renderer.submit(shot()).result(timeout=120)
        os.kill(first.worker_pid, signal.SIGKILL)
        try:  # the picture asked for before the pool has seen its worker gone fails; none after it
            again = renderer.submit(shot()).result(timeout=120)
        except BrokenProcessPool:
            again = renderer.submit(shot()).result(timeout=120)
        assert again.worker_pid != first.worker_pid and red_share(again.png) > 0.05
    finally:
        renderer.close()
