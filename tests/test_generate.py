"""The office generator writes a deterministic, well-formed IFC4 park whose geometry tessellates."""
from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.element
import pytest

from ifc.generate import write_office

STOREYS, COPIES = 3, 2


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ifcopenshell.file, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    path = write_office(tmp_path_factory.mktemp("office") / "office.ifc", storeys=STOREYS, copies=COPIES,
                        progress=lambda done, total: calls.append((done, total)))
    return path, ifcopenshell.open(str(path)), calls


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = write_office(tmp_path / "a.ifc", storeys=2, copies=2, seed=7).read_bytes()
    second = write_office(tmp_path / "b.ifc", storeys=2, copies=2, seed=7).read_bytes()
    other = write_office(tmp_path / "c.ifc", storeys=2, copies=2, seed=8).read_bytes()
    assert first == second
    assert first != other
    assert b"2026-01-01T00:00:00" in first


def test_global_ids_are_unique(office) -> None:
    _, f, _ = office
    ids = [e.GlobalId for e in f.by_type("IfcRoot")]
    assert len(ids) == len(set(ids))


def test_spatial_structure(office) -> None:
    path, f, calls = office
    assert f.schema == "IFC4"
    (site,) = f.by_type("IfcSite")
    assert site.RefLatitude[0] == 31 and site.RefLongitude[0] == 121
    buildings = f.by_type("IfcBuilding")
    assert [b.Name for b in buildings] == ["办公楼 A", "办公楼 B"]
    assert buildings[1].LongName == "Office Building B"
    for building in buildings:
        storeys = sorted(building.IsDecomposedBy[0].RelatedObjects, key=lambda s: s.Elevation)
        assert [s.Name for s in storeys] == [f"{n}F" for n in range(1, STOREYS + 1)]
        assert storeys[-1].Elevation == pytest.approx(3.6 * (STOREYS - 1))
    assert len(f.by_type("IfcBuildingStorey")) == STOREYS * COPIES
    assert calls == [(n, STOREYS * COPIES) for n in range(1, STOREYS * COPIES + 1)]


def test_spaces_are_named_with_areas(office) -> None:
    _, f, _ = office
    spaces = f.by_type("IfcSpace")
    assert len(spaces) >= 10 * STOREYS * COPIES
    for space in spaces:
        assert space.Name.startswith(("A-", "B-")) and space.LongName
        assert space.Decomposes[0].RelatingObject.is_a("IfcBuildingStorey")
        assert ifcopenshell.util.element.get_psets(space)["Qto_SpaceBaseQuantities"]["NetFloorArea"] > 0
    long_names = {s.LongName for s in spaces}
    assert {"门厅 Lobby", "走廊 Corridor", "电梯井 Lift shaft", "楼梯间 Stairwell"} <= long_names


def test_elements(office) -> None:
    _, f, _ = office
    doors = f.by_type("IfcDoor")
    assert doors and all(d.OverallWidth > 0 and d.OverallHeight > 0 for d in doors)
    assert any(ifcopenshell.util.element.get_psets(d)["Pset_DoorCommon"].get("FireRating") for d in doors)
    for element in doors + f.by_type("IfcWindow"):
        opening = element.FillsVoids[0].RelatingOpeningElement
        assert opening.VoidsElements[0].RelatingBuildingElement.is_a("IfcWall")
        assert ifcopenshell.util.element.get_container(element).is_a("IfcBuildingStorey")
    walls = f.by_type("IfcWall")
    assert {ifcopenshell.util.element.get_psets(w)["Pset_WallCommon"]["IsExternal"] for w in walls} == {True, False}
    assert len(f.by_type("IfcStair")) == 2 * STOREYS * COPIES
    lifts = [t for t in f.by_type("IfcTransportElement") if t.PredefinedType == "ELEVATOR"]
    assert len(lifts) == COPIES
    slabs = f.by_type("IfcSlab")
    assert sum(s.PredefinedType == "ROOF" for s in slabs) == COPIES


def test_stairs_have_flights_with_risers_and_treads(office) -> None:
    _, f, _ = office
    stairs = f.by_type("IfcStair")
    assert len(stairs) == 2 * STOREYS * COPIES  # two stairwells on every floor
    for stair in stairs:
        flights = [p for rel in stair.IsDecomposedBy for p in rel.RelatedObjects if p.is_a("IfcStairFlight")]
        assert len(flights) >= 2, stair.Name
        for flight in flights:
            common = ifcopenshell.util.element.get_psets(flight)["Pset_StairFlightCommon"]
            for name in ("NumberOfRiser", "NumberOfTreads", "RiserHeight", "TreadLength"):
                assert common[name] > 0, (flight.Name, name)


