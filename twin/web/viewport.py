"""The 3D viewport: a Panel ``JSComponent`` driving the vtk.js that Panel bundles (design decision 5).

Python holds only the batch manifest and small state; the browser fetches each batch's binary
payload over plain HTTP (:mod:`twin.web.geometry`), draws one actor per batch, picks in the
browser and sends back only the picked node id.

>>> vp = Viewport(node_index(park), batches=manifest(park.batches))  # doctest: +SKIP
>>> vp.style(alarmed_ids, rgb=(255, 0, 0), blink=True)             # doctest: +SKIP
"""
from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import panel as pn
import param
from panel.custom import JSComponent

from gis.roles import UTILITY_RGB
from models.network import OWN_RGB
from twin.batches import RenderBatch
from twin.device_batches import category_rgb
from twin.web.deltas import NodeIndex
from twin.web.geometry import geometry_url
from twin.web.messages import t
from twin.web.view_state import utility_of
from twin.web.visibility import batch_permission

#: Category → (rgb, opacity). Spaces are translucent so the elements inside them show. The pipe
#: networks take their utility's colour (:func:`network_rgb`), devices their type's.
CATEGORY_STYLE: dict[str, tuple[tuple[int, int, int], float]] = {
    "spaces": ((110, 170, 235), 0.18),
    "doors": ((165, 115, 70), 1.0),
    "windows": ((150, 205, 235), 0.55),
    "walls": ((228, 224, 214), 1.0),
    "slabs": ((172, 172, 178), 1.0),
    "stairs": ((195, 165, 125), 1.0),
    "transport": ((120, 120, 145), 1.0),
    "structure": ((205, 195, 175), 1.0),
    "mep": ((70, 160, 205), 1.0),
    "furniture": ((175, 145, 110), 1.0),
    "site": ((128, 150, 112), 1.0),
    # the ground and the GIS layers (roles of docs/scene-format.md)
    "ground": ((92, 104, 88), 1.0),
    "buildings": ((214, 208, 196), 1.0),
    "roads": ((64, 66, 72), 1.0),
    "paths": ((176, 168, 150), 1.0),
    "parking": ((96, 104, 118), 1.0),
    "parking_spaces": ((220, 220, 210), 1.0),
    "green": ((92, 150, 80), 1.0),
    "water": ((70, 130, 200), 0.85),
    "boundary": ((170, 60, 50), 1.0),
    "gates": ((240, 150, 40), 1.0),
    "assembly_points": ((60, 200, 90), 1.0),
    "other": ((185, 185, 185), 1.0),
}

#: Catalogue keys of the strings the browser shows.
BROWSER_STRINGS = ("loading", "load_failed", "north", "distance", "measure_first", "measure_second")

Bounds = Sequence[float]  # xmin, ymin, zmin, xmax, ymax, zmax in park-frame metres


def network_rgb(category: str) -> tuple[int, int, int] | None:
    """The colour of a pipe-network batch (``<family>:<utility>[:<node type>]``): its node type's
    own (hydrants), else its utility's (CJJ 61-2017, :data:`gis.roles.UTILITY_RGB`); None for others."""
    utility = utility_of(category)
    if utility is None:
        return None
    node_type = category.split(":")[2] if category.count(":") == 2 else ""
    return OWN_RGB.get(node_type) or UTILITY_RGB.get(utility, UTILITY_RGB["unknown"])


def category_style(category: str) -> tuple[tuple[int, int, int], float]:
    """``(rgb, opacity)`` of a batch category; the pipe networks by utility, ``devices:x`` by type,
    other ``family:x`` as their family."""
    if category in CATEGORY_STYLE:
        return CATEGORY_STYLE[category]
    special = network_rgb(category) or category_rgb(category)
    if special is not None:
        return special, 1.0
    family = category.partition(":")[0]
    return CATEGORY_STYLE.get(family, CATEGORY_STYLE["other"])


#: A batch the session may not see: its place in the manifest, nothing of it.
WITHHELD = {"withheld": True, "url": "", "digest": "", "key": "", "category": "withheld", "building": None,
            "storey": None, "n_triangles": 0, "rgb": [0, 0, 0], "opacity": 0.0, "visible": False}


def manifest(batches: Iterable[RenderBatch], may: Callable[[str], bool] = lambda _permission: True) -> list[dict]:
    """What the browser needs to fetch and style each batch (never the geometry itself); ``visible``:
    whether it shows at first (the navigator sets it from its first view). A batch whose permission
    (:func:`~twin.web.visibility.batch_permission`) ``may`` refuses is :data:`WITHHELD`."""
    out = []
    for b in batches:
        if not may(batch_permission(b.category)):
            out.append(dict(WITHHELD))
            continue
        rgb, opacity = category_style(b.category)
        out.append({"url": geometry_url(b), "digest": b.digest, "key": b.key, "category": b.category,
                    "building": b.building, "storey": b.storey, "n_triangles": b.n_triangles,
                    "rgb": list(rgb), "opacity": opacity, "visible": True})
    return out


def browser_strings(lang: str = "zh") -> dict[str, str]:
    return {key: t(key, lang) for key in BROWSER_STRINGS}


def style_message(index: NodeIndex, node_ids: Iterable[str], *, rgb: Sequence[int] | None = None,
                  opacity: float | None = None, visible: bool | None = None, blink: bool | None = None) -> dict:
    """The message that restyles nodes: their indices per batch, never geometry."""
    return {"op": "style", "parts": index.parts(node_ids), "rgb": None if rgb is None else [int(v) for v in rgb],
            "opacity": opacity, "visible": visible, "blink": blink}


