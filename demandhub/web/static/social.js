// Demand Hub wallboard: the social media desk. Plain JavaScript, no build step, no third-party code.
//
// The live document's "social" section gives the threads waiting for a first response, the age of
// the oldest unanswered one (ticked here every second from the last document), how many are past
// the first-response target and today's share answered within it. live.js announces each document
// with the "live:doc" event; a document without the section hides the panel.
"use strict";

(function () {
  const state = { social: null, receivedAt: 0 };

  function byId(id) {
    return document.getElementById(id);
  }

  function count(n) {
    return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-GB");
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (h) return `${h} h ${String(m).padStart(2, "0")}`;
    return `${m} min`;
  }

  function tick() {
    const social = state.social;
    const base = social ? social.oldest_age_seconds : null;
    const since = (performance.now() - state.receivedAt) / 1000;
    const oldest = base === null || base === undefined ? null : base + since;
    const node = byId("social-oldest");
    node.textContent = age(oldest);
    node.classList.toggle("red", Boolean(social && oldest !== null && oldest > social.target_minutes * 60));
  }

  function render(doc) {
    const panel = byId("social");
    const social = doc.social;
    const failed = doc.errors && doc.errors.social;
    panel.hidden = !social && !failed;
    state.social = social || null;
    state.receivedAt = performance.now();
    const error = byId("social-error");
    error.hidden = Boolean(social);
    error.textContent = social ? "" : `Social media ${failed || "unavailable"}`;
    byId("social-target").textContent = social ? `target ${social.target_minutes} min` : "";
    byId("social-waiting").textContent = social ? count(social.waiting) : "–";
    const over = byId("social-over");
    over.textContent = social ? count(social.over_target) : "–";
    over.classList.toggle("red", Boolean(social && social.over_target > 0));
    const share = social ? social.within_target_share_today : null;
    byId("social-within").textContent =
      share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`;
    tick();
  }

  document.addEventListener("live:doc", (event) => render(event.detail));
  setInterval(() => state.social && tick(), 1000);
})();
