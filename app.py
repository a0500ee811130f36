"""The Panel app that ``twin serve`` runs: search, navigation, the 3D park and the info card.

One call of :func:`create_app` is one browser session; the park (geometry, index, search) is shared.
Each role has its page (:data:`PAGES`): ``/`` the operator's workstation with everything,
``/command`` drills, plans and alarms, ``/tour`` the investment tours, ``/maintenance`` assets,
history, alarms and work orders; ``/wall`` is the monitoring centre's large screen
(:func:`create_wall`) and ``/admin`` the scene and diagnostics (:mod:`twin.web.admin`).
URL arguments: ``?node=<id>`` opens the app located on that node (a QR code on an asset can lead
there), ``?lang=en`` switches the labels to English (Simplified Chinese is the default).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import urlencode

import panel as pn

from live.alarms import Alarm
from live.runtime import Live
from twin.networks.scene import SceneNetworks
from twin.park import Park
from twin.plans import PlanSpec
from twin.web.access import LOCAL, AccessDenied, check, current_principal, guarded
from twin.web.admin import AdminPage
from twin.web.alarm_list import AlarmList
from twin.web.deltas import node_index
from twin.web.drill_panel import DrillPanel
from twin.web.finder import Finder
from twin.web.info import node_card
from twin.web.network_panel import NetworkPanel
from twin.web.live_card import LiveCard
from twin.web.live_view import PULL_PERIOD_MS, LiveView
from twin.web.looks import look_metrics, scales
from twin.web.messages import LANGUAGES, t
from twin.web.navigator import Navigator
from twin.web.plan_panel import PlanPanel
from twin.web.reloader import reloader
from twin.web.tour_player import TourPlayer
from twin.web.viewport import Viewport, browser_strings, manifest
from twin.web.workorder_panel import WorkOrderPanel
from twin.web.wall import Wall
from twin.wall import WallSpec

#: Panels grow with the screen: twice the size on a 4K wall, so they read from across the room.
LARGE_SCREEN_CSS = """
@media (min-width: 2600px) { :host { zoom: 2; } }
h2 { margin: 0; font-size: 22px; white-space: nowrap; }
"""


#: What each role's page holds: tours, drills, emergency plans, pipe-network analysis, the alarm
#: list, work orders, live values (device colours, the live card) and shading by a metric.
PAGES: dict[str, frozenset[str]] = {
    "workstation": frozenset({"tours", "drill", "plans", "networks", "alarms", "orders", "live", "shade"}),
    "command": frozenset({"drill", "plans", "networks", "alarms", "live"}),
    "tour": frozenset({"tours"}),
    "maintenance": frozenset({"networks", "alarms", "orders", "live", "shade"}),
}
#: The pages in the header's menu, as (path, label key); ``/wall`` needs a live park.
MENU = (("/", "page.workstation"), ("/wall", "page.wall"), ("/command", "page.command"), ("/tour", "page.tour"),
        ("/maintenance", "page.maintenance"), ("/admin", "page.admin"))


def url_args() -> dict[str, str]:
    """This session's URL query arguments (first value of each)."""
    return {key: values[0].decode() for key, values in (pn.state.session_args or {}).items() if values}


def language(args: Mapping[str, str]) -> str:
    return args.get("lang") if args.get("lang") in LANGUAGES else LANGUAGES[0]


def page_header(park: Park, page: str, args: Mapping[str, str], live: bool,
                *buttons: pn.viewable.Viewable) -> pn.Row:
    """A page's title, the menu of the other role pages the session may open (``/wall`` when the park
    is ``live``), who is signed in with a sign-out link, its ``buttons`` and the language switch."""
    lang, principal = language(args), current_principal()
    here = "/" if page == "workstation" else f"/{page}"
    links = "".join(f"<a href='{path}?lang={lang}' class='twin-menu' style='color:#4fc3f7;margin-right:12px'>"
                    f"{escape(t(key, lang))}</a>" for path, key in MENU
                    if path != here and (live or path != "/wall") and principal.may(key))
    if principal != LOCAL:  # signed in: who, and the way out
        links += (f"<a href='/logout' class='twin-sign-out' style='color:#ffb74d'>"
                  f"{escape(t('sign_out', lang).format(name=principal.name))}</a>")
    title = park.name if page == "workstation" else f"{park.name} · {t(f'page.{page}', lang)}"
    other = next(code for code in LANGUAGES if code != lang)
    switch = pn.pane.HTML(f"<a href='?{escape(urlencode({**args, 'lang': other}))}' style='color:#4fc3f7'>"
                          f"{escape(t('other_language', lang))}</a>", width=70)
    return pn.Row(pn.pane.HTML(f"<h2>{escape(title)}</h2>"), pn.layout.HSpacer(),
                  pn.pane.HTML(f"<nav style='white-space:nowrap'>{links}</nav>"), *buttons, switch, reloader(lang),
                  sizing_mode="stretch_width", css_classes=["twin-header"], stylesheets=[LARGE_SCREEN_CSS])


