// Weir's dashboard. Everything here reads the HTTP API: GET /v1/live
// (server-sent events of the node's status and of live queries),
// POST /v1/query, GET /v1/quarantine and POST /v1/quarantine/replay.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};
const haveCharts = typeof window.uPlot === "function";
const palette = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];

// ---------- formatting ----------
function fmtInt(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return Math.round(n).toLocaleString("en-US");
}
function fmtRate(r) {
  if (r === null || r === undefined || !Number.isFinite(r)) return "–";
  if (r >= 1e6) return (r / 1e6).toFixed(2) + "M";
  if (r >= 1e4) return (r / 1e3).toFixed(1) + "k";
  if (r >= 10) return Math.round(r).toLocaleString("en-US");
  return r.toFixed(1);
}
function fmtAgo(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 0) ms = 0;
  if (ms < 1000) return ms.toFixed(0) + " ms";
  if (ms < 60e3) return (ms / 1000).toFixed(1) + " s";
  if (ms < 3600e3) return (ms / 60e3).toFixed(1) + " min";
  if (ms < 86400e3) return (ms / 3600e3).toFixed(1) + " h";
  return (ms / 86400e3).toFixed(1) + " d";
}
function fmtTime(s) {
  if (!s) return "–";
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return d.toLocaleString("en-GB", { hour12: false });
}
function fmtCell(v, type) {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toLocaleString("en-US", { maximumFractionDigits: 4 });
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
const isNumType = (t) => /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*|NUMERIC.*|INT.*)$/i.test(t || "");
const isTimeType = (t) => /^(TIMESTAMP.*|DATE)$/i.test(t || "");
const quoteIdent = (s) => '"' + String(s).replace(/"/g, '""') + '"';
const ago = (now, t) => (t ? now - Date.parse(t) : null);

let toastTimer;
function toast(msg) {
  const t = $("#toast");
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 5000);
}

async function api(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    const e = (data && data.error) || {};
    const err = new Error((e.message || r.statusText) + (e.hint ? "\n" + e.hint : ""));
    err.code = e.code;
    throw err;
  }
  return data;
}

// ---------- tabs ----------
const tabs = ["overview", "views", "quarantine", "sql"];
function showTab() {
  const want = (location.hash || "#overview").slice(1);
  const tab = tabs.includes(want) ? want : "overview";
  for (const t of tabs) $("#tab-" + t).hidden = t !== tab;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.tab === tab);
  if (tab === "views") viewsTab.enter();
  else viewsTab.leave();
  if (tab === "quarantine") quarantineTab.enter();
  if (tab === "sql") sqlTab.enter();
  window.dispatchEvent(new Event("resize"));
}
window.addEventListener("hashchange", showTab);

// ---------- live status ----------
const live = { status: null, prev: null, rates: null, history: new Map() };
const HISTORY = 120; // points of the sparklines (one a second)

function diffRates(cur, prev) {
  const dt = prev ? (Date.parse(cur.time) - Date.parse(prev.time)) / 1000 : 0;
  const rate = (a, b) => (dt > 0 && a !== undefined && b !== undefined ? Math.max(0, (a - b) / dt) : null);
  const byName = (list) => new Map((list || []).map((x) => [x.name, x]));
  const ps = prev ? byName(prev.streams) : new Map();
  const pv = prev ? byName(prev.views) : new Map();
  const pk = prev ? byName(prev.sinks) : new Map();
  const r = { streams: {}, sources: {}, views: {}, sinks: {} };
  for (const s of cur.streams || []) {
    const p = ps.get(s.name);
    const bySource = {};
    for (const [k, v] of Object.entries(s.by_source || {})) bySource[k] = rate(v, p && p.by_source ? p.by_source[k] || 0 : undefined);
    r.streams[s.name] = { accepted: rate(s.accepted, p && p.accepted), quarantined: rate(s.quarantined, p && p.quarantined), bySource };
  }
  for (const v of cur.views || []) {
    const p = pv.get(v.name);
    r.views[v.name] = { in: rate(v.in, p && p.in), out: rate(v.out, p && p.out) };
  }
  for (const k of cur.sinks || []) {
    const p = pk.get(k.name);
    r.sinks[k.name] = { records: rate(k.records, p && p.records) };
  }
  return r;
}

