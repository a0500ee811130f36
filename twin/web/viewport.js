// The park viewport (design decision 5): vtk.js, one actor per render batch.
// Geometry arrives once per batch over plain HTTP; afterwards Python sends only small messages
// (see twin/web/viewport.py): node styles as per-batch index arrays, batch visibility/opacity/offset,
// camera flights, section height, labels and a caption. Picking and blinking happen here.

const HIGHLIGHT = [255, 235, 0];  // yellow: no utility colour (CJJ 61-2017 heat is orange)
const BLINK = [255, 40, 40];
const BLINK_PERIOD_MS = 600;
const MAX_LABELS = 400;

function el(tag, css, parent) {
  const node = document.createElement(tag);
  node.style.cssText = css;
  if (parent) parent.appendChild(node);
  return node;
}

// Cells grouped by node (counting sort), so a node's restyle touches only its own cells.
function groupCells(cellNode, nNodes) {
  const start = new Int32Array(nNodes + 1);
  for (const n of cellNode) start[n + 1]++;
  for (let i = 0; i < nNodes; i++) start[i + 1] += start[i];
  const fill = start.slice(0, nNodes), cells = new Int32Array(cellNode.length);
  cellNode.forEach((n, i) => { cells[fill[n]++] = i; });
  return { start, cells };
}

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

// Node indices as sent by Python: base64 of little-endian int32 runs ``batch, count, indices…``.
function* parts(encoded) {
  const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  const flat = new Int32Array(bytes.buffer);
  for (let i = 0; i < flat.length; i += 2 + flat[i + 1]) yield [flat[i], flat.subarray(i + 2, i + 2 + flat[i + 1])];
}

