// caregrid app: paint planning units into grids, watch the rule checks, run the solver (JSON API of server.py).
// Every name from the data is written with textContent or as a DOM node, never as HTML.
const L = window.L;

const app = {
  labels: null,
  units: new Map(),      // unit_id -> {grid_id, locked, layer}
  grids: [],
  facilities: new Map(), // facility_id -> marker
  version: -1,
  job: null,
};
window.caregridApp = app;

function $(id) { return document.getElementById(id); }
function label(key) {
  const l = app.labels.app[key];
  return l ? `${l.en} ${l.zh}` : key;
}
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body),
  };
  const r = await fetch(path, opts);
  const data = await r.json();
  if (!r.ok) {
    const msg = data.error || r.statusText;
    showMessage(msg, true);
    throw new Error(msg);
  }
  return data;
}

function showMessage(text, error) {
  const m = $('message');
  m.textContent = text;
  m.className = error ? 'error' : 'ok';
}

// ------------------------------------------------------------------------------------------ colours
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7',
  '#9c755f', '#bab0ac', '#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#17becf'];
function colour(grid) {
  const k = app.grids.indexOf(grid);
  return k < 0 ? '#999999' : PALETTE[k % PALETTE.length];
}
function unitStyle(u) {
  return {color: u.locked ? '#000000' : '#ffffff', weight: u.locked ? 1.5 : 0.3, fillColor: colour(u.grid_id),
    fillOpacity: 0.6};
}

// ------------------------------------------------------------------------------------------ map
const map = L.map('map', {preferCanvas: true, zoomControl: true, boxZoom: false});
app.map = map;
const renderer = L.canvas({padding: 0.2, tolerance: 0});

let stroke = null;  // unit ids painted by the current mouse stroke
let pixels = null;  // unit centres in container pixels during a stroke (the map does not pan while painting)
function startStroke(id, e) {
  stroke = new Set();
  document.body.classList.add('painting');  // facility markers let the stroke pass under them
  if (e && e.originalEvent.altKey) {  // the whole district (Districtr's "county brush")
    const district = app.units.get(id).props.district_name;
    for (const [uid, u] of app.units) if (u.props.district_name === district) { stroke.add(uid); preview(uid); }
    return;
  }
  pixels = Number($('brush').value) > 0 ? [...app.units].map(([uid, u]) => [uid, map.latLngToContainerPoint(u.center)])
    : null;
  brushAt(id, e);
}
function brushAt(id, e) {
  // the unit under the pointer, and with a brush radius every unit whose centre is that close to the pointer
  stroke.add(id);
  preview(id);
  if (!pixels || !e) return;
  const r = Number($('brush').value);
  const p = e.containerPoint;
  for (const [uid, q] of pixels) {
    if (!stroke.has(uid) && (q.x - p.x) ** 2 + (q.y - p.y) ** 2 <= r * r) { stroke.add(uid); preview(uid); }
  }
}
function preview(id) {
  const u = app.units.get(id);
  if (!u) return;
  if ($('lock-mode').checked) {
    u.layer.setStyle({color: '#000000', weight: 1.5});
  } else {
    u.layer.setStyle({fillColor: colour($('grid-select').value)});
  }
}
async function endStroke() {
  if (!stroke) return;
  const ids = [...stroke];
  stroke = null;
  pixels = null;
  document.body.classList.remove('painting');
  if ($('lock-mode').checked) {
    await apply(api('/api/lock', {unit_ids: ids, locked: true}));
  } else {
    const grid = $('grid-select').value;
    // a new grid exists once units are painted into it: the first stroke after "New grid" creates it
    const body = {unit_ids: ids, grid_id: grid, new_grid: app.pendingNew === grid};
    await apply(api('/api/assign', body));
    if (body.new_grid) app.pendingNew = null;
  }
}
document.addEventListener('mouseup', () => {
  if (lasso) { endLasso().catch(() => refresh()); return; }
  endStroke().catch(() => refresh());
});

