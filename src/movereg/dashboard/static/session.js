/* Live group view: a tile per child of the session, session timer, one-tap strategies
 * (taplog.js: undo, back-dating, offline queue), band status and current activity from
 * /api/live, pause (WCAG 2.2.2: a banner on every tile says updates are paused). */
"use strict";
(function () {
  const M = window.movereg, T = window.MoveregTaplog;
  const cfg = JSON.parse(document.getElementById("group-config").textContent);
  const labels = {};
  JSON.parse(document.getElementById("group-labels").textContent).forEach(function (s) { labels[s.key] = s.label; });
  const EDGES = [35.6, 201.4, 707.0];
  const tiles = {};
  const feed = document.getElementById("feed-state");
  let paused = false;

  function zoneOf(mg) { let z = 0; while (z < 3 && mg >= EDGES[z]) z++; return z; }
  function pad(n) { return String(n).padStart(2, "0"); }

  // ---- timer ----------------------------------------------------------------------------
  const timer = document.getElementById("timer");
  function tick() {
    if (cfg.ended) return;
    const s = Math.max(0, Math.floor((Date.now() - cfg.started_ms) / 1000));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    timer.textContent = (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(s % 60);
  }
  tick(); setInterval(tick, 1000);

  // ---- tiles ----------------------------------------------------------------------------
  document.querySelectorAll(".gtile").forEach(function (el) {
    const id = Number(el.dataset.childId);
    const log = T.create({childId: id, user: cfg.user, labels, sessionId: Number(el.dataset.sessionId)});
    const ctl = T.attach(el, log);
    const other = el.querySelector(".other-key");
    el.querySelector(".other-log").addEventListener("click", function () { if (other.value) { ctl.tap(other.value); other.value = ""; } });
    const open = el.querySelector(".tile-open");
    if (open) open.addEventListener("click", function () {
      const on = !el.classList.contains("open");
      document.querySelectorAll(".gtile.open").forEach(function (x) { x.classList.remove("open"); x.querySelector(".tile-open").setAttribute("aria-expanded", "false"); });
      el.classList.toggle("open", on); open.setAttribute("aria-expanded", String(on));
    });
    tiles[id] = {id, el, log, rows: [], band: null, running: {}, sessionId: Number(el.dataset.sessionId)};
  });

  // ---- strategies still running (no end yet): "End" closes them -------------------------
  function short(l) { return String(l).split(" (")[0]; }
  function renderRunning(t) {
    const box = t.el.querySelector(".running"), list = t.el.querySelector(".running-list");
    const evs = Object.values(t.running);
    box.hidden = evs.length === 0;
    list.replaceChildren.apply(list, evs.map(function (ev) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "btn btn-small end-btn";
      b.textContent = "End " + short(labels[ev.strategy] || ev.strategy);
      b.title = "Started " + M.clock(Date.parse(ev.started_at));
      b.addEventListener("click", async function () {
        try { await M.api("/api/events/" + ev.id + "/end", {method: "POST"}); delete t.running[ev.id]; renderRunning(t); }
        catch (e) { t.el.querySelector(".tap-status").textContent = "Could not end it: " + e.message + (navigator.onLine === false ? " (offline: end it when the connection is back)" : ""); }
      });
      return b;
    }));
  }
  function track(t, ev) {
    if (ev.replaces_id) delete t.running[ev.replaces_id];
    if (ev.voided || ev.ended_at || ev.session_id !== t.sessionId) delete t.running[ev.id];
    else t.running[ev.id] = ev;
    renderRunning(t);
  }
  async function loadRunning(t) {
    try {
      const evs = await M.api("/api/events?child_id=" + t.id + "&session_id=" + t.sessionId);
      t.running = {};
      evs.forEach(function (ev) { track(t, ev); });
      renderRunning(t);
    } catch (e) { /* offline: kept as it was */ }
  }
  if (!cfg.ended) Object.values(tiles).forEach(loadRunning);

  function renderActivity(t) {
    const last = t.rows[t.rows.length - 1];
    const p = t.el.querySelector(".activity");
    p.dataset.epochs = String(t.rows.length);
    if (!last) return;
    p.textContent = last.enmo === null ? "Activity: no data in the latest second (" + M.clock(last.ms) + ")"
      : "Activity: " + cfg.zone_words[zoneOf(last.enmo)] + " (" + M.clock(last.ms) + ")";
    const spark = t.el.querySelector(".spark");
    spark.replaceChildren.apply(spark, t.rows.slice(-40).map(function (r) {
      const b = document.createElement("span");
      b.style.height = (r.enmo === null ? 0 : Math.min(100, 12 + 22 * Math.log10(Math.max(1, r.enmo)))) + "%";
      return b;
    }));
  }
  const WORDS = {streaming: "streaming", connecting: "connecting", reconnecting: "reconnecting", connected: "connected",
    disconnected: "disconnected", stopped: "stopped", error: "problem"};
  function renderBand(t) {
    const p = t.el.querySelector(".band-status"), b = t.band;
    if (!b) return;
    const parts = ["Band " + b.device_id + ": " + (WORDS[b.state] || b.state)];
    // compact tiles (more than six children) name the battery only when it runs low
    const bat = M.battery(b.battery_pct, cfg.battery_low_pct);
    if (bat && (bat.low || !t.el.closest(".compact"))) parts.push(bat.text);
    p.dataset.battery = bat ? (bat.low ? "low" : "ok") : "unknown";
    if (b.state === "streaming" && b.last_data_ms) { const age = Math.round((Date.now() - b.last_data_ms) / 1000); if (age > 5) parts.push("last data " + age + " s ago"); }
    p.textContent = parts.join(" · ");
    p.dataset.state = b.state;
  }

  // ---- pause (WCAG 2.2.2) ------------------------------------------------------------------
  document.getElementById("pause").addEventListener("click", function () {
    paused = !paused;
    this.setAttribute("aria-pressed", String(paused));
    this.textContent = paused ? "Resume updates" : "Pause updates";
    Object.values(tiles).forEach(function (t) {
      t.el.querySelector(".paused-banner").hidden = !paused;
      t.el.classList.toggle("paused", paused);
      if (!paused) { renderActivity(t); renderBand(t); }
    });
  });

  // ---- queue state ----------------------------------------------------------------------
  const qs = document.getElementById("queue-state");
  function queue() {
    const n = T.pending();
    qs.dataset.pending = String(n);
    qs.textContent = n ? n + " waiting to send" + (navigator.onLine === false ? " (offline)" : "") : "All taps sent";
    qs.title = n ? "Kept on this tablet; sent when the connection returns" : "";
  }
  queue(); setInterval(queue, 1000);
  window.addEventListener("online", queue);
  window.addEventListener("offline", function () {
    queue(); feed.textContent = "Offline"; feed.dataset.state = "wait";
  });

  // ---- stop -----------------------------------------------------------------------------
  const stop = document.getElementById("stop");
  if (stop) stop.addEventListener("click", async function () {
    if (!confirm("Stop the session for every child shown?")) return;
    try {
      await T.flush();
      await M.api("/api/sessions/" + cfg.group_id + "/stop_group", {method: "POST"});
      location.href = "/sessions/" + cfg.group_id;
    } catch (e) { document.getElementById("feed-state").textContent = "Could not stop: " + e.message; }
  });

  // ---- feed -------------------------------------------------------------------------------
  let backoff = 1000, everConnected = false;
  function connect() {
    const ids = Object.keys(tiles);
    if (!ids.length) { feed.textContent = "Live: no children shown"; return; }
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/live?" + ids.map(i => "child_id=" + i).join("&"));
    ws.onopen = function () {
      backoff = 1000; feed.textContent = "Live: connected"; feed.dataset.state = "ok";
      if (!cfg.ended && everConnected) Object.values(tiles).forEach(loadRunning);  // missed while away
      everConnected = true;
    };
    ws.onmessage = function (e) {
      let m; try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === "epoch") {
        const t = tiles[m.child_id]; if (!t) return;
        const last = t.rows[t.rows.length - 1];
        if (last && m.epoch_start_ms <= last.ms) return;
        t.rows.push({ms: m.epoch_start_ms, enmo: m.enmo_mg === null || m.enmo_mg === undefined ? null : Number(m.enmo_mg)});
        if (t.rows.length > 120) t.rows.shift();
        if (!paused) renderActivity(t);
      } else if (m.type === "event") {
        const t = tiles[m.child_id];
        if (t && !cfg.ended) track(t, Object.assign({}, m, {id: m.event_id}));
      } else if (m.type === "status") {
        (m.bands || []).forEach(function (b) { const t = tiles[b.child_id]; if (t) { t.band = b; if (!paused) renderBand(t); } });
      }
    };
    ws.onclose = function () {
      feed.textContent = "Live: reconnecting…"; feed.dataset.state = "wait";
      setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 15000);
    };
  }
  // reload without a network keeps this page (and the queued taps) on screen
  if ("serviceWorker" in navigator && window.caches) {
    navigator.serviceWorker.register("/sw.js").then(function () {
      return caches.open("movereg-offline-v1");
    }).then(function (c) {
      return c.addAll([location.pathname, "/static/movereg.css", "/static/clinic.css", "/static/common.js",
        "/static/taplog.js", "/static/session.js"]);
    }).catch(function () { /* offline reload is a convenience; taps are queued anyway */ });
  }
  window.moveregGroup = {tiles, isPaused: function () { return paused; }};
  connect();
})();