// Park-frame points as sent by Python: base64 of little-endian float32 ``x, y, z…``.
function floats(encoded) {
  const bytes = Uint8Array.from(atob(encoded || ''), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

const ease = (t) => (t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2);

export function render({ model, el: host }) {
  const vtk = window.vtk;
  const strings = model.strings;
  const root = el('div', 'position:relative;width:100%;height:100%;min-height:320px;overflow:hidden;' +
    'font-family:"Noto Sans CJK SC","Noto Sans SC",sans-serif;touch-action:none', host);
  root.dataset.twinViewport = '';
  root.dataset.state = 'loading';
  root.dataset.loaded = '0';
  const view = el('div', 'position:absolute;inset:0', root);
  const labelLayer = el('div', 'position:absolute;inset:0;pointer-events:none;overflow:hidden', root);
  const status = el('div', 'position:absolute;left:12px;top:12px;padding:6px 10px;border-radius:4px;' +
    'background:rgba(0,0,0,.6);color:#fff;font-size:13px;pointer-events:none', root);
  const caption = el('div', 'position:absolute;left:50%;bottom:28px;transform:translateX(-50%);' +
    'max-width:80%;padding:10px 18px;border-radius:6px;background:rgba(10,14,24,.78);color:#fff;' +
    'font-size:clamp(14px,1.3vw,34px);line-height:1.4;text-align:center;display:none;pointer-events:none', root);
  caption.dataset.twinCaption = '';
  const readout = el('div', 'position:absolute;left:12px;bottom:12px;padding:6px 10px;border-radius:4px;' +
    'background:rgba(0,0,0,.65);color:#ffd54f;font-size:14px;display:none;pointer-events:none', root);
  readout.dataset.twinMeasure = '';
  const compass = el('div', 'position:absolute;right:14px;top:14px;width:64px;height:64px;' +
    'border-radius:50%;border:2px solid rgba(255,255,255,.7);background:rgba(0,0,0,.35);' +
    'pointer-events:none;color:#fff;font-size:12px', root);
  const needle = el('div', 'position:absolute;left:27px;top:12px;width:0;height:0;' +
    'border-left:5px solid transparent;border-right:5px solid transparent;' +
    'border-bottom:20px solid #e53935;transform-origin:5px 20px', compass);
  const north = el('span', 'position:absolute;transform:translate(-50%,-50%);font-weight:bold', compass);
  north.textContent = strings.north;
  if (!vtk) {
    root.dataset.state = 'error';
    status.textContent = strings.load_failed + ': vtk.js';
    return;
  }

  const grw = vtk.Rendering.Misc.vtkGenericRenderWindow.newInstance({
    background: [0.07, 0.08, 0.11], listenWindowResize: false });
  grw.setContainer(view);
  grw.resize();
  const renderer = grw.getRenderer(), renderWindow = grw.getRenderWindow();
  const interactor = grw.getInteractor();
  const camera = renderer.getActiveCamera();
  let drawPending = false;     // many changes within one frame: one render
  // Each frame's cost is kept on the root (data-frame-ms), apart from the time messages take to apply.
  // A frame's whole cost (render, then the compositor's commit, which on a software GL reads the
  // canvas back) is measured up to the next task; data-frame-ms keeps the render call alone.
  let frameCostMs = 0, frameDoneAt = 0;
  const draw = () => {
    const t = performance.now();
    renderWindow.render();
    placeLabels();
    root.dataset.frameMs = (performance.now() - t).toFixed(1);
    setTimeout(() => { frameDoneAt = performance.now(); frameCostMs = frameDoneAt - t; }, 0);
  };
  // Changes streaming in (live styles) draw at most at a pace that leaves the main thread free for
  // as long as the last frame took: on a slow GPU, messages keep being applied between frames
  // instead of queueing behind them; on a real one the wait is nothing. A blink tick draws at once
  // (``paced`` false), else a slow frame could skip every other tick and the blink would not show.
  let drawTimer = null;
  const drawSoon = (paced = true) => {
    if (drawPending && (paced || drawTimer === null)) return;
    clearTimeout(drawTimer);
    drawPending = true;
    const wait = paced ? Math.max(0, frameDoneAt + frameCostMs - performance.now()) : 0;
    drawTimer = setTimeout(() => {
      drawTimer = null;
      requestAnimationFrame(() => { drawPending = false; draw(); });
    }, wait);
  };
  const overlays = [status, caption, readout, compass];
  const resizer = new ResizeObserver(() => {
    const zoom = view.clientWidth > 2000 ? '2' : '1';  // a 4K wall: overlays read from across the room
    for (const overlay of overlays) overlay.style.zoom = zoom;
    grw.resize();
    drawSoon();
  });
  resizer.observe(view);

  // Z is up: orbit about world Z, pan with the right button or shift, zoom with wheel or pinch.
  const M = vtk.Interaction.Manipulators;
  const style = vtk.Interaction.Style.vtkInteractorStyleManipulator.newInstance();
  style.addMouseManipulator(M.vtkMouseCameraTrackballRotateManipulator.newInstance({
    button: 1, useWorldUpVec: true, worldUpVec: [0, 0, 1], useFocalPointAsCenterOfRotation: true }));
  style.addMouseManipulator(M.vtkMouseCameraTrackballPanManipulator.newInstance({ button: 3 }));
  style.addMouseManipulator(M.vtkMouseCameraTrackballPanManipulator.newInstance({ button: 1, shift: true }));
  style.addMouseManipulator(M.vtkMouseCameraTrackballZoomManipulator.newInstance({ button: 2 }));
  style.addMouseManipulator(M.vtkMouseCameraTrackballZoomToMouseManipulator.newInstance({
    dragEnabled: false, scrollEnabled: true }));
  style.addGestureManipulator(M.vtkGestureCameraManipulator.newInstance());  // touch: pinch, rotate, pan
  interactor.setInteractorStyle(style);

  // --- camera -----------------------------------------------------------------------------------
  let flight = null;
  function fly(position, focal, durationMs) {
    const from = { p: camera.getPosition(), f: camera.getFocalPoint() };
    const t0 = performance.now();
    root.dataset.flying = '1';
    flight = { position, focal };
    const step = (now) => {
      if (flight === null || flight.position !== position) return;  // superseded
      const t = durationMs > 0 ? Math.min(1, (now - t0) / durationMs) : 1, k = ease(t);
      camera.setFocalPoint(...from.f.map((v, i) => v + (focal[i] - v) * k));
      camera.setPosition(...from.p.map((v, i) => v + (position[i] - v) * k));
      camera.setViewUp(0, 0, 1);
      renderer.resetCameraClippingRange();
      draw();
      if (t < 1) requestAnimationFrame(step);
      else { flight = null; root.dataset.flying = '0'; }
    };
    requestAnimationFrame(step);
  }

  // The camera that shows a box whole, looking along `direction` (default: the current one).
  function framing(b, direction) {
    const c = [(b[0] + b[3]) / 2, (b[1] + b[4]) / 2, (b[2] + b[5]) / 2];
    const r = Math.max(1, 0.5 * Math.hypot(b[3] - b[0], b[4] - b[1], b[5] - b[2]));
    const d = direction || camera.getDirectionOfProjection();
    const n = Math.hypot(...d) || 1;
    const aspect = Math.max(0.2, view.clientWidth / Math.max(1, view.clientHeight));
    const half = (camera.getViewAngle() * Math.PI) / 360;
    const fit = Math.min(half, Math.atan(Math.tan(half) * aspect));
    const dist = (r / Math.sin(fit)) * 1.05;
    return { focal: c, position: c.map((v, i) => v - (d[i] / n) * dist) };
  }

  const HOME_DIRECTION = [0.6, 1.0, -0.75];  // from the south-south-west, above
  function visibleBounds() {
    const b = renderer.computeVisiblePropBounds();  // xmin,xmax,ymin,ymax,zmin,zmax
    return b[1] >= b[0] ? [b[0], b[2], b[4], b[1], b[3], b[5]] : null;
  }
  function home(durationMs = 0) {
    const b = model.home_bounds && model.home_bounds.length === 6 ? model.home_bounds : visibleBounds();
    if (!b) return;
    const { position, focal } = framing(b, HOME_DIRECTION);
    if (durationMs > 0) { fly(position, focal, durationMs); return; }
    camera.setFocalPoint(...focal);
    camera.setPosition(...position);
    camera.setViewUp(0, 0, 1);
    renderer.resetCameraClippingRange();
    draw();
  }

  // North (+Y of the park frame) on screen: its components along the screen's right and up.
  function pointNorth() {
    const d = camera.getDirectionOfProjection(), v = camera.getViewUp();
    const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
    const right = cross(d, v), up = cross(right, d);
    const a = Math.atan2(right[1], up[1]);
    needle.style.transform = `rotate(${a}rad)`;
    north.style.left = `${32 + 23 * Math.sin(a)}px`;
    north.style.top = `${32 - 23 * Math.cos(a)}px`;
  }
  camera.onModified(() => { pointNorth(); placeLabels(); });

  // --- batches ----------------------------------------------------------------------------------
  const entries = model.batches, total = entries.length;
  // What Python asked of each batch, kept so a batch that arrives later starts right.
  const wanted = entries.map((entry) => ({ visible: entry.visible !== false, opacity: entry.opacity, offsetZ: 0,
    styles: new Map() }));  // styles: node index -> {rgb, alpha, visible, blink}
  // How many batches are shown (data-shown), for tests and anyone checking a layer switch.
  const countShown = () => { root.dataset.shown = String(wanted.filter((w) => w.visible && w.opacity > 0).length); };
  countShown();
  const batches = new Array(total).fill(null);
  const byPolydata = new Map();
  let loadedCount = 0;
  const picker = vtk.Rendering.Core.vtkCellPicker.newInstance();  // picks among batch actors only
  picker.setPickFromList(1);
  picker.initializePickList();
  picker.setTolerance(0);  // the default accepts triangles up to 2.5% of the view away: wrong node
  const clipPlane = vtk.Common.DataModel.vtkPlane.newInstance({ origin: [0, 0, 0], normal: [0, 0, -1] });
  let sectionZ = null;

  function addBatch(no, { header, points, triangles, cellNode }) {
    const entry = entries[no], nT = header.n_triangles;
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
    const rgba = new Uint8Array(nT * 4);
    const base = [...entry.rgb, Math.round(255 * entry.opacity)];
    for (let i = 0; i < nT; i++) rgba.set(base, 4 * i);
    const colors = vtk.Common.Core.vtkDataArray.newInstance({
      name: 'colour', numberOfComponents: 4, values: rgba });
    polydata.getCellData().setScalars(colors);
    const mapper = vtk.Rendering.Core.vtkMapper.newInstance();
    mapper.setInputData(polydata);
    mapper.setColorModeToDirectScalars();
    mapper.setScalarModeToUseCellData();
    mapper.setResolveCoincidentTopologyToPolygonOffset();
    if (sectionZ !== null) mapper.addClippingPlane(clipPlane);
    const actor = vtk.Rendering.Core.vtkActor.newInstance();
    actor.setMapper(mapper);
    renderer.addActor(actor);
    picker.addPickList(actor);
    const nodeIds = header.node_ids;
    const batch = { no, entry, polydata, polys, triangles, colors, rgba, mapper, actor, cellNode, nodeIds,
      baseAlpha: base[3], translucentNodes: 0,
      ...groupCells(cellNode, nodeIds.length) };
    batches[no] = batch;
    byPolydata.set(polydata, batch);
    applyBatch(batch);
    for (const node of wanted[no].styles.keys()) paintNode(batch, node);
    if (wanted[no].styles.size) touch(batch, true);
  }

  function applyBatch(batch) {
    const w = wanted[batch.no];
    // a cell's alpha carries the category's opacity; the actor's, what the view does to the batch
    const factor = batch.entry.opacity > 0 ? Math.min(1, w.opacity / batch.entry.opacity) : w.opacity;
    batch.actor.setVisibility(w.visible && w.opacity > 0);
    batch.actor.getProperty().setOpacity(factor);
    batch.actor.setForceTranslucent(batch.baseAlpha < 255 || batch.translucentNodes > 0);
    batch.actor.setPosition(0, 0, w.offsetZ);
  }

  // --- node styles ------------------------------------------------------------------------------
  const lit = new Set();        // "batch:node" keys highlighted
  const blinking = new Set();   // "batch:node" keys blinking
  let blinkOn = false;

  function colourOf(batch, node) {
    const key = `${batch.no}:${node}`, s = wanted[batch.no].styles.get(node);
    if (lit.has(key)) return HIGHLIGHT;
    if (blinkOn && blinking.has(key)) return BLINK;
    return (s && s.rgb) || batch.entry.rgb;
  }

  function paintNode(batch, node) {
    const s = wanted[batch.no].styles.get(node) || {};
    const rgb = colourOf(batch, node);
    const alpha = lit.has(`${batch.no}:${node}`) ? 255 : s.alpha === undefined ? batch.baseAlpha : s.alpha;
    const hidden = s.visible === false;
    const { start, cells, rgba, polys, triangles } = batch;
    for (let k = start[node]; k < start[node + 1]; k++) {
      const c = cells[k];
      rgba[4 * c] = rgb[0]; rgba[4 * c + 1] = rgb[1]; rgba[4 * c + 2] = rgb[2]; rgba[4 * c + 3] = alpha;
      // a hidden node's triangles collapse to a point: not drawn, not picked
      polys[4 * c + 2] = hidden ? triangles[3 * c] : triangles[3 * c + 1];
      polys[4 * c + 3] = hidden ? triangles[3 * c] : triangles[3 * c + 2];
    }
  }

  // Colours changed; ``restyled``: styles too (visibility, alpha), so also triangles and translucency.
  // Highlight and blink ticks change colours only and skip the rest.
  function touch(batch, restyled) {
    batch.colors.modified();
    if (restyled) {
      batch.polydata.getPolys().modified();
      let translucent = 0;
      for (const s of wanted[batch.no].styles.values()) if (s.alpha !== undefined && s.alpha < 255) translucent++;
      batch.translucentNodes = translucent;
      applyBatch(batch);
    }
    batch.polydata.modified();
  }

  // {op:'style', parts, rgb, opacity, visible, blink, reset}
  function styleNodes(msg) {
    for (const [no, nodes] of parts(msg.parts)) {
      const w = wanted[no], batch = batches[no];
      let reshaped = false;  // opacity or visibility changed: triangles regroup; colour alone: colours only
      for (const node of nodes) {
        const old = w.styles.get(node) || {};
        const s = msg.reset ? {} : { ...old };
        if (msg.rgb !== undefined && msg.rgb !== null) s.rgb = msg.rgb;
        if (msg.opacity !== undefined && msg.opacity !== null) s.alpha = Math.round(255 * msg.opacity);
        if (msg.visible !== undefined && msg.visible !== null) s.visible = msg.visible;
        reshaped = reshaped || old.alpha !== s.alpha || old.visible !== s.visible;
        const key = `${no}:${node}`;
        if (msg.blink === true) blinking.add(key);
        if (msg.blink === false || msg.reset) blinking.delete(key);
        if (Object.keys(s).length) w.styles.set(node, s); else w.styles.delete(node);
        if (batch) paintNode(batch, node);
      }
      if (batch) touch(batch, reshaped);
    }
    drawSoon();
  }

  function highlight(msg) {
    const old = [...lit];
    lit.clear();
    for (const [no, nodes] of parts(msg.parts)) for (const node of nodes) lit.add(`${no}:${node}`);
    const dirty = new Set();
    for (const key of [...old, ...lit]) {
      const [no, node] = key.split(':').map(Number);
      if (batches[no]) { paintNode(batches[no], node); dirty.add(batches[no]); }
    }
    for (const batch of dirty) touch(batch, false);
    drawSoon();
  }

  setInterval(() => {
    if (!blinking.size) return;
    blinkOn = !blinkOn;
    const dirty = new Set();
    for (const key of blinking) {
      const [no, node] = key.split(':').map(Number);
      if (batches[no]) { paintNode(batches[no], node); dirty.add(batches[no]); }
    }
    for (const batch of dirty) touch(batch, false);
    drawSoon(false);
  }, BLINK_PERIOD_MS / 2);

  // {op:'batches', batches:[no...], visible, opacity, offset_z}
  function batchOp(msg) {
    const offsets = msg.offset_z;
    msg.batches.forEach((no, i) => {
      const w = wanted[no];
      if (msg.visible !== undefined && msg.visible !== null) w.visible = msg.visible;
      if (msg.opacity !== undefined && msg.opacity !== null) w.opacity = msg.opacity;
      if (offsets !== undefined && offsets !== null) w.offsetZ = Array.isArray(offsets) ? offsets[i] : offsets;
      if (batches[no]) applyBatch(batches[no]);
    });
    countShown();
    renderer.resetCameraClippingRange();
    drawSoon();
  }

  function section(msg) {
    sectionZ = msg.z === null || msg.z === undefined ? null : msg.z;
    clipPlane.setOrigin(0, 0, sectionZ === null ? 0 : sectionZ);
    for (const batch of batches) {
      if (!batch) continue;
      batch.mapper.removeAllClippingPlanes();
      if (sectionZ !== null) batch.mapper.addClippingPlane(clipPlane);
    }
    root.dataset.section = sectionZ === null ? '' : String(sectionZ);
    drawSoon();
  }

  // --- labels and the located node's pin ----------------------------------------------------------
  let labels = [];              // [{text, xyz, div}]
  const pin = el('div', 'position:absolute;transform:translate(-50%,-100%);display:none;padding:3px 8px;' +
    'border:2px solid #ff8000;border-radius:4px;background:rgba(12,16,28,.85);color:#ffb74d;font-size:14px;' +
    'white-space:nowrap;box-shadow:0 0 12px #ff8000', labelLayer);
  pin.dataset.twinPin = '';
  let pinAt = null;
  function setPin(msg) {
    pinAt = msg.xyz || null;
    pin.textContent = msg.text ? `▼ ${msg.text}` : '';
    placeLabels();
  }
  function setLabels(msg) {
    for (const label of labels) label.div.remove();
    labels = (msg.items || []).slice(0, MAX_LABELS).map(([text, xyz]) => {
      const div = el('div', 'position:absolute;transform:translate(-50%,-100%);padding:1px 5px;' +
        'border-radius:3px;background:rgba(12,16,28,.75);color:#e8f1ff;font-size:12px;white-space:nowrap',
        labelLayer);
      div.textContent = text;
      return { text, xyz, div };
    });
    root.dataset.labels = String(labels.length);
    placeLabels();
  }
  // Labels in the order given (most important first); one that would overlap a placed one hides.
  function placeLabels() {
    const w = view.clientWidth, h = view.clientHeight, placed = [];
    const dop = camera.getDirectionOfProjection(), eye = camera.getPosition();
    const onScreen = (p) => {
      const ahead = (p[0] - eye[0]) * dop[0] + (p[1] - eye[1]) * dop[1] + (p[2] - eye[2]) * dop[2];
      const d = renderer.worldToNormalizedDisplay(p[0], p[1], p[2], w / h);
      const x = d[0] * w, y = (1 - d[1]) * h;
      return ahead > 0 && x >= 0 && x <= w && y >= 0 && y <= h ? [x, y] : null;
    };
    const pinned = pinAt && onScreen(pinAt);
    pin.style.display = pinned ? 'block' : 'none';
    if (pinned) { pin.style.left = `${pinned[0]}px`; pin.style.top = `${pinned[1]}px`; }
    for (const label of labels) {
      const at = onScreen(label.xyz), [x, y] = at || [0, 0];
      label.width = label.width || label.div.offsetWidth || 8 * label.text.length;
      const box = [x - label.width / 2, y - 18, x + label.width / 2, y];
      const free = !placed.some((b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]);
      const show = at !== null && free;
      label.div.style.display = show ? 'block' : 'none';
      if (show) { label.div.style.left = `${x}px`; label.div.style.top = `${y}px`; placed.push(box); }
    }
  }

  // --- measuring --------------------------------------------------------------------------------
  const measureLine = vtk.Filters.Sources.vtkLineSource.newInstance();
  const measureActor = vtk.Rendering.Core.vtkActor.newInstance();
  const measureMapper = vtk.Rendering.Core.vtkMapper.newInstance();
  measureMapper.setInputConnection(measureLine.getOutputPort());
  measureActor.setMapper(measureMapper);
  measureActor.getProperty().setColor(1, 0.84, 0.31);
  measureActor.getProperty().setLineWidth(3);
  measureActor.setVisibility(false);
  renderer.addActor(measureActor);
  let measureFrom = null;
  function measurePick(point) {
    if (!measureFrom) {
      measureFrom = point;
      measureActor.setVisibility(false);
      readout.style.display = 'block';
      readout.textContent = strings.measure_second;
      return;
    }
    const d = Math.hypot(point[0] - measureFrom[0], point[1] - measureFrom[1], point[2] - measureFrom[2]);
    measureLine.setPoint1(...measureFrom);
    measureLine.setPoint2(...point);
    measureActor.setVisibility(true);
    readout.textContent = `${strings.distance}: ${d.toFixed(2)} m`;
    root.dataset.measured = d.toFixed(3);
    model.measured_m = d;
    measureFrom = null;
    drawSoon();
  }
  model.on('measuring', () => {
    measureFrom = null;
    measureActor.setVisibility(false);
    readout.style.display = model.measuring ? 'block' : 'none';
    readout.textContent = strings.measure_first;
    drawSoon();
  });

  // --- drills: people as points, routes as line segments (one actor each, made on first use) -----
  const overlayActors = {};
  // {op:'points', xyz, rgb, size_px}: one vertex per point; {op:'paths', xyz, rgb, size_px}: xyz holds
  // segment ends in pairs; {op:'zone', xyz, rgb, opacity}: triangle corners in threes (a hazard's area).
  // An empty xyz leaves the overlay empty.
  const corners = { points: 1, paths: 2, zone: 3 };
  function drawOverlay(msg) {
    const per = corners[msg.op];
    if (!overlayActors[msg.op]) {
      const polydata = vtk.Common.DataModel.vtkPolyData.newInstance();
      const mapper = vtk.Rendering.Core.vtkMapper.newInstance();
      const actor = vtk.Rendering.Core.vtkActor.newInstance();
      mapper.setInputData(polydata);
      actor.setMapper(mapper);
      renderer.addActor(actor);
      overlayActors[msg.op] = { polydata, actor };
    }
    const { polydata, actor } = overlayActors[msg.op];
    const xyz = floats(msg.xyz), n = xyz.length / 3 / per;
    const cells = new Uint32Array(n * (per + 1));
    for (let i = 0; i < n; i++) {
      cells[i * (per + 1)] = per;
      for (let k = 0; k < per; k++) cells[i * (per + 1) + 1 + k] = i * per + k;
    }
    polydata.getPoints().setData(xyz, 3);
    ({ 1: polydata.getVerts(), 2: polydata.getLines(), 3: polydata.getPolys() })[per].setData(cells);
    polydata.modified();
    const property = actor.getProperty();
    property.setColor(...msg.rgb.map((v) => v / 255));
    if (per === 1) property.setPointSize(msg.size_px);
    else if (per === 2) property.setLineWidth(msg.size_px);
    else property.setOpacity(msg.opacity);
    actor.setVisibility(n > 0);
    root.dataset[msg.op] = String(n);
    drawSoon();
  }

  // --- picking ----------------------------------------------------------------------------------
  let pressed = null;          // a click is a press and release without a drag
  interactor.onLeftButtonPress((e) => { pressed = e.position; });
  interactor.onLeftButtonRelease((e) => {
    const p = e.position, from = pressed;
    pressed = null;
    if (!from || Math.hypot(p.x - from.x, p.y - from.y) > 4) return;
    picker.pick([p.x, p.y, 0], renderer);
    const batch = byPolydata.get(picker.getDataSet()), cell = picker.getCellId();
    if (model.measuring) { if (batch && cell >= 0) measurePick(picker.getPickPosition()); return; }
    model.picked = batch && cell >= 0 ? batch.nodeIds[batch.cellNode[cell]] : '';
  });

  // A person's press, wheel or key counts as a touch, at most one per 2 s (the wall's idle tour waits on it).
  let touchedAt = 0;
  const touched = () => {
    const now = Date.now();
    if (now - touchedAt > 2000) { touchedAt = now; model.touched = model.touched + 1; }
  };
  for (const type of ['pointerdown', 'wheel', 'keydown']) root.addEventListener(type, touched, {passive: true});

  // --- messages from Python ---------------------------------------------------------------------
  const ops = {
    style: styleNodes, highlight, section,
    batches: batchOp,
    labels: setLabels,
    pin: setPin,
    points: drawOverlay,
    paths: drawOverlay,
    zone: drawOverlay,
    camera: (msg) => fly(msg.position, msg.focal, 1000 * msg.duration_s),
    frame: (msg) => { const c = framing(msg.bounds, msg.direction); fly(c.position, c.focal, 1000 * msg.duration_s); },
    home: (msg) => home(1000 * (msg.duration_s || 0)),
    caption: (msg) => {
      caption.textContent = msg.text || '';
      caption.style.display = msg.text ? 'block' : 'none';
    },
  };
  // After a message is applied (before the frame that shows it) the root fires 'twin-applied' with
  // {op, parts, rgb, at_ms: epoch ms}: how benchmarks time a delta from publish to browser.
  model.on('msg:custom', (msg) => {
    const op = ops[msg.op];
    if (!op) { console.warn('twin viewport: unknown op', msg.op); return; }
    op(msg);
    root.dispatchEvent(new CustomEvent('twin-applied', {
      detail: {op: msg.op, parts: msg.parts || '', rgb: msg.rgb ?? null,
              at_ms: performance.timeOrigin + performance.now()}}));
  });
  model.on('home', () => home(800));

  // --- load -------------------------------------------------------------------------------------
  const progress = () => { status.textContent = `${strings.loading} ${loadedCount}/${total}`; };
  progress();
  async function fetchBatch(no) {
    const response = await fetch(entries[no].url);  // plain HTTP, cached by the browser (immutable)
    if (!response.ok) throw new Error(`${entries[no].url}: HTTP ${response.status}`);
    return parse(await response.arrayBuffer());
  }
  // While batches stream in, draw at most a few times a second: each frame draws all so far.
  let loadDraw = null;
  const drawWhileLoading = () => { loadDraw = loadDraw || setTimeout(() => { loadDraw = null; draw(); }, 250); };
  const t0 = performance.now();
  // a withheld batch (not for this session's eyes) loads as an empty one: batch numbers stay
  const empty = () => Promise.resolve({ header: { n_triangles: 0, node_ids: [] }, points: new Float32Array(0),
    triangles: new Uint32Array(0), cellNode: new Int32Array(0) });
  Promise.all(entries.map((entry, no) => (entry.withheld ? empty() : fetchBatch(no)).then((data) => {
    addBatch(no, data);
    loadedCount++;
    root.dataset.loaded = String(loadedCount);
    progress();
    if (loadedCount === 1) { home(); root.dataset.firstFrameMs = String(Math.round(performance.now() - t0)); }
    else drawWhileLoading();
  }))).then(() => {
    if (!flight) home();
    status.style.display = 'none';
    root.dataset.state = 'ready';
    root.dataset.actors = String(renderer.getActors().length - 1);  // less the measuring line
    model.ready = true;
  }).catch((err) => {
    status.textContent = `${strings.load_failed}: ${err.message}`;
    root.dataset.state = 'error';
  });

  model.on('remove', () => { resizer.disconnect(); grw.delete(); });
}
