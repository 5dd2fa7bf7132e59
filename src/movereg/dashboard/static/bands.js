/* Bands page: scan (Bluetooth via /api/bands/scan; simulated bands listed by the server),
 * connect, signal and battery, identify by shaking, assign / unassign to a child. */
"use strict";
(function () {
  const M = window.movereg;
  const kids = JSON.parse(document.getElementById("bands-kids").textContent);
  // battery low at the server's alert_battery_pct, as on the live pages (M.battery)
  const cfg = JSON.parse(document.getElementById("bands-config").textContent);
  const msg = document.getElementById("band-msg");
  const tiles = document.getElementById("band-tiles");
  const rssi = {};
  let identify = false, moving = {};

  function kidName(id) { const k = kids.find(x => x.id === id); return k ? k.nickname : "child " + id; }
  function signalWords(v) { if (v === undefined || v === null) return ""; return "signal " + (v > -60 ? "strong" : v > -75 ? "fair" : "weak") + " (" + v + " dBm)"; }

  async function connect(target) {
    msg.textContent = "Connecting " + target + "…";
    try { const r = await M.api("/api/bands/connect", {method: "POST", body: {target}}); msg.textContent = "Connected " + r.device_id + "."; refresh(); }
    catch (e) { msg.textContent = "Could not connect " + target + ": " + e.message; }
  }
  function wireConnect(root) { root.querySelectorAll(".connect").forEach(b => b.addEventListener("click", () => connect(b.dataset.target))); }
  wireConnect(document);

  document.getElementById("scan").addEventListener("click", async function () {
    msg.textContent = "Scanning for 5 s…";
    const list = document.getElementById("found");
    list.querySelectorAll(".found-item.ble").forEach(li => li.remove());
    try {
      const found = await M.api("/api/bands/scan?timeout_s=5");
      found.forEach(function (r) {
        rssi[r.address] = r.rssi;
        const li = document.createElement("li"); li.className = "found-item ble"; li.dataset.target = r.address;
        li.textContent = (r.name || "band") + " · " + r.address + " · " + (r.family || "") + " · " + signalWords(r.rssi) + " ";
        const b = document.createElement("button"); b.type = "button"; b.className = "btn btn-small connect"; b.dataset.target = r.address; b.textContent = "Connect";
        li.appendChild(b); list.appendChild(li);
      });
      wireConnect(list);
      msg.textContent = found.length + " Bluetooth band" + (found.length === 1 ? "" : "s") + " found" + (list.querySelector(".found-item:not(.ble)") ? "; simulated bands are listed too." : ".");
    } catch (e) { msg.textContent = "Bluetooth: " + e.message + (list.children.length ? " Simulated bands are listed below." : ""); }
    document.getElementById("scan-empty").hidden = list.children.length > 0;
  });

  function batteryOf(st) { return st ? M.battery(st.battery_pct, cfg.battery_low_pct) : null; }
  function stateWords(st) {
    if (!st) return "not connected";
    const parts = [st.state];
    const bat = batteryOf(st);
    if (bat) parts.push(bat.text);
    if (st.last_data_at) parts.push("last data " + Math.max(0, Math.round((Date.now() - Date.parse(st.last_data_at)) / 1000)) + " s ago");
    return parts.join(" · ");
  }

  function render(bands) {
    document.getElementById("no-bands").hidden = bands.length > 0;
    tiles.querySelectorAll(".band-tile").forEach(function (el) { if (!bands.some(b => b.device_id === el.dataset.deviceId)) el.remove(); });
    bands.forEach(function (b) {
      let el = tiles.querySelector('.band-tile[data-device-id="' + CSS.escape(b.device_id) + '"]');
      if (!el) {
        el = document.createElement("section"); el.className = "band-tile"; el.dataset.deviceId = b.device_id;
        el.innerHTML = '<h3 class="band-name"></h3><p class="band-state"></p><p class="band-move"></p><p class="band-child"></p>' +
          '<div class="band-actions"><label class="sr-only">Child</label><select class="assign-to"><option value="">Assign to…</option></select>' +
          '<button type="button" class="btn btn-small assign">Assign</button><button type="button" class="btn btn-small unassign">Unassign</button>' +
          '<button type="button" class="btn btn-small disconnect">Disconnect</button></div>';
        el.querySelector(".band-name").textContent = b.device_id + (b.family ? " (" + b.family + ")" : "");
        const sel = el.querySelector(".assign-to");
        const lab = el.querySelector("label"); lab.htmlFor = sel.id = "assign-" + b.device_id.replace(/[^A-Za-z0-9_-]/g, "_");
        kids.forEach(function (k) { const o = document.createElement("option"); o.value = k.id; o.textContent = k.nickname; sel.appendChild(o); });
        el.querySelector(".assign").setAttribute("aria-label", "Assign " + b.device_id);
        el.querySelector(".assign").addEventListener("click", async function () {
          if (!sel.value) { msg.textContent = "Choose a child first."; return; }
          try { await M.api("/api/bands/" + encodeURIComponent(b.device_id) + "/assign", {method: "POST", body: {child_id: Number(sel.value)}}); msg.textContent = b.device_id + " assigned to " + kidName(Number(sel.value)) + "."; refresh(); }
          catch (e) { msg.textContent = "Not assigned: " + e.message; }
        });
        el.querySelector(".unassign").addEventListener("click", async function () {
          try { await M.api("/api/bands/" + encodeURIComponent(b.device_id) + "/unassign", {method: "POST"}); msg.textContent = b.device_id + " unassigned."; refresh(); }
          catch (e) { msg.textContent = "Not unassigned: " + e.message; }
        });
        el.querySelector(".disconnect").addEventListener("click", async function () {
          try { await M.api("/api/bands/" + encodeURIComponent(b.device_id) + "/disconnect", {method: "POST"}); refresh(); }
          catch (e) { msg.textContent = e.message; }
        });
        tiles.appendChild(el);
      }
      const line = el.querySelector(".band-state"), bat = batteryOf(b.status);
      line.textContent = stateWords(b.status) + (rssi[b.device_id] !== undefined ? " · " + signalWords(rssi[b.device_id]) : "");
      line.dataset.battery = bat ? (bat.low ? "low" : "ok") : "unknown";
      el.querySelector(".band-child").textContent = b.child_id ? "Worn by " + kidName(b.child_id) : "Not assigned";
      el.querySelector(".disconnect").hidden = !b.status;
      el.querySelector(".unassign").hidden = !b.child_id;
      const mv = moving[b.device_id];
      el.classList.toggle("moving", identify && !!(mv && mv.moving));
      el.querySelector(".band-move").textContent = !identify ? "" : mv && mv.moving ? "Moving now: this is the band you are shaking" : "Still";
    });
    document.querySelectorAll("#wearing tr[data-child-id]").forEach(function (tr) {
      const b = bands.find(x => x.child_id === Number(tr.dataset.childId));
      tr.querySelector(".wears").textContent = b ? b.device_id + (b.status ? " (" + b.status.state + ")" : " (not connected)") : "no band";
    });
  }

  async function refresh() {
    try {
      const bands = await M.api("/api/bands");
      if (identify) (await M.api("/api/clinic/bands/motion")).forEach(function (m) { moving[m.device_id] = m; });
      render(bands);
      if (window.moveregBandRec) window.moveregBandRec.update(bands);   // recording on the band (#23)
    } catch (e) { msg.textContent = "Could not read bands: " + e.message; }
  }
  document.getElementById("identify").addEventListener("click", function () {
    identify = !identify; moving = {};
    this.setAttribute("aria-pressed", String(identify));
    document.getElementById("identify-help").hidden = !identify;
    refresh();
  });
  refresh();
  setInterval(refresh, 2000);
})();
