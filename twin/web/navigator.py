"""The viewer's controls: drill down park › building › storey, view modes, layer switches, labels.

Each control changes the session's :class:`~twin.web.view_state.View`; the navigator sends the
viewport only the batches whose look changed, and every change passes the access layer.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import panel as pn

from gis.roles import UTILITIES, UTILITY_RGB
from twin.park import Node, Park
from twin.web.access import guarded
from twin.web.messages import t
from twin.web.view_state import GHOST_OPACITY, Look, Storeys, View, batch_looks, layer_of, lift_m, utility_of
from twin.web.viewport import Viewport

MAX_LABELS = 300
MIN_VIEW_M = 14.0  # locating a small thing frames at least this much of its surroundings
LOOK_DOWN = (0.45, 0.75, -1.0)  # locating looks down from the south-south-west
PARK = ""  # the building selector's "whole park" option


def swatches_css(utilities: Sequence[str]) -> str:
    """The utility switches as a legend: each label after a swatch of its utility's colour
    (:data:`gis.roles.UTILITY_RGB`), the row wrapping in the side panel."""
    rules = [".bk-input-group { flex-wrap: wrap; gap: 4px 12px; }",
             "label span::before { content: ''; display: inline-block; width: 10px; height: 10px; "
             "margin-right: 4px; border: 1px solid #9aa0a6; vertical-align: -1px; }"]
    rules += [f"label:nth-of-type({i}) span::before {{ background: rgb{UTILITY_RGB[u]}; }}"
              for i, u in enumerate(utilities, start=1)]
    return "\n".join(rules)


def storeys_of(park: Park) -> Storeys:
    """Every storey with its building and elevation (its lowest point when the IFC gives none)."""
    triples = []
    for node in park.of_kind("storey"):
        building = park.ancestor(node.id, "building")
        if building is None:
            continue
        elevation = node.elevation_m if node.elevation_m is not None else (node.bounds_m or (0, 0, 0))[2]
        triples.append((node.id, building.id, float(elevation)))
    return Storeys.of(triples)


def label_point(node: Node) -> list[float] | None:
    """Where a node's label is pinned: above the middle of its box."""
    if node.bounds_m is None:
        return None
    b = node.bounds_m
    return [(b[0] + b[3]) / 2, (b[1] + b[4]) / 2, b[5] + 0.5]


def labelled_nodes(park: Park, view: View) -> list[Node]:
    """What carries a label, most important first: rooms then devices of the chosen storey,
    storeys of the chosen building, else the park's buildings."""
    if view.storey:
        inside = list(park.descendants(view.storey))
        nodes = [n for n in inside if n.kind == "space"] + [n for n in inside if n.kind == "device"]
    elif view.building:
        nodes = [park.get(c) for c in park.get(view.building).children if park.get(c).kind == "storey"]
    else:
        nodes = park.of_kind("building")
    return [n for n in nodes if n.bounds_m is not None][:MAX_LABELS]


def box_around(nodes: Iterable[Node]) -> tuple[float, ...] | None:
    """The box around the placed nodes' boxes (``None`` when none is placed)."""
    boxes = [n.bounds_m for n in nodes if n.bounds_m is not None]
    if not boxes:
        return None
    return (*(min(b[i] for b in boxes) for i in range(3)), *(max(b[i] for b in boxes) for i in range(3, 6)))


def box_of(park: Park, node_id: str) -> tuple[float, ...] | None:
    """A node's box, else the box around its placed descendants (storeys, buildings)."""
    node = park.get(node_id)
    return node.bounds_m if node.bounds_m is not None else box_around(park.descendants(node_id))


def context_box(box: Sequence[float], min_size_m: float = MIN_VIEW_M) -> list[float]:
    """``box`` grown about its centre to at least ``min_size_m`` across."""
    out = list(box)
    for axis in range(3):
        centre, half = (box[axis] + box[axis + 3]) / 2, max((box[axis + 3] - box[axis]) / 2, min_size_m / 2)
        out[axis], out[axis + 3] = centre - half, centre + half
    return out