def test_every_storey_has_the_mep_risers(office) -> None:
    _, f, _ = office
    for storey in f.by_type("IfcBuildingStorey"):
        elements = ifcopenshell.util.element.get_decomposition(storey)
        pipes = [e for e in elements if e.is_a("IfcPipeSegment")]
        trays = [e for e in elements if e.is_a("IfcCableCarrierSegment")]
        assert len(pipes) == 2 and len(trays) == 1, storey.Name
        names = " ".join(e.Name for e in pipes + trays)
        assert "给水立管" in names and "排水立管" in names and "强电桥架" in names
        for pipe in pipes:
            assert pipe.PredefinedType == "RIGIDSEGMENT"
            assert ifcopenshell.util.element.get_psets(pipe)["Pset_PipeSegmentTypeCommon"]["NominalDiameter"] > 0
        for riser in pipes + trays:
            assert ifcopenshell.util.element.get_container(riser) == storey
            (system,) = [rel.RelatingGroup for rel in riser.HasAssignments if rel.is_a("IfcRelAssignsToGroup")]
            assert system.is_a("IfcDistributionSystem")
            (building,) = [b for rel in system.ServicesBuildings for b in rel.RelatedBuildings]
            assert building == storey.Decomposes[0].RelatingObject
    systems = f.by_type("IfcDistributionSystem")
    assert len(systems) == 3 * COPIES
    assert {s.PredefinedType for s in systems} == {"DOMESTICCOLDWATER", "DRAINAGE", "ELECTRICAL"}


def test_doors_bound_the_rooms_they_connect(office) -> None:
    _, f, _ = office
    doors = f.by_type("IfcDoor")
    assert doors
    for door in doors:
        boundaries = door.ProvidesBoundaries
        assert boundaries, door.Name
        assert all(b.PhysicalOrVirtualBoundary == "PHYSICAL" and b.RelatingSpace.is_a("IfcSpace") for b in boundaries)
        host = door.FillsVoids[0].RelatingOpeningElement.VoidsElements[0].RelatingBuildingElement
        storey = ifcopenshell.util.element.get_container(door)
        assert all(b.RelatingSpace.Decomposes[0].RelatingObject == storey for b in boundaries)
        if ifcopenshell.util.element.get_psets(host)["Pset_WallCommon"]["IsExternal"]:
            assert [b.InternalOrExternalBoundary for b in boundaries] == ["EXTERNAL"], door.Name
            assert boundaries[0].RelatingSpace.LongName in ("门厅 Lobby", "楼梯间 Stairwell")
        else:
            assert len(boundaries) == 2, door.Name
            assert {b.InternalOrExternalBoundary for b in boundaries} == {"INTERNAL"}
            assert len({b.RelatingSpace for b in boundaries}) == 2
            assert any(b.RelatingSpace.LongName in ("走廊 Corridor", "门厅 Lobby") for b in boundaries)
    entrances = [d for d in doors if [b.InternalOrExternalBoundary for b in d.ProvidesBoundaries] == ["EXTERNAL"]]
    assert len(entrances) == 2 * COPIES  # the lobby's main entrance and the east stair's fire exit


def test_geometry_tessellates(office) -> None:
    _, f, _ = office
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    iterator = ifcopenshell.geom.iterator(settings, f, 2)
    assert iterator.initialize()
    shaped = set()
    while True:
        shape = iterator.get()
        if shape.geometry.verts:
            shaped.add(shape.id)
        if not iterator.next():
            break
    for ifc_class in ("IfcWall", "IfcSlab", "IfcDoor", "IfcWindow", "IfcSpace", "IfcStair", "IfcTransportElement",
                      "IfcPipeSegment", "IfcCableCarrierSegment"):
        elements = f.by_type(ifc_class)
        assert elements and all(e.id() in shaped for e in elements), ifc_class


def test_demo_park_is_what_the_generator_writes(tmp_path):
    """scenes/demo is generated, never hand-edited: regenerate it when a generator changes."""
    from twin.generate_park import write_park

    demo = Path(__file__).resolve().parents[1] / "scenes" / "demo"
    write_park(tmp_path, buildings=10, ifc_buildings=3, storeys=5, seed=2026)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert fresh == sorted(p.relative_to(demo) for p in demo.rglob("*") if p.is_file() and ".twin-cache" not in p.parts)
    stale = [str(p) for p in fresh if (tmp_path / p).read_bytes() != (demo / p).read_bytes()]
    assert not stale, f"scenes/demo is stale ({stale}): run the command at the top of scenes/demo/scene.toml"


@pytest.mark.parametrize("args, cause", [(["--storeys", "0"], "--storeys 0 --copies 1: both must be at least 1"),
                                         ([], "cannot write")])
def test_generate_bad_input_one_clear_line(tmp_path: Path, args: list[str], cause: str) -> None:
    from conftest import run_twin

    target = tmp_path / "office.ifc"
    if not args:  # a folder where the file should go: nothing can be written there
        target.mkdir()
    result = run_twin("generate", target, *args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and cause in lines[0], result.stderr
    assert not list(tmp_path.glob("*.part"))
