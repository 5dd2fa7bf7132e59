/* movereg pages: shared helpers (no build step, no third-party code but Plotly). */
"use strict";
(function () {
  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  /** fetch() with the session cookie, the CSRF header and JSON in/out. */
  async function api(url, opts) {
    opts = opts || {};
    const headers = Object.assign({"Accept": "application/json"}, opts.headers || {});
    const method = (opts.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = cookie("movereg_csrf");
    let body = opts.body;
    if (body !== undefined && typeof body !== "string") {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    const resp = await fetch(url, {method, headers, body, credentials: "same-origin"});
    if (resp.status === 401) { window.location = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
    let data = null;
    const type = resp.headers.get("content-type") || "";
    if (type.includes("json") && resp.status !== 204) data = await resp.json();
    if (!resp.ok) {
      const err = new Error((data && data.detail) || ("request failed: " + resp.status));
      err.status = resp.status;
      throw err;
    }
    return data;
  }
  function pad(n, w) { return String(n).padStart(w || 2, "0"); }
  /** ms since the Unix epoch -> naive local ISO text (what Plotly's date axis shows). */
  function localIso(ms) {
    const d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }
  function clock(ms) { const d = new Date(ms); return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function duration(s) {
    s = Math.max(0, Math.round(s));
    const m = Math.floor(s / 60), r = s % 60;
    return m ? m + " min " + pad(r) + " s" : r + " s";
  }
  const PLOT_CONFIG = {displayModeBar: false, responsive: true, displaylogo: false, scrollZoom: false};

  // On a phone (< 480 px) the desktop side margins would leave the plot a third of the
  // width: keep room for the axis titles only.
  const NARROW_PX = 480;
  function narrowMargins(layout) {
    const m = layout.margin || {};
    layout.margin = Object.assign({}, m, {l: Math.min(m.l || 64, 52), r: Math.min(m.r || 64, 56)});
  }
  function renderFigures() {
    if (!window.Plotly) return;
    document.querySelectorAll("script[data-figure]").forEach(function (el) {
      const target = document.getElementById(el.dataset.figure);
      if (!target) return;
      const fig = JSON.parse(el.textContent);
      if (target.clientWidth && target.clientWidth < NARROW_PX) narrowMargins(fig.layout);
      window.Plotly.newPlot(target, fig.data, fig.layout, PLOT_CONFIG);
    });
  }
  function wireTableToggles(root) {
    (root || document).querySelectorAll(".table-toggle").forEach(function (btn) {
      btn.addEventListener("click", function () {
        const box = document.getElementById(btn.getAttribute("aria-controls"));
        const open = btn.getAttribute("aria-expanded") !== "true";
        btn.setAttribute("aria-expanded", String(open));
        btn.textContent = open ? "Hide table" : "View as table";
        box.hidden = !open;
        btn.dispatchEvent(new CustomEvent("movereg:table", {bubbles: true, detail: {open}}));
      });
    });
  }
  function wireSignOut() {
    const b = document.getElementById("signout");
    if (!b) return;
    b.addEventListener("click", async function () {
      try { await api("/api/auth/logout", {method: "POST"}); } catch (e) { /* already out */ }
      window.location = "/login";
    });
  }
  // Printing: lay charts out at A4 width and a smaller height, restore afterwards.
  const PRINT_WIDTH = 680;
  let printing = false;
  function printLayout(on) {
    if (!window.Plotly || on === printing) return;
    printing = on;
    document.querySelectorAll(".js-plotly-plot").forEach(function (div) {
      if (on) {
        div.dataset.screenHeight = String(div.layout.height || 400);
        div.dataset.screenTitle = (div.layout.title && div.layout.title.text) || "";
        // the section heading names the chart on paper; its title would only take space
        div.dataset.screenLegend = JSON.stringify(div.layout.legend || {});
        window.Plotly.relayout(div, {width: PRINT_WIDTH, "title.text": "", "margin.t": 12,
          "margin.b": 30, legend: {orientation: "v", x: 1.01, y: 1, xanchor: "left", font: {size: 11}},
          height: Math.max(180, Math.round(Number(div.dataset.screenHeight) * 0.6))});
      } else {
        window.Plotly.relayout(div, {width: null, autosize: true, "title.text": div.dataset.screenTitle,
          "margin.t": 48, "margin.b": 48, legend: JSON.parse(div.dataset.screenLegend || "{}"),
          height: Number(div.dataset.screenHeight) || null});
      }
    });
  }
  window.addEventListener("beforeprint", function () { printLayout(true); });
  window.addEventListener("afterprint", function () { printLayout(false); });
  if (window.matchMedia) {
    window.matchMedia("print").addEventListener("change", function (e) { printLayout(e.matches); });
  }
  // A band's battery in words. Low at or below lowPct, the server's alert_battery_pct
  // (the threshold of the battery_low device alert), so the tiles and the alert list agree.
  function battery(pct, lowPct) {
    if (pct === null || pct === undefined) return null;
    const low = typeof lowPct === "number" && pct <= lowPct;
    return {low, text: "battery " + (low ? "low (" + Math.round(pct) + "%)" : Math.round(pct) + "%")};
  }
  window.movereg = {api, cookie, localIso, clock, duration, battery, PLOT_CONFIG, renderFigures};
  document.addEventListener("DOMContentLoaded", function () {
    wireSignOut();
    wireTableToggles();
    renderFigures();
    const p = document.getElementById("print");
    if (p) p.addEventListener("click", function () { window.print(); });
  });
})();
