"""Pipe-network analysis in the app: burst isolation (关阀分析) and traces, drawn on the viewport.

Pick a pipe, or click a leak alarm, and see the valves to shut (blinking, labelled), the isolated
pipes and nodes, the nodes and buildings that lose supply, and the second round when a valve
sticks; on a drainage network, where a spill goes (downstream) or what drains here (upstream); on
power and telecom, everything connected. The results are :mod:`twin.networks`' own, the same as the
CLI and ``/api/networks/…`` give.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import urlencode

import panel as pn

from twin.errors import InputError
from twin.networks.isolate import IsolationResult, isolate
from twin.networks.model import PipeNetwork
from twin.networks.scene import SceneNetworks
from twin.networks.trace import DIRECTIONS, TraceResult, default_direction, trace
from twin.park import Node, Park
from twin.web.access import guarded
from twin.web.messages import t
from twin.web.navigator import Navigator, box_around, context_box, label_point
from twin.web.viewport import Viewport

#: Overlay colours, apart from every utility's (CJJ 61-2017) and the yellow selection highlight.
AREA_RGB = (245, 245, 245)  # the isolated segment, or what a trace reaches
MARK_RGB = (255, 214, 0)  # valves to shut, or the outfalls and sources a trace reaches: blinking
AFFECTED_RGB = (255, 105, 180)  # nodes and buildings left without supply, buildings a trace reaches
ISOLATE = "isolate"
ANALYSES = (ISOLATE, *DIRECTIONS)
LOOK_DOWN = (0.45, 0.75, -1.0)
MIN_VIEW_M = 40.0


def building_node(park: Park, value: str) -> Node | None:
    """The park's building a network names by id, code, name or IFC source key (``B01``)."""
    if value in park:
        return park.get(value)
    for node in park.of_kind("building"):
        if value in (node.code, node.name) or node.id.startswith(f"ifc:{value}:"):
            return node
    return None


def default_analysis(net: PipeNetwork) -> str:
    """Isolation for a pressurised network, else its default trace."""
    return ISOLATE if net.pressurised else default_direction(net)


