"""The 3D viewport: a Panel ``JSComponent`` driving the vtk.js that Panel bundles (design decision 5).

Python holds only the batch manifest and small state; the browser fetches each batch's binary
payload over plain HTTP (:mod:`twin.web.geometry`), draws one actor per batch, picks in the
browser and sends back only the picked node id.

>>> vp = Viewport(batches=manifest(park.batches), labels=browser_labels())  # doctest: +SKIP
>>> vp.picked = "ifc:2O2Fr$t4X7Zf8NOew3FLOH"  # highlights that node       # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Iterable

import panel as pn
import param
from panel.custom import JSComponent

from twin.batches import RenderBatch
from twin.web.geometry import geometry_url
from twin.web.messages import t

#: Category → (rgb, opacity). Spaces are translucent so the elements inside them show.
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
    "network_nodes": ((150, 150, 160), 1.0),
    "pipes:water": ((40, 120, 230), 1.0),
    "pipes:gas": ((235, 200, 40), 1.0),
    "pipes:heat": ((220, 70, 50), 1.0),
    "pipes:rain": ((80, 200, 220), 1.0),
    "pipes:sewage": ((140, 100, 60), 1.0),
    "pipes:power": ((240, 130, 30), 1.0),
    "pipes:telecom": ((150, 90, 200), 1.0),
    "other": ((185, 185, 185), 1.0),
}

#: Catalogue keys of the strings the browser shows.
BROWSER_LABELS = ("loading", "load_failed", "north")


def manifest(batches: Iterable[RenderBatch]) -> list[dict]:
    """What the browser needs to fetch and style each batch (never the geometry itself)."""
    out = []
    for b in batches:
        rgb, opacity = CATEGORY_STYLE.get(b.category, CATEGORY_STYLE["other"])
        out.append({"url": geometry_url(b), "digest": b.digest, "key": b.key, "category": b.category,
                    "building": b.building, "storey": b.storey, "n_triangles": b.n_triangles,
                    "rgb": list(rgb), "opacity": opacity})
    return out


def browser_labels(lang: str = "zh") -> dict[str, str]:
    return {key: t(key, lang) for key in BROWSER_LABELS}


_ESM = """
const HIGHLIGHT = [255, 128, 0];

