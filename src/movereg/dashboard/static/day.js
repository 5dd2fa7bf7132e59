/* Day and week pages: ask for the browser's time zone once (the server renders in it). */
"use strict";
(function () {
  const url = new URL(window.location.href);
  if (!url.searchParams.get("tz")) {
    try {
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (tz && tz !== "UTC") { url.searchParams.set("tz", tz); window.location.replace(url.toString()); }
    } catch (e) { /* keep UTC */ }
  }
})();