function connect() {
  const pill = $("#conn");
  const es = new EventSource("/v1/live");
  es.addEventListener("status", (ev) => {
    const st = JSON.parse(ev.data);
    live.prev = live.status;
    live.status = st;
    live.rates = diffRates(st, live.prev);
    pill.textContent = st.ready ? "live" : "starting";
    pill.className = "pill " + (st.ready ? "pill-ok" : "pill-wait");
    $("#uptime").textContent = "up " + fmtAgo(Date.parse(st.time) - Date.parse(st.started));
    renderOverview(st, live.rates);
    quarantineTab.status(st);
    viewsTab.status(st);
    sqlTab.status(st);
  });
  es.onerror = () => {
    pill.textContent = "reconnecting…";
    pill.className = "pill pill-bad";
  };
}

// ---------- overview ----------
function renderOverview(st, rates) {
  const now = Date.parse(st.time);
  let acc = 0, rec = 0, quar = 0, repl = 0, backlog = 0, rate = 0, fresh = null;
  for (const s of st.streams) {
    acc += s.accepted; rec += s.received; quar += s.quarantined; repl += s.replayed; backlog += s.backlog;
    const r = rates.streams[s.name];
    if (r && r.accepted !== null) rate += r.accepted;
    const a = ago(now, s.last_append);
    if (a !== null && (fresh === null || a < fresh)) fresh = a;
  }
  $("#kpi-rate").textContent = live.prev ? fmtRate(rate) : "…";
  $("#kpi-accepted").textContent = fmtInt(acc);
  $("#kpi-received").textContent = fmtInt(rec) + " received since start";
  const qv = $("#kpi-quarantined");
  qv.textContent = fmtInt(quar);
  qv.className = "kpi-value" + (quar > 0 ? " warn" : "");
  $("#kpi-qshare").textContent = rec > 0 ? ((100 * quar) / rec).toFixed(2) + "% of received" + (repl ? " · " + fmtInt(repl) + " replayed" : "") : "of received";
  $("#kpi-backlog").textContent = fmtInt(backlog);
  $("#kpi-fresh").textContent = fmtAgo(fresh);
  renderGraph(st, rates);
  renderStreams(st, rates, now);
  renderViewsTable(st, rates);
  renderSinksTable(st, now);
}

// The pipeline graph: inputs → streams → views → sinks, one column each;
// views that read views get a column per step after the views they read.
const graph = { key: "", labels: new Map(), edges: new Map() };
function viewDepths(views) {
  const byName = new Map(views.map((v) => [v.name, v]));
  const depth = new Map();
  const visit = (v, seen) => {
    if (depth.has(v.name)) return depth.get(v.name);
    if (seen.has(v.name)) return 0; // a cycle cannot run; draw it flat
    seen.add(v.name);
    let d = 0;
    for (const input of v.inputs || (v.input ? [v.input] : [])) {
      const up = input.startsWith("view/") && byName.get(input.slice(5));
      if (up) d = Math.max(d, visit(up, seen) + 1);
    }
    depth.set(v.name, d);
    return d;
  };
  for (const v of views) visit(v, new Set());
  return depth;
}
function graphModel(st) {
  const nodes = [], edges = [];
  const depth = viewDepths(st.views);
  const steps = Math.max(0, ...depth.values()) + 1;
  const sinkCol = 2 + steps;
  const col = Array.from({ length: sinkCol + 1 }, () => []);
  const titles = ["Inputs", "Streams", "Views", ...Array(steps - 1).fill("Views of views"), "Sinks"];
  const add = (c, n) => { n.col = c; col[c].push(n); nodes.push(n); };
  add(0, { id: "http", kind: "source", title: "HTTP API", sub: "POST /v1/streams/…/events" });
  for (const s of st.sources) add(0, { id: "src:" + s.name, kind: "source", title: s.name, sub: s.type + " → " + s.stream });
  for (const s of st.streams) add(1, { id: "stream:" + s.name, kind: "stream", title: s.name, sub: s.partitions + " partition" + (s.partitions === 1 ? "" : "s") });
  for (const v of st.views) add(2 + depth.get(v.name), { id: "view:" + v.name, kind: v.mode === "not running" ? "view broken" : "view", title: v.name, sub: v.mode });
  for (const k of st.sinks) add(sinkCol, { id: "sink:" + k.name, kind: "sink", title: k.name, sub: k.type + (k.table ? " · " + k.table : "") });
  const streams = new Set(st.streams.map((s) => s.name));
  for (const s of st.streams) edges.push({ id: "e:http:" + s.name, from: "http", to: "stream:" + s.name });
  for (const s of st.sources) if (streams.has(s.stream)) edges.push({ id: "e:src:" + s.name, from: "src:" + s.name, to: "stream:" + s.stream });
  for (const v of st.views) {
    const inputs = v.inputs || (v.input ? [v.input] : []);
    inputs.forEach((input, i) => {
      const from = input.startsWith("view/") ? "view:" + input.slice(5) : "stream:" + input;
      // A join reads two streams: the first edge carries the view's input rate.
      edges.push({ id: "e:view:" + v.name + (i ? ":" + i : ""), from, to: "view:" + v.name });
    });
  }
  for (const k of st.sinks) edges.push({ id: "e:sink:" + k.name, from: k.view ? "view:" + k.view : "stream:" + k.stream, to: "sink:" + k.name });
  return { nodes, edges, col, titles };
}

