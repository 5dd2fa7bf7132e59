/* movereg service worker: lets the live session page and its scripts reload without a
 * network, so taps queued offline (taplog.js, localStorage) stay visible and are sent when
 * the connection returns. Network first; the cache is only a fallback. Never caches the
 * API; signing out empties the cache. */
"use strict";
const CACHE = "movereg-offline-v1";
const PAGE = /^\/sessions\/\d+\/live$/;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (e) { e.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (e) {
  const req = e.request;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  if (url.pathname === "/api/auth/logout") { e.waitUntil(caches.delete(CACHE)); return; }
  if (req.method !== "GET") return;
  const page = req.mode === "navigate" && PAGE.test(url.pathname);
  const asset = url.pathname.startsWith("/static/") && url.pathname !== "/static/sw.js";
  if (!page && !asset) return;
  e.respondWith(fetch(req).then(function (resp) {
    if (resp.ok && !resp.redirected) {
      const copy = resp.clone();
      caches.open(CACHE).then(function (c) { c.put(req, copy); });
    }
    return resp;
  }).catch(function () {
    return caches.match(req, {ignoreSearch: page}).then(function (hit) { return hit || Response.error(); });
  }));
});