def refusal(park: Park, page: str, args: Mapping[str, str], live: bool) -> pn.viewable.Viewable | None:
    """None when the session may open ``page`` (``page.<page>``, checked and audited); else a page that
    says so, its menu leading to the pages it may open."""
    try:
        check(current_principal(), f"page.{page}", f"park/{park.name}/{page}")
        return None
    except AccessDenied:
        pn.config.theme = "dark"
        return pn.Column(page_header(park, page, args, live), pn.pane.HTML(
            f"<p class='twin-error twin-refused'>{escape(t('page.refused', language(args)))}</p>"),
                         sizing_mode="stretch_both")


def create_app(park: Park, args: Mapping[str, str] | None = None, live: Live | None = None,
               networks: SceneNetworks | None = None, plans: Sequence[PlanSpec] = (),
               page: str = "workstation") -> pn.viewable.Viewable:
    """One session's page (``args``: its URL arguments, read from the session when not given;
    ``live``: the park's live side — state, alarms, history, commands — when it has one;
    ``networks``: its pipe networks, for burst isolation and traces; ``plans``: its emergency plans,
    ticked off in drills and opened by real alarms; ``page``: whose page, a key of :data:`PAGES`)."""
    args = url_args() if args is None else args
    if (refused := refusal(park, page, args, live is not None)) is not None:
        return refused
    lang, parts = language(args), PAGES[page]
    live = live if "live" in parts else None  # a tour page shows nothing live
    pn.config.theme = "dark"
    viewport = Viewport(node_index(park), batches=manifest(park.batches, current_principal().may),
                        strings=browser_strings(lang),
                        home_bounds=list(park.bounds_m() or ()), sizing_mode="stretch_both", min_height=480)
    navigator = Navigator(park, viewport, lang)
    card = pn.pane.HTML(node_card(park, "", lang), sizing_mode="stretch_width")
    live_card = LiveCard(live, lang) if live is not None else None
    analysis = (NetworkPanel(park, networks, viewport, navigator, lang)
                if "networks" in parts and networks and networks.networks else None)
    linkage = {rule.key: rule.linkage for rule in live.spec.rules} if live is not None else {}

    orders: WorkOrderPanel | None = None  # the work-order card, on pages that have it

    def describe(node_id: str, cameras: bool = False) -> None:
        card.object = node_card(park, node_id, lang, current_principal().may)
        if live_card is not None:
            live_card.show(node_id, cameras)
        if orders is not None:
            orders.offer(node_id)

    @guarded("node.read", lambda ids: ",".join(ids))
    def show_cameras(ids: Sequence[str]) -> None:
        """A plan's cameras lit in the view, the first one's card (and picture) shown."""
        viewport.highlight(list(ids))
        describe(ids[0])

    drill = (DrillPanel(park, viewport, navigator, lang, plans, show_cameras, live)
             if "drill" in parts and park.of_kind("space") else None)
    plan_card = PlanPanel(live, plans, show_cameras, lang) if "plans" in parts and live is not None and plans else None
    offers = [panel for panel in (analysis, drill) if panel is not None]  # the right column's analysis cards

    @guarded("node.read", lambda node_id: node_id or "-")
    def show(node_id: str) -> None:
        describe(node_id)
        viewport.highlight([node_id] if node_id else [])
        for panel in offers if node_id else ():
            panel.offer(node_id)

    def locate(node_id: str, cameras: bool = False) -> None:
        navigator.locate(node_id)
        describe(node_id, cameras)

    def go_to_alarm(alarm: Alarm) -> None:
        if alarm.node not in park:
            return
        if plan_card is not None:
            plan_card.open(alarm)
        if linkage.get(alarm.rule) == "isolate" and analysis is not None and analysis.isolate_at(alarm.node):
            describe(alarm.node, cameras=True)  # the isolation frames the segment
        else:
            locate(alarm.node, cameras=True)

    @guarded("view.home", lambda _event: f"park/{park.name}")
    def go_home(_event) -> None:
        navigator.enter(None)
        viewport.pin("", None)
        viewport.param.trigger("home")

    viewport.param.watch(lambda event: show(event.new), "picked")
    focus = args.get("node", "")
    if focus in park:
        viewport.param.watch(lambda event: event.new and locate(focus), "ready")
    elif focus:
        card.object = f"<p class='twin-error'>{escape(t('node_unknown', lang).format(id=focus))}</p>"
    finder = Finder(park, locate, lang)
    home = pn.widgets.Button(label=t("home_view", lang), color="primary", width=110)
    home.on_click(go_home)
    fullscreen = pn.widgets.Button(label=t("fullscreen", lang), width=90)
    fullscreen.js_on_click(code="document.documentElement.requestFullscreen()")
    header = page_header(park, page, args, live is not None, home, fullscreen)
    tours = [TourPlayer(viewport, park.tours, lang, focus=navigator.isolate)] if "tours" in parts else []
    side = pn.Column(finder.panel(), *tours, navigator.panel(), width=320, scroll=True, css_classes=["twin-side"],
                     stylesheets=[LARGE_SCREEN_CSS])
    details = ([plan_card.panel()] if plan_card is not None else []) + [panel.panel() for panel in offers] + (
        [card] if live_card is None else [live_card.panel(), card])
    info = pn.Card(*details, title=t("info_title", lang), width=380, collapsible=False, scroll=True,
                   css_classes=["twin-side"], stylesheets=[LARGE_SCREEN_CSS])
    centre = [viewport]
    if live is not None:
        live_view = LiveView(live.state, viewport, listeners=[live_card.refresh], scales=scales(live.spec),
                             looks=look_metrics(live.spec), energy=live.energy)
        pulls = [live_view.pull, live_card.pull_orders]
        if "shade" in parts:
            side.append(live_view.shade_panel(lang))
        if "alarms" in parts:
            alarms = AlarmList(live, go_to_alarm, lang)
            centre.append(pn.Card(alarms.panel(), title=t("alarm.title", lang), sizing_mode="stretch_width",
                                  css_classes=["twin-alarm-card"], stylesheets=[LARGE_SCREEN_CSS]))
            pulls.append(alarms.pull)
        if "orders" in parts:
            orders = WorkOrderPanel(live, locate, lang)
            centre.append(pn.Card(orders.panel(), title=t("order.title", lang), collapsed=page != "maintenance",
                                  sizing_mode="stretch_width", css_classes=["twin-order-card"],
                                  stylesheets=[LARGE_SCREEN_CSS]))
            pulls.append(orders.pull)
        pn.state.add_periodic_callback(lambda: [pull() for pull in pulls], period=PULL_PERIOD_MS)
    return pn.Column(header, pn.Row(side, pn.Column(*centre, sizing_mode="stretch_both"), info,
                                    sizing_mode="stretch_both"), sizing_mode="stretch_both")


def create_wall(park: Park, live: Live, spec: WallSpec, args: Mapping[str, str] | None = None) -> pn.viewable.Viewable:
    """One session of the monitoring centre's large screen (``/wall``)."""
    args = url_args() if args is None else args
    if (refused := refusal(park, "wall", args, True)) is not None:
        return refused
    lang = language(args)
    pn.config.theme = "dark"
    return Wall(park, live, spec, live.energy if live.energy.metered else None, lang).panel()


def create_admin(park: Park, live: Live | None, args: Mapping[str, str] | None = None) -> pn.viewable.Viewable:
    """One session of the administrator's page (``/admin``): the scene and the live side's diagnostics."""
    args = url_args() if args is None else args
    if (refused := refusal(park, "admin", args, live is not None)) is not None:
        return refused
    pn.config.theme = "dark"
    return AdminPage(park, live, language(args)).panel(page_header(park, "admin", args, live is not None))
