/*
 * taplog.js: one-tap strategy logging that is never lost (therapist tiles, parent home page).
 * Needs /static/common.js first (window.movereg.api). No build step, no dependencies.
 *
 * API (one logger per child on the page; the offline queue is shared by all of them):
 *
 *   const log = MoveregTaplog.create({
 *     childId: 7,                    // required
 *     user: "tess",                  // who is signed in: queued taps are only sent as them
 *     sessionId: 12,                 // optional: a number, or a function returning one/null
 *     labels: {"mov.break": "Movement break"},   // optional, for the messages
 *     undoMs: 5000,                  // how long "Undo" is offered after a tap (default 5 s)
 *     onChange: function (state) {}  // optional, see state below
 *   });
 *   log.tap(strategyKey, {agoS, planned, initiatedBy, note, durationS})  -> item
 *       Logs at once. The tap's own time (Date.now() - agoS) is kept: when it is sent later
 *       the request says how many seconds ago it happened (started_ago_s). Every create
 *       carries a client-made Idempotency-Key, so a retry never doubles the event.
 *       agoS: back-dating in s ("started 5 min ago" = 300); planned: true (planned) /
 *       false (as needed); initiatedBy: "child" | "adult"; note: text (<= 2000 chars).
 *   log.undo(itemId?)   Undo the last tap (or itemId) while its Undo is offered: an unsent
 *                       tap is simply dropped; a sent one is voided with reason "undone".
 *   log.state()         {pending (this child), pendingAll (the page), failed,
 *                        undo: {id, label, leftMs} | null, last: item | null}
 *   log.flush()         Try to send the queue now (also runs on "online", on load and
 *                       every few seconds while something waits).
 *   MoveregTaplog.pending()        n items waiting to send (whole page, all children)
 *   MoveregTaplog.attach(el, log) -> {tap(key)}  Wire the standard controls inside el
 *       (tap(key) logs key with the options set in el, e.g. for an "Other…" picker):
 *       [data-tap="key"] buttons (one tap each), .tap-undo button, .tap-status (aria-live
 *       text: "Logged ...", "n waiting to send"), and the optional options form:
 *       .tap-ago <select> (seconds ago), .tap-planned <select> ("", "planned", "as-needed"),
 *       .tap-who <select> ("", "child", "adult"), .tap-duration <select> (s it lasted; ""
 *       = still open), .tap-note <input> (the note, ago and duration are used once, then reset).
 *
 * Queue: localStorage["movereg.taplog.v1"] = [{id, op: "create"|"void", user, childId,
 * body, tapMs, key, eventId, tries, error}], so taps survive a reload, a lost Wi-Fi or a
 * closed tab. Items the server refuses (4xx other than 401/408/429) are kept as "failed"
 * with the server's reason and shown; nothing is dropped silently.
 */