function renderGraph(st, rates) {
  const m = graphModel(st);
  const key = m.nodes.map((n) => n.id + "|" + n.kind).join(",") + "/" + m.edges.map((e) => e.id).join(",");
  const W = 200, H = 58, GX = 270, GY = 18, TOP = 34, LEFT = 16;
  if (key !== graph.key) {
    graph.key = key;
    graph.labels.clear();
    graph.edges.clear();
    const rows = Math.max(...m.col.map((c) => c.length), 1);
    const height = TOP + rows * (H + GY) + 10;
    const width = LEFT * 2 + (m.col.length - 1) * GX + W;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "pipeline graph" });
    m.titles.forEach((t, i) => {
      const tx = svg("text", { x: LEFT + i * GX, y: 16, class: "gcol" });
      tx.textContent = t;
      root.append(tx);
    });
    const pos = new Map();
    m.col.forEach((c, ci) => {
      const off = ((rows - c.length) * (H + GY)) / 2;
      c.forEach((n, ri) => pos.set(n.id, { x: LEFT + ci * GX, y: TOP + off + ri * (H + GY) }));
    });
    const edgeLayer = svg("g");
    root.append(edgeLayer);
    for (const e of m.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      const path = svg("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: "gedge", "data-edge": e.id });
      const label = svg("text", { x: x2 - 8, y: y2 - 6, "text-anchor": "end", class: "glabel" });
      edgeLayer.append(path, label);
      graph.edges.set(e.id, { path, label });
    }
    for (const n of m.nodes) {
      const p = pos.get(n.id);
      const g = svg("g", { class: "gnode " + n.kind, transform: `translate(${p.x},${p.y})`, "data-node": n.id });
      g.append(svg("rect", { width: W, height: H, rx: 8 }));
      const t1 = svg("text", { x: 12, y: 19, class: "t1" }); t1.textContent = n.title;
      const t2 = svg("text", { x: 12, y: 34, class: "t2" }); t2.textContent = n.sub;
      const t3 = svg("text", { x: 12, y: 49, class: "t3" });
      g.append(t1, t2, t3);
      root.append(g);
      graph.labels.set(n.id, t3);
    }
    $("#graph").replaceChildren(root);
  }
  // live numbers
  const setEdge = (id, r) => {
    const e = graph.edges.get(id);
    if (!e) return;
    e.label.textContent = r === null || r === undefined ? "" : fmtRate(r) + "/s";
    e.path.classList.toggle("active", r > 0);
  };
  const byType = {};
  for (const s of st.sources) byType[s.stream + "|" + s.type] = (byType[s.stream + "|" + s.type] || 0) + 1;
  for (const s of st.streams) {
    const r = rates.streams[s.name] || { bySource: {} };
    setEdge("e:http:" + s.name, r.bySource.http ?? (live.prev ? 0 : null));
    const lbl = graph.labels.get("stream:" + s.name);
    if (lbl) lbl.textContent = fmtInt(s.accepted) + " accepted · " + fmtInt(s.quarantined) + " quar.";
  }
  for (const s of st.sources) {
    const r = rates.streams[s.stream] || { bySource: {} };
    // Records are counted by source type; sources of one type on one stream share the count.
    const v = r.bySource[s.type] ?? (live.prev ? 0 : null);
    setEdge("e:src:" + s.name, v === null ? null : v / byType[s.stream + "|" + s.type]);
    const lbl = graph.labels.get("src:" + s.name);
    if (lbl) lbl.textContent = s.lag !== undefined && s.lag !== null ? "lag " + fmtInt(s.lag) : s.files ? fmtInt(s.files.accepted || 0) + " files" : "";
  }
  const httpLbl = graph.labels.get("http");
  if (httpLbl) httpLbl.textContent = fmtInt(st.streams.reduce((a, s) => a + ((s.by_source || {}).http || 0), 0)) + " records";
  for (const v of st.views) {
    setEdge("e:view:" + v.name, (rates.views[v.name] || {}).in ?? null);
    const lbl = graph.labels.get("view:" + v.name);
    if (lbl) lbl.textContent = v.error ? "error" : fmtInt(v.out) + " rows · lag " + fmtInt(v.lag);
  }
  for (const k of st.sinks) {
    setEdge("e:sink:" + k.name, (rates.sinks[k.name] || {}).records ?? null);
    const lbl = graph.labels.get("sink:" + k.name);
    if (lbl) lbl.textContent = fmtInt(k.records) + " · lag " + fmtInt(k.lag);
  }
}