class NetworkPanel:
    """One session's network analysis, drawn on its viewport."""

    def __init__(self, park: Park, networks: SceneNetworks, viewport: Viewport, navigator: Navigator,
                 lang: str = "zh"):
        self.park, self.networks, self.viewport, self.navigator, self.lang = park, networks, viewport, navigator, lang
        names = list(networks.networks)
        first = next((n for n in names if networks.networks[n].pressurised), names[0] if names else None)
        labels = {(t(f"utility.{name}", lang) if name == net.utility else name): name
                  for name, net in networks.networks.items()}  # a scene's networks are its utilities
        self.network = pn.widgets.Select(label=t("net.network", lang), options=labels, value=first,
                                         sizing_mode="stretch_width")
        self.analysis = pn.widgets.Select(label=t("net.analysis", lang), sizing_mode="stretch_width",
                                          options={t(f"net.{a}", lang): a for a in ANALYSES},
                                          value=default_analysis(networks.networks[first]) if first else ISOLATE)
        self.element = pn.widgets.TextInput(label=t("net.element", lang), sizing_mode="stretch_width")
        self.failed = pn.widgets.MultiChoice(label=t("net.failed", lang), options={}, sizing_mode="stretch_width",
                                             css_classes=["twin-isolation-failed"], visible=False)
        self.go = pn.widgets.Button(label=t("net.run", lang), color="primary", disabled=not names)
        self.reset = pn.widgets.Button(label=t("net.clear", lang))
        self.result_pane = pn.pane.HTML(f"<p>{escape(t('net.hint' if names else 'net.none', lang))}</p>",
                                        sizing_mode="stretch_width", css_classes=["twin-isolation"])
        self.card = pn.Card(self.network, self.analysis, self.element, pn.Row(self.go, self.reset), self.failed,
                            self.result_pane, title=t("net.title", lang), sizing_mode="stretch_width", collapsed=True)
        self.result: IsolationResult | TraceResult | None = None
        self.styled: list[str] = []
        self.go.on_click(lambda _event: self.run(self.network.value, self.analysis.value, self.element.value.strip()))
        self.reset.on_click(lambda _event: self.clear())
        self.network.param.watch(lambda e: setattr(self.analysis, "value", default_analysis(networks.networks[e.new])),
                                 "value")
        self.failed.param.watch(self._failed_changed, "value")

    def panel(self) -> pn.viewable.Viewable:
        """A card, folded until a result arrives."""
        return self.card

    # --- choosing what to analyse -----------------------------------------------------------------
    def offer(self, node_id: str) -> None:
        """A picked pipe or network node becomes the element to analyse (not yet run)."""
        for net in self.networks.networks.values():
            if node_id in net.links.index or node_id in net.nodes.index:
                self.network.value = net.name
                self.element.value = self.park.get(node_id).code or node_id
                return

    def isolate_at(self, node_id: str) -> bool:
        """Isolate where ``node_id`` is: a pipe, a network node, or a device on one (a leak alarm's
        detector); ``False`` when it is on no pressurised network."""
        node = self.park.get(node_id) if node_id in self.park else None
        for candidate in [node_id] + ([node.links["host"]] if node is not None and "host" in node.links else []):
            found = self.networks.pipe_to_isolate(candidate)
            if found is not None:
                net, pipe = found
                with pn.io.hold():
                    self.network.value, self.analysis.value = net.name, ISOLATE
                    self.element.value = self.park.get(pipe).code or pipe
                self.run(net.name, ISOLATE, pipe)
                return True
        return False

    # --- running ---------------------------------------------------------------------------------
    @guarded("network.analyse", lambda self, network, analysis, element, failed=(): f"network/{network}/{analysis}?{element}")
    def run(self, network: str, analysis: str, element: str,
            failed: Sequence[str] = ()) -> IsolationResult | TraceResult | None:
        """Isolate or trace from ``element`` on ``network`` (``failed`` valves stick open); draw and list it."""
        net = self.networks.networks.get(network)
        try:
            if net is None:
                raise InputError(f"no network {network!r}")
            result = isolate(net, element, failed) if analysis == ISOLATE else trace(net, element, analysis)
        except InputError as exc:
            self.result_pane.object = f"<p class='twin-error'>{escape(t('net.error', self.lang).format(error=exc))}</p>"
            return None
        self.result = result
        isolation = isinstance(result, IsolationResult)
        with pn.io.hold():
            self.failed.visible = isolation
            self.failed.options = ({self._name(v): v for v in sorted(set(result.valves_to_close) | set(result.failed_valves))}
                                   if isolation else {})
            self.failed.value = list(result.failed_valves) if isolation else []
        self._draw(result)
        self.result_pane.object = self._isolation_html(result) if isolation else self._trace_html(result)
        self.card.collapsed = False
        return result

    def _failed_changed(self, event) -> None:
        result = self.result
        if isinstance(result, IsolationResult) and list(event.new) != list(result.failed_valves):
            self.run(result.network, ISOLATE, result.burst, event.new)

    @guarded("network.analyse", lambda self: "network/clear")
    def clear(self) -> None:
        """Take the overlay away."""
        self.result = None
        with pn.io.hold():
            self.failed.options, self.failed.value, self.failed.visible = {}, [], False
        self._restyle([])
        self.viewport.show_labels([])
        self.viewport.highlight([])
        self.result_pane.object = f"<p>{escape(t('net.hint', self.lang))}</p>"

    # --- drawing ---------------------------------------------------------------------------------
    def _buildings(self, values: Iterable[str]) -> list[Node]:
        return [node for node in (building_node(self.park, v) for v in values) if node is not None]

    def _restyle(self, node_ids: list[str]) -> None:
        if self.styled:
            self.viewport.reset_style(self.styled)
        self.styled = node_ids

    def _draw(self, result: IsolationResult | TraceResult) -> None:
        """Colour the result's pipes, nodes and buildings, label its valves or ends, fly over it."""
        buildings = self.viewport.index.drawn(n.id for n in self._buildings(
            result.affected_buildings if isinstance(result, IsolationResult)
            else result.to_json().get("buildings", [])))  # the buildings its answer lists
        if isinstance(result, IsolationResult):
            area, start = result.isolated_pipes + result.isolated_nodes, result.burst
            marked, label, affected = result.valves_to_close, "net.shut", result.affected_nodes + buildings
        else:
            area, start = result.pipes + result.nodes, result.start
            marked, label, affected = result.outfalls + result.sources, "net.end", buildings
        self._restyle(area + affected + marked)
        self.navigator.look_underground()
        self.viewport.style(area, rgb=AREA_RGB)
        self.viewport.style(affected, rgb=AFFECTED_RGB)
        self.viewport.style(marked, rgb=MARK_RGB, blink=True)
        self.viewport.highlight([start])
        self.viewport.show_labels([(t(label, self.lang).format(id=self._name(v)), point) for v in marked
                                   if v in self.park and (point := label_point(self.park.get(v)))])
        box = box_around(self.park.get(n) for n in area + marked if n in self.park)
        if box is not None:
            self.viewport.fly_to(context_box(box, MIN_VIEW_M), direction=LOOK_DOWN)

    def _name(self, node_id: str) -> str:
        node = self.park.get(node_id) if node_id in self.park else None
        return (node.code or node.name or node_id) if node is not None else node_id

    def _items(self, ids: Iterable[str]) -> str:
        return "".join(f"<li><b>{escape(self._name(i))}</b> {escape(self.park.get(i).name or '') if i in self.park else ''}</li>"
                       for i in ids)

    def _buildings_html(self, values: Iterable[str]) -> str:
        buildings = self._buildings(values)
        return (f"<p><b>{escape(t('net.buildings', self.lang))}</b></p>"
                + ("<ul>" + "".join(f"<li>{escape(b.name or b.id)}</li>" for b in buildings) + "</ul>"
                   if buildings else f"<p>{escape(t('net.no_buildings', self.lang))}</p>"))

    def _json_link(self, result: IsolationResult | TraceResult, query: list[tuple[str, str]]) -> str:
        kind = "isolate" if isinstance(result, IsolationResult) else "trace"
        return (f"<p><a href='api/networks/{escape(result.network)}/{kind}?{escape(urlencode(query))}' "
                f"target='_blank' style='color:#4fc3f7'>JSON</a></p>")

    def _isolation_html(self, result: IsolationResult) -> str:
        lang = self.lang
        title = t("net.burst_of", lang).format(pipe=self._name(result.burst))
        if result.failed_valves:
            title += " · " + t("net.failed_of", lang).format(valves=", ".join(map(self._name, result.failed_valves)))
        return (f"<div class='twin-isolation-result'><h4>{escape(title)}</h4>"
                f"<p class='twin-valves'>{escape(t('net.close', lang).format(n=len(result.valves_to_close)))}</p>"
                f"<ul>{self._items(result.valves_to_close)}</ul>"
                f"<p>{escape(t('net.isolated', lang).format(pipes=len(result.isolated_pipes), nodes=len(result.isolated_nodes)))}; "
                f"{escape(t('net.affected', lang).format(n=len(result.affected_nodes)))}</p>"
                f"{self._buildings_html(result.affected_buildings)}"
                f"{self._json_link(result, [('burst', result.burst), *(('failed', v) for v in result.failed_valves)])}</div>")

    def _trace_html(self, result: TraceResult) -> str:
        lang = self.lang
        ends = result.outfalls + result.sources
        unknown = (f"<p>{escape(t('net.unknown_flow', lang).format(n=len(result.unknown_flow)))}</p>"
                   if result.unknown_flow else "")
        return (f"<div class='twin-isolation-result'><h4>{escape(t(f'net.{result.direction}', lang))} · "
                f"{escape(self._name(result.start))}</h4>"
                f"<p>{escape(t('net.reached', lang).format(pipes=len(result.pipes), nodes=len(result.nodes)))}</p>"
                + (f"<ul>{self._items(ends)}</ul>" if ends else "") + unknown
                + (self._buildings_html(result.buildings) if result.direction != "downstream" else "")
                + self._json_link(result, [("start", result.start), ("direction", result.direction)]) + "</div>")