// lasso: Shift + drag draws a free-hand outline; the units whose centre lies inside are painted as one stroke
let lasso = null;  // {points: [LatLng], line: L.Polyline}
function startLasso(latlng) {
  lasso = {points: [latlng], line: L.polyline([latlng], {color: '#000000', weight: 1.5, dashArray: '4 3',
    interactive: false}).addTo(map)};
  document.body.classList.add('painting');
}
map.on('mousemove', (e) => {
  if (!lasso) return;
  lasso.points.push(e.latlng);
  lasso.line.addLatLng(e.latlng);
});
function inside(pt, poly) {  // even-odd rule on lon/lat
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i];
    const b = poly[j];
    if ((a.lat > pt.lat) !== (b.lat > pt.lat) &&
        pt.lng < (b.lng - a.lng) * (pt.lat - a.lat) / (b.lat - a.lat) + a.lng) hit = !hit;
  }
  return hit;
}
async function endLasso() {
  const poly = lasso.points;
  lasso.line.remove();
  lasso = null;
  document.body.classList.remove('painting');
  if (poly.length < 3) return;
  stroke = new Set();
  for (const [id, u] of app.units) {
    if (inside(u.center, poly)) { stroke.add(id); preview(id); }
  }
  if (stroke.size) await endStroke();
  else stroke = null;
}

function addUnits(geojson) {
  const layer = L.geoJSON(geojson, {
    renderer,
    style: () => ({weight: 0.3, color: '#ffffff', fillOpacity: 0.6}),
    onEachFeature: (feature, lyr) => {
      const id = feature.properties.unit_id;
      app.units.set(id, {grid_id: '', locked: false, layer: lyr, props: feature.properties,
        center: lyr.getBounds().getCenter()});
      lyr.on('mousedown', (e) => {
        L.DomEvent.stop(e);
        if (e.originalEvent.shiftKey) startLasso(e.latlng);
        else startStroke(id, e);
      });
      lyr.on('mouseover', (e) => { if (stroke) brushAt(id, e); });
      lyr.on('mousemove', (e) => { if (stroke && pixels) brushAt(id, e); });
    },
  }).addTo(map);
  map.fitBounds(layer.getBounds());
  map.on('mousedown', (e) => { if (e.originalEvent.shiftKey && !lasso) startLasso(e.latlng); });
  map.dragging.disable();  // the left button paints; the map pans with the keyboard arrows and zooms with the wheel
}

function addBoundaries(geojson) {
  L.geoJSON(geojson, {interactive: false, style: () => ({color: '#333333', weight: 2, fill: false, dashArray: '6 4'})})
    .addTo(map);
}

// ------------------------------------------------------------------------------------------ facilities
function facilityIcon(f) {
  const cls = `fac role-${f.role}` + (f.approximate ? ' approx' : '');
  // no name ever enters the icon's HTML: the role is a CSS class, the name a tooltip DOM node
  return L.divIcon({className: cls, html: '', iconSize: f.role === 'lead' ? [22, 22] : [14, 14]});
}
function tooltipNode(f) {
  const box = el('div');
  box.appendChild(el('b', f.name));
  box.appendChild(el('div', `${f.facility_id} · ${f.role_label}` + (f.grid_id ? ` · ${f.grid_id}` : '')));
  if (f.approximate) box.appendChild(el('div', `${label('place_me')} (${f.location_quality})`, 'place-me'));
  return box;
}
function renderFacilities(list) {
  const seen = new Set();
  for (const f of list) {
    if (f.lon === null || f.lat === null || f.in_city === false) continue;
    seen.add(f.facility_id);
    let m = app.facilities.get(f.facility_id);
    if (!m) {
      m = L.marker([f.lat, f.lon], {draggable: true, icon: facilityIcon(f), keyboard: false}).addTo(map);
      m.on('dragend', () => {
        const p = m.getLatLng();
        apply(api('/api/facility', {action: 'move', id: m.facilityId, lon: p.lng, lat: p.lat}))
          .catch(() => refresh());
      });
      m.facilityId = f.facility_id;
      m.on('click', () => {
        selectFacility(m.facilityId);
        $('facility-box').scrollIntoView({block: 'nearest'});
      });
      app.facilities.set(f.facility_id, m);
    } else {
      m.setLatLng([f.lat, f.lon]);
      m.setIcon(facilityIcon(f));
    }
    m.getElement()?.setAttribute('data-facility-id', f.facility_id);
    m.unbindTooltip();
    m.bindTooltip(tooltipNode(f));
    m.facility = f;
  }
  for (const [id, m] of app.facilities) {
    if (!seen.has(id)) { m.remove(); app.facilities.delete(id); }
  }
  if (app.selected) selectFacility(app.selected);
}