def float_message(op: str, xyz_m: np.ndarray, rgb: Sequence[int], size_px: float) -> dict:
    """A ``points``, ``paths`` or ``zone`` message: park-frame points as base64 little-endian float32."""
    flat = np.asarray(xyz_m, "<f4").reshape(-1)
    return {"op": op, "xyz": base64.b64encode(flat.tobytes()).decode("ascii"), "rgb": [int(v) for v in rgb],
            "size_px": float(size_px)}


class Viewport(JSComponent):
    """The park in 3D: one vtk.js actor per render batch; Python sends only small messages.

    Node styles travel as per-batch index arrays (:mod:`twin.web.deltas`), so a change costs the
    same on a huge park as on a small one. The root element carries ``data-state`` (``loading``,
    ``ready``, ``error``), ``data-loaded`` (batches drawn), ``data-actors``, ``data-shown``
    (batches shown) and ``data-first-frame-ms``, for tests, benchmarks and anyone waiting on the scene.
    """

    batches = param.List(default=[], item_type=dict, doc="Batch manifest, see :func:`manifest`.")
    strings = param.Dict(default={}, doc="Browser strings from the message catalogue.")
    home_bounds = param.List(default=[], doc="Park-frame box the home view frames ([] = all drawn).")
    picked = param.String(default="", doc="Id of the clicked node ('' for none).")
    measuring = param.Boolean(default=False, doc="Clicks measure a distance instead of picking.")
    measured_m = param.Number(default=None, allow_None=True, doc="The last distance measured.")
    ready = param.Boolean(default=False, doc="True once every batch is drawn (set by the browser).")
    touched = param.Integer(default=0, doc="Counts a person's touches (press, wheel, key), at most one per 2 s.")
    home = param.Event(doc="Fly back to the home view.")

    _esm = Path(__file__).with_name("viewport.js")

    def __init__(self, index: NodeIndex, **params):
        pn.extension("vtk")  # puts Panel's bundled vtk.js on window.vtk for this session's page
        super().__init__(**params)
        self.index = index

    def send(self, message: dict) -> None:
        """One message to the browser (see ``ops`` in viewport.js)."""
        self._send_msg(message)

    def style(self, node_ids: Iterable[str], *, rgb: Sequence[int] | None = None,
              opacity: float | None = None, visible: bool | None = None, blink: bool | None = None) -> None:
        """Colour, fade, hide or blink nodes (``None`` leaves that aspect as it is)."""
        self.send(style_message(self.index, node_ids, rgb=rgb, opacity=opacity, visible=visible, blink=blink))

    def reset_style(self, node_ids: Iterable[str]) -> None:
        """Back to the batch's own look, not blinking."""
        self.send({"op": "style", "parts": self.index.parts(node_ids), "reset": True})

    def highlight(self, node_ids: Iterable[str]) -> None:
        """Replace the highlighted set (``[]`` clears it)."""
        self.send({"op": "highlight", "parts": self.index.parts(self.index.drawn(node_ids))})

    def show_batches(self, numbers: Sequence[int], *, visible: bool | None = None,
                     opacity: float | None = None, offset_z_m: float | Sequence[float] | None = None) -> None:
        """Show, hide, fade or lift whole batches (``numbers`` index the manifest)."""
        offsets = list(offset_z_m) if isinstance(offset_z_m, Sequence) else offset_z_m
        self.send({"op": "batches", "batches": list(numbers), "visible": visible, "opacity": opacity,
                   "offset_z": offsets})

    def fly_to(self, bounds_m: Bounds, duration_s: float = 1.2, direction: Sequence[float] | None = None) -> None:
        """Animate the camera to frame a box, looking along ``direction`` (default: as now)."""
        self.send({"op": "frame", "bounds": [float(v) for v in bounds_m], "duration_s": duration_s,
                   "direction": None if direction is None else [float(v) for v in direction]})

    def set_camera(self, position_m: Sequence[float], focal_point_m: Sequence[float],
                   duration_s: float = 1.5) -> None:
        """Animate the camera to a pose (park-frame metres)."""
        self.send({"op": "camera", "position": [float(v) for v in position_m],
                   "focal": [float(v) for v in focal_point_m], "duration_s": duration_s})

    def section(self, z_m: float | None) -> None:
        """Cut everything above ``z_m`` (park frame) away; ``None`` removes the cut."""
        self.send({"op": "section", "z": z_m})

    def show_labels(self, items: Iterable[tuple[str, Sequence[float]]]) -> None:
        """Text labels pinned at park-frame points; an empty list removes them."""
        self.send({"op": "labels", "items": [[text, [float(v) for v in xyz]] for text, xyz in items]})

    def pin(self, text: str, xyz: Sequence[float] | None) -> None:
        """A marker with ``text`` pinned at a park-frame point (``None``: remove it)."""
        self.send({"op": "pin", "text": text, "xyz": None if xyz is None else [float(v) for v in xyz]})

    def caption(self, text: str) -> None:
        """A caption over the view ('' hides it)."""
        self.send({"op": "caption", "text": text})

    def points(self, xyz_m: np.ndarray, rgb: Sequence[int], size_px: float = 5.0) -> None:
        """One cloud of points (``(n, 3)`` park frame), replacing the last; none: it goes."""
        self.send(float_message("points", xyz_m, rgb, size_px))

    def paths(self, segments_m: np.ndarray, rgb: Sequence[int], width_px: float = 2.0) -> None:
        """One set of line segments (``(n, 2, 3)`` ends, park frame), replacing the last; none: it goes."""
        self.send(float_message("paths", segments_m, rgb, width_px))

    def zone(self, triangles_m: np.ndarray, rgb: Sequence[int], opacity: float = 0.35) -> None:
        """One translucent area (``(n, 3, 3)`` triangle corners, park frame), replacing the last; none: it goes."""
        self.send({**float_message("zone", triangles_m, rgb, 0.0), "opacity": float(opacity)})