class Navigator:
    """One session's navigation controls, bound to its viewport."""

    def __init__(self, park: Park, viewport: Viewport, lang: str = "zh"):
        self.park, self.viewport, self.lang = park, viewport, lang
        self.entries: Sequence[Mapping] = viewport.batches
        self.storeys = storeys_of(park)
        self.footprints = [n for b in park.batches if b.category == "buildings" for n in b.node_ids]
        self.ghosted: list[str] = []  # footprints faded node by node…
        self.ghosted_for: str | None = None  # …for this chosen building
        buildings = sorted(park.of_kind("building"), key=lambda n: n.name or n.id)
        self.building = pn.widgets.Select(label=t("building", lang), options={
            t("whole_park", lang): PARK, **{b.name or b.id: b.id for b in buildings}}, value=PARK)
        self.storey = pn.widgets.Select(label=t("storey", lang), options={t("all_storeys", lang): PARK},
                                        value=PARK, disabled=True)
        present = {utility_of(e["category"]) for e in self.entries}
        utilities = [u for u in UTILITIES if u in present]  # the pipe networks' utilities, in table order
        modes = ["xray", "exploded", "ground_translucent"] + (["exaggerate_pipes"] if utilities else [])
        self.modes = pn.widgets.CheckButtonGroup(options={t(key, lang): key for key in modes},
                                                 value=[], orientation="vertical", sizing_mode="stretch_width",
                                                 color="primary", variant="outline")
        self.utilities = pn.widgets.CheckBoxGroup(options={t(f"utility.{u}", lang): u for u in utilities},
                                                  value=utilities, inline=True, stylesheets=[swatches_css(utilities)])
        layers = sorted({layer_of(e["category"]) for e in self.entries if not e.get("withheld")}) + ["labels"]
        self.layers = pn.widgets.CheckBoxGroup(options={t(f"layer.{k}", lang): k for k in layers},
                                               value=[k for k in layers if k != "labels"])
        low, high = self._height_range()
        self.section = pn.widgets.FloatSlider(label=t("section", lang), start=low, end=high, step=0.5,
                                              value=high, sizing_mode="stretch_width")
        self.measure = pn.widgets.Toggle(label=t("measure", lang), color="primary",
                                         variant="outline", sizing_mode="stretch_width")
        self.building.param.watch(lambda e: self._building_chosen(e.new or None), "value")
        self.storey.param.watch(lambda e: self._storey_chosen(e.new or None), "value")
        for widget in (self.modes, self.layers, self.utilities):
            widget.param.watch(lambda e: self.apply(), "value")
        # the first view's looks travel with the manifest, so the browser starts with them
        self.sent: list[Look] = batch_looks(self.entries, self.storeys, self.view())
        self.entries = viewport.batches = [{**e, "visible": look.visible} for e, look in zip(self.entries, self.sent)]
        self.section.param.watch(lambda e: self.cut(e.new), "value")
        self.measure.param.watch(lambda e: setattr(viewport, "measuring", e.new), "value")

    def _height_range(self) -> tuple[float, float]:
        """The section slider's range: the park's height span (the viewport's home box), in metres."""
        bounds = self.viewport.home_bounds or (0, 0, 0, 0, 0, 10)
        return float(int(bounds[2]) - 1), float(int(bounds[5]) + 1)

    def view(self) -> View:
        modes = set(self.modes.value)
        return View(building=self.building.value or None, storey=self.storey.value or None,
                    exploded="exploded" in modes, xray="xray" in modes,
                    ground_translucent="ground_translucent" in modes, exaggerated_pipes="exaggerate_pipes" in modes,
                    hidden_layers=frozenset(k for k in self.layers.options.values() if k not in self.layers.value),
                    hidden_utilities=frozenset(u for u in self.utilities.options.values()
                                               if u not in self.utilities.value))

    @guarded("view.navigate", lambda self, building_id, storey_id=None: storey_id or building_id or "park")
    def enter(self, building_id: str | None, storey_id: str | None = None) -> None:
        """Drill into a building (``None``: the whole park) and optionally one of its storeys."""
        self.building.value = building_id or PARK
        self.storey.value = storey_id if storey_id in self.storey.options.values() else PARK

    @guarded("node.locate", lambda self, node_id: node_id)
    def locate(self, node_id: str) -> None:
        """Search-and-locate: isolate the node's storey when indoors, fly there, highlight it."""
        node = self.park.get(node_id)
        storey, building = self.park.within(node_id, "storey"), self.park.within(node_id, "building")
        self.enter(building.id if building else None, storey.id if storey else None)
        self.frame(node_id, LOOK_DOWN)
        self.viewport.highlight([node_id])
        self.viewport.pin(node.name or node.code or node.id, label_point(node))

    def isolate(self, node_ids: Sequence[str]) -> None:
        """Show the storey of the first indoor node (storeys above hidden), else the whole park."""
        for node_id in node_ids:
            storey = self.park.ancestor(node_id, "storey") if node_id in self.park else None
            if storey is not None:
                self.enter(self.storeys.building.get(storey.id), storey.id)
                return
        self.enter(None)

    def look_underground(self) -> None:
        """The underground view: the ground see-through, pipes exaggerated (so an analysis's few
        pipes read from afar) and the underground layer on."""
        with pn.io.hold():
            wanted = [m for m in ("ground_translucent", "exaggerate_pipes") if m in self.modes.options.values()]
            self.modes.value = [*self.modes.value, *(m for m in wanted if m not in self.modes.value)]
            if "underground" in self.layers.options.values() and "underground" not in self.layers.value:
                self.layers.value = [*self.layers.value, "underground"]

    def frame(self, node_id: str, direction: Sequence[float] | None = None) -> None:
        """Fly to a node's box (where the exploded view has lifted it), with its surroundings."""
        box = box_of(self.park, node_id)
        if box is None:
            return
        storey = self.park.within(node_id, "storey")
        if storey is not None:
            lift = lift_m(self.storeys, self.view(), self.storeys.building.get(storey.id), storey.id)
            box = [v + (lift if axis in (2, 5) else 0.0) for axis, v in enumerate(box)]
        self.viewport.fly_to(context_box(box), direction=direction)

    def _storey_chosen(self, storey_id: str | None) -> None:
        self.apply()
        if storey_id or self.building.value:
            self.frame(storey_id or self.building.value)

    def _building_chosen(self, building_id: str | None) -> None:
        storeys = sorted((s for s, b in self.storeys.building.items() if b == building_id),
                         key=lambda s: self.storeys.elevation_m[s])
        with pn.io.hold():
            self.storey.options = {t("all_storeys", self.lang): PARK,
                                   **{self.park.get(s).name or s: s for s in reversed(storeys)}}
            self.storey.disabled = not storeys
            self.storey.value = PARK
        self.apply()
        if building_id:
            self.frame(building_id)

    @guarded("view.navigate", lambda self: "view")
    def apply(self) -> None:
        """Send the batches whose look changed, then footprints' ghosting and labels."""
        view = self.view()
        looks = batch_looks(self.entries, self.storeys, view)
        changed: dict[Look, list[int]] = defaultdict(list)
        for number, (old, new) in enumerate(zip(self.sent, looks)):
            if old != new:
                changed[new].append(number)
        for new, numbers in changed.items():
            self.viewport.show_batches(numbers, visible=new.visible, opacity=new.opacity, offset_z_m=new.offset_z_m)
        self.sent = looks
        self._ghost_footprints(view)
        self._label(view)

    def _ghost_footprints(self, view: View) -> None:
        """A building chosen: fade the GIS footprints (one batch) but its own, node by node."""
        if view.building == self.ghosted_for:
            return
        if self.ghosted:
            self.viewport.reset_style(self.ghosted)
        self.ghosted_for = view.building
        self.ghosted = [n for n in self.footprints if n != view.building] if view.building else []
        if self.ghosted:
            self.viewport.style(self.ghosted, opacity=GHOST_OPACITY)

    def _label(self, view: View) -> None:
        if "labels" not in self.layers.value:
            self.viewport.show_labels([])
            return
        nodes = labelled_nodes(self.park, view)
        self.viewport.show_labels([((n.code if n.kind == "device" else "") or n.name or n.id, label_point(n))
                                   for n in nodes])

    @guarded("view.section", lambda self, z_m: f"z={z_m:g}")
    def cut(self, z_m: float) -> None:
        self.viewport.section(None if z_m >= self.section.end else z_m)

    def panel(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown(f"#### {t('drill_down', self.lang)}"), self.building, self.storey,
            pn.pane.Markdown(f"#### {t('view_modes', self.lang)}"), self.modes,
            *([pn.pane.Markdown(f"#### {t('layer.underground', self.lang)}"), self.utilities]
              if self.utilities.options else []),
            self.section, self.measure,
            pn.pane.Markdown(f"#### {t('layers', self.lang)}"), self.layers,
            sizing_mode="stretch_width")
