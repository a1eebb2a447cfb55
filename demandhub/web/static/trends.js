// Demand Hub wallboard: the Trends strip. Plain JavaScript, no build step, no third-party code.
//
// Every `refresh_seconds` (30) it reads /api/live/trends and draws per queue: offered per 15 minutes
// today (line) against the forecast band from the same weekday of past weeks (shaded, with the
// expected line), the forecast of the next hours (lighter band, scaled by today's level), a
// sparkline of the service level per 15 minutes against its target, and the handlers needed.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 400;
  const H = 90;
  const SPARK_H = 26;
  let refreshMs = 30000;
  let timer = null;

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function div(cls, text) {
    const node = document.createElement("div");
    node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function points(list) {
    return list.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  }

  // Runs of consecutive slots that have a band, as polygons (upper edge forward, lower edge back).
  function bandPolygons(slots, x, y, cls) {
    const out = [];
    let run = [];
    const flush = () => {
      if (run.length > 1) {
        const upper = run.map((s) => [x(s.i), y(s.high)]);
        const lower = run.slice().reverse().map((s) => [x(s.i), y(s.low)]);
        out.push(svg("polygon", { class: cls, points: points(upper.concat(lower)) }));
      }
      run = [];
    };
    for (const s of slots) {
      if (s.low === null || s.high === null) flush();
      else run.push(s);
    }
    flush();
    return out;
  }

  function chart(q) {
    const today = q.today.map((s, i) => ({ ...s, i }));
    const ahead = q.forecast.map((s, i) => ({ ...s, i: today.length - 1 + i + 1 }));
    const total = Math.max(2, today.length + ahead.length);
    let top = 1;
    for (const s of today) top = Math.max(top, s.offered, s.high || 0);
    for (const s of ahead) top = Math.max(top, s.high);
    top *= 1.1;
    const x = (i) => (i / (total - 1)) * W;
    const y = (v) => H - (v / top) * H;
    const root = svg("svg", { class: "trend-chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
    const bands = bandPolygons(today, x, y, "band").concat(bandPolygons(ahead, x, y, "band future"));
    for (const b of bands) root.appendChild(b);
    const expected = today.filter((s) => s.expected !== null).map((s) => [x(s.i), y(s.expected)]);
    if (expected.length > 1) root.appendChild(svg("polyline", { class: "expected", points: points(expected) }));
    // the current slot is still filling: draw offered up to the last complete one
    const offered = today.slice(0, Math.max(1, today.length - 1)).map((s) => [x(s.i), y(s.offered)]);
    if (offered.length > 1) root.appendChild(svg("polyline", { class: "offered", points: points(offered) }));
    const nowX = x(today.length - 1);
    root.appendChild(svg("line", { class: "now", x1: nowX, x2: nowX, y1: 0, y2: H }));
    root.dataset.band = bands.length ? "drawn" : "none";
    return root;
  }

  function sparkline(q) {
    const target = q.staffing.service_level_target;
    const total = Math.max(2, q.today.length + q.forecast.length);
    const x = (i) => (i / (total - 1)) * W;
    const y = (v) => SPARK_H - v * SPARK_H;
    const root = svg("svg", { class: "sl-spark", viewBox: `0 0 ${W} ${SPARK_H}`, preserveAspectRatio: "none" });
    root.appendChild(svg("line", { class: "target", x1: 0, x2: W, y1: y(target), y2: y(target) }));
    const pts = [];
    q.today.forEach((s, i) => {
      if (s.service_level !== null) pts.push([x(i), y(s.service_level)]);
    });
    if (pts.length > 1) root.appendChild(svg("polyline", { class: "sl", points: points(pts) }));
    const last = q.today.filter((s) => s.service_level !== null).slice(-1)[0];
    root.dataset.last = last ? String(last.service_level) : "";
    return root;
  }

  function ratioText(q) {
    if (q.ratio_to_normal === null) {
      return q.history_weeks_used ? "none expected yet" : "no history yet";
    }
    const pct = Math.round((q.ratio_to_normal - 1) * 100);
    if (pct === 0) return "as normal";
    return `${pct > 0 ? "+" : "−"}${Math.abs(pct)}% vs normal`;
  }

  function need(h) {
    return h.required_erlang_a !== null ? h.required_erlang_a : h.required_erlang_c;
  }

  function staffingText(q) {
    const st = q.staffing;
    const rule = `${Math.round(st.service_level_target * 100)}% in ${st.threshold_seconds} s`;
    const hours = st.hours || [];
    if (!hours.length) return `target ${rule}: no demand to size yet`;
    const first = hours[0];
    if (first.required_erlang_c === null) return `target ${rule}: handle time not measured yet`;
    let peak = 0;
    for (const h of hours) if (need(h) !== null) peak = Math.max(peak, need(h));
    return `need ${need(first)} handlers (${rule}) · peak ${peak} in ${hours.length} h`;
  }

  function staffingTitle(q) {
    const st = q.staffing;
    const basis = st.demand_basis === "forecast" ? "forecast" : "the last 60 minutes' arrivals (no history yet)";
    const rows = (st.hours || []).map(
      (h) => `${h.start.slice(11, 16)}Z: ${Math.round(h.offered_expected)} expected, ` +
        `Erlang-A ${h.required_erlang_a ?? "–"}, Erlang-C ${h.required_erlang_c ?? "–"}`
    );
    return [`demand from ${basis}; handle ${st.handle_seconds ?? "–"} s, patience ${st.patience_seconds ?? "–"} s`]
      .concat(rows).join("\n");
  }

  function card(q) {
    const node = div("trend");
    node.dataset.trendQueue = q.queue;
    const head = div("trend-head");
    head.appendChild(div("trend-name", q.label));
    const ratio = div("trend-ratio", ratioText(q));
    if (q.ratio_to_normal !== null && q.ratio_to_normal >= 1.2) ratio.classList.add("high");
    head.appendChild(ratio);
    head.appendChild(div("trend-today", `${q.offered_today} today`));
    node.appendChild(head);
    node.appendChild(chart(q));
    node.appendChild(sparkline(q));
    const staff = div("trend-staffing", staffingText(q));
    staff.title = staffingTitle(q);
    staff.dataset.model = q.staffing.model;
    const first = (q.staffing.hours || [])[0];
    if (first) {
      staff.dataset.requiredA = first.required_erlang_a === null ? "" : String(first.required_erlang_a);
      staff.dataset.requiredC = first.required_erlang_c === null ? "" : String(first.required_erlang_c);
    }
    node.appendChild(staff);
    return node;
  }

  function render(doc) {
    const root = document.getElementById("trends");
    if (!root) return;
    root.replaceChildren(...doc.queues.map(card));
    root.dataset.generatedAt = doc.generated_at;
    if (doc.refresh_seconds) refreshMs = doc.refresh_seconds * 1000;
  }

  function load() {
    fetch("/api/live/trends", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then(render)
      .catch(() => {
        const root = document.getElementById("trends");
        if (root) root.dataset.error = "unavailable";
      })
      .finally(() => {
        clearTimeout(timer);
        timer = setTimeout(load, refreshMs);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", load);
  else load();
})();
