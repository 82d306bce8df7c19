// Live updates for the dashboard: an addition, never a requirement (every page is complete
// without script). An environment's page subscribes to its host states over Server-Sent
// Events and repaints each host's row and the counts as states change.
"use strict";
(function () {
  var live = document.querySelector("[data-live-env]");
  if (!live || !window.EventSource) return;
  var env = live.getAttribute("data-live-env");
  var source = new EventSource("/dashboard/events/env/" + encodeURIComponent(env));
  source.addEventListener("hosts", function (event) {
    var hosts = JSON.parse(event.data);
    var counts = {};
    hosts.forEach(function (host) {
      counts[host.state] = (counts[host.state] || 0) + 1;
      document.querySelectorAll('[data-host="' + CSS.escape(host.name) + '"]').forEach(function (row) {
        row.className = row.className.replace(/\bstate-[a-z_]+\b/g, "").trim() + " state-" + host.state;
        var state = row.querySelector('[data-field="state"]');
        if (state) state.textContent = host.state;
        var drift = row.querySelector('[data-field="drift"]');
        if (drift) drift.textContent = String(host.drift);
      });
    });
    document.querySelectorAll("[data-count]").forEach(function (cell) {
      var state = cell.getAttribute("data-count");
      cell.textContent = String(counts[state] || 0);
      var pill = cell.closest("[data-count-of]");
      if (pill) pill.classList.toggle("zero", !counts[state]);
    });
    live.setAttribute("data-updated", new Date().toISOString());
  });
  // The session ended (key revoked or expired): stop, and say so on the next load.
  source.addEventListener("ended", function () {
    source.close();
    window.location.assign("/dashboard/login");
  });
})();
