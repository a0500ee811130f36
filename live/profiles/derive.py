"""Derive the simulator's compact daily profiles from the real sample data (run once, commit the CSVs).

    .venv/bin/python live/profiles/derive.py [../shared/data/telemetry]

Writes beside this script:

* ``room.csv`` — one row per 15 minutes of the day and day kind (``weekday``/``weekend``): mean room
  ``temperature_c``, ``humidity_pct``, ``co2_ppm`` and ``occupancy`` (fraction of minutes occupied) of
  the UCI Occupancy Detection test set (1-minute samples of one office room, 2–4 Feb 2015). The set
  holds weekdays only, so the ``weekend`` rows are the means of its unoccupied night minutes
  (19:00–07:00, occupancy 0), the same in every slot: an empty building.
* ``load.csv`` — one row per day of the week (0 = Monday) and hour: the building's hourly electricity
  of 2022 (Cambridge Estates, building b77), averaged per weekday and hour and divided by the year's
  mean hour, so a value of 1.0 is an average hour.
"""
from __future__ import annotations

import csv
import statistics
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SLOT_MIN = 15
SLOTS = 24 * 60 // SLOT_MIN
ROOM_COLUMNS = (("temperature_c", "Temperature"), ("humidity_pct", "Humidity"), ("co2_ppm", "CO2"),
                ("occupancy", "Occupancy"))
NIGHT_HOURS = set(range(19, 24)) | set(range(0, 7))


def room_rows(source: Path) -> list[dict[str, object]]:
    """Weekday 15-minute means and the weekend (unoccupied night) level of the UCI room."""
    slots: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    night: dict[str, list[float]] = defaultdict(list)
    with source.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            at = datetime.fromisoformat(row["Date"])
            values = {name: float(row[column]) for name, column in ROOM_COLUMNS}
            for name, value in values.items():
                slots[(at.hour * 60 + at.minute) // SLOT_MIN][name].append(value)
            if at.hour in NIGHT_HOURS and values["occupancy"] == 0:
                for name, value in values.items():
                    night[name].append(value)
    missing = [s for s in range(SLOTS) if s not in slots]
    if missing:
        raise SystemExit(f"{source}: no samples in {len(missing)} slots of the day")
    rows: list[dict[str, object]] = []
    for kind in ("weekday", "weekend"):
        for slot in range(SLOTS):
            means = slots[slot] if kind == "weekday" else night
            rows.append({"day": kind, "minute": slot * SLOT_MIN,
                         **{name: round(statistics.fmean(means[name]), 3) for name, _ in ROOM_COLUMNS}})
    return rows


def load_rows(source: Path) -> list[dict[str, object]]:
    """Mean hourly load per weekday and hour, divided by the mean of all hours."""
    cells: dict[tuple[int, int], list[float]] = defaultdict(list)
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for when, kwh in reader:
            at = datetime.fromisoformat(when)
            cells[(at.weekday(), at.hour)].append(float(kwh))
    mean = statistics.fmean(v for values in cells.values() for v in values)
    return [{"weekday": day, "hour": hour, "load": round(statistics.fmean(cells[(day, hour)]) / mean, 4)}
            for day in range(7) for hour in range(24)]


def write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{path.name}: {len(rows)} rows")


def main(telemetry: Path) -> None:
    write(HERE / "room.csv", room_rows(telemetry / "uci_occupancy_datatest.txt"))
    write(HERE / "load.csv", load_rows(telemetry / "cambridge_b77" / "electricity_2022.csv"))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data" / "telemetry")