const FACILITY_BUTTONS = ['facility-close', 'facility-level-apply', 'facility-kind-apply', 'facility-link-apply'];
function selectFacility(id) {
  app.selected = id;
  const m = app.facilities.get(id);
  const box = $('facility-info');
  box.replaceChildren();
  if (!m) {
    for (const b of FACILITY_BUTTONS) $(b).disabled = true;
    return;
  }
  const f = m.facility;
  box.appendChild(el('b', f.name));
  box.appendChild(el('div', `${f.facility_id} · ${f.level} ${f.grade || ''} · ${f.kind} · ${f.role_label}`));
  if (f.change) box.appendChild(el('div', f.change, 'zh'));
  for (const b of FACILITY_BUTTONS) $(b).disabled = false;
  const main = $('facility-main');
  main.replaceChildren();
  for (const [fid, other] of app.facilities) {
    if (fid === id) continue;
    const o = el('option', `${other.facility.name} (${fid})`);
    o.value = fid;
    main.appendChild(o);
  }
}

// ------------------------------------------------------------------------------------------ panel
function fmt(v, digits = 0) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return v.toLocaleString('en-US', {maximumFractionDigits: digits});
  return String(v);
}
function renderSummary(s) {
  const box = $('summary');
  box.replaceChildren();
  const verdict = s.passed ? label('passed') : `${s.failed_checks} ${label('fails')}`;
  box.appendChild(el('div', verdict, s.passed ? 'pass' : 'fail'));
  box.appendChild(el('div', `${label('grid')}: ${s.grids} · ${label('residents')}: ${fmt(s.population)} · ` +
    `${label('area')}: ${fmt(s.area_km2, 1)}`));
  box.appendChild(el('div', `${label('travel_mean')}: ${fmt(s.travel_mean_min, 1)} · ${label('within_access')}: ` +
    `${fmt(s.share_within_access * 100, 1)}%`));
  box.appendChild(el('div', `${label('compactness')}: ${fmt(s.polsby_popper, 2)}`));
}
function renderGrids(grids) {
  const head = $('grids').tHead;
  head.replaceChildren();
  const hr = head.insertRow();
  for (const k of ['grid', 'residents', 'area', 'lead', 'members', 'travel_mean', 'within_access', 'compactness',
    'rules']) {
    hr.appendChild(el('th', label(k)));
  }
  const body = $('grids').tBodies[0];
  body.replaceChildren();
  for (const g of grids) {
    const tr = body.insertRow();
    tr.dataset.grid = g.grid_id;
    const sw = el('td', g.grid_id);
    sw.style.borderLeft = `8px solid ${colour(g.grid_id)}`;
    tr.appendChild(sw);
    tr.appendChild(el('td', fmt(g.population)));
    tr.appendChild(el('td', fmt(g.area_km2, 1)));
    tr.appendChild(leadCell(g));
    tr.appendChild(el('td', String(g.members.length)));
    tr.appendChild(el('td', fmt(g.travel_mean_min, 1)));
    tr.appendChild(el('td', g.share_within_access === null ? '—' : `${fmt(g.share_within_access * 100, 1)}%`));
    tr.appendChild(el('td', fmt(g.polsby_popper, 2), 'compactness'));
    tr.appendChild(el('td', g.failed_rules.length ? g.failed_rules.join(', ') : '✓', g.failed_rules.length ? 'fail' : 'pass'));
  }
}
function leadCell(g) {
  // the grid's lead: the planner's choice (any hospital that may lead, inside the grid or not) or the default
  const td = el('td');
  const sel = el('select', null, 'lead-select');
  sel.dataset.grid = g.grid_id;
  const auto = el('option', `${g.lead_named ? '' : `${g.lead_name || label('no_lead')} · `}(${label('lead_auto')})`);
  auto.value = '';
  sel.appendChild(auto);
  for (const fid of app.eligible) {
    const f = app.facilities.get(fid)?.facility;
    const o = el('option', f ? `${f.name} (${fid})` : fid);
    o.value = fid;
    sel.appendChild(o);
  }
  sel.value = g.lead_named ? g.lead_facility_id : '';
  sel.onchange = () => apply(api('/api/lead', {grid_id: g.grid_id, facility_id: sel.value || null}))
    .catch(() => refresh());
  td.appendChild(sel);
  return td;
}