const sparks = new Map(); // stream -> {card, plot, data}
function renderStreams(st, rates, now) {
  const box = $("#streams");
  const names = new Set(st.streams.map((s) => s.name));
  for (const [n, s] of sparks) if (!names.has(n)) { s.card.remove(); if (s.plot) s.plot.destroy(); sparks.delete(n); }
  for (const s of st.streams) {
    let sp = sparks.get(s.name);
    if (!sp) {
      const card = el("div", { class: "stream", "data-stream": s.name },
        el("h3", {}, el("span", { text: s.name }), el("span", { class: "muted", text: s.partitions + " partitions" })),
        el("div", { class: "facts" },
          fact("accepted/s", "rate"), fact("quarantined", "quar"), fact("backlog", "backlog"), fact("freshness", "fresh")),
        el("div", { class: "bar", title: "accepted vs quarantined" }, el("span")),
        el("div", { class: "spark" }));
      box.append(card);
      sp = { card, plot: null, data: [[], [], []] };
      sparks.set(s.name, sp);
    }
    const r = rates.streams[s.name] || {};
    const set = (k, v) => (sp.card.querySelector(`[data-f="${k}"]`).textContent = v);
    set("rate", live.prev ? fmtRate(r.accepted) : "…");
    set("quar", fmtInt(s.quarantined) + (s.received ? " (" + ((100 * s.quarantined) / s.received).toFixed(1) + "%)" : ""));
    set("backlog", fmtInt(s.backlog));
    set("fresh", fmtAgo(ago(now, s.last_append)));
    sp.card.querySelector(".bar > span").style.width = (s.received ? (100 * s.accepted) / s.received : 100) + "%";
    if (r.accepted !== null && r.accepted !== undefined) {
      const d = sp.data;
      d[0].push(now / 1000); d[1].push(r.accepted); d[2].push(r.quarantined);
      if (d[0].length > HISTORY) d.forEach((a) => a.shift());
      drawSpark(sp);
    }
  }
}
function fact(k, key) {
  return el("div", { class: "fact" }, el("div", { class: "k", text: k }), el("div", { class: "v", "data-f": key, text: "–" }));
}
function drawSpark(sp) {
  const host = sp.card.querySelector(".spark");
  if (!haveCharts) {
    if (!host.firstChild) host.append(el("div", { class: "muted", text: "charts need `make ui`" }));
    return;
  }
  if (!sp.plot) {
    sp.plot = new uPlot({
      width: Math.max(host.clientWidth, 300), height: 90,
      legend: { show: false }, cursor: { show: false },
      scales: { x: { time: true } },
      axes: [{ show: false }, { size: 46, font: "11px system-ui", ticks: { show: false }, grid: { stroke: "#f1f5f9" }, values: (u, v) => v.map(fmtRate) }],
      series: [{}, { label: "accepted/s", stroke: "#2563eb", width: 1.5, fill: "rgba(37,99,235,.08)" }, { label: "quarantined/s", stroke: "#dc2626", width: 1 }],
    }, sp.data, host);
  } else {
    sp.plot.setData(sp.data);
  }
}

