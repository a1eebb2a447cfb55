// Demand Hub wallboard: feed health. Plain JavaScript, no build step, no third-party code.
//
// The live document's "feeds" section says per source system when the hub last received an event
// and whether that silence is normal for this hour and weekday (healthy / quiet / silent, judged by
// the server against the source's expected arrival rate from history). Each source is a chip in the
// top bar whose age ticks every second; while any source is silent a banner names it. live.js
// announces each document with the "live:doc" event.
"use strict";

(function () {
  const state = { feeds: null, receivedAt: 0 };

  function ago(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "none";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (h) return `${h} h ${m} min`;
    if (m) return `${m} min`;
    return `${s} s`;
  }

  function rate(perHour) {
    if (perHour === null || perHour === undefined) return "no history for this hour";
    return `normally ${perHour < 10 ? perHour.toFixed(1) : Math.round(perHour)}/h`;
  }

  function since(item) {
    const base = item.seconds_since_last_event;
    if (base === null || base === undefined) return null;
    return base + (performance.now() - state.receivedAt) / 1000;
  }

  function chip(item) {
    const node = document.createElement("span");
    node.className = "chip";
    node.dataset.source = item.source;
    node.dataset.state = item.state;
    node.title = `${item.label}: ${item.state}; last event ${ago(since(item))} ago; ${rate(item.expected_per_hour)}`;
    node.append(item.label);
    const age = document.createElement("span");
    age.className = "age";
    age.textContent = ago(since(item));
    node.append(age);
    return node;
  }

  function render() {
    const host = document.getElementById("feeds");
    const banner = document.getElementById("feed-banner");
    if (!host || !banner) return;
    const feeds = state.feeds;
    if (!feeds) {
      host.replaceChildren();
      banner.hidden = true;
      return;
    }
    host.replaceChildren(...feeds.items.map(chip));
    const silent = feeds.items.filter((item) => item.state === "silent");
    const wasHidden = banner.hidden;
    banner.hidden = silent.length === 0;
    if (silent.length) {
      const detail = document.createElement("span");
      detail.textContent =
        " – " +
        silent
          .map((item) => `${item.label} none for ${ago(since(item))}, ${rate(item.expected_per_hour)}`)
          .join(" · ");
      banner.replaceChildren(`FEED SILENT: ${silent.map((item) => item.label).join(", ")}`, detail);
    }
    if (wasHidden !== banner.hidden) window.dispatchEvent(new Event("resize")); // the list below refits
  }

  document.addEventListener("live:doc", (event) => {
    state.feeds = event.detail.feeds || null;
    state.receivedAt = performance.now();
    render();
  });
  document.addEventListener("DOMContentLoaded", () => setInterval(render, 1000));
})();
