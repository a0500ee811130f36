"""Camera pictures drawn in a process of their own.

A picture is an off-screen OpenGL draw. On a machine without a GPU that is Mesa's software rasteriser,
which keeps tens of MB of scratch memory and compiled shaders per draw and holds the GIL for a third of
a second. So the park's meshes go, once, to a worker process (:class:`PictureRenderer`) that builds a
plotter and draws there; the server sends it a :class:`Shot` (where to look, how big, the caption) and
gets PNG bytes back. The worker is replaced by a fresh one every :data:`PICTURES_PER_PROCESS`
pictures, so whatever a long run of draws leaves behind goes with it, and a worker that dies is
replaced at the next picture.

The worker keeps its heap as the server does (:mod:`twin.memory`: arenas capped, free pages given back
after each picture) and imports only this module (numpy, pyvista, PIL), never the server's.
"""
from __future__ import annotations

import io
import os
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from twin.memory import cap_arenas, release_free_memory
from twin.workers import Worker

#: Pictures a worker draws before a fresh one takes over (a takeover costs a few seconds of one core,
#: started at once, before the next picture is asked for).
PICTURES_PER_PROCESS = 500
SKY_RGB = ((0.80, 0.86, 0.92), (0.47, 0.62, 0.82))  # bottom, top of a picture's background
LABEL_RGB = (1.0, 1.0, 1.0)
LIGHTING = "light_kit"


@dataclass(frozen=True)
class SceneMesh:
    """One batch as a picture shows it: park-frame vertices (m), triangles, colour 0–1 and opacity."""

    points_m: np.ndarray
    triangles: np.ndarray
    rgb: tuple[float, float, float]
    opacity: float


@dataclass(frozen=True)
class Shot:
    """What to draw: the eye, a point it looks at and its up (park-frame m), the vertical field of view,
    the near and far clipping planes, the picture's size in pixels and the caption in its lower left."""

    eye_m: tuple[float, float, float]
    focal_m: tuple[float, float, float]
    up: tuple[float, float, float]
    vfov_deg: float
    clip_m: tuple[float, float]
    width: int
    height: int
    caption: str


@dataclass(frozen=True)
class Picture:
    """A drawn picture (PNG bytes) and the worker process that drew it."""

    png: bytes
    worker_pid: int


class _Stage:
    """The worker's plotter over the park's meshes (one per worker process)."""

    def __init__(self, meshes: list[SceneMesh]):
        import pyvista as pv

        self.plotter = pv.Plotter(off_screen=True, window_size=(640, 360), lighting=LIGHTING)
        self.plotter.set_background(SKY_RGB[0], top=SKY_RGB[1])
        for mesh in meshes:
            self.plotter.add_mesh(pv.PolyData.from_regular_faces(mesh.points_m.astype(float),
                                                                 mesh.triangles.astype(np.int64)),
                                  color=mesh.rgb, opacity=mesh.opacity, smooth_shading=False, reset_camera=False)
        self.caption = self.plotter.add_text("", position="lower_left", font_size=9, color=LABEL_RGB, shadow=True)

    def draw(self, shot: Shot) -> bytes:
        from PIL import Image

        plotter = self.plotter
        if tuple(plotter.ren_win.GetSize()) != (shot.width, shot.height):
            plotter.ren_win.SetSize(shot.width, shot.height)  # pyvista's setter would render once more
        view = plotter.camera
        view.position, view.focal_point, view.up = shot.eye_m, shot.focal_m, shot.up
        view.view_angle = shot.vfov_deg
        view.clipping_range = shot.clip_m
        self.caption.SetText(0, shot.caption)
        plotter.render()
        out = io.BytesIO()
        Image.fromarray(plotter.screenshot(return_img=True)).save(out, format="PNG")
        return out.getvalue()


_stage: _Stage | None = None  # in the worker process


def _open_stage(meshes: list[SceneMesh], first: Shot | None) -> None:
    """The worker's start: build its plotter and draw ``first`` (compiling the shaders) before any
    picture is asked for."""
    global _stage
    cap_arenas()  # as the server does: Mesa's rasteriser threads would each get an arena
    _stage = _Stage(meshes)
    if first is not None:
        _stage.draw(first)


def _draw(shot: Shot) -> Picture:
    assert _stage is not None, "the worker's stage is opened by the pool's initializer"
    png = _stage.draw(shot)
    release_free_memory()  # the draw's scratch goes back now
    return Picture(png, os.getpid())


class PictureRenderer:
    """A worker process (:class:`twin.workers.Worker`) drawing :class:`Shot` s of a fixed set of meshes,
    one at a time.

    ``warm_shot`` is drawn by each worker as it starts, so the first picture asked of it does not pay
    for compiling the shaders. :meth:`submit` from any thread; :meth:`close` when done (or let it go).
    """

    def __init__(self, meshes: list[SceneMesh], warm_shot: Shot | None = None,
                 pictures_per_process: int = PICTURES_PER_PROCESS):
        self._worker = Worker(_open_stage, (meshes, warm_shot), calls_per_process=pictures_per_process)

    def start(self) -> None:
        """Start the worker now (it builds its plotter and draws the warm shot) rather than at the first
        picture."""
        self._worker.submit(int)  # any call starts the worker

    def submit(self, shot: Shot) -> Future[Picture]:
        """Draw ``shot`` in the worker; a worker found dead is replaced first. The future raises
        :class:`~concurrent.futures.process.BrokenProcessPool` when the worker dies drawing it."""
        return self._worker.submit(_draw, shot)

    def close(self) -> None:
        """Stop the worker (a picture being drawn is finished first)."""
        self._worker.close()