function renderViewsTable(st, rates) {
  const tb = $("#views-table tbody");
  tb.replaceChildren(...st.views.map((v) => el("tr", { "data-view": v.name },
    el("td", {}, el("a", { href: "#views", onclick: () => viewsTab.pick(v.name), text: v.name })),
    el("td", { text: v.input || "–" }),
    el("td", {}, el("span", { class: "tag" + (v.error ? " bad" : ""), text: v.error ? "error" : v.mode, title: v.error || "" })),
    el("td", { class: "num", text: live.prev ? fmtRate((rates.views[v.name] || {}).in) : "…" }),
    el("td", { class: "num", text: fmtInt(v.out) }),
    el("td", { class: "num", text: fmtInt(v.lag) }),
    el("td", { text: v.watermark ? fmtTime(v.watermark) : "–" }),
    el("td", { class: "num", text: fmtInt((v.late_kept || 0) + (v.late_dropped || 0) + (v.late_updated || 0)) }))));
  if (!st.views.length) tb.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "No views. Put CREATE MATERIALIZED VIEW statements in views/*.sql, or run one in SQL." })));
}

function renderSinksTable(st, now) {
  const tb = $("#sinks-table tbody");
  tb.replaceChildren(...st.sinks.map((k) => el("tr", { "data-sink": k.name },
    el("td", { text: k.name }),
    el("td", { text: k.type }),
    el("td", { text: k.view ? "view " + k.view : k.stream }),
    el("td", { class: "num", text: fmtInt(k.records) }),
    el("td", { class: "num", text: fmtInt(k.lag) }),
    el("td", { text: k.last_commit ? fmtAgo(ago(now, k.last_commit)) + " ago" : "–" }))));
  if (!st.sinks.length) tb.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No sinks." })));
}

// ---------- result rendering shared by views and SQL ----------
function renderTable(table, res, { newestFirst = false, limit = 500 } = {}) {
  const head = el("tr", {}, ...res.columns.map((c, i) => el("th", { class: isNumType(res.types[i]) ? "num" : "", text: c, title: res.types[i] })));
  table.tHead.replaceChildren(head);
  let rows = res.rows || [];
  if (newestFirst) rows = rows.slice().reverse();
  rows = rows.slice(0, limit);
  table.tBodies[0].replaceChildren(...rows.map((r) => el("tr", {}, ...r.map((v, i) => {
    const t = fmtCell(v, res.types[i]);
    return el("td", { class: (isNumType(res.types[i]) ? "num" : "") + (t === null ? " null" : ""), text: t === null ? "null" : t });
  }))));
}

