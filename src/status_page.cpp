// The Worker's status page (GET /): the supervision tree as an SVG drawing that
// follows /api/tree every second, and the same services as a table.
#include <string_view>

#include "mode/web_server.hpp"

namespace mode {

namespace {

constexpr std::string_view page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mode-cpp status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #f7faf7; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  #status { color: #555; margin-bottom: 1em; }
  #status.stale { color: #b00; }
  svg { background: #fff; border: 1px solid #cdd; border-radius: 6px; }
  .node rect { stroke-width: 1.5; rx: 6; }
  .node text { font-size: 12px; dominant-baseline: middle; }
  .node .sub { fill: #444; font-size: 11px; }
  .edge { stroke: #6a8f6a; stroke-width: 1.5; fill: none; }
  .edge.held { stroke-dasharray: 5 3; }
  table { border-collapse: collapse; margin-top: 1em; background: #fff; }
  th, td { border: 1px solid #cdd; padding: 3px 8px; text-align: left; }
  td.state { font-weight: 600; }
  .legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border-radius: 4px; }
</style>
</head>
<body>
<h1>mode-cpp: <span id="root-label">…</span></h1>
<div id="status">loading…</div>
<div class="legend" id="legend"></div>
<svg id="tree" width="400" height="100" role="img" aria-label="supervision tree"></svg>
<table id="services"><thead><tr><th>path</th><th>service</th><th>state</th><th>restarts</th>
<th>crashes</th><th>uptime</th><th>supervisor window</th><th>note</th></tr></thead>
<tbody></tbody></table>
<script>
"use strict";
const COLORS = {
  running: ["#c8f0c8", "#3c8d3c"], init: ["#e8e8e8", "#888"], stopping: ["#ffe2a8", "#c08000"],
  shutdown: ["#dde3ea", "#6b7a8c"], crashed: ["#f5b5b5", "#c0392b"], unknown: ["#d0d0d0", "#666"]
};
const W = 230, H = 44, DX = 270, DY = 58, PAD = 16;
const svgNS = "http://www.w3.org/2000/svg";

function el(name, attrs, parent) {
  const e = document.createElementNS(svgNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function layout(node, depth, next, path, out) {
  const children = node.children || [];
  let y;
  if (children.length === 0) {
    y = next.row++;
  } else {
    const ys = children.map((c, i) => layout(c, depth + 1, next, path + "." + i, out));
    y = (ys[0] + ys[ys.length - 1]) / 2;
  }
  out.push({ node, depth, y, path, children: children.map((c, i) => path + "." + i) });
  return y;
}

function uptime(s) {
  if (!s) return "";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function draw(root) {
  const placed = [];
  layout(root, 0, { row: 0 }, "0", placed);
  const byPath = new Map(placed.map(p => [p.path, p]));
  const depth = Math.max(...placed.map(p => p.depth)) + 1;
  const rows = Math.max(...placed.map(p => p.y)) + 1;
  const svg = document.getElementById("tree");
  svg.replaceChildren();
  svg.setAttribute("width", PAD * 2 + (depth - 1) * DX + W);
  svg.setAttribute("height", PAD * 2 + (rows - 1) * DY + H);
  const pos = p => [PAD + p.depth * DX, PAD + p.y * DY];
  for (const p of placed) {
    const [x, y] = pos(p);
    for (const cp of p.children) {
      const c = byPath.get(cp);
      const [cx, cy] = pos(c);
      el("path", { d: `M${x + W},${y + H / 2} C${x + W + 30},${y + H / 2} ${cx - 30},${cy + H / 2} ${cx},${cy + H / 2}`,
                   class: "edge" + (c.node.held ? " held" : "") }, svg);
    }
  }
  for (const p of placed) {
    const n = p.node, [x, y] = pos(p);
    const [fill, stroke] = COLORS[n.state] || COLORS.unknown;
    const g = el("g", { class: "node", "data-label": n.label, "data-state": n.state,
                        "data-path": p.path, "data-restarts": n.restarts }, svg);
    el("rect", { x, y, width: W, height: H, fill, stroke }, g);
    el("text", { x: x + 8, y: y + 14 }, g).textContent = (n.shortlabel || n.label) + (n.held ? "  (held)" : "");
    let sub = `${n.state} · restarts ${n.restarts}`;
    if (n.held) sub += ` · crashes ${n.crashes}`;
    if (n.supervisor) sub += ` · window ${n.supervisor.restarts_in_window}/${n.supervisor.max_restarts ?? "∞"}`;
    el("text", { x: x + 8, y: y + 31, class: "sub" }, g).textContent = sub;
    const tip = el("title", {}, g);
    tip.textContent = n.label + (n.last_crash ? "\nlast crash: " + n.last_crash : (n.note ? "\n" + n.note : ""));
  }
  const body = document.querySelector("#services tbody");
  body.replaceChildren();
  for (const p of [...placed].sort((a, b) => a.path.localeCompare(b.path, undefined, { numeric: true }))) {
    const n = p.node, tr = document.createElement("tr");
    tr.className = "service";
    tr.dataset.label = n.label;
    tr.dataset.state = n.state;
    const cells = [p.path, "  ".repeat(p.depth) + n.label, n.state, n.restarts,
                   n.held ? n.crashes : "", uptime(n.uptime_s),
                   n.supervisor ? `${n.supervisor.restarts_in_window} / ${n.supervisor.max_restarts ?? "∞"} in ${n.supervisor.window_s} s` : "",
                   n.last_crash ? "last crash: " + n.last_crash : n.note];
    cells.forEach((v, i) => {
      const td = document.createElement("td");
      td.textContent = String(v);
      if (i === 2) { td.className = "state"; td.style.color = (COLORS[n.state] || COLORS.unknown)[1]; }
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  document.getElementById("root-label").textContent = root.label;
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const res = await fetch("/api/tree", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const root = await res.json();
    draw(root);
    status.textContent = "updated " + new Date().toLocaleTimeString() + " · refreshes every second";
    status.className = "";
  } catch (e) {
    status.textContent = "cannot reach the worker (" + e.message + "); retrying";
    status.className = "stale";
  }
}

const legend = document.getElementById("legend");
for (const [state, [fill, stroke]] of Object.entries(COLORS)) {
  const s = document.createElement("span");
  s.textContent = state;
  s.style.background = fill;
  s.style.border = "1px solid " + stroke;
  legend.appendChild(s);
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)html";

}  // namespace

std::string_view status_page_html() noexcept {
  return page;
}

}  // namespace mode
