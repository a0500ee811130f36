"""The Panel app that ``twin serve`` runs: the park viewport and what is known about the picked node."""
from __future__ import annotations

from html import escape

import panel as pn

from twin.park import Park
from twin.web.access import guarded
from twin.web.info import node_card
from twin.web.messages import t
from twin.web.viewport import Viewport, browser_labels, manifest


@guarded("app.view", lambda park: f"park/{park.name}")
def create_app(park: Park) -> pn.viewable.Viewable:
    """One session's page: title, viewport, home-view button and the picked node's info card."""
    viewport = Viewport(batches=manifest(park.batches), labels=browser_labels(),
                        sizing_mode="stretch_both", min_height=480)
    info = pn.pane.HTML(node_card(park, ""), sizing_mode="stretch_width")
    home = pn.widgets.Button(label=t("home_view"), color="primary", width=140)

    @guarded("node.read", lambda node_id: node_id or "-")
    def show(node_id: str) -> None:
        info.object = node_card(park, node_id)

    @guarded("view.home", lambda _event: f"park/{park.name}")
    def go_home(_event) -> None:
        viewport.param.trigger("home")

    viewport.param.watch(lambda event: show(event.new), "picked")
    home.on_click(go_home)
    card = pn.Card(info, title=t("info_title"), width=380, collapsible=False, scroll=True)
    header = pn.Row(pn.pane.HTML(f"<h2 style='margin:0'>{escape(park.name)}</h2>"), home,
                    sizing_mode="stretch_width")
    return pn.Column(header, pn.Row(viewport, card, sizing_mode="stretch_both"),
                     sizing_mode="stretch_both")