// chart draws res into host: a line per category over time when the result
// has a time column, otherwise horizontal bars of the first text column.
function chartPlan(res, measure) {
  const tcol = res.columns.indexOf("window_start") >= 0 ? res.columns.indexOf("window_start") : res.types.findIndex(isTimeType);
  const nums = res.types.map((t, i) => (isNumType(t) && i !== tcol ? i : -1)).filter((i) => i >= 0);
  const cat = res.types.findIndex((t, i) => /^VARCHAR|^TEXT|^BOOLEAN/i.test(t) && i !== tcol);
  const m = measure !== undefined && nums.includes(measure) ? measure : nums[0];
  return { tcol, nums, cat, m };
}
function drawChart(host, res, measure, holder) {
  const plan = chartPlan(res, measure);
  if (plan.m === undefined || !res.rows || !res.rows.length) {
    destroyChart(holder);
    host.replaceChildren(el("div", { class: "note", text: res.rows && res.rows.length ? "No numeric column to chart." : "No rows yet." }));
    return plan;
  }
  if (plan.tcol >= 0) {
    if (!haveCharts) {
      host.replaceChildren(el("div", { class: "note", text: "Charts need the uPlot files: run `make ui`, then rebuild (make build)." }));
      return plan;
    }
    // series: one per category value (top 8 by total), or the measure alone
    const totals = new Map();
    for (const r of res.rows) {
      const k = plan.cat >= 0 ? String(r[plan.cat]) : res.columns[plan.m];
      totals.set(k, (totals.get(k) || 0) + (Number(r[plan.m]) || 0));
    }
    const keys = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map((e) => e[0]);
    const xs = [...new Set(res.rows.map((r) => Date.parse(r[plan.tcol]) / 1000))].filter(Number.isFinite).sort((a, b) => a - b);
    const xi = new Map(xs.map((x, i) => [x, i]));
    const ys = keys.map(() => xs.map(() => null));
    const ki = new Map(keys.map((k, i) => [k, i]));
    for (const r of res.rows) {
      const k = plan.cat >= 0 ? String(r[plan.cat]) : res.columns[plan.m];
      const i = ki.get(k), j = xi.get(Date.parse(r[plan.tcol]) / 1000);
      if (i !== undefined && j !== undefined) ys[i][j] = (ys[i][j] || 0) + (Number(r[plan.m]) || 0);
    }
    const sig = keys.join("\u0000") + "|" + plan.m;
    const data = [xs, ...ys];
    if (holder.plot && holder.sig === sig && holder.host === host) {
      holder.plot.setData(data);
    } else {
      destroyChart(holder);
      host.replaceChildren();
      holder.plot = new uPlot({
        width: Math.max(host.clientWidth, 400), height: 300,
        // One point in time (the first window) would stretch the axis over years.
        scales: { x: { time: true, range: (u, lo, hi) => (hi - lo < 1 ? [lo - 300, hi + 300] : [lo, hi]) } },
        series: [{}, ...keys.map((k, i) => ({ label: k, stroke: palette[i % palette.length], width: 2, points: { size: 5 }, spanGaps: false }))],
        axes: [{}, { size: 60, values: (u, v) => v.map(fmtRate), label: res.columns[plan.m] }],
      }, data, host);
      holder.sig = sig;
      holder.host = host;
    }
    host.classList.remove("bars");
    return plan;
  }
  // bars of a text (or first) column against the measure
  destroyChart(holder);
  host.classList.add("bars");
  const lc = plan.cat >= 0 ? plan.cat : 0;
  const rows = res.rows.slice().sort((a, b) => (Number(b[plan.m]) || 0) - (Number(a[plan.m]) || 0)).slice(0, 25);
  const top = Math.max(...rows.map((r) => Number(r[plan.m]) || 0), 1);
  host.replaceChildren(...rows.map((r) => el("div", { class: "hbar" },
    el("div", { class: "lbl", text: String(r[lc]), title: String(r[lc]) }),
    el("div", { class: "track" }, (() => { const f = el("div", { class: "fill" }); f.style.width = (100 * (Number(r[plan.m]) || 0)) / top + "%"; return f; })()),
    el("div", { class: "val", text: fmtCell(r[plan.m]) }))));
  return plan;
}
function destroyChart(holder) {
  if (holder.plot) { holder.plot.destroy(); holder.plot = null; holder.sig = null; }
}

// ---------- views tab ----------
const viewsTab = {
  current: null, es: null, holder: {}, measure: undefined, active: false, names: "",
  enter() { this.active = true; if (this.current) this.open(this.current); else if (live.status) this.status(live.status); },
  leave() { this.active = false; this.close(); },
  pick(name) { this.current = name; this.measure = undefined; },
  status(st) {
    const names = st.views.filter((v) => v.mode !== "not running").map((v) => v.name);
    const key = names.join(",");
    if (key !== this.names) {
      this.names = key;
      const sel = $("#view-pick");
      sel.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
      if (!names.length) sel.append(el("option", { value: "", text: "no views" }));
    }
    if (!this.current && names.length) this.current = names.find((n) => /minute|window|per_/.test(n)) || names[0];
    if (this.current) $("#view-pick").value = this.current;
    if (this.active && this.current && !this.es) this.open(this.current);
  },
  close() { if (this.es) { this.es.close(); this.es = null; } },
  async open(name) {
    this.close();
    this.current = name;
    $("#view-pick").value = name;
    const host = $("#view-chart");
    let cols;
    try {
      cols = await api("POST", "/v1/query", { sql: `SELECT * FROM ${quoteIdent(name)} LIMIT 0` });
    } catch (e) {
      host.replaceChildren(el("div", { class: "note", text: "Cannot read view " + name + ": " + e.message }));
      return;
    }
    if (this.current !== name || !this.active) return;
    const plan = chartPlan(cols, this.measure);
    const msel = $("#view-measure");
    msel.replaceChildren(...plan.nums.map((i) => el("option", { value: i, text: cols.columns[i] })));
    if (plan.m !== undefined) msel.value = plan.m;
    let sql;
    if (plan.tcol >= 0) {
      const t = quoteIdent(cols.columns[plan.tcol]);
      sql = `SELECT * FROM ${quoteIdent(name)} WHERE ${t} >= (SELECT max(${t}) FROM ${quoteIdent(name)}) - INTERVAL 60 MINUTE ORDER BY ${t}`;
    } else {
      sql = `SELECT * FROM ${quoteIdent(name)}` + (plan.m !== undefined ? ` ORDER BY ${quoteIdent(cols.columns[plan.m])} DESC` : "") + " LIMIT 200";
    }
    const es = new EventSource("/v1/live?status=0&q=" + encodeURIComponent(sql));
    this.es = es;
    let n = 0;
    es.addEventListener("result", (ev) => {
      const r = JSON.parse(ev.data);
      if (r.error) { host.replaceChildren(el("div", { class: "note", text: r.error })); return; }
      n++;
      drawChart(host, r.result, this.measure, this.holder);
      renderTable($("#view-rows"), r.result, { newestFirst: plan.tcol >= 0, limit: 200 });
      $("#view-meta").textContent = `${r.result.rows.length} rows · query ${r.ms.toFixed(1)} ms · update ${n} · ${new Date().toLocaleTimeString("en-GB")}`;
    });
  },
};
$("#view-pick").addEventListener("change", (e) => { viewsTab.pick(e.target.value); destroyChart(viewsTab.holder); viewsTab.open(e.target.value); });
$("#view-measure").addEventListener("change", (e) => { viewsTab.measure = Number(e.target.value); destroyChart(viewsTab.holder); viewsTab.open(viewsTab.current); });

