"""What a drill assumes, as the commander sets it: the incident, the fire's growth, who is in the
buildings (a density, or the live people counters) and, for a gas leak, the release and the wind
(the live weather station's when the scene binds one, else typed in)."""
from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

import panel as pn

from twin.evacuation import EvacuationGraph
from twin.evacuation.fire import GROWTH_ALPHA_KW_S2
from twin.evacuation.occupants import DEFAULT_DENSITY_PPM2, vacant_spaces
from twin.evacuation.plume import BRIGGS_RURAL, stability_class, sun_altitude_deg
from twin.evacuation.sensed import Wind, counted_occupants, measured_wind
from twin.evacuation.worker import INCIDENTS, DrillSpec, GasLeak
from twin.park import Park
from twin.web.messages import t

if TYPE_CHECKING:
    from live.runtime import Live

AUTO = "auto"  #: the stability class worked out from the wind and the sun
OUTDOOR_INCIDENTS = ("gas",)  #: what can start outside any room


class DrillSetup:
    """The drill card's inputs; :meth:`spec` turns them into a :class:`DrillSpec` for a place."""

    def __init__(self, park: Park, live: Live | None, lang: str):
        self.park, self.live, self.lang = park, live, lang
        occupancy = live.spec.occupancy if live is not None else None
        self.counters = _counters(park, live) if occupancy is not None else []
        self.incident = pn.widgets.Select(label=t("drill.incident", lang), value="fire", sizing_mode="stretch_width",
                                          options=self._incidents(INCIDENTS))
        self.growth = pn.widgets.Select(label=t("drill.growth", lang), value="medium", sizing_mode="stretch_width",
                                        options={t(f"drill.growth.{g}", lang): g for g in GROWTH_ALPHA_KW_S2})
        self.people = pn.widgets.RadioButtonGroup(options={t("drill.people.density", lang): "density",
                                                           t("drill.people.live", lang): "live"},
                                                  value="live" if self.counters else "density",
                                                  visible=bool(self.counters), css_classes=["twin-drill-people"])
        self.density = pn.widgets.FloatInput(label=t("drill.density", lang), value=DEFAULT_DENSITY_PPM2, step=0.05,
                                             start=0.01, end=5.0, sizing_mode="stretch_width")
        self.wind_note = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-drill-wind"])
        self.wind_speed = pn.widgets.FloatInput(label=t("drill.wind_speed", lang), value=GasLeak.wind_m_s, step=0.5,
                                                start=0.5, end=30.0, sizing_mode="stretch_width")
        self.wind_from = pn.widgets.FloatInput(label=t("drill.wind_from", lang), value=GasLeak.wind_from_deg, step=15,
                                               start=0.0, end=359.9, sizing_mode="stretch_width")
        self.stability = pn.widgets.Select(label=t("drill.stability", lang), value=AUTO, sizing_mode="stretch_width",
                                           options={t("drill.stability.auto", lang): AUTO,
                                                    **{c: c for c in BRIGGS_RURAL}})
        self.leak = pn.widgets.FloatInput(label=t("drill.leak_g_s", lang), value=GasLeak.rate_g_s, step=10,
                                          start=0.1, sizing_mode="stretch_width")
        self.gas = pn.Column(self.wind_note, pn.Row(self.wind_speed, self.wind_from), pn.Row(self.stability, self.leak),
                             visible=False, sizing_mode="stretch_width")
        self.people_note = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-drill-counted"])
        self.incident.param.watch(lambda e: self._shown(e.new), "value")
        self.widgets = pn.Column(self.incident, self.growth, self.gas, self.people, self.density, self.people_note,
                                 sizing_mode="stretch_width")

    def _incidents(self, kinds: tuple[str, ...]) -> dict[str, str]:
        return {t(f"drill.incident.{k}", self.lang): k for k in kinds}

    def place(self, indoors: bool) -> None:
        """A new place picked: outdoors only a gas leak can start there."""
        kinds = INCIDENTS if indoors else OUTDOOR_INCIDENTS
        self.incident.options = self._incidents(kinds)
        if self.incident.value not in kinds:
            self.incident.value = kinds[0]
        self._shown(self.incident.value)

    def _shown(self, incident: str) -> None:
        self.growth.visible = incident == "fire"
        self.gas.visible = incident == "gas"
        if incident == "gas":
            self._live_wind()

    def _live_wind(self) -> None:
        """Fill the wind in from the weather station, when the scene binds one and it reported lately."""
        wind = self.wind()
        if wind is None:
            bound = self.live is not None and self.live.spec.weather is not None
            self.wind_note.object = f"<p>{escape(t('drill.wind_none' if bound else 'drill.wind_typed', self.lang))}</p>"
            return
        self.wind_speed.value, self.wind_from.value = round(wind.speed_m_s, 1), round(wind.from_deg)
        station = self.park.get(wind.station)
        self.wind_note.object = "<p>" + escape(t("drill.wind_live", self.lang).format(
            speed=f"{wind.speed_m_s:.1f}", deg=f"{wind.from_deg:.0f}", station=station.name or station.id,
            at=f"{wind.at.astimezone(UTC):%H:%M} UTC")) + "</p>"

    def wind(self) -> Wind | None:
        """The weather station's latest fresh wind (None: no station bound, or nothing fresh)."""
        from live.config import weather_station

        weather = self.live.spec.weather if self.live is not None else None
        station = weather_station(weather, self.park) if weather is not None else None
        if station is None:
            return None
        values = self.live.state.metrics(station)
        return measured_wind(station, values.get(weather.wind_speed), values.get(weather.wind_from),
                             self.live.clock.now(), weather.max_age_s)

    def spec(self, origin: str, graph: EvacuationGraph) -> DrillSpec:
        """The drill at ``origin`` (a space id; a gas leak: any node) as set now."""
        incident = self.incident.value
        return DrillSpec(origin=origin, incident=incident, growth=self.growth.value, vacant=vacant_spaces(self.park),
                         density_ppm2=float(self.density.value), counted=self._counted(graph),
                         gas=self._leak(origin) if incident == "gas" else None)

    def _counted(self, graph: EvacuationGraph) -> tuple[tuple[str, int], ...]:
        """The live counts per space, when the commander chose the counters (noted under the choice)."""
        if not self.counters or self.people.value != "live":
            self.people_note.object = ""
            return ()
        occupancy = self.live.spec.occupancy
        readings = {c: r for c in self.counters if (r := self.live.state.metrics(c).get(occupancy.metric))}
        counted = counted_occupants(self.park, graph, readings, self.live.clock.now(), occupancy.max_age_s)
        self.people_note.object = "<p>" + escape(t("drill.counted", self.lang).format(
            persons=counted.persons, counters=counted.counters, spaces=len(counted.counts),
            silent=len(self.counters) - counted.counters)) + "</p>"
        return tuple((graph.places[i].id, n) for i, n in sorted(counted.counts.items()))

    def _leak(self, origin: str) -> GasLeak:
        centre = self.park.get(origin).centre_m
        if centre is None:
            raise ValueError(f"{origin}: a gas leak needs a place with a position")
        wind_m_s = float(self.wind_speed.value)
        return GasLeak((float(centre[0]), float(centre[1])), float(self.leak.value), wind_m_s,
                       float(self.wind_from.value), self._stability(origin, wind_m_s))

    def _stability(self, origin: str, wind_m_s: float) -> str:
        """The class chosen, or Pasquill's for the wind and the sun's altitude now (neutral D when the park
        is placed nowhere)."""
        if self.stability.value != AUTO:
            return self.stability.value
        lonlat = self.park.lonlat(origin)
        if lonlat is None:
            return "D"
        now = self.live.clock.now() if self.live is not None else datetime.now(UTC)
        return stability_class(wind_m_s, sun_altitude_deg(lonlat[0], lonlat[1], now))


def _counters(park: Park, live: Live) -> list[str]:
    """The devices whose type declares the occupancy metric."""
    from live.state import device_type

    metric = live.spec.occupancy.metric
    types = {name for name, spec in live.spec.device_types.items() if metric in spec.metrics}
    return [n.id for n in park.of_kind("device") if device_type(n) in types]
