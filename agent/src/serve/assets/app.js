// hone serve: the runs list and a run's page, from the JSON API under /api/.
// Hand-written, no framework or build step; the page polls the API every 2 s.
"use strict";

const POLL_MS = 2000;
const $ = (sel, root) => (root || document).querySelector(sel);
const main = () => $("#main");

function esc(text) {
  return String(text == null ? "" : text)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
function fmt(x, digits) {
  if (x == null || Number.isNaN(x)) return "–";
  if (typeof x !== "number") return esc(x);
  const d = digits == null ? 4 : digits;
  return Math.abs(x) >= 1e6 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(d);
}
function ago(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return s.toFixed(0) + " s ago";
  if (s < 3600) return (s / 60).toFixed(0) + " min ago";
  if (s < 86400) return (s / 3600).toFixed(1) + " h ago";
  return new Date(ms).toLocaleString();
}
async function api(path) {
  const res = await fetch("api/" + path, { cache: "no-store" });
  const body = await res.json().catch(() => ({ error: "the server answered " + res.status + " without JSON" }));
  if (!res.ok) throw new Error(body.error || "HTTP " + res.status);
  return body;
}
function setLive(text, bad) {
  const el = $("#live");
  el.textContent = text;
  el.className = bad ? "error" : "";
}

// ---------- routing ----------
let timer = null;
let page = null; // state of the run page while it is shown

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const parts = hash.split("/").filter(Boolean);
  if (parts[0] === "run" && parts[1]) {
    const run = Number(parts[1]);
    const node = parts[2] === "node" && parts[3] ? Number(parts[3]) : null;
    const compare = parts[4] === "compare" && parts[5] ? Number(parts[5]) : null;
    if (page && page.run === run) {
      page.select(node, compare);
    } else {
      stop();
      page = new RunPage(run);
      page.start(node, compare);
    }
  } else {
    stop();
    page = null;
    showRuns();
  }
}
function stop() {
  if (timer) clearInterval(timer);
  timer = null;
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

// ---------- the runs list ----------
function budgetBar(spent, budget, label) {
  if (budget == null) return `<span class="muted">${label}</span>`;
  const pct = budget > 0 ? Math.min(100, (100 * spent) / budget) : 100;
  return `<span class="bar" title="${esc(label)} of ${esc(budget)}"><span style="width:${pct.toFixed(1)}%"></span><em>${esc(label)} / ${esc(budget)}</em></span>`;
}
function bestCell(r) {
  if (!r.best) return "–";
  const basis = r.best.basis === "private" ? "private" : r.best.basis === "no_held_out_cases" ? "no held-out cases" : "public only";
  return `${fmt(r.best.score)} <span class="muted">(#${r.best.node}, ${basis})</span>`;
}
async function showRuns() {
  $("#crumbs").textContent = "runs";
  document.title = "hone: runs";
  const draw = async () => {
    let runs;
    try {
      runs = await api("runs");
      setLive("updated " + new Date().toLocaleTimeString());
    } catch (e) {
      setLive("cannot reach the server: " + e.message, true);
      return;
    }
    if (page) return;
    if (!runs.length) {
      main().innerHTML = `<p>No runs in this store yet. Start one with <code>hone run TASK</code>; it shows here as it goes.</p>`;
      return;
    }
    const rows = runs.slice().reverse().map((r) => {
      const b = r.run.budgets, s = r.spend;
      return `<tr class="run-row" data-run="${r.run.id}" onclick="location.hash='#/run/${r.run.id}'">
        <td class="num"><a href="#/run/${r.run.id}">${r.run.id}</a></td>
        <td>${esc(r.run.task_name)} <span class="muted">${esc(r.run.kind)}</span></td>
        <td>${esc(r.run.strategy)}</td>
        <td><span class="badge ${esc(r.run.status)}">${esc(r.run.status)}</span>${r.driver ? ` <span class="muted">pid ${r.driver.pid}</span>` : ""}</td>
        <td>${budgetBar(s.evaluations, b.evaluations, String(s.evaluations))}</td>
        <td>${budgetBar(s.llm_calls, b.llm_calls, String(s.llm_calls))}</td>
        <td>${budgetBar(s.tokens_in + s.tokens_out, b.tokens, String(s.tokens_in + s.tokens_out))}</td>
        <td>${budgetBar(s.dollars, b.dollars, "$" + s.dollars.toFixed(4))}</td>
        <td>${budgetBar(s.wall_seconds, b.wall_seconds, s.wall_seconds.toFixed(0) + " s")}</td>
        <td>${bestCell(r)}</td>
        <td class="num">${fmt(r.best_public)}</td>
        <td class="muted">${ago(r.run.updated_at)}</td></tr>`;
    });
    main().innerHTML = `<table id="runs"><thead><tr><th class="num">run</th><th>task</th><th>strategy</th><th>status</th>
      <th>evaluations</th><th>model calls</th><th>tokens</th><th>dollars</th><th>active time</th>
      <th>best (private)</th><th class="num">best public</th><th>updated</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  };
  await draw();
  timer = setInterval(draw, POLL_MS);
}

// ---------- colours ----------
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
function categorical(values) {
  const map = new Map();
  for (const v of values) if (!map.has(v)) map.set(v, PALETTE[map.size % PALETTE.length]);
  return map;
}
function scoreColour(t) {
  // low: blue, high: green-yellow
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

// ---------- syntax highlighting and diffs ----------
const KEYWORDS = new Set(("auto break case char const continue default do double else enum extern float for goto if inline int long " +
  "register return short signed sizeof static struct switch typedef union unsigned void volatile while bool true false " +
  "class namespace template typename using public private protected virtual new delete this nullptr constexpr " +
  "fn let mut pub impl trait mod use crate self Self match loop where as ref move dyn " +
  "def import from in is not and or None True False lambda pass yield with try except finally raise elif global nonlocal " +
  "i32 i64 u32 u64 usize isize f32 f64 u8 i8 u16 i16 String Vec Option Some Result Ok Err").split(" "));
function highlight(code) {
  const re = /(\/\/[^\n]*|\/\*[\s\S]*?\*\/|#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.){0,4}'|\b\d[\w.]*\b|\b[A-Za-z_]\w*\b)/g;
  let out = "", last = 0, m;
  while ((m = re.exec(code))) {
    out += esc(code.slice(last, m.index));
    const t = m[0];
    let cls = null;
    if (t.startsWith("//") || t.startsWith("/*")) cls = "c";
    else if (t.startsWith("#")) cls = /^#\s*(include|define|if|ifdef|ifndef|endif|else|pragma)/.test(t) ? "k" : "c";
    else if (t[0] === '"' || t[0] === "'") cls = "s";
    else if (/^\d/.test(t)) cls = "n";
    else if (KEYWORDS.has(t)) cls = "k";
    out += cls ? `<span class="${cls}">${esc(t)}</span>` : esc(t);
    last = m.index + t.length;
  }
  return out + esc(code.slice(last));
}
function diffHtml(files, what) {
  if (!files) return `<p class="muted">${esc(what)}</p>`;
  const changed = files.filter((f) => f.change !== "unchanged");
  if (!changed.length) return `<p class="muted">No difference.</p>`;
  return changed.map((f) => {
    const lines = f.lines.map((l) => {
      const cls = { hunk: "hunk", insert: "ins", delete: "del", context: "ctx" }[l.kind];
      const prefix = { hunk: "", insert: "+", delete: "-", context: " " }[l.kind];
      return `<span class="${cls}">${esc(prefix + l.text)}</span>`;
    });
    return `<h3>${esc(f.file)} <span class="muted">${esc(f.change)}</span></h3><pre class="diff">${lines.join("")}</pre>`;
  }).join("");
}

// ---------- the run page ----------
class RunPage {
  constructor(run) {
    this.run = run;
    this.detail = null;
    this.tree = null;
    this.version = null;
    this.selected = null;
    this.compareWith = null;
    this.colourBy = "score";
    this.chartBy = "evaluations";
    this.collapsed = new Set();
    this.view = null; // the SVG viewBox [x, y, w, h]
  }

  async start(node, compare) {
    $("#crumbs").innerHTML = `<a href="#/">runs</a> / run ${this.run}`;
    document.title = "hone: run " + this.run;
    main().innerHTML = `<div id="run-head"></div>
      <div class="layout">
        <div>
          <div class="panel"><div class="toolbar"><strong>Search tree</strong>
            <label>colour by <select id="colour-by"><option>score</option><option>status</option><option>operator</option><option>model</option></select></label>
            <button id="fit">fit</button><span class="muted">wheel: zoom · drag: pan · double-click: collapse</span></div>
            <svg id="tree-svg" xmlns="http://www.w3.org/2000/svg"></svg><div class="legend" id="legend"></div></div>
          <div class="panel"><div class="toolbar"><strong>Scores</strong>
            <label>over <select id="chart-by"><option>evaluations</option><option>time</option></select></label></div>
            <div id="chart"></div><div class="legend"><span><i style="background:#4e79a7"></i>public score (valid)</span><span><i style="background:#d9480f"></i>best public so far</span><span><i style="background:#8a2be2"></i>private score</span></div></div>
          <div id="run-extra"></div>
          <div id="run-quality"></div>
        </div>
        <div><div class="panel" id="node-panel"><p class="muted">Click a node of the tree to see its code, its diff against its parent, its evaluation and the model call that made it.</p></div></div>
      </div>`;
    $("#colour-by").onchange = (e) => { this.colourBy = e.target.value; this.drawTree(); };
    $("#chart-by").onchange = (e) => { this.chartBy = e.target.value; this.drawChart(); };
    $("#fit").onclick = () => { this.view = null; this.drawTree(); };
    this.bindZoom();
    await this.refresh();
    this.select(node, compare);
    timer = setInterval(() => this.refresh(), POLL_MS);
  }

  async refresh() {
    let detail;
    try {
      detail = await api(`runs/${this.run}`);
    } catch (e) {
      setLive(e.message, true);
      if (!this.detail) $("#run-head").innerHTML = `<p class="error">${esc(e.message)}</p>`;
      return;
    }
    setLive("updated " + new Date().toLocaleTimeString());
    this.detail = detail;
    this.drawHead();
    const version = [detail.nodes, detail.run.status, detail.run.updated_at, detail.private_evaluations.length, detail.best && detail.best.node].join("/");
    if (version !== this.version) {
      try {
        this.tree = await api(`runs/${this.run}/tree`);
        this.version = version;
      } catch (e) {
        setLive(e.message, true);
        return;
      }
      this.drawTree();
      this.drawChart();
      try {
        this.quality = await api(`runs/${this.run}/quality`);
      } catch (e) {
        this.quality = null;
      }
      this.drawQuality();
    }
  }

  // The map-elites grid (occupied cells and their elites) and the --objectives front.
  drawQuality() {
    const q = this.quality, el = $("#run-quality");
    if (!el) return;
    if (!q || (!q.cells.length && !q.objectives.length)) {
      el.innerHTML = "";
      return;
    }
    const link = (id) => `<a href="#/run/${this.run}/node/${id}">#${id}</a>`;
    const name = (m) => (typeof m === "string" ? m : m.metric);
    const cells = q.cells.slice().sort((a, b) => b.score - a.score)
      .map((c) => `<tr><td>${c.bins.join(" · ")}</td><td>${link(c.node)}</td><td class="num">${fmt(c.score)}</td></tr>`).join("");
    const grid = q.descriptors.length ? `<strong>MAP-Elites grid</strong>
      <p class="muted">${q.cells.length} of ${q.capacity} cells occupied; bins of ${q.descriptors.map(esc).join(", ")}</p>
      <table><tr><th>bins</th><th>elite</th><th class="num">score</th></tr>${cells}</table>` : "";
    const heads = q.objectives.map((o) => `<th class="num">${esc(name(o.measure))} (${o.direction === "max" ? "higher" : "lower"} is better)</th>`).join("");
    const rows = q.front.map((e) => `<tr><td>${link(e.node)}</td>${e.values.map((v) => `<td class="num">${fmt(v)}</td>`).join("")}</tr>`).join("");
    const front = q.objectives.length ? `<strong>Pareto front</strong>
      <p class="muted">${q.front.length} of ${q.compared} valid node(s) no other beats on every objective</p>
      <table><tr><th>node</th>${heads}</tr>${rows}</table>` : "";
    el.innerHTML = `<div class="panel">${grid}${front}</div>`;
  }

  drawHead() {
    const d = this.detail, r = d.run, s = d.spend, b = r.budgets;
    const driver = d.driver ? `driven by pid ${d.driver.pid} on ${esc(d.driver.host)} (heartbeat ${(d.driver.silent_ms / 1000).toFixed(1)} s ago${d.driver.stale ? ", stale" : ""})` : "no driver";
    $("#run-head").innerHTML = `<h2>Run ${r.id}: ${esc(r.task_name)} <span class="muted">${esc(r.kind)} · ${esc(r.strategy)} · seed ${esc(r.seed)}</span>
      <span class="badge ${esc(r.status)}">${esc(r.status)}</span></h2>
      ${r.status_detail ? `<p class="muted">${esc(r.status_detail)}</p>` : ""}
      <table class="kv"><tr>
        <td>evaluations</td><td>${budgetBar(s.evaluations, b.evaluations, String(s.evaluations))}</td>
        <td>model calls</td><td>${budgetBar(s.llm_calls, b.llm_calls, String(s.llm_calls))}</td>
        <td>tokens</td><td>${budgetBar(s.tokens_in + s.tokens_out, b.tokens, String(s.tokens_in + s.tokens_out))}</td>
        <td>dollars</td><td>${budgetBar(s.dollars, b.dollars, "$" + s.dollars.toFixed(4))}</td>
        <td>active time</td><td>${budgetBar(s.wall_seconds, b.wall_seconds, s.wall_seconds.toFixed(0) + " s")}</td></tr>
        <tr><td>best</td><td colspan="3">${d.best ? `<a href="#/run/${r.id}/node/${d.best.node}">#${d.best.node}</a> ` : ""}${bestCell(d)}</td>
        <td>best public</td><td>${fmt(d.best_public)}</td><td>nodes</td><td>${d.nodes} (${d.valid} valid, ${s.duplicates} duplicates)</td>
        <td>driver</td><td class="muted">${driver}</td></tr></table>`;
    const models = d.by_model.map((m) => `<tr><td>${esc(m.model)}</td><td class="num">${m.calls}</td><td class="num">${m.tokens_in}</td><td class="num">${m.tokens_out}</td><td class="num">${m.dollars.toFixed(4)}</td><td class="num">${m.errors}</td></tr>`).join("");
    const fallbacks = d.fallbacks.map((f) => `<tr><td>${esc(f.operator)}</td><td>${esc(f.model)}</td><td class="num">${f.count}</td></tr>`).join("");
    const events = d.events.slice(-200).reverse().map((e) => `<tr><td class="muted">${new Date(e.at).toLocaleString()}</td><td>${esc(e.kind)}</td><td class="mono">${esc(JSON.stringify(e.payload)).slice(0, 400)}</td></tr>`).join("");
    $("#run-extra").innerHTML = `<div class="panel"><strong>Spend by model</strong>
      ${models ? `<table><tr><th>model</th><th class="num">calls</th><th class="num">tokens in</th><th class="num">tokens out</th><th class="num">dollars</th><th class="num">errors</th></tr>${models}</table>` : `<p class="muted">No model calls (the seed, or a builtin proposer).</p>`}
      ${fallbacks ? `<h3>Fallbacks to a plain improve</h3><table><tr><th>operator</th><th>model</th><th class="num">count</th></tr>${fallbacks}</table>` : ""}</div>
      <div class="panel"><details ${d.events.length <= 12 ? "open" : ""}><summary>Events (${d.events.length})</summary>
      ${events ? `<table class="events">${events}</table>` : `<p class="muted">No events.</p>`}</details></div>`;
  }

  // ----- tree -----
  layout() {
    const nodes = this.tree.nodes;
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const children = new Map();
    const roots = [];
    for (const n of nodes) {
      if (n.parent != null && byId.has(n.parent)) {
        if (!children.has(n.parent)) children.set(n.parent, []);
        children.get(n.parent).push(n);
      } else roots.push(n);
    }
    const pos = new Map();
    let leaf = 0;
    const hiddenCount = (n) => (children.get(n.id) || []).reduce((a, c) => a + 1 + hiddenCount(c), 0);
    const place = (n, level) => {
      const kids = this.collapsed.has(n.id) ? [] : children.get(n.id) || [];
      let x;
      if (!kids.length) x = leaf++;
      else {
        const xs = kids.map((c) => place(c, level + 1));
        x = (xs[0] + xs[xs.length - 1]) / 2;
      }
      pos.set(n.id, { x, level, hidden: this.collapsed.has(n.id) ? hiddenCount(n) : 0 });
      return x;
    };
    roots.forEach((r) => place(r, 0));
    return { pos, byId, leaves: Math.max(1, leaf) };
  }

  colourOf(n, ctx) {
    switch (this.colourBy) {
      case "status": return n.status === "ok" && n.valid ? "#59a14f" : ctx.cats.get(n.status);
      case "operator": return ctx.cats.get(n.operator);
      case "model": return ctx.cats.get(n.model || "(none)");
      default:
        if (!n.valid || n.score == null) return "#c9ced6";
        return scoreColour(ctx.hi > ctx.lo ? (n.score - ctx.lo) / (ctx.hi - ctx.lo) : 1);
    }
  }

  drawTree() {
    if (!this.tree) return;
    const svg = $("#tree-svg");
    const { pos, byId, leaves } = this.layout();
    const DX = 26, DY = 56, PAD = 30;
    const X = (p) => PAD + p.x * DX, Y = (p) => PAD + p.level * DY;
    const valid = this.tree.nodes.filter((n) => n.valid && n.score != null).map((n) => n.score);
    const keyOf = { status: (n) => n.status, operator: (n) => n.operator, model: (n) => n.model || "(none)" }[this.colourBy];
    const ctx = { lo: Math.min(...valid), hi: Math.max(...valid), cats: keyOf ? categorical(this.tree.nodes.map(keyOf).sort()) : new Map() };
    const bestPath = new Set(this.tree.best_path);
    let edges = "", dots = "";
    let maxLevel = 0;
    for (const [id, p] of pos) {
      const n = byId.get(id);
      maxLevel = Math.max(maxLevel, p.level);
      const parent = n.parent != null ? pos.get(n.parent) : null;
      if (parent) {
        const best = bestPath.has(id) && bestPath.has(n.parent);
        const midY = (Y(parent) + Y(p)) / 2;
        edges += `<path class="edge${best ? " best" : ""}" d="M${X(parent)},${Y(parent)} C${X(parent)},${midY} ${X(p)},${midY} ${X(p)},${Y(p)}"/>`;
      }
      const cls = ["node", bestPath.has(id) ? "best-path" : "", id === this.selected ? "selected" : ""].join(" ");
      const title = `#${id} ${n.operator} · ${n.status}${n.score != null ? " · score " + fmt(n.score) : ""}${n.private && n.private.score != null ? " · private " + fmt(n.private.score) : ""}${n.model ? " · " + n.model : ""}${n.duplicate_of ? " · duplicate of #" + n.duplicate_of : ""}`;
      dots += `<g class="${cls}" data-node="${id}" transform="translate(${X(p)},${Y(p)})"><title>${esc(title)}</title>
        <circle r="${id === this.tree.best ? 9 : 7}" fill="${this.colourOf(n, ctx)}"/>
        <text y="-11" text-anchor="middle">${id}</text>${p.hidden ? `<text class="more" y="20" text-anchor="middle">+${p.hidden}</text>` : ""}</g>`;
    }
    const width = PAD * 2 + (leaves - 1) * DX, height = PAD * 2 + maxLevel * DY + 10;
    this.bounds = [0, 0, Math.max(width, 200), Math.max(height, 120)];
    const v = this.view || this.bounds;
    svg.setAttribute("viewBox", v.join(" "));
    svg.innerHTML = `<g>${edges}</g><g>${dots}</g>`;
    svg.querySelectorAll(".node").forEach((g) => {
      const id = Number(g.dataset.node);
      g.addEventListener("click", (e) => { e.stopPropagation(); if (!this.dragged) this.go(id); });
      g.addEventListener("dblclick", (e) => {
        e.stopPropagation();
        if (this.collapsed.has(id)) this.collapsed.delete(id); else this.collapsed.add(id);
        this.drawTree();
      });
    });
    const legend = this.colourBy === "score"
      ? (valid.length ? `<span><i style="background:${scoreColour(0)}"></i>${fmt(ctx.lo)}</span><span><i style="background:${scoreColour(1)}"></i>${fmt(ctx.hi)}</span>` : "") + `<span><i style="background:#c9ced6"></i>invalid</span>`
      : [...ctx.cats].map(([k, c]) => `<span><i style="background:${this.colourBy === "status" && k === "ok" ? "#59a14f" : c}"></i>${esc(k)}</span>`).join("");
    $("#legend").innerHTML = legend + `<span><i style="background:none;border:2px solid var(--best)"></i>best path</span>`;
  }

  bindZoom() {
    const svg = $("#tree-svg");
    const current = () => (this.view || this.bounds || [0, 0, 400, 300]).slice();
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const v = current();
      const rect = svg.getBoundingClientRect();
      const k = e.deltaY < 0 ? 0.85 : 1 / 0.85;
      const fx = (e.clientX - rect.left) / rect.width, fy = (e.clientY - rect.top) / rect.height;
      const w = v[2] * k, h = v[3] * k;
      this.view = [v[0] + (v[2] - w) * fx, v[1] + (v[3] - h) * fy, w, h];
      svg.setAttribute("viewBox", this.view.join(" "));
    }, { passive: false });
    let start = null;
    svg.addEventListener("mousedown", (e) => { start = { x: e.clientX, y: e.clientY, v: current() }; this.dragged = false; });
    window.addEventListener("mousemove", (e) => {
      if (!start) return;
      const dx = e.clientX - start.x, dy = e.clientY - start.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) { this.dragged = true; svg.classList.add("dragging"); }
      if (!this.dragged) return;
      const rect = svg.getBoundingClientRect();
      const sx = start.v[2] / rect.width, sy = start.v[3] / rect.height;
      this.view = [start.v[0] - dx * sx, start.v[1] - dy * sy, start.v[2], start.v[3]];
      svg.setAttribute("viewBox", this.view.join(" "));
    });
    window.addEventListener("mouseup", () => { start = null; svg.classList.remove("dragging"); setTimeout(() => { this.dragged = false; }, 0); });
  }

  // ----- chart -----
  drawChart() {
    const nodes = this.tree.nodes;
    const W = 600, H = 220, P = 36;
    const byTime = this.chartBy === "time";
    const xs = nodes.map((n, i) => (byTime ? n.created_at : i));
    const x0 = Math.min(...xs), x1 = Math.max(...xs);
    const pts = [];
    nodes.forEach((n, i) => { if (n.valid && n.score != null && Number.isFinite(n.score)) pts.push({ n, x: xs[i], s: n.score }); });
    const priv = nodes.map((n, i) => ({ n, x: xs[i] })).filter((p) => p.n.private && p.n.private.valid && p.n.private.score != null);
    if (!pts.length) { $("#chart").innerHTML = `<p class="muted">No valid node yet.</p>`; return; }
    const all = pts.map((p) => p.s).concat(priv.map((p) => p.n.private.score));
    const lo = Math.min(...all), hi = Math.max(...all), span = hi > lo ? hi - lo : 1;
    const X = (x) => P + ((W - 2 * P) * (x - x0)) / (x1 > x0 ? x1 - x0 : 1);
    const Y = (s) => H - P - ((H - 2 * P) * (s - lo)) / span;
    let best = -Infinity, path = "";
    let dots = "";
    for (const p of pts) {
      best = Math.max(best, p.s);
      path += (path ? "L" : "M") + X(p.x).toFixed(1) + "," + Y(best).toFixed(1) + " ";
      dots += `<circle class="dot" data-node="${p.n.id}" cx="${X(p.x).toFixed(1)}" cy="${Y(p.s).toFixed(1)}" r="3.5" fill="#4e79a7"><title>#${p.n.id} public ${fmt(p.s)}</title></circle>`;
    }
    for (const p of priv) {
      const cx = X(p.x), cy = Y(p.n.private.score);
      dots += `<path class="dot" data-node="${p.n.id}" d="M${cx},${cy - 5} L${cx + 5},${cy} L${cx},${cy + 5} L${cx - 5},${cy} Z" fill="#8a2be2"><title>#${p.n.id} private ${fmt(p.n.private.score)}</title></path>`;
    }
    const xlabel = byTime ? `${new Date(x0).toLocaleTimeString()} … ${new Date(x1).toLocaleTimeString()}` : `evaluation order (${nodes.length} nodes)`;
    $("#chart").innerHTML = `<svg viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">
      <line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#ccc"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#ccc"/>
      <text x="2" y="${P}" font-size="10" fill="#6b7480">${fmt(hi)}</text><text x="2" y="${H - P}" font-size="10" fill="#6b7480">${fmt(lo)}</text>
      <text x="${W / 2}" y="${H - 8}" font-size="10" fill="#6b7480" text-anchor="middle">${esc(xlabel)}</text>
      <path d="${path}" fill="none" stroke="#d9480f" stroke-width="2"/>${dots}</svg>`;
    $("#chart").querySelectorAll(".dot").forEach((d) => d.addEventListener("click", () => this.go(Number(d.dataset.node))));
  }

  // ----- node panel -----
  go(id, compare) {
    location.hash = `#/run/${this.run}/node/${id}` + (compare ? `/compare/${compare}` : "");
  }

  async select(node, compare) {
    this.selected = node;
    this.compareWith = compare;
    document.querySelectorAll("#tree-svg .node").forEach((g) => g.classList.toggle("selected", Number(g.dataset.node) === node));
    const panel = $("#node-panel");
    if (node == null) return;
    panel.innerHTML = `<p class="muted">Loading node ${node}…</p>`;
    let n;
    try {
      n = await api(`runs/${this.run}/nodes/${node}`);
    } catch (e) {
      panel.innerHTML = `<p class="error">${esc(e.message)}</p>`;
      return;
    }
    if (this.selected !== node) return;
    const ev = n.evaluation, p = n.private;
    const privateText = !p ? "not evaluated privately" : !p.held_out ? "no held-out cases (private = public)" : p.valid ? fmt(p.score) : `${esc(p.status)} (invalid)`;
    const files = Object.entries(n.files);
    const code = files.map(([name, text]) => `<h3>${esc(name)} <a href="api/runs/${this.run}/nodes/${n.id}/files/${encodeURIComponent(name)}" download>download</a></h3><pre class="code">${highlight(text)}</pre>`).join("");
    const calls = n.calls.map((c) => `<div class="call"><div><strong>${esc(c.operator)}</strong> · ${esc(c.model)} · attempt ${c.attempt} · ${c.tokens_in}+${c.tokens_out} tokens${c.tokens_estimated ? " (estimated)" : ""} · $${c.cost_dollars.toFixed(4)} · ${fmt(c.latency_ms, 0)} ms${c.replayed ? " · replayed" : ""}</div>
      ${c.error ? `<p class="error">error: ${esc(c.error)}</p>` : ""}${c.parse_error ? `<p class="error">unusable reply: ${esc(c.parse_error)}</p>` : ""}
      <details><summary>system prompt</summary><pre>${esc(c.system)}</pre></details>
      <details><summary>prompt</summary><pre>${esc(c.prompt)}</pre></details>
      <details open><summary>reply</summary><pre>${esc(c.reply == null ? "(no reply)" : c.reply)}</pre></details></div>`).join("");
    const model = n.calls.length ? n.calls[n.calls.length - 1].model : null;
    panel.innerHTML = `<h2>Node #${n.id} <span class="muted">${esc(n.operator)}${model ? " · " + esc(model) : ""}</span></h2>
      <table class="kv">
        <tr><td>status</td><td><span class="badge ${ev.valid ? "finished" : "failed"}">${esc(ev.status)}</span> ${ev.valid ? "valid" : "invalid"}${ev.metrics && ev.metrics.novelty ? ` · not evaluated: ${fmt(ev.metrics.novelty.similarity)} similar to <a href="#/run/${this.run}/node/${ev.metrics.novelty.neighbour}">#${ev.metrics.novelty.neighbour}</a> (${esc(ev.metrics.novelty.method)}; --novelty ${ev.metrics.novelty.threshold})` : ""}</td></tr>
        <tr><td>public score</td><td>${fmt(ev.score)}</td></tr>
        <tr><td>private score</td><td>${privateText}</td></tr>
        <tr><td>fuel</td><td>${ev.fuel == null ? "–" : ev.fuel.toLocaleString()}${ev.wall_ms != null ? ` <span class="muted">(${fmt(ev.wall_ms, 1)} ms)</span>` : ""}</td></tr>
        <tr><td>parent</td><td>${n.parent != null ? `<a href="#/run/${this.run}/node/${n.parent}">#${n.parent}</a>` : "none (a root)"}${n.duplicate_of ? ` · duplicate of <a href="#/run/${this.run}/node/${n.duplicate_of}">#${n.duplicate_of}</a>` : ""}</td></tr>
        <tr><td>depth</td><td>${n.depth}${n.tree != null ? ` · tree ${n.tree}` : ""}${n.island != null ? ` · island ${n.island}` : ""}</td></tr>
        <tr><td>lineage commit</td><td class="mono" id="lineage-commit">${n.lineage_commit ? esc(n.lineage_commit) : "–"}</td></tr>
        <tr><td>created</td><td>${new Date(n.created_at).toLocaleString()}</td></tr>
      </table>
      <details open id="node-diff"><summary>Diff against parent${n.parent != null ? " #" + n.parent : ""}</summary>${diffHtml(n.diff, "A root has no parent to diff against.")}</details>
      <details open id="node-code"><summary>Code <a id="node-archive" href="api/runs/${this.run}/nodes/${n.id}/archive" download>download all (.tar.gz)</a></summary>${code || `<p class="muted">No files.</p>`}</details>
      <details ${ev.feedback ? "open" : ""}><summary>Feedback</summary><pre>${esc(ev.feedback || "(none)")}</pre></details>
      <details><summary>Metrics</summary><pre>${esc(JSON.stringify(ev.metrics, null, 2))}</pre></details>
      <details><summary>Trace</summary><pre>${esc(JSON.stringify(ev.trace, null, 2))}</pre></details>
      <details ${n.calls.length ? "open" : ""} id="node-calls"><summary>Model calls (${n.calls.length})</summary>${calls || `<p class="muted">No model call made this node (the seed, or a builtin proposer).</p>`}</details>
      <details ${compare ? "open" : ""} id="node-compare"><summary>Compare with another node</summary>
        <div class="toolbar">diff from node <input type="number" id="compare-with" min="1" value="${compare || n.parent || ""}"> to #${n.id} <button id="compare-go">compare</button></div>
        <div id="compare-out"></div></details>`;
    $("#compare-go").onclick = () => { const other = Number($("#compare-with").value); if (other) this.go(n.id, other); };
    if (compare) {
      try {
        const c = await api(`runs/${this.run}/compare?a=${compare}&b=${n.id}`);
        $("#compare-out").innerHTML = diffHtml(c.diff);
      } catch (e) {
        $("#compare-out").innerHTML = `<p class="error">${esc(e.message)}</p>`;
      }
    }
  }
}
