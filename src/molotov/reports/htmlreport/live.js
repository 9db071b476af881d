/* molotov's dashboard: the report page of a run that goes on, updated from the dashboard's
 * stream of server-sent events. Each "page" event carries the page's newer parts, which
 * report.js draws as it drew its own; the last one ("final") is the final report, the page
 * that --html writes. "end" says the dashboard stopped without one. The Stop button stops
 * the run as Ctrl-C does: a POST with the page's token, after a second click. */
(function () {
  "use strict";
  var live = JSON.parse(document.getElementById("molotov-live").textContent);
  var bar = document.getElementById("live");
  var state = document.getElementById("live-state");
  var stop = document.getElementById("live-stop");
  var status = { updates: 0, final: false, stopping: false };
  window.molotovLive = status; // for scripts and tests

  function say(text, mode) {
    state.textContent = text;
    bar.className = mode || "";
  }

  function over(text) {
    source.close();
    if (stop) stop.remove();
    say(text, "over");
  }

  var source = new EventSource(live.events);
  source.addEventListener("page", function (event) {
    var part = JSON.parse(event.data);
    window.molotovReport.show(part.body, part.data);
    document.title = part.title;
    status.updates += 1;
    if (part.final) {
      status.final = true;
      over("The run is over: this is its final report.");
    } else {
      say((status.stopping ? "Stopping" : "Live") + ": updated at " +
        new Date().toLocaleTimeString());
    }
  });
  source.addEventListener("end", function (event) { over(event.data); });
  source.addEventListener("error", function () {
    if (status.final) return;
    // The browser reconnects by itself, and the dashboard then sends the run so far; it
    // gives up when the dashboard refused the stream (it follows 32 browsers at most).
    say(source.readyState === EventSource.CLOSED
      ? "Live: the dashboard refused the stream or is gone: reload to try again"
      : "Live: the connection was lost, reconnecting…", "lost");
  });

  if (stop) {
    var armed = 0;
    stop.addEventListener("click", function () {
      if (Date.now() - armed > 5000) { // a stray click does not end a run
        armed = Date.now();
        stop.textContent = "Click again to stop the run";
        setTimeout(function () { stop.textContent = "Stop the run"; }, 5000);
        return;
      }
      stop.disabled = true;
      fetch(live.stop, { method: "POST", headers: { "X-Molotov-Token": live.token } })
        .then(function (response) {
          return response.text().then(function (text) {
            status.stopping = response.ok;
            say(text, response.ok ? "" : "lost");
          });
        })
        .catch(function () {
          stop.disabled = false;
          say("The Stop request failed: is the dashboard still there?", "lost");
        });
    });
  }
})();