function renderRules(rows) {
  const ul = $('rule-panel');
  ul.replaceChildren();
  for (const r of rows) {
    if (r.status === 'passed') continue;
    const li = el('li', null, `status-${r.status}`);
    li.dataset.rule = r.rule_id;
    li.dataset.grid = r.grid_id;
    li.dataset.status = r.status;
    li.appendChild(el('div', `${r.grid_id} · ${r.reason_en}`));
    li.appendChild(el('div', r.reason_zh, 'zh'));
    if (r.reading) li.appendChild(el('div', r.reading, 'reading'));
    ul.appendChild(li);
  }
  const passed = rows.filter((r) => r.status === 'passed').length;
  ul.appendChild(el('li', `${passed} ${label('passed')}`, 'status-passed'));
}
function renderGridLists() {
  for (const id of ['grid-select', 'merge-into']) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren();
    for (const g of app.grids) {
      const o = el('option', g);
      o.value = g;
      sel.appendChild(o);
    }
    if (app.grids.includes(keep)) sel.value = keep;
  }
}

function applyState(s) {
  for (const u of s.units) {
    const mine = app.units.get(u.unit_id);
    if (!mine) continue;
    mine.grid_id = u.grid_id;
    mine.locked = u.locked;
  }
  app.grids = s.grids.map((g) => g.grid_id);
  for (const u of app.units.values()) u.layer.setStyle(unitStyle(u));
  app.version = s.version;
  renderGridLists();
  app.eligible = s.eligible_leads;
  renderSummary(s.summary);
  renderFacilities(s.facilities);
  renderGrids(s.grids);
  renderRules(s.compliance);
  $('undo').disabled = !s.can_undo;
  $('redo').disabled = !s.can_redo;
  $('scenario-name').textContent = s.scenario;
  document.body.dataset.version = String(s.version);
}
async function apply(promise) {
  const s = await promise;
  applyState(s);
  return s;
}
async function refresh() { return apply(api('/api/state')); }

// ------------------------------------------------------------------------------------------ solver jobs
async function solve(mode) {
  const job = await api('/api/solve', {mode});
  app.job = job.job_id;
  $('cancel').disabled = false;
  poll();
}
async function poll() {
  if (!app.job) return;
  const j = await api(`/api/jobs/${app.job}`);
  $('job-progress').value = j.progress;
  $('job-status').textContent = `${label('job')} ${j.mode}: ${j.status} (${j.stage}, ${j.elapsed_s} s)`;
  document.body.dataset.job = j.status;
  if (j.status === 'queued' || j.status === 'running') {
    setTimeout(poll, 300);
    return;
  }
  app.job = null;
  $('cancel').disabled = true;
  if (j.status === 'done') {
    showMessage(`${j.mode}: ${j.result.units_moved} units, ${fmt(j.result.residents_moved)} ${label('residents')}`);
    await refresh();
  } else if (j.status === 'failed') {
    showMessage(j.error, true);
  }
}