// ---------- quarantine tab ----------
const quarantineTab = {
  streams: "", records: [], selected: null, loaded: false,
  status(st) {
    const open = st.streams.reduce((a, s) => a + s.quarantined - s.replayed, 0);
    const b = $("#qbadge");
    b.hidden = open <= 0;
    b.textContent = open > 999 ? Math.round(open / 1000) + "k" : String(open);
    const key = st.streams.map((s) => s.name).join(",");
    if (key !== this.streams) {
      this.streams = key;
      const sel = $("#q-stream");
      const cur = sel.value;
      sel.replaceChildren(...st.streams.map((s) => el("option", { value: s.name, text: s.name })));
      const withQ = st.streams.find((s) => s.quarantined > 0);
      sel.value = cur || (withQ ? withQ.name : st.streams[0] && st.streams[0].name) || "";
      if (!$("#tab-quarantine").hidden) this.load();
    }
    const s = st.streams.find((x) => x.name === $("#q-stream").value);
    if (s) $("#q-summary").textContent = `${fmtInt(s.quarantined)} quarantined since start · ${fmtInt(s.replayed)} replayed`;
  },
  enter() { this.load(); },
  async load() {
    const stream = $("#q-stream").value;
    if (!stream) return;
    let data;
    try {
      data = await api("GET", "/v1/quarantine?limit=500&stream=" + encodeURIComponent(stream));
    } catch (e) { toast("Cannot list the quarantine: " + e.message); return; }
    this.records = data.records.slice().reverse();
    this.loaded = true;
    const tb = $("#q-table tbody");
    tb.replaceChildren(...this.records.map((q, i) => el("tr", { "data-offset": q.offset, onclick: () => this.show(i) },
      el("td", { text: fmtTime(q.received_at) }),
      el("td", { text: (q.source || "–") + (q.origin ? " · " + q.origin : "") }),
      el("td", {}, el("span", { class: "tag", text: q.rule || "–" }), q.field ? el("span", { class: "muted", text: " " + q.field }) : ""),
      el("td", { class: "reason", text: q.reason, title: q.reason }),
      el("td", {}, q.replayed ? el("span", { class: "tag ok", text: "replayed" }) : ""))));
    if (!this.records.length) tb.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted", text: "Nothing quarantined in " + stream + "." })));
    if (this.selected !== null) {
      const i = this.records.findIndex((q) => q.offset === this.selected);
      if (i >= 0) this.show(i);
    }
  },
  show(i) {
    const q = this.records[i];
    this.selected = q.offset;
    for (const tr of $("#q-table tbody").rows) tr.classList.toggle("selected", Number(tr.dataset.offset) === q.offset);
    let raw = q.raw;
    if (q.raw_encoding === "base64") raw = "(base64) " + raw;
    else { try { raw = JSON.stringify(JSON.parse(raw), null, 2); } catch (_) { /* as received */ } }
    const dl = el("dl");
    const row = (k, v) => v !== undefined && v !== null && v !== "" && dl.append(el("dt", { text: k }), el("dd", { text: String(v) }));
    row("stream", q.stream); row("offset", q.offset); row("received", fmtTime(q.received_at)); row("source", q.source);
    row("origin", q.origin); row("schema version", q.schema_version); row("rule", q.rule); row("field", q.field);
    row("reason", q.reason); row("request key", q.request_key);
    const btn = el("button", { class: "btn btn-primary", id: "q-replay-one", text: q.replayed ? "Replayed" : "Replay this record" });
    btn.disabled = !!q.replayed;
    btn.addEventListener("click", () => this.replay({ stream: q.stream, offsets: [q.offset] }));
    $("#q-detail").replaceChildren(el("h3", { text: "Record " + q.offset }), dl, el("div", { class: "muted", text: "As received:" }),
      el("pre", { class: "raw", text: raw }), btn);
  },
  async replay(body) {
    try {
      const r = await api("POST", "/v1/quarantine/replay", body);
      const parts = [`accepted ${r.accepted}`];
      r.rejected = r.rejected || [];
      if (r.rejected.length) parts.push(`still rejected ${r.rejected.length}` + (r.rejected.length === 1 ? ": " + r.rejected[0].reason : ""));
      if (r.already_replayed) parts.push(`already replayed ${r.already_replayed}`);
      toast("Replay: " + parts.join(" · "));
    } catch (e) { toast("Replay failed: " + e.message); }
    this.load();
  },
};
$("#q-stream").addEventListener("change", () => { quarantineTab.selected = null; $("#q-detail").replaceChildren(el("p", { class: "muted", text: "Select a record to see it." })); quarantineTab.load(); });
$("#q-refresh").addEventListener("click", () => quarantineTab.load());
$("#q-replay-all").addEventListener("click", () => {
  const stream = $("#q-stream").value;
  if (stream && confirm(`Validate every quarantined record of ${stream} again, and let those that pass into the stream?`)) quarantineTab.replay({ stream, all: true });
});

