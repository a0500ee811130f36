"""Where an IFC model sits on Earth: IfcMapConversion, else IfcSite lat/long, else nothing."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.geolocation as geolocation
import ifcopenshell.util.placement
import ifcopenshell.util.unit
import numpy as np
import pyproj

from twin.crs import transformer

log = logging.getLogger(__name__)
_EPSG_RE = re.compile(r"EPSG\D{0,8}(\d{4,6})", re.IGNORECASE)


@dataclass(frozen=True)
class MapConversion:
    """Local engineering metres → projected CRS (IFC's Helmert transform)."""

    eastings: float
    northings: float
    height: float
    rotation_rad: float  # of the local X axis, anticlockwise from grid east
    scale: float  # grid scale factor (units already removed)

    def to_grid(self, points_m: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        x, y, z = np.asarray(points_m, float).reshape(-1, 3).T
        return np.column_stack((self.eastings + self.scale * (c * x - s * y),
                                self.northings + self.scale * (s * x + c * y), self.height + z))


@dataclass(frozen=True)
class Georeference:
    """How a model is placed. ``lat``/``lon`` are WGS84 degrees of the map conversion's origin,
    else of the IfcSite reference point; ``epsg`` is the projected CRS of a map conversion."""

    method: str  # "map_conversion" | "site_latlon" | "none"
    epsg: int | None = None
    lat: float | None = None
    lon: float | None = None
    elevation_m: float | None = None
    true_north_deg: float = 0.0  # anticlockwise from local +Y
    conversion: MapConversion | None = None
    site_origin_m: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def placeable(self) -> bool:
        """Whether the model says where it is on Earth (a map conversion to an EPSG CRS, or lat/long)."""
        return self.conversion is not None and self.epsg is not None or self.lat is not None and self.lon is not None

    def as_dict(self) -> dict:
        return {"method": self.method, "epsg": self.epsg, "lat": self.lat, "lon": self.lon}

    def to_lonlat(self, points_m: np.ndarray) -> np.ndarray | None:
        """WGS84 ``(lon, lat, height)`` of local model points (metres), or None when unplaced."""
        pts = np.asarray(points_m, float).reshape(-1, 3)
        if self.conversion is not None and self.epsg is not None:
            grid = self.conversion.to_grid(pts)
            lon, lat = transformer(f"EPSG:{self.epsg}", "EPSG:4326").transform(grid[:, 0], grid[:, 1])
            return np.column_stack((lon, lat, grid[:, 2]))
        if self.lat is None or self.lon is None:
            return None
        # Local tangent plane at the site reference point, local axes turned to true north.
        a = math.radians(self.true_north_deg)
        d = pts - np.asarray(self.site_origin_m)
        east = math.cos(a) * d[:, 0] + math.sin(a) * d[:, 1]
        north = -math.sin(a) * d[:, 0] + math.cos(a) * d[:, 1]
        tangent = pyproj.Proj(proj="aeqd", lat_0=self.lat, lon_0=self.lon, datum="WGS84")
        lon, lat = tangent(east, north, inverse=True)
        return np.column_stack((lon, lat, (self.elevation_m or 0.0) + d[:, 2]))


def _epsg(crs_name: str | None) -> int | None:
    """EPSG code from ``EPSG:4549``, ``urn:ogc:def:crs:EPSG::4549``, ``4549`` or a CRS name
    PROJ knows (``CGCS2000 / 3-degree Gauss-Kruger CM 120E``)."""
    if not crs_name or not crs_name.strip():
        return None
    if match := _EPSG_RE.search(crs_name):
        return int(match.group(1))
    if crs_name.strip().isdigit():
        return int(crs_name)
    try:
        return pyproj.CRS.from_user_input(crs_name).to_epsg()
    except pyproj.exceptions.CRSError:
        log.warning("IfcProjectedCRS %r: not an EPSG code or a CRS name PROJ knows", crs_name)
        return None


def _degrees(dms: tuple[int, ...]) -> float:
    """IfcCompoundPlaneAngleMeasure (degrees, minutes, seconds[, millionths]) → decimal degrees.
    Tolerates writers that sign only the degrees or leave out the last parts."""
    parts = [abs(v) for v in (*dms, 0, 0, 0)[:4]]
    sign = -1.0 if any(v < 0 for v in dms) else 1.0
    return sign * (parts[0] + parts[1] / 60 + parts[2] / 3600 + parts[3] / 3.6e9)


def _conversion_record(model: ifcopenshell.file) -> tuple[dict, str | None] | None:
    """IfcMapConversion attributes and the target CRS name (IFC2X3: the ePSet_ property sets)."""
    if model.schema == "IFC2X3":
        project = next(iter(model.by_type("IfcProject")), None)
        record = ifcopenshell.util.element.get_pset(project, "ePSet_MapConversion") if project else None
        crs = ifcopenshell.util.element.get_pset(project, "ePSet_ProjectedCRS") if record else None
        return (record, (crs or {}).get("Name")) if record else None
    for context in model.by_type("IfcGeometricRepresentationContext", include_subtypes=False):
        for operation in context.HasCoordinateOperation or ():
            if operation.is_a("IfcMapConversion"):
                return operation.get_info(), getattr(operation.TargetCRS, "Name", None)
    return None


def _map_conversion(model: ifcopenshell.file) -> tuple[MapConversion, str | None] | None:
    found = _conversion_record(model)
    if found is None:
        return None
    record, crs_name = found
    xaa, xao = record.get("XAxisAbscissa") or 0.0, record.get("XAxisOrdinate") or 0.0
    # Writers disagree on whether Scale holds the unit conversion; keep the grid factor only.
    scale, unit_ratio = record.get("Scale") or 1.0, ifcopenshell.util.unit.calculate_unit_scale(model)
    grid_scale = min((scale, scale * unit_ratio, scale / unit_ratio), key=lambda f: abs(f - 1))
    rotation = math.atan2(xao, xaa) if (xaa or xao) else 0.0
    return MapConversion(record.get("Eastings") or 0.0, record.get("Northings") or 0.0,
                         record.get("OrthogonalHeight") or 0.0, rotation, grid_scale), crs_name


def _site_reference(model: ifcopenshell.file) -> tuple[float, float, float | None, tuple] | None:
    for site in model.by_type("IfcSite"):
        if site.RefLatitude and site.RefLongitude:
            lat, lon = _degrees(site.RefLatitude), _degrees(site.RefLongitude)
            origin = (0.0, 0.0, 0.0)
            if site.ObjectPlacement is not None:
                matrix = ifcopenshell.util.placement.get_local_placement(site.ObjectPlacement)
                origin = tuple(matrix[:3, 3] * ifcopenshell.util.unit.calculate_unit_scale(model))
            return lat, lon, site.RefElevation, origin
    return None


def _to_wgs84(epsg: int, easting: float, northing: float) -> tuple[float, float] | None:
    try:
        lon, lat = transformer(f"EPSG:{epsg}", "EPSG:4326").transform(
            easting, northing, errcheck=True)
    except (pyproj.exceptions.CRSError, pyproj.exceptions.ProjError) as exc:
        log.warning("EPSG:%s: cannot transform the map conversion origin to WGS84 (%s)", epsg, exc)
        return None
    return lat, lon


def read_georeference(model: ifcopenshell.file) -> Georeference:
    """Read the model's georeference (IfcMapConversion, else IfcSite RefLatitude/RefLongitude)."""
    true_north = float(geolocation.get_true_north(model) or 0.0)
    site = _site_reference(model)
    lat, lon, elevation, origin = site if site else (None, None, None, (0.0, 0.0, 0.0))
    found = _map_conversion(model)
    if found is None:
        if site is None:
            return Georeference("none", true_north_deg=true_north)
        return Georeference("site_latlon", None, lat, lon, elevation, true_north, site_origin_m=origin)
    conversion, crs_name = found
    epsg = _epsg(crs_name)
    origin_latlon = _to_wgs84(epsg, conversion.eastings, conversion.northings) if epsg else None
    if origin_latlon:
        lat, lon = origin_latlon
        elevation = conversion.height
    return Georeference("map_conversion", epsg, lat, lon, elevation, true_north, conversion, origin)