// ------------------------------------------------------------------------------------------ start
async function start() {
  app.labels = await api('/api/labels');
  for (const e of document.querySelectorAll('[data-label]')) e.textContent = label(e.dataset.label);
  $('title').textContent = label('title');
  for (const [sel, table] of [['facility-level', 'levels'], ['new-facility-level', 'levels'],
    ['facility-kind', 'kinds'], ['new-facility-kind', 'kinds']]) {
    for (const [value, l] of Object.entries(app.labels[table])) {
      const o = el('option', `${l.en} ${l.zh}`);
      o.value = value;
      $(sel).appendChild(o);
    }
  }
  document.title = label('title');
  addBoundaries(await api('/api/boundaries'));
  addUnits(await api('/api/units'));
  await refresh();
  $('undo').onclick = () => apply(api('/api/undo', {})).catch(() => {});
  $('redo').onclick = () => apply(api('/api/redo', {})).catch(() => {});
  $('new-grid').onclick = () => {
    const name = $('new-grid-name').value.trim();
    if (!name) return;
    if (!app.grids.includes(name)) app.grids.push(name);
    renderGridLists();
    $('grid-select').value = name;
    app.pendingNew = name;
  };
  $('merge').onclick = () => apply(api('/api/merge', {grid_id: $('grid-select').value, into: $('merge-into').value}))
    .catch(() => {});
  $('delete-grid').onclick = () => apply(api('/api/delete', {grid_id: $('grid-select').value})).catch(() => {});
  $('solve-repair').onclick = () => solve('repair').catch(() => {});
  $('solve-optimise').onclick = () => solve('optimise').catch(() => {});
  $('solve-fill').onclick = () => solve('fill').catch(() => {});
  $('cancel').onclick = () => app.job && api(`/api/jobs/${app.job}/cancel`, {}).catch(() => {});
  $('facility-close').onclick = () => app.selected &&
    apply(api('/api/facility', {action: 'close', id: app.selected})).catch(() => {});
  $('facility-level-apply').onclick = () => app.selected &&
    apply(api('/api/facility', {action: 'change', id: app.selected, level: $('facility-level').value}))
      .catch(() => {});
  $('facility-kind-apply').onclick = () => app.selected &&
    apply(api('/api/facility', {action: 'change', id: app.selected, kind: $('facility-kind').value}))
      .catch(() => {});
  $('facility-link-apply').onclick = () => app.selected &&
    apply(api('/api/facility', {action: 'link', ids: [$('facility-main').value, app.selected]})).catch(() => {});
  $('add-facility').onclick = () => {
    const name = $('new-facility-name').value.trim();
    if (!name) return;
    let k = 1;
    while (app.facilities.has(`APP-${k}`)) k += 1;
    const c = map.getCenter();
    apply(api('/api/facility', {action: 'add', id: `APP-${k}`, name, level: $('new-facility-level').value,
      kind: $('new-facility-kind').value, lon: c.lng, lat: c.lat, crs: 'EPSG:4326', location_quality: 'modelled',
      note: 'added in caregrid app'})).then(() => selectFacility(`APP-${k}`)).catch(() => {});
  };
  $('save').onclick = async () => {
    const r = await api('/api/save', {});
    const left = r.locks_not_saved.length ? `; ${label('locks_not_saved')}: ${r.locks_not_saved.join(', ')}` : '';
    showMessage(`${label('saved')}: ${r.scenario}${left}`, Boolean(left));
  };
  $('export').onclick = async () => {
    showMessage('…');
    const r = await api('/api/export', {out: $('export-name').value});
    showMessage(`${label('exported')}: ${r.out}`);
    document.body.dataset.exported = r.out;
  };
  document.addEventListener('keydown', (e) => {  // Ctrl+Z / Ctrl+Y (Ctrl+Shift+Z), not while typing in a field
    if (!(e.ctrlKey || e.metaKey) || e.target.closest('input, select, textarea')) return;
    const key = e.key.toLowerCase();
    if (key === 'z' && !e.shiftKey) { e.preventDefault(); $('undo').click(); }
    if (key === 'y' || (key === 'z' && e.shiftKey)) { e.preventDefault(); $('redo').click(); }
  });
  document.body.dataset.ready = 'true';
}

// the unit's centre in page pixels (browser tests paint with the real mouse)
app.unitPoint = (id) => {
  const u = app.units.get(id);
  const c = map.latLngToContainerPoint(u.center);
  const r = map.getContainer().getBoundingClientRect();
  return {x: r.left + c.x, y: r.top + c.y};
};

start().catch((e) => showMessage(String(e), true));
