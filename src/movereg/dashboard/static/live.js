/* Therapist live session: strip charts fed by /api/live, one-tap strategies via /api/events. */
"use strict";
(function () {
  const M = window.movereg;
  const cfg = JSON.parse(document.getElementById("live-config").textContent);
  const labels = {};
  JSON.parse(document.getElementById("live-labels").textContent).forEach(function (s) { labels[s.key] = s.label; });
  const LIGHT_MG = 35.6, BREAK_MIN_S = 60, BREAK_DIP_S = 10;
  const ZONE_EDGES = [35.6, 201.4, 707.0];
  let windowS = cfg.window_s;
  let paused = false;
  let engine = cfg.engine || "ready";  // "starting" while the server compiles its kernels
  const tiles = {};  // child id -> state
  const ACT = 3;     // trace index of the fast activity line (added after the figure's 0..2)
  const AHEAD_MS = 1500;

  function shortLabel(l) { return String(l).split(" (")[0].trim(); }
  function zoneOf(mg) { let z = 0; while (z < 3 && mg >= ZONE_EDGES[z]) z++; return z; }

  function spanKey(strategy, startMs) { return strategy + "@" + Math.round(startMs / 1000); }

  function makeTile(el) {
    const id = Number(el.dataset.childId);
    const fig = JSON.parse(document.querySelector('script[data-live-figure="' + id + '"]').textContent);
    const init = JSON.parse(document.querySelector('script[data-live-init="' + id + '"]').textContent);
    const plot = document.getElementById("plot-" + id);
    const t = {id, el, plot, fig, baseShapes: (fig.layout.shapes || []).slice(),
      baseNotes: (fig.layout.annotations || []).slice(), spans: [], rows: [], buffer: [],
      lastMs: null, runStart: null, runEnd: null, breaks: 0, counted: false,
      band: null, pendingNote: "", act: [], actLastMs: null, actValue: null, actRx: null,
      drawn: [], lastDraw: 0};
    tiles[id] = t;
    window.Plotly.newPlot(plot, fig.data, fig.layout, cfg.plot_config);
    // the moving line: activity over the last second, one point per arriving block;
    // the per-second epoch line (trace 0) follows a few seconds behind, drawn thinner
    window.Plotly.restyle(plot, {"line.width": 1.5, "line.color": "#56B4E9", opacity: 0.9}, [0]);
    window.Plotly.addTraces(plot, {x: [], y: [], type: "scatter", mode: "lines", xaxis: "x", yaxis: "y",
      name: "Activity now (last 1 s, mg)", line: {color: "#0072B2", width: 2.5}});
    const h = init.history;
    for (let i = 0; i < h.t_ms.length; i++) {
      ingest(t, {epoch_start_ms: h.t_ms[i], epoch_s: h.epoch_s[i], enmo_mg: h.enmo_mg[i],
        rhythmic_fraction: h.rhythmic_fraction[i], impacts: h.impacts[i], zone: h.zone[i]}, false);
    }
    init.spans.forEach(function (s) { addSpan(t, {id: s.id, strategy: s.strategy, label: s.label, start_ms: s.start_ms, end_ms: s.end_ms}); });
    flush(t);
    wireButtons(t);
    return t;
  }

  // ---- data ---------------------------------------------------------------------------
  function ingest(t, m, live) {
    const ms = m.epoch_start_ms, es = (m.epoch_s || 1) * 1000;
    if (t.lastMs !== null && ms <= t.lastMs) return;  // replayed or duplicate epoch
    if (t.lastMs !== null && ms - t.lastMs > 2.5 * es) {
      // missing data: a null point breaks the line instead of drawing across the gap
      t.buffer.push({x: M.localIso(t.lastMs + es), ms: t.lastMs + es, enmo: null, rf: null, imp: null});
    }
    t.lastMs = ms;
    const enmo = m.enmo_mg === null || m.enmo_mg === undefined ? null : Number(m.enmo_mg);
    // the activity axis is logarithmic from 1 mg: lower values are drawn at 1 mg
    t.buffer.push({x: M.localIso(ms), ms, enmo: enmo === null ? null : Math.max(enmo, 1), rf: m.rhythmic_fraction, imp: m.impacts});
    t.rows.push({ms, enmo, zone: enmo === null ? -1 : zoneOf(enmo), rf: m.rhythmic_fraction, imp: m.impacts, nw: !!m.nonwear});
    if (t.rows.length > 12) t.rows.shift();
    // movement break in progress: light-or-above runs, dips <= 10 s bridged (as the server)
    const active = enmo !== null && enmo >= LIGHT_MG && !m.nonwear;
    if (active) {
      if (t.runStart === null || ms - t.runEnd > BREAK_DIP_S * 1000) { t.runStart = ms; t.counted = false; }
      t.runEnd = ms + es;
      if (!t.counted && (t.runEnd - t.runStart) / 1000 >= BREAK_MIN_S) { t.breaks += 1; t.counted = true; }
    }
    if (live && !paused) scheduleFlush(t);
  }

  // the fast trace: drawn within ~50 ms of arriving (never waits for an epoch)
  function ingestActivity(t, m) {
    if (t.actLastMs !== null && m.t_end_ms <= t.actLastMs) return;
    if (t.actLastMs !== null && m.t_end_ms - t.actLastMs > 3000) {
      t.act.push({x: M.localIso(t.actLastMs + 1), y: null, ms: null});  // a gap breaks the line
    }
    t.actLastMs = m.t_end_ms;
    t.actRx = Date.now();
    t.actValue = m.value === null || m.value === undefined ? null : Number(m.value);
    t.act.push({x: M.localIso(m.t_end_ms), y: t.actValue === null ? null : Math.max(t.actValue, 1), ms: m.t_end_ms, rx: t.actRx});
    if (!paused) scheduleFlush(t, 20);
  }
  function behind(ms) {
    const s = Math.max(0, (Date.now() - ms) / 1000);
    return s < 10 ? s.toFixed(1) + " s behind" : Math.round(s) + " s behind";
  }
  function renderLag(t) {
    const p = t.el.querySelector(".lag");
    if (!p) return;
    const parts = [];
    if (t.actLastMs === null) parts.push("Activity: waiting for the band…");
    else {
      parts.push("Activity line: " + behind(t.actLastMs));
      const now = t.el.querySelector(".zone-now");
      now.textContent = t.actValue === null ? "Now: no data in the latest second"
        : "Now: " + cfg.zone_words[zoneOf(t.actValue)] + " (" + Math.round(t.actValue) + " mg) at " + M.clock(t.actLastMs);
    }
    if (engine !== "ready") parts.push("rhythm and impacts: starting the signal engine…");
    else if (t.lastMs !== null) {
      const end = t.lastMs + 1000;
      parts.push("rhythm: " + behind(end));
      parts.push("impacts: " + behind(end));
    } else parts.push("rhythm: waiting for the first complete second");
    p.textContent = parts.join(" · ");
    p.dataset.engine = engine;
  }

  // Every change of a tile's chart (new activity points, finished epochs, the sliding
  // window, strategy markers) is drawn in ONE Plotly.react call: each redraw costs the
  // whole three-row figure, so messages arriving together are drawn together.
  function scheduleFlush(t, delayMs) {
    if (t.timer) return;
    t.timer = setTimeout(function () { t.timer = null; if (!paused) flush(t); }, delayMs === undefined ? 40 : delayMs);
  }
  function append(tr, xs, ys, max) {
    let x = (tr.x || []).concat(xs), y = (tr.y || []).concat(ys);
    if (x.length > max) { x = x.slice(-max); y = y.slice(-max); }
    tr.x = x; tr.y = y;
  }
  let revision = 0;
  function flush(t) {
    // while paused only markers change (a tap still shows); the data waits for resume
    const gd = t.plot, e = paused ? [] : t.buffer, a = paused ? [] : t.act;
    if (!paused) { t.buffer = []; t.act = []; }
    if (e.length) {
      const xs = e.map(p => p.x), maxPts = 600 + 30;
      append(gd.data[0], xs, e.map(p => p.enmo), maxPts);
      append(gd.data[1], xs, e.map(p => p.rf), maxPts);
      append(gd.data[2], xs, e.map(p => p.imp), maxPts);
    }
    if (a.length) append(gd.data[ACT], a.map(p => p.x), a.map(p => p.y), 4 * 600 + 60);
    // right edge just past now: the few seconds of feature lag stay visible, a tap shows at
    // once, and points arriving before the next slide are inside the window
    const end = Math.max(t.lastMs !== null ? t.lastMs + 1000 : 0, t.actLastMs || 0, Date.now()) + AHEAD_MS;
    const range = [M.localIso(end - windowS * 1000), M.localIso(end)];
    const L = gd.layout;
    const layout = Object.assign({}, L, {
      xaxis: Object.assign({}, L.xaxis, {range}), xaxis2: Object.assign({}, L.xaxis2, {range}),
      xaxis3: Object.assign({}, L.xaxis3, {range}),
      shapes: t.baseShapes.concat(t.spans.flatMap(s => spanShape(s, end))),
      annotations: t.baseNotes.concat(t.spans.map(s => spanNote(s, (s.start_ms - (end - windowS * 1000)) / (windowS * 1000)))),
      datarevision: ++revision});
    t.lastDraw = Date.now();
    // when each activity point is on screen, against its newest sample's time (the page's
    // own latency measure; the browser test reads it)
    const drawn = function () {
      const now = Date.now();
      a.forEach(function (p) { if (p.ms !== null) t.drawn.push({t_end_ms: p.ms, arrived_ms: p.rx, drawn_ms: now, value: p.y}); });
      if (t.drawn.length > 600) t.drawn.splice(0, t.drawn.length - 600);
    };
    Promise.resolve(window.Plotly.react(gd, gd.data, layout)).then(drawn, drawn);
    if (e.length) renderNow(t);
    if (a.length) renderLag(t);
  }
  function relayoutRange(t) { flush(t); }

  function spanShape(s, endMs) {
    return [{type: "rect", xref: "x", yref: "paper", x0: M.localIso(s.start_ms),
      x1: M.localIso(s.end_ms || Math.max(endMs, s.start_ms + 1000)), y0: 0, y1: 1,
      fillcolor: "#CC79A7", opacity: 0.18, line: {color: "#7A3E66", width: 2, dash: "dot"},
      layer: "below", name: "strategy"}];
  }
  function spanNote(s, frac) {  // frac: where the span starts across the window, 0..1
    return {x: M.localIso(s.start_ms), y: 1.0, xref: "x", yref: "paper", yanchor: "bottom",
      xanchor: frac > 0.6 ? "right" : "left", showarrow: false, text: "▼ " + shortLabel(s.label), font: {size: 13, color: "#5A2D4B"}, name: "strategy"};
  }

  function renderNow(t) {
    const last = t.rows[t.rows.length - 1];
    const now = t.el.querySelector(".zone-now");
    if (last && t.actLastMs === null) {  // once the fast trace runs, "Now" follows it
      // "no signal" (nothing arrived) and "not worn" (the band's own reading) differ
      now.textContent = last.enmo === null ? "Now: no signal in the latest second (out of range or switched off)"
        : last.nw ? "Now: not worn (the band says it is off the wrist) at " + M.clock(last.ms)
        : "Now: " + cfg.zone_words[last.zone] + " (" + Math.round(last.enmo) + " mg) at " + M.clock(last.ms);
    }
    const br = t.el.querySelector(".break-now");
    const live = t.runEnd !== null && t.lastMs !== null && (t.lastMs - t.runEnd) <= BREAK_DIP_S * 1000;
    const run = live ? (t.runEnd - t.runStart) / 1000 : 0;
    if (live && run >= BREAK_MIN_S) br.textContent = "Movement break in progress: " + M.duration(run);
    else if (live && run > 0) br.textContent = "Moving for " + M.duration(run) + " (a break counts from 1 min)";
    else br.textContent = "No movement break in progress";
    t.el.querySelector(".breaks-count").textContent = String(t.breaks);
    const cap = t.el.querySelector("figcaption");
    const cur = t.actLastMs !== null && t.actValue !== null ? t.actValue : (last ? last.enmo : null);
    cap.textContent = (cur !== null ? "Latest: " + cfg.zone_words[zoneOf(cur)] + ", " + Math.round(cur) + " mg. " : "") +
      t.spans.length + " strategy marker" + (t.spans.length === 1 ? "" : "s") + " on the chart.";
    const box = document.getElementById("table-" + t.id);
    if (!box.hidden) {
      box.querySelector("tbody").innerHTML = t.rows.slice().reverse().map(function (r) {
        return "<tr><td>" + M.clock(r.ms) + "</td><td>" + (r.enmo === null ? "—" : Math.round(r.enmo)) +
          "</td><td>" + (r.zone < 0 ? "no data" : cfg.zone_words[r.zone]) + "</td><td>" +
          (r.rf === null || r.rf === undefined ? "—" : Number(r.rf).toFixed(2)) + "</td><td>" + (r.imp ?? "—") + "</td></tr>";
      }).join("");
    }
  }

  // ---- strategies -------------------------------------------------------------------------
  function addSpan(t, s) {
    const key = spanKey(s.strategy, s.start_ms);
    const old = t.spans.find(x => (s.id && x.id === s.id) || x.key === key);
    if (old) { if (s.end_ms) old.end_ms = s.end_ms; if (s.id) old.id = s.id; }
    else t.spans.push({id: s.id || null, key, strategy: s.strategy, label: s.label || labels[s.strategy] || s.strategy,
      start_ms: s.start_ms, end_ms: s.end_ms || null});
    renderRunning(t);
    renderNow(t);
  }
  function running(t) { return t.spans.filter(s => !s.end_ms); }
  function renderRunning(t) {
    const ul = t.el.querySelector(".running-list");
    const open = running(t);
    ul.innerHTML = "";
    if (!open.length) { ul.innerHTML = '<li class="none">Nothing running.</li>'; }
    open.forEach(function (s) {
      const li = document.createElement("li");
      li.textContent = s.label + " since " + M.clock(s.start_ms) + " ";
      const b = document.createElement("button");
      b.type = "button"; b.className = "btn btn-small end-btn"; b.textContent = "End " + s.label;
      b.addEventListener("click", function () { endSpan(t, s); });
      li.appendChild(b); ul.appendChild(li);
    });
    t.el.querySelectorAll(".strat").forEach(function (btn) {
      const on = open.some(s => s.strategy === btn.dataset.key);
      btn.setAttribute("aria-pressed", String(on));
      btn.classList.toggle("on", on);
    });
  }
  async function start(t, key) {
    const msg = t.el.querySelector(".note-msg");
    try {
      const body = {child_id: t.id, strategy: key, note: t.pendingNote || ""};
      if (t.band && t.band.session_id) body.session_id = t.band.session_id;  // the band's session
      const who = t.el.querySelector(".who-select").value;
      if (who) body.initiated_by = who;
      const ev = await M.api("/api/events", {method: "POST", body});
      t.pendingNote = "";
      addSpan(t, {id: ev.id, strategy: ev.strategy, start_ms: Date.parse(ev.started_at), end_ms: null});
      relayoutRange(t);
      msg.textContent = "Logged " + (labels[key] || key) + " at " + M.clock(Date.parse(ev.started_at)) + ".";
    } catch (e) { msg.textContent = "Could not log the strategy: " + e.message; }
  }
  async function endSpan(t, s) {
    const msg = t.el.querySelector(".note-msg");
    try {
      const ev = await M.api("/api/events/" + s.id + "/end", {method: "POST"});
      s.end_ms = Date.parse(ev.ended_at);
      renderRunning(t); relayoutRange(t);
      msg.textContent = "Ended " + s.label + ".";
    } catch (e) { msg.textContent = "Could not end the strategy: " + e.message; }
  }
  function wireButtons(t) {
    t.el.querySelectorAll(".strat").forEach(function (btn) {
      btn.addEventListener("click", function () {
        const open = running(t).find(s => s.strategy === btn.dataset.key);
        if (open) endSpan(t, open); else start(t, btn.dataset.key);
      });
    });
    const sel = t.el.querySelector(".other-select");
    const caution = t.el.querySelector(".caution");
    sel.addEventListener("change", function () {
      const opt = sel.selectedOptions[0];
      caution.textContent = opt && opt.dataset.caution ? "Note: " + opt.dataset.caution : "";
    });
    t.el.querySelector(".other-start").addEventListener("click", function () { if (sel.value) start(t, sel.value); });
    t.el.querySelector(".note-save").addEventListener("click", async function () {
      const input = t.el.querySelector(".note-input");
      const msg = t.el.querySelector(".note-msg");
      const text = input.value.trim();
      if (!text) return;
      const open = running(t);
      if (!open.length) { t.pendingNote = text; input.value = ""; msg.textContent = "Note kept for the next strategy you start."; return; }
      const s = open[open.length - 1];
      try {
        const ev = await M.api("/api/events/" + s.id, {method: "PUT", body: {reason: "note added during session", note: text}});
        s.id = ev.id; input.value = "";
        msg.textContent = "Note added to " + s.label + ".";
      } catch (e) { msg.textContent = "Could not save the note: " + e.message; }
    });
  }

  // ---- band status ------------------------------------------------------------------------
  const STATE_WORDS = {streaming: "streaming", connecting: "connecting", reconnecting: "reconnecting",
    connected: "connected", disconnected: "disconnected", stopped: "stopped", error: "problem"};
  const STATE_ICON = {streaming: "●", connected: "●", connecting: "◐", reconnecting: "◐", disconnected: "○", stopped: "○", error: "!"};
  function renderBand(t) {
    const p = document.getElementById("band-" + t.id);
    const b = t.band;
    if (!b) return;
    const age = b.last_data_ms ? Math.max(0, (Date.now() - b.last_data_ms) / 1000) : null;
    const parts = ["Band " + (b.device_id || "") + ": " + (STATE_WORDS[b.state] || b.state)];
    const bat = M.battery(b.battery_pct, cfg.battery_low_pct);
    if (bat) parts.push(bat.text);
    parts.push(age === null ? "no data yet" : "last data " + Math.round(age) + " s ago");
    if (b.samples_lost) parts.push(b.samples_lost + " samples lost");
    p.querySelector(".txt").textContent = parts.join(" · ");
    p.querySelector(".dot").textContent = STATE_ICON[b.state] || "◌";
    p.dataset.state = b.state;
    p.dataset.battery = bat ? (bat.low ? "low" : "ok") : "unknown";
  }
  setInterval(function () {
    Object.values(tiles).forEach(function (t) {
      renderBand(t); renderLag(t);
      if (!paused && !(Date.now() - (t.lastDraw || 0) < 900)) flush(t);   // slide the window
    });
  }, 1000);

  // ---- device and data-health alerts (never about the child) ------------------------------
  const alerts = {};  // alert id -> alert
  const panel = document.createElement("section");
  panel.id = "alert-panel"; panel.className = "alert-panel"; panel.hidden = true;
  panel.setAttribute("aria-labelledby", "alert-head");
  panel.innerHTML = '<h2 id="alert-head" class="small-h">Band and data alerts</h2><ul class="alert-list" aria-live="polite"></ul>';
  document.querySelector(".live-bar").after(panel);
  function alertFromMsg(m) {
    return {id: m.alert_id, kind: m.kind, child_id: m.child_id, device_id: m.device_id, text: m.text,
      started_ms: m.started_ms, active: m.active, acked_by: m.acked_by, acked_ms: m.acked_ms};
  }
  function alertFromApi(a) {
    return {id: a.id, kind: a.kind, child_id: a.child_id, device_id: a.device_id, text: a.text,
      started_ms: Date.parse(a.started_at), active: a.active, acked_by: a.acked_by,
      acked_ms: a.acked_at ? Date.parse(a.acked_at) : null};
  }
  function alertItem(a, inList) {
    const li = document.createElement("li");
    li.className = "alert"; li.dataset.alertId = a.id; li.dataset.kind = a.kind;
    li.dataset.acked = String(!!a.acked_by);
    const txt = document.createElement("span");
    const tile = tiles[a.child_id];
    const who = inList && tile ? tile.el.querySelector("h2").textContent + ": " : "";
    txt.textContent = "⚠ " + who + a.text + " (since " + M.clock(a.started_ms) + ")";
    li.appendChild(txt);
    if (a.acked_by) {
      const who = document.createElement("span");
      who.className = "small acked";
      who.textContent = " Acknowledged by " + String(a.acked_by).split("(")[0] + " at " + M.clock(a.acked_ms) + ".";
      li.appendChild(who);
    } else {
      const b = document.createElement("button");
      b.type = "button"; b.className = "btn btn-small ack-btn"; b.textContent = "Acknowledge";
      b.addEventListener("click", function () { ackAlert(a.id, b); });
      li.appendChild(document.createTextNode(" ")); li.appendChild(b);
    }
    return li;
  }
  function renderAlerts() {
    const open = Object.values(alerts).filter(a => a.active).sort((x, y) => x.started_ms - y.started_ms);
    const ul = panel.querySelector(".alert-list");
    ul.innerHTML = "";
    open.forEach(a => ul.appendChild(alertItem(a, true)));
    panel.hidden = !open.length;
    Object.values(tiles).forEach(function (t) {
      let box = t.el.querySelector(".tile-alerts");
      if (!box) {
        box = document.createElement("ul");
        box.className = "tile-alerts"; box.setAttribute("aria-label", "Band alerts");
        t.el.querySelector(".tile-head").after(box);
      }
      box.innerHTML = "";
      open.filter(a => a.child_id === t.id).forEach(a => box.appendChild(alertItem(a)));
      box.hidden = !box.children.length;
    });
  }
  async function ackAlert(id, button) {
    if (button) button.disabled = true;
    try {
      const a = await M.api("/api/alerts/" + id + "/ack", {method: "POST"});
      alerts[a.id] = alertFromApi(a);
    } catch (e) { if (button) { button.disabled = false; button.textContent = "Acknowledge (failed: " + e.message + ")"; } }
    renderAlerts();
  }
  function onAlert(m) {
    const a = alertFromMsg(m);
    if (!a.active) delete alerts[a.id]; else alerts[a.id] = a;  // a cleared alert leaves the list
    renderAlerts();
  }
  M.api("/api/alerts?active=true").then(function (list) {
    (list || []).forEach(function (a) { alerts[a.id] = alertFromApi(a); });
    renderAlerts();
  }).catch(function () { /* the live feed still brings new alerts */ });

  // ---- feed -------------------------------------------------------------------------------
  const feedState = document.getElementById("feed-state");
  let ws = null, backoff = 1000;
  function connect() {
    const ids = Object.keys(tiles);
    if (!ids.length) { feedState.textContent = "Live feed: no children shown"; return; }
    const q = ids.map(i => "child_id=" + i).join("&");
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/live?" + q);
    feedState.textContent = "Live feed: connecting…";
    ws.onopen = function () { backoff = 1000; feedState.textContent = "Live feed: connected"; feedState.dataset.state = "ok"; };
    ws.onmessage = function (e) {
      let m; try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === "hello") { if (m.engine) engine = m.engine; }
      else if (m.type === "alert") onAlert(m);
      else if (m.type === "activity") { const t = tiles[m.child_id]; if (t) ingestActivity(t, m); }
      else if (m.type === "epoch") { const t = tiles[m.child_id]; if (t) ingest(t, m, true); }
      else if (m.type === "status") {
        if (m.hub && m.hub.engine) engine = m.hub.engine;
        (m.bands || []).forEach(function (b) { const t = tiles[b.child_id]; if (t) { t.band = b; renderBand(t); } });
      } else if (m.type === "event") {
        const t = tiles[m.child_id]; if (!t) return;
        const startMs = Date.parse(m.started_at), endMs = m.ended_at ? Date.parse(m.ended_at) : null;
        const key = spanKey(m.strategy, startMs);
        if (m.voided) { t.spans = t.spans.filter(s => s.key !== key); renderRunning(t); }
        else addSpan(t, {id: m.event_id || null, strategy: m.strategy, start_ms: startMs, end_ms: endMs});
        if (!paused) relayoutRange(t);
      }
    };
    ws.onclose = function () {
      feedState.textContent = "Live feed: reconnecting…"; feedState.dataset.state = "wait";
      M.api("/api/auth/me").catch(function () { /* api() sends a logged-out user to sign in */ });
      setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 15000);
    };
  }

  // ---- controls ---------------------------------------------------------------------------
  document.getElementById("pause").addEventListener("click", function () {
    paused = !paused;
    this.setAttribute("aria-pressed", String(paused));
    this.textContent = paused ? "Resume updates" : "Pause updates";
    if (!paused) Object.values(tiles).forEach(flush);
  });
  document.querySelectorAll(".win").forEach(function (b) {
    b.addEventListener("click", function () {
      windowS = Number(b.dataset.win);
      document.querySelectorAll(".win").forEach(x => x.setAttribute("aria-pressed", String(x === b)));
      const words = windowS >= 120 ? (windowS / 60) + " minutes" : windowS === 60 ? "minute" : windowS + " seconds";
      Object.values(tiles).forEach(function (t) {
        const name = String((t.fig.layout.title && t.fig.layout.title.text) || "").split(":")[0];
        window.Plotly.relayout(t.plot, {"title.text": name + ": movement, last " + words});
        relayoutRange(t);
      });
    });
  });
  document.addEventListener("movereg:table", function () { Object.values(tiles).forEach(renderNow); });
  document.querySelectorAll(".tile").forEach(makeTile);
  window.moveregLive = {tiles, shortLabel, isPaused: function () { return paused; },
    engine: function () { return engine; }, alerts: function () { return alerts; }};
  connect();
})();
