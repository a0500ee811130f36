"""``twin info``: what a park is, in the figures other tools script against."""
from __future__ import annotations


from twin.park import Park

#: Kinds always reported, with 0 when the park has none.
REPORTED_KINDS = ("building", "storey", "space", "element", "device", "pipe")


def park_info(park: Park) -> dict:
    """``{"name", "crs", "bounds_lonlat": [lon_min, lat_min, lon_max, lat_max], "counts": {kind: n}}``."""
    counts = dict.fromkeys(REPORTED_KINDS, 0) | {k: n for k, n in park.counts().items() if k != "park"}
    bounds = park.bounds_m()
    lonlat = None
    if bounds is not None:
        x0, y0, z0, x1, y1, z1 = bounds
        corners = park.to_lonlat([[x, y, z0] for x in (x0, x1) for y in (y0, y1)])
        if corners is not None:
            lonlat = [float(corners[:, 0].min()), float(corners[:, 1].min()),
                      float(corners[:, 0].max()), float(corners[:, 1].max())]
    return {"name": park.name, "crs": park.crs, "bounds_lonlat": lonlat, "counts": counts}