export function render({ model, el }) {
  const vtk = window.vtk;
  const labels = model.labels;
  const root = document.createElement('div');
  root.style.cssText = 'position:relative;width:100%;height:100%;min-height:320px;overflow:hidden;' +
    'font-family:sans-serif';
  root.dataset.twinViewport = '';
  root.dataset.state = 'loading';
  root.dataset.loaded = '0';
  const view = document.createElement('div');
  view.style.cssText = 'position:absolute;inset:0';
  const status = document.createElement('div');
  status.style.cssText = 'position:absolute;left:12px;top:12px;padding:6px 10px;border-radius:4px;' +
    'background:rgba(0,0,0,.6);color:#fff;font-size:13px;pointer-events:none';
  const compass = document.createElement('div');
  compass.style.cssText = 'position:absolute;right:14px;top:14px;width:64px;height:64px;' +
    'border-radius:50%;border:2px solid rgba(255,255,255,.7);background:rgba(0,0,0,.35);' +
    'pointer-events:none;color:#fff;font-size:12px';
  const needle = document.createElement('div');
  needle.style.cssText = 'position:absolute;left:25px;top:12px;width:0;height:0;' +
    'border-left:5px solid transparent;border-right:5px solid transparent;' +
    'border-bottom:20px solid #e53935;transform-origin:5px 20px';
  const north = document.createElement('span');
  north.style.cssText = 'position:absolute;transform:translate(-50%,-50%)';
  north.textContent = labels.north;
  compass.append(needle, north);
  root.append(view, status, compass);
  el.appendChild(root);
  if (!vtk) {
    root.dataset.state = 'error';
    status.textContent = labels.load_failed + ': vtk.js';
    return;
  }

  const grw = vtk.Rendering.Misc.vtkGenericRenderWindow.newInstance({
    background: [0.07, 0.08, 0.11], listenWindowResize: false });
  grw.setContainer(view);
  grw.resize();
  const renderer = grw.getRenderer(), renderWindow = grw.getRenderWindow();
  const interactor = grw.getInteractor();
  const camera = renderer.getActiveCamera();
  const draw = () => renderWindow.render();
  let drawPending = false;     // many changes within one frame (batches arriving, resizes): one render
  const drawSoon = () => {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; draw(); });
  };
  const resizer = new ResizeObserver(() => { grw.resize(); drawSoon(); });
  resizer.observe(view);

  // Z is up: orbit about the world Z axis, pan with the right button or shift, zoom with the wheel.
  const M = vtk.Interaction.Manipulators;
  const style = vtk.Interaction.Style.vtkInteractorStyleManipulator.newInstance();
  style.addMouseManipulator(M.vtkMouseCameraTrackballRotateManipulator.newInstance({
    button: 1, useWorldUpVec: true, worldUpVec: [0, 0, 1], useFocalPointAsCenterOfRotation: true }));
  style.addMouseManipulator(M.vtkMouseCameraTrackballPanManipulator.newInstance({ button: 3 }));
  style.addMouseManipulator(M.vtkMouseCameraTrackballPanManipulator.newInstance({ button: 1, shift: true }));
  style.addMouseManipulator(M.vtkMouseCameraTrackballZoomManipulator.newInstance({ button: 2 }));
  style.addMouseManipulator(M.vtkMouseCameraTrackballZoomToMouseManipulator.newInstance({
    dragEnabled: false, scrollEnabled: true }));
  interactor.setInteractorStyle(style);

  function home() {
    const b = renderer.computeVisiblePropBounds();
    if (!(b[1] >= b[0])) return;
    const c = [(b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2];
    camera.setFocalPoint(...c);
    camera.setPosition(c[0] - 0.6, c[1] - 1.0, c[2] + 0.75);  // from the south-south-west, above
    camera.setViewUp(0, 0, 1);
    renderer.resetCamera();
    draw();
  }

  // North (+Y of the park frame) on screen: its components along the screen's right and up.
  function pointNorth() {
    const d = camera.getDirectionOfProjection(), v = camera.getViewUp();
    const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
    const right = cross(d, v), up = cross(right, d);
    const a = Math.atan2(right[1], up[1]);
    needle.style.transform = `rotate(${a}rad)`;
    north.style.left = `${30 + 23 * Math.sin(a)}px`;
    north.style.top = `${30 - 23 * Math.cos(a)}px`;
  }
  camera.onModified(pointNorth);

  const picker = vtk.Rendering.Core.vtkCellPicker.newInstance();  // picks among batch actors only
  picker.setPickFromList(1);
  picker.initializePickList();
  picker.setTolerance(0);  // the default accepts triangles up to 2.5% of the view away: wrong node

  // --- batches: fetch, parse TWB1, one actor each -------------------------------------------
  const loaded = [];           // per batch: polydata, colour array, node ids, cells grouped by node
  const byPolydata = new Map();

  function parse(buf) {
    const magic = new TextDecoder().decode(new Uint8Array(buf, 0, 4));
    if (magic !== 'TWB1') throw new Error('bad magic ' + magic);
    const headerLength = new DataView(buf).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, headerLength)));
    let offset = 8 + headerLength;
    const nP = header.n_points, nT = header.n_triangles;
    const points = new Float32Array(buf, offset, nP * 3); offset += nP * 12;
    const triangles = new Uint32Array(buf, offset, nT * 3); offset += nT * 12;
    const cellNode = new Int32Array(buf, offset, nT);
    return { header, points, triangles, cellNode };
  }

  // Cells grouped by node (counting sort), so a recolour touches only that node's cells.
  function groupCells(cellNode, nNodes) {
    const start = new Int32Array(nNodes + 1);
    for (const n of cellNode) start[n + 1]++;
    for (let i = 0; i < nNodes; i++) start[i + 1] += start[i];
    const fill = start.slice(0, nNodes), cells = new Int32Array(cellNode.length);
    cellNode.forEach((n, i) => { cells[fill[n]++] = i; });
    return { start, cells };
  }

  function addBatch(entry, { header, points, triangles, cellNode }) {
    const nT = header.n_triangles;
    const polys = new Uint32Array(nT * 4);
    for (let i = 0; i < nT; i++) {
      polys[4 * i] = 3;
      polys[4 * i + 1] = triangles[3 * i];
      polys[4 * i + 2] = triangles[3 * i + 1];
      polys[4 * i + 3] = triangles[3 * i + 2];
    }
    const polydata = vtk.Common.DataModel.vtkPolyData.newInstance();
    polydata.getPoints().setData(points, 3);
    polydata.getPolys().setData(polys);
    const rgb = new Uint8Array(nT * 3);
    for (let i = 0; i < nT; i++) rgb.set(entry.rgb, 3 * i);
    const colors = vtk.Common.Core.vtkDataArray.newInstance({
      name: 'colour', numberOfComponents: 3, values: rgb });
    polydata.getCellData().setScalars(colors);
    const mapper = vtk.Rendering.Core.vtkMapper.newInstance();
    mapper.setInputData(polydata);
    mapper.setColorModeToDirectScalars();
    mapper.setScalarModeToUseCellData();
    mapper.setResolveCoincidentTopologyToPolygonOffset();
    const actor = vtk.Rendering.Core.vtkActor.newInstance();
    actor.setMapper(mapper);
    actor.getProperty().setOpacity(entry.opacity);
    renderer.addActor(actor);
    picker.addPickList(actor);
    const nodeIds = header.node_ids;
    const batch = { polydata, colors, rgb, base: entry.rgb, cellNode, nodeIds,
                    index: new Map(nodeIds.map((id, i) => [id, i])),
                    ...groupCells(cellNode, nodeIds.length) };
    loaded.push(batch);
    byPolydata.set(polydata, batch);
  }

  async function fetchBatch(entry) {
    const response = await fetch(entry.url);  // plain HTTP, cached by the browser (immutable)
    if (!response.ok) throw new Error(`${entry.url}: HTTP ${response.status}`);
    return parse(await response.arrayBuffer());
  }

  // --- picking and highlight ------------------------------------------------------------------
  function paint(batch, node, rgb) {
    const { start, cells, rgb: values } = batch;
    for (let k = start[node]; k < start[node + 1]; k++) values.set(rgb, 3 * cells[k]);
    batch.colors.modified();
    batch.polydata.modified();
  }

  let lit = [];                // [batch, node index] pairs now highlighted
  function highlight(id) {
    for (const [batch, node] of lit) paint(batch, node, batch.base);
    lit = [];
    for (const batch of loaded) {
      const node = batch.index.get(id);
      if (node !== undefined) { paint(batch, node, HIGHLIGHT); lit.push([batch, node]); }
    }
    draw();
  }
  model.on('picked', () => highlight(model.picked));
  model.on('home', home);

  let pressed = null;          // a click is a press and release without a drag
  interactor.onLeftButtonPress((e) => { pressed = e.position; });
  interactor.onLeftButtonRelease((e) => {
    const p = e.position, from = pressed;
    pressed = null;
    if (!from || Math.hypot(p.x - from.x, p.y - from.y) > 4) return;
    picker.pick([p.x, p.y, 0], renderer);
    const batch = byPolydata.get(picker.getDataSet()), cell = picker.getCellId();
    model.picked = batch && cell >= 0 ? batch.nodeIds[batch.cellNode[cell]] : '';
  });

  // --- load ------------------------------------------------------------------------------------
  const entries = model.batches, total = entries.length;
  const progress = () => { status.textContent = `${labels.loading} ${loaded.length}/${total}`; };
  progress();
  Promise.all(entries.map((entry) => fetchBatch(entry).then((data) => {
    addBatch(entry, data);
    root.dataset.loaded = String(loaded.length);
    progress();
    if (loaded.length === 1) home(); else drawSoon();
  }))).then(() => {
    home();
    if (model.picked) highlight(model.picked);
    status.style.display = 'none';
    root.dataset.state = 'ready';
  }).catch((err) => {
    status.textContent = `${labels.load_failed}: ${err.message}`;
    root.dataset.state = 'error';
  });

  model.on('remove', () => { resizer.disconnect(); grw.delete(); });
}
"""


class Viewport(JSComponent):
    """The park in 3D: one vtk.js actor per render batch, click to pick, ``home`` to reset the camera.

    The root element carries ``data-state`` (``loading``, ``ready`` or ``error``) and
    ``data-loaded`` (batches drawn so far), for tests and for anyone waiting on the scene.
    """

    batches = param.List(default=[], item_type=dict, doc="Batch manifest, see :func:`manifest`.")
    labels = param.Dict(default={}, doc="Browser strings from the message catalogue.")
    picked = param.String(default="", doc="Id of the picked node ('' for none); a click sets it.")
    home = param.Event(doc="Reset the camera to the home view.")

    _esm = _ESM

    def __init__(self, **params):
        pn.extension("vtk")  # puts Panel's bundled vtk.js on window.vtk for this session's page
        super().__init__(**params)
