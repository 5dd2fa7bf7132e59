/* Bands page, bands that record on their own (#23): record on the band (rate, hours that
 * fit, battery), stop, status and free memory, sync now with progress, the last sync in
 * plain words; for simulated bands a demo "walk away / come back". bands.js calls
 * window.moveregBandRec.update(bands) after each refresh. */
"use strict";
(function () {
  const M = window.movereg;
  const info = {};          // device id -> last /recorder answer
  const asked = {};         // device id -> ms of the last /recorder read
  const checked = {};       // device id -> the band itself was asked once
  const msg = document.getElementById("band-msg");
  const cfg = JSON.parse(document.getElementById("bands-config").textContent);

  function url(dev, tail) { return "/api/bands/" + encodeURIComponent(dev) + tail; }
  function hhmm(iso) { if (!iso) return ""; const d = new Date(iso); return d.toLocaleString([], {weekday: "short", hour: "2-digit", minute: "2-digit"}); }
  function mb(b) { return (b / 1e6).toFixed(1) + " MB"; }

  function stateWords(r) {
    const parts = [];
    parts.push(r.recording ? "Recording on the band" + (r.rate_hz ? " at " + r.rate_hz + " Hz" : "") + (r.started_at ? " since " + hhmm(r.started_at) : "") : "Not recording on the band");
    if (r.free_bytes !== null && r.total_bytes) parts.push("memory " + Math.round(100 * r.free_bytes / r.total_bytes) + " % free (" + mb(r.free_bytes) + ")");
    const bat = M.battery(r.battery_pct, cfg.battery_low_pct);   // low as on the live pages
    parts.push(bat ? bat.text : "battery not reported");
    if (!r.in_range) parts.push("out of range");
    return parts.join(" · ");
  }
  function lastWords(r) {
    if (!r.last_sync_at) return "Not synced yet.";
    return "Last sync " + hhmm(r.last_sync_at) + ": " + r.last_sync_message;
  }
  function syncWords(s) {
    if (!s || !s.running) return "";
    let t = "Syncing: " + s.phase;
    if (s.recordings) t += " (recording " + Math.max(1, s.recording) + " of " + s.recordings + ")";
    if (s.bytes_total) t += " " + Math.round(100 * s.bytes_done / s.bytes_total) + " %";
    return t + "…";
  }

  function ensure(tile, b) {
    let box = tile.querySelector(".band-rec");
    if (box) return box;
    const safe = b.device_id.replace(/[^A-Za-z0-9_-]/g, "_");
    box = document.createElement("div");
    box.className = "band-rec"; box.hidden = true;
    box.innerHTML = '<p class="rec-state small"></p>' +
      '<div class="band-actions rec-actions"><label for="rate-' + safe + '">Rate</label><select class="rec-rate" id="rate-' + safe + '"></select>' +
      '<button type="button" class="btn btn-small rec-start">Record on the band</button>' +
      '<button type="button" class="btn btn-small rec-stop">Stop recording</button>' +
      '<button type="button" class="btn btn-small rec-sync">Sync now</button>' +
      '<button type="button" class="btn btn-small rec-check">Check band</button>' +
      '<button type="button" class="btn btn-small rec-range" hidden></button></div>' +
      '<progress class="rec-progress" max="1" value="0" hidden></progress> <span class="rec-sync small" role="status"></span>' +
      '<p class="rec-last small"></p>';
    const dev = b.device_id;
    box.querySelector(".rec-start").setAttribute("aria-label", "Record on the band " + dev);
    box.querySelector(".rec-sync").setAttribute("aria-label", "Sync now " + dev);
    async function act(label, fn) {
      msg.textContent = label + " " + dev + "…";
      try {
        const r = await fn();
        if (r && r.device_id && "can_record" in r) info[dev] = r;
        msg.textContent = label + " " + dev + ": done." + (r && r.live ? " " + r.live : "");
      }
      catch (e) { msg.textContent = label + " " + dev + ": " + e.message; }
      read(dev, true);
    }
    box.querySelector(".rec-start").addEventListener("click", function () {
      const rate = Number(box.querySelector(".rec-rate").value);
      act("Record on the band", () => M.api(url(dev, "/record"), {method: "POST", body: {rate_hz: rate}}));
    });
    box.querySelector(".rec-stop").addEventListener("click", () => act("Stop recording", () => M.api(url(dev, "/record/stop"), {method: "POST"})));
    box.querySelector(".rec-check").addEventListener("click", () => act("Check band", () => M.api(url(dev, "/recorder/refresh"), {method: "POST"})));
    box.querySelector(".rec-sync").addEventListener("click", () => act("Sync", () => M.api(url(dev, "/sync"), {method: "POST"})));
    box.querySelector(".rec-range").addEventListener("click", function () {
      const back = !(info[dev] && info[dev].in_range);
      act(back ? "Come back with" : "Walk away with", () => M.api(url(dev, "/range"), {method: "POST", body: {in_range: back}}));
    });
    tile.appendChild(box);
    return box;
  }

  function draw(tile, b, r) {
    const box = ensure(tile, b);
    box.hidden = !r.can_record;
    if (!r.can_record) return;
    const running = r.sync && r.sync.running;
    const line = box.querySelector(".rec-state"), bat = M.battery(r.battery_pct, cfg.battery_low_pct);
    line.textContent = stateWords(r);
    line.dataset.battery = bat ? (bat.low ? "low" : "ok") : "unknown";
    const sel = box.querySelector(".rec-rate");
    const keep = sel.value;
    sel.innerHTML = "";
    r.rates_hz.forEach(function (rate) {
      const o = document.createElement("option"); o.value = rate;
      const h = r.hours_left[String(rate)];
      o.textContent = rate + " Hz" + (h !== undefined ? " (about " + (h >= 48 ? Math.round(h / 24) + " days" : Math.round(h) + " h") + ")" : "");
      o.title = h !== undefined ? "about this long fits in the band's free memory" : "";
      sel.appendChild(o);
    });
    if (keep && r.rates_hz.map(String).includes(keep)) sel.value = keep;
    else if (r.rates_hz.length) sel.value = r.rates_hz.includes(26) ? 26 : r.rates_hz[0];
    const assigned = !!b.child_id;
    box.querySelector(".rec-start").hidden = r.recording || !assigned;
    sel.hidden = box.querySelector("label").hidden = r.recording || !assigned;
    box.querySelector(".rec-stop").hidden = !r.recording;
    box.querySelector(".rec-sync").disabled = !!running;
    const rng = box.querySelector(".rec-range");
    rng.hidden = !r.simulated;
    rng.textContent = r.in_range ? "Walk away (demo)" : "Come back (demo)";
    const bar = box.querySelector(".rec-progress");
    bar.hidden = !running;
    if (running) bar.value = r.sync.bytes_total ? r.sync.bytes_done / r.sync.bytes_total : 0;
    box.querySelector(".rec-sync").textContent = running ? "Syncing…" : "Sync now";
    box.querySelector("span.rec-sync").textContent = running ? syncWords(r.sync) : "";
    box.querySelector(".rec-last").textContent = lastWords(r) + (assigned ? "" : " Assign the band to a child to record on it.");
  }

  async function read(dev, now) {
    const t = Date.now();
    const r0 = info[dev];
    const busy = r0 && r0.sync && r0.sync.running;
    if (!now && !busy && asked[dev] && t - asked[dev] < 8000) return;
    asked[dev] = t;
    try {
      let r = await M.api(url(dev, "/recorder"));
      if (r.can_record && !checked[dev] && r.in_range && !r.status_at) {
        checked[dev] = true;   // first look at this band: ask it for memory and battery
        try { r = await M.api(url(dev, "/recorder/refresh"), {method: "POST"}); } catch (e) { /* out of range */ }
      }
      info[dev] = r;
    } catch (e) { /* the band list shows the error */ }
  }

  async function update(bands) {
    await Promise.all(bands.map(b => read(b.device_id, false)));
    bands.forEach(function (b) {
      const tile = document.querySelector('.band-tile[data-device-id="' + CSS.escape(b.device_id) + '"]');
      if (tile && info[b.device_id]) draw(tile, b, info[b.device_id]);
    });
  }
  window.moveregBandRec = {update};
})();
