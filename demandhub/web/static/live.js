// Demand Hub live wallboard. Plain JavaScript, no build step, no third-party code.
//
// The server pushes the live document over server-sent events (event "live") whenever it changes
// and a "heartbeat" otherwise. Figures that tick with the clock (time left, longest wait, oldest
// item) are advanced here every second from the last server figures and the time they arrived.
// With no message for more than `stale_after_seconds` the page shows STALE with the data's age.
"use strict";

(function () {
  const WINDOWS = [["last_15m", "15 min"], ["last_60m", "60 min"], ["today", "Today"]];
  const params = new URLSearchParams(window.location.search);
  const state = {
    doc: null,
    receivedAt: 0, // performance.now() when the current document arrived
    lastMessageAt: 0, // performance.now() of the last message (document or heartbeat)
    generatedAt: null, // Date the server computed the figures we show
    staleAfter: Number(params.get("stale_after")) || 10,
    source: null,
    retryMs: 1000,
  };

  // -- small helpers ------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "cls") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function elapsedSeconds() {
    return (performance.now() - state.receivedAt) / 1000;
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function clockText(seconds) {
    // m:ss below an hour, h:mm:ss above; a leading minus sign when negative
    const sign = seconds < 0 ? "−" : "";
    let s = Math.floor(Math.abs(seconds));
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    return h ? `${sign}${h}:${pad(m)}:${pad(s)}` : `${sign}${m}:${pad(s)}`;
  }

  function ageText(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d) return `${d} d ${h} h`;
    if (h) return `${h} h ${m} min`;
    if (m) return `${m} min`;
    return `${s} s`;
  }

  function pct(rate) {
    return rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)}%`;
  }

  function count(n) {
    return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-GB");
  }

  // times of day in the force's calendar (Europe/London by default), whatever the screen's setting
  function timeOfDay(date) {
    if (!date) return "--:--:--";
    const zone = state.doc ? state.doc.timezone : undefined;
    try {
      return date.toLocaleTimeString("en-GB", { hour12: false, timeZone: zone });
    } catch (error) {
      return date.toLocaleTimeString("en-GB", { hour12: false });
    }
  }

  // service level against target: met, near (within 5 points) or missed
  function slClass(rate, target) {
    if (rate === null || rate === undefined || target === null || target === undefined) return "none";
    if (rate >= target) return "good";
    return rate >= target - 0.05 ? "warn" : "bad";
  }

  function abandonClass(rate, target) {
    if (rate === null || rate === undefined || target === null || target === undefined) return "none";
    if (rate <= target) return "good";
    return rate <= target * 1.5 ? "warn" : "bad";
  }

  // -- queues -------------------------------------------------------------------------------------
  function rateCell(cls, rate, num, den, key) {
    return el("td", { cls: `rate ${cls}`, "data-window": key }, [
      el("span", { cls: "value", text: pct(rate) }),
      el("span", { cls: "n", text: ` ${count(num)}/${count(den)}` }),
    ]);
  }

  // one row per window (15 min, 60 min, today): service level and abandonment, each with its counts
  function windowTable(tile) {
    const head = el("tr", {}, [
      el("th", { text: "" }),
      el("th", { text: "Service level" }),
      el("th", { text: "Abandoned" }),
    ]);
    const rows = WINDOWS.map(([key, label]) => {
      const w = tile.windows[key];
      return el("tr", { "data-window": key }, [
        el("th", { cls: "row", text: label }),
        rateCell(slClass(w.service_level, tile.service_level_target), w.service_level, w.sl_numerator, w.sl_denominator, key),
        rateCell(abandonClass(w.abandonment, tile.abandonment_target), w.abandonment, w.abandoned, w.abandon_denominator, key),
      ]);
    });
    return el("table", { cls: "windows" }, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }

  function queueTile(tile) {
    const target = tile.service_level_target;
    const rule =
      `within ${tile.threshold_seconds ?? "?"} s` +
      (target !== null && target !== undefined ? ` · target ${Math.round(target * 100)}%` : "");
    const past = tile.waiting_past_threshold;
    return el("article", { cls: `tile ${tile.waiting ? "busy" : ""}`, "data-queue": tile.queue }, [
      el("header", {}, [el("h2", { text: tile.label }), el("div", { cls: "rule", text: rule })]),
      el("div", { cls: "now" }, [
        el("div", { cls: "stat" }, [
          el("div", { cls: "big waiting", text: count(tile.waiting) }),
          el("div", { cls: "label", text: "waiting" }),
        ]),
        el("div", { cls: "stat" }, [
          el("div", {
            cls: "mid longest",
            "data-base": tile.longest_wait_seconds ?? "",
            text: tile.longest_wait_seconds === null ? "–" : clockText(tile.longest_wait_seconds),
          }),
          el("div", { cls: "label", text: "longest" }),
        ]),
        el("div", { cls: `stat ${past ? "alert" : ""}` }, [
          el("div", { cls: "mid past", text: count(past) }),
          el("div", { cls: "label", text: `past ${tile.threshold_seconds ?? "?"} s` }),
        ]),
      ]),
      windowTable(tile),
    ]);
  }

  function renderQueues(doc) {
    const host = byId("queues");
    host.replaceChildren();
    if (!doc.queues) {
      host.appendChild(el("div", { cls: "section-error", text: `Queues ${doc.errors.queues || "unavailable"}` }));
      return;
    }
    for (const tile of doc.queues) host.appendChild(queueTile(tile));
  }

  // -- incidents ----------------------------------------------------------------------------------
  function incidentStatus(item, left) {
    if (left < 0) return "red"; // as the server: red once past the target
    return left <= item.amber_at_seconds_left ? "amber" : "ok";
  }

  function renderIncidents(doc) {
    const body = byId("incidents").querySelector("tbody");
    body.replaceChildren();
    const section = doc.incidents;
    if (!section) {
      byId("incident-counts").textContent = `unavailable (${doc.errors.incidents || "no data"})`;
      byId("incidents-more").textContent = "";
      return;
    }
    const shown = section.items;
    for (const item of shown) {
      body.appendChild(
        el("tr", {
          "data-incident": item.incident_id,
          "data-base": item.seconds_left,
          "data-grade": item.grade,
          "data-area": item.area || "",
        }, [
          el("td", { cls: "left countdown", text: clockText(item.seconds_left) }),
          el("td", { cls: `grade ${item.grade.toLowerCase()}`, text: item.grade }),
          el("td", { text: item.district || "–" }),
          el("td", { text: item.area || "–" }),
          el("td", { text: item.urban_rural || "–" }),
          el("td", { text: `${Math.round(item.target_seconds / 60)} min` }),
          el("td", { cls: "id", text: item.incident_id }),
        ]),
      );
    }
    if (!shown.length) {
      body.appendChild(el("tr", { cls: "empty" }, [el("td", { colspan: "7", text: "None waiting" })]));
    }
    fitIncidentRows();
    tickIncidents();
  }

  // -- room for the incident list ------------------------------------------------------------------
  // Every row that fits is shown in time-left order. When they do not all fit, rows turn compact,
  // then two-up (two columns of short rows: time left, grade, district, incident); if they still do
  // not fit, every IMMEDIATE incident is pinned (most urgent first) and the others page through the
  // room left, a page every PAGE_SECONDS. `?area=North` shows one area only.
  const PAGE_SECONDS = 8;
  const paging = { page: 0, turnedAt: 0 };

  function rowsFitting(wrap, rows) {
    const bottom = wrap.getBoundingClientRect().bottom;
    let n = 0;
    for (const row of rows) {
      if (row.getBoundingClientRect().bottom > bottom + 1) break;
      n += 1;
    }
    return n;
  }

  function fitIncidentRows() {
    const wrap = byId("incidents-wrap");
    const table = byId("incidents");
    const body = table.querySelector("tbody");
    const area = params.get("area");
    const all = [...body.querySelectorAll("tr[data-incident]")].sort(
      (a, b) => Number(a.getAttribute("data-base")) - Number(b.getAttribute("data-base")),
    );
    const mine = all.filter((row) => !area || row.getAttribute("data-area") === area);
    for (const row of all) row.hidden = !mine.includes(row);
    for (const row of mine) body.appendChild(row); // time-left order
    table.classList.remove("compact", "two-up");
    const more = byId("incidents-more");
    more.textContent = area ? `Area ${area} only` : "";
    if (rowsFitting(wrap, mine) >= mine.length) return;
    table.classList.add("compact");
    if (rowsFitting(wrap, mine) >= mine.length) return;
    table.classList.add("two-up");
    const room = Math.max(1, rowsFitting(wrap, mine));
    if (room >= mine.length) return;
    const pinned = mine.filter((row) => row.getAttribute("data-grade") === "IMMEDIATE");
    const rest = mine.filter((row) => row.getAttribute("data-grade") !== "IMMEDIATE");
    let shown;
    let note;
    if (pinned.length >= room) {
      // more immediate incidents than rows: page through them, nothing else
      const pages = Math.ceil(pinned.length / room);
      const page = paging.page % pages;
      shown = pinned.slice(page * room, (page + 1) * room);
      note = `IMMEDIATE page ${page + 1}/${pages} · ${pinned.length} immediate, ${rest.length} others not shown`;
    } else {
      const slots = room - pinned.length;
      const pages = Math.ceil(rest.length / slots);
      const page = paging.page % pages;
      shown = pinned.concat(rest.slice(page * slots, (page + 1) * slots));
      note = `all ${pinned.length} IMMEDIATE shown · others page ${page + 1}/${pages} (${rest.length})`;
    }
    for (const row of mine) row.hidden = !shown.includes(row);
    for (const row of shown) body.appendChild(row); // pinned first, then the page
    more.textContent = (area ? `Area ${area} · ` : "") + note;
  }

  function turnIncidentPage() {
    if (performance.now() - paging.turnedAt < PAGE_SECONDS * 1000) return;
    paging.turnedAt = performance.now();
    paging.page += 1;
    if (state.doc) fitIncidentRows();
  }

  function tickIncidents() {
    const section = state.doc && state.doc.incidents;
    if (!section) return;
    const since = elapsedSeconds();
    const counts = { ok: 0, amber: 0, red: 0 };
    const rows = new Map();
    for (const row of byId("incidents").querySelectorAll("tbody tr[data-incident]")) {
      rows.set(row.getAttribute("data-incident"), row);
    }
    for (const item of section.items) {
      const left = item.seconds_left - since;
      const status = incidentStatus(item, left);
      counts[status] += 1;
      const row = rows.get(item.incident_id);
      if (row) {
        row.className = status;
        row.querySelector(".countdown").textContent = clockText(left);
      }
    }
    byId("incident-counts").replaceChildren(
      el("span", { cls: "count", text: `${section.items.length} open` }),
      el("span", { cls: "count amber", text: `${counts.amber} amber` }),
      el("span", { cls: "count red", text: `${counts.red} breached` }),
    );
  }

  // -- QA / linking -------------------------------------------------------------------------------
  function renderQa(doc) {
    const qa = doc.qa;
    const error = byId("qa-error");
    error.hidden = Boolean(qa);
    error.textContent = qa ? "" : `QA queue ${doc.errors.qa || "unavailable"}`;
    byId("qa-depth").textContent = qa ? count(qa.depth) : "–";
    byId("qa-inflow").textContent = qa ? count(qa.inflow_today) : "–";
    byId("qa-outflow").textContent = qa ? count(qa.outflow_today) : "–";
    tickQa();
  }

  function tickQa() {
    const qa = state.doc && state.doc.qa;
    const base = qa ? qa.oldest_age_seconds : null;
    byId("qa-oldest").textContent = base === null || base === undefined ? "–" : ageText(base + elapsedSeconds());
  }

  function tickQueues() {
    const since = elapsedSeconds();
    for (const node of document.querySelectorAll(".longest[data-base]")) {
      const base = node.getAttribute("data-base");
      if (base !== "") node.textContent = clockText(Number(base) + since);
    }
  }

  // -- feed status --------------------------------------------------------------------------------
  function renderStatus() {
    const status = byId("status");
    const banner = byId("stale-banner");
    byId("clock").textContent = timeOfDay(new Date());
    if (!state.lastMessageAt) return;
    const quiet = (performance.now() - state.lastMessageAt) / 1000;
    const age = state.generatedAt ? Math.max(0, (Date.now() - state.generatedAt.getTime()) / 1000) : null;
    const stale = quiet > state.staleAfter;
    if (stale !== document.body.classList.contains("stale")) {
      document.body.classList.toggle("stale", stale);
      banner.hidden = !stale;
      if (state.doc) fitIncidentRows(); // the banner changes the space below it
    }
    if (stale) {
      status.dataset.state = "stale";
      status.textContent = "STALE";
      byId("stale-detail").textContent =
        `– no update for ${ageText(quiet)}; figures from ${timeOfDay(state.generatedAt)}` +
        (age !== null ? ` (${ageText(age)} old)` : "");
    } else {
      status.dataset.state = "live";
      status.textContent = `LIVE · ${timeOfDay(state.generatedAt)}`;
    }
  }

  function tick() {
    turnIncidentPage();
    if (state.doc) {
      tickIncidents();
      tickQueues();
      tickQa();
    }
    renderStatus();
  }

  // -- data ---------------------------------------------------------------------------------------
  function apply(doc) {
    state.doc = doc;
    state.receivedAt = performance.now();
    state.lastMessageAt = state.receivedAt;
    state.generatedAt = new Date(doc.generated_at);
    if (!params.get("stale_after") && doc.stale_after_seconds) state.staleAfter = doc.stale_after_seconds;
    byId("force").textContent = `Force ${doc.force_id}`;
    byId("definitions").textContent = `Definitions ${doc.definitions.id} v${doc.definitions.version}`;
    byId("generated").textContent = `Figures as of ${timeOfDay(state.generatedAt)}`;
    renderQueues(doc);
    renderIncidents(doc);
    renderQa(doc);
    renderStatus();
    document.dispatchEvent(new CustomEvent("live:doc", { detail: doc })); // other sections (feeds.js)
  }

  function heartbeat(data) {
    state.lastMessageAt = performance.now();
    if (data.generated_at) state.generatedAt = new Date(data.generated_at);
    renderStatus();
  }

  function connect() {
    if (state.source) state.source.close();
    const source = new EventSource("/api/live/stream");
    state.source = source;
    source.addEventListener("live", (event) => {
      state.retryMs = 1000;
      apply(JSON.parse(event.data));
    });
    source.addEventListener("heartbeat", (event) => heartbeat(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      // EventSource retries by itself while the server answers; once it gives up, start over,
      // unless the session ended (then go back to the sign-in form).
      if (source.readyState !== EventSource.CLOSED) return;
      fetch("/api/live/qa", { credentials: "same-origin" })
        .then((response) => {
          if (response.status === 401) window.location.assign("/login");
        })
        .catch(() => {});
      setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, 15000);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    fetch("/api/live", { credentials: "same-origin" })
      .then((response) => {
        if (response.status === 401) window.location.assign("/login");
        return response.ok ? response.json() : null;
      })
      .then((doc) => doc && apply(doc))
      .catch(() => {});
    connect();
    setInterval(tick, 1000);
    window.addEventListener("resize", () => state.doc && fitIncidentRows());
    // other sections (trends, feed banner) change the room left for the list: refit when it changes
    if (window.ResizeObserver) {
      new ResizeObserver(() => state.doc && fitIncidentRows()).observe(byId("incidents-wrap"));
    }
    tick();
  });
})();