// ---------- SQL tab ----------
const sqlTab = {
  holder: {}, seeded: false,
  status(st) {
    if (this.seeded || !st.streams.length) return;
    this.seeded = true;
    const ta = $("#sql-text");
    const s = st.streams[0];
    if (!ta.value) ta.value = `SELECT * FROM ${s.name} ORDER BY 1 DESC LIMIT 100`;
    const ex = [];
    for (const x of st.streams) ex.push([x.name + ": count", `SELECT count(*) AS records FROM ${x.name}`]);
    for (const v of st.views.slice(0, 3)) ex.push([v.name, `SELECT * FROM ${v.name} LIMIT 100`]);
    ex.push(["views", "SHOW VIEWS"]);
    $("#sql-examples").replaceChildren(el("span", { class: "muted", text: "try:" }),
      ...ex.map(([label, sql]) => el("a", { onclick: () => { ta.value = sql; this.run(); }, text: label })));
  },
  enter() { setTimeout(() => $("#sql-text").focus(), 0); },
  async run() {
    const sql = $("#sql-text").value.trim();
    if (!sql) return;
    const btn = $("#sql-run");
    btn.disabled = true;
    $("#sql-status").textContent = "running…";
    $("#sql-error").hidden = true;
    const t0 = performance.now();
    try {
      const res = await api("POST", "/v1/query", { sql });
      const ms = performance.now() - t0;
      $("#sql-status").textContent = `${fmtInt(res.rows ? res.rows.length : 0)} rows${res.truncated ? " (truncated)" : ""} in ${ms.toFixed(0)} ms`;
      renderTable($("#sql-table"), res, { limit: 2000 });
      const host = $("#sql-chart");
      host.classList.remove("chart-small");
      drawChart(host, res, undefined, this.holder);
      if (!res.rows || !res.rows.length || chartPlan(res).m === undefined) { host.replaceChildren(); host.classList.add("chart-small"); }
    } catch (e) {
      $("#sql-status").textContent = "";
      const err = $("#sql-error");
      err.textContent = e.message;
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  },
};
$("#sql-run").addEventListener("click", () => sqlTab.run());
$("#sql-text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); sqlTab.run(); }
});

showTab();
connect();