"use strict";
(function () {
  const STORE_KEY = "movereg.taplog.v1";
  const RETRY_MS = 4000;
  const loggers = [];
  let sending = false;
  let timer = null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
  }
  function load() {
    try { const q = JSON.parse(localStorage.getItem(STORE_KEY) || "[]"); return Array.isArray(q) ? q : []; }
    catch (e) { return []; }
  }
  function save(q) { localStorage.setItem(STORE_KEY, JSON.stringify(q)); }
  function update(id, fn) {  // read-modify-write one item (another tab may have changed it)
    const q = load(); const i = q.findIndex(x => x.id === id);
    if (i >= 0) { const r = fn(q[i]); if (r === null) q.splice(i, 1); else q[i] = r; save(q); }
  }
  function notify() { loggers.forEach(function (l) { l._changed(); }); }

  function retryable(status) { return !status || status >= 500 || status === 401 || status === 408 || status === 429; }

  async function sendOne(it) {
    const api = window.movereg.api;
    if (it.op === "create") {
      const body = Object.assign({}, it.body);
      body.started_ago_s = Math.min(86400, Math.max(0, (Date.now() - it.tapMs) / 1000));
      const ev = await api("/api/events", {method: "POST", body, headers: {"Idempotency-Key": it.key}});
      return ev;
    }
    try {
      return await api("/api/events/" + it.eventId + "/void", {method: "POST", body: {reason: "undone"}});
    } catch (e) {
      if (e.status === 422 && /already voided/.test(e.message)) return null;  // done before
      throw e;
    }
  }

  /** Send every queued item of the signed-in user, oldest first; stop at the first network failure. */
  async function flush() {
    if (sending) return;
    sending = true;
    try {
      for (;;) {
        if (!loggers.length) break;              // no page logger yet: we do not know the user
        const me = loggers[0].user;
        const it = load().find(x => !x.error && !x.sent && (me === null || x.user === me));
        if (!it) break;
        if (navigator.onLine === false) break;
        let ev;
        try { ev = await sendOne(it); }
        catch (e) {
          if (retryable(e.status)) { update(it.id, x => Object.assign(x, {tries: (x.tries || 0) + 1})); break; }
          update(it.id, x => Object.assign(x, {error: e.message || "refused"}));
          notify();
          continue;
        }
        if (it.op === "create" && !load().some(x => x.id === it.id)) {
          // undone while the request was on its way: void what the server stored
          const q = load();
          q.push({id: uuid(), op: "void", user: it.user, childId: it.childId, eventId: ev.id,
            tapMs: Date.now(), tapAtMs: Date.now(), undoMs: 0, label: it.label, tries: 0});
          save(q);
        } else if (it.op === "create") {
          // keep a sent tap only while its Undo is offered (the undo needs the event id)
          update(it.id, x => (Date.now() - x.tapAtMs < x.undoMs) ? Object.assign(x, {sent: true, eventId: ev.id}) : null);
          loggers.forEach(function (l) { l._sent(it, ev); });
        } else {
          update(it.id, () => null);
        }
        notify();
      }
    } finally {
      sending = false;
      schedule();
    }
  }
  function schedule() {
    if (timer) return;
    const waiting = load().some(x => !x.error && !x.sent);
    const undoable = load().some(x => x.sent);
    if (!waiting && !undoable) return;
    timer = setTimeout(function () { timer = null; prune(); flush(); notify(); }, waiting ? RETRY_MS : 1000);
  }
  function prune() {  // sent creates whose Undo has expired leave the queue
    const q = load(); const keep = q.filter(x => !(x.sent && Date.now() - x.tapAtMs >= x.undoMs));
    if (keep.length !== q.length) save(keep);
  }
  function pending() { return load().filter(x => !x.error && !x.sent).length; }

  function create(opts) {
    if (!opts || !opts.childId) throw new Error("MoveregTaplog.create: childId is required");
    const undoMs = opts.undoMs || 5000;
    const labels = opts.labels || {};
    const listeners = opts.onChange ? [opts.onChange] : [];
    let lastId = null;
    const log = {
      childId: Number(opts.childId), user: opts.user || null, undoMs,
      label: function (k) { return labels[k] || k; },
      tap: function (key, o) {
        o = o || {};
        const now = Date.now();
        const sid = typeof opts.sessionId === "function" ? opts.sessionId() : opts.sessionId;
        const body = {child_id: log.childId, strategy: key};
        if (sid) body.session_id = Number(sid);
        if (o.planned === true || o.planned === false) body.planned = o.planned;
        if (o.initiatedBy) body.initiated_by = o.initiatedBy;
        if (o.note) body.note = String(o.note).slice(0, 2000);
        if (o.durationS) body.duration_s = Number(o.durationS);
        const it = {id: uuid(), op: "create", key: uuid(), user: log.user, childId: log.childId,
          body, tapMs: now - Math.max(0, Number(o.agoS) || 0) * 1000, tapAtMs: now, undoMs,
          label: log.label(key), tries: 0};
        const q = load(); q.push(it); save(q);
        lastId = it.id;
        log._changed();
        flush();
        return it;
      },
      undo: function (itemId) {
        const id = itemId || lastId;
        const it = load().find(x => x.id === id);
        if (!it || Date.now() - it.tapAtMs >= it.undoMs) return false;
        if (!it.sent) update(id, () => null);       // never reached the server: drop it
        else {
          update(id, () => null);
          const q = load();
          q.push({id: uuid(), op: "void", user: it.user, childId: it.childId, eventId: it.eventId,
            tapMs: Date.now(), tapAtMs: Date.now(), undoMs: 0, label: it.label, tries: 0});
          save(q);
        }
        if (id === lastId) lastId = null;
        log._undone = it;
        log._changed();
        flush();
        return true;
      },
      state: function () {
        const q = load();
        const mine = q.filter(x => x.childId === log.childId);
        const last = mine.filter(x => x.op === "create" && Date.now() - x.tapAtMs < x.undoMs).pop() || null;
        return {pending: mine.filter(x => !x.error && !x.sent).length,
          pendingAll: q.filter(x => !x.error && !x.sent).length,
          failed: mine.filter(x => x.error),
          undo: last ? {id: last.id, label: last.label, leftMs: last.undoMs - (Date.now() - last.tapAtMs)} : null,
          last};
      },
      flush,
      onChange: function (fn) { listeners.push(fn); },
      _changed: function () { const s = log.state(); listeners.forEach(function (fn) { fn(s, log); }); },
      _sent: function (it, ev) { if (it.childId === log.childId && log.onSent) log.onSent(it, ev); }
    };
    loggers.push(log);
    return log;
  }

  function fmtAgo(ms) { const s = Math.round((Date.now() - ms) / 1000); return s < 60 ? s + " s ago" : Math.round(s / 60) + " min ago"; }

  /** Wire standard controls inside root (see the header). */
  function attach(root, log) {
    const status = root.querySelector(".tap-status");
    const undoBtn = root.querySelector(".tap-undo");
    let tick = null;
    function val(sel) { const el = root.querySelector(sel); return el ? el.value : ""; }
    function render(s) {
      if (undoBtn) {
        undoBtn.hidden = !s.undo;
        if (s.undo) undoBtn.textContent = "Undo " + String(s.undo.label).split(" (")[0] + " (" + Math.ceil(s.undo.leftMs / 1000) + " s)";
      }
      if (status) {
        const parts = [];
        if (log._undone) { parts.push("Undone: " + log._undone.label + "."); }
        else if (s.last) parts.push((s.last.sent ? "Logged " : "Saved on this device: ") + s.last.label + " (" + fmtAgo(s.last.tapMs) + ").");
        if (s.pending) parts.push(s.pending + " waiting to send");
        if (s.failed.length) parts.push(s.failed.length + " not accepted: " + s.failed[0].error);
        status.textContent = parts.join(" · ");
        status.dataset.pending = String(s.pending);
      }
      if (s.undo && !tick) tick = setInterval(function () { const st = log.state(); render(st); if (!st.undo) { clearInterval(tick); tick = null; } }, 500);
    }
    log.onChange(render);
    function tapWith(key) {  // one tap with the options set in root, which are then reset
      log._undone = null;
      const planned = val(".tap-planned");
      const note = root.querySelector(".tap-note");
      const it = log.tap(key, {agoS: Number(val(".tap-ago")) || 0,
        planned: planned === "planned" ? true : planned === "as-needed" ? false : null,
        initiatedBy: val(".tap-who") || null, note: note ? note.value.trim() : "",
        durationS: Number(val(".tap-duration")) || null});
      if (note) note.value = "";
      ["tap-ago", "tap-duration"].forEach(function (c) { const el = root.querySelector("." + c); if (el) el.value = el.options[0].value; });
      return it;
    }
    root.querySelectorAll("[data-tap]").forEach(function (btn) {
      btn.addEventListener("click", function () { tapWith(btn.dataset.tap); });
    });
    if (undoBtn) undoBtn.addEventListener("click", function () { log.undo(); });
    render(log.state());
    return {tap: tapWith};
  }

  window.addEventListener("online", flush);
  window.addEventListener("storage", function (e) { if (e.key === STORE_KEY) notify(); });
  window.MoveregTaplog = {create, attach, flush, pending, STORE_KEY};
  document.addEventListener("DOMContentLoaded", function () { prune(); flush(); });
})();
