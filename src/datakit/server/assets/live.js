// A running run's page, kept up to date without a reload: every second the changing part of the page is
// fetched again (GET /runs/<id>/live) and swapped in, keeping which steps are open and following the
// end of each running step's log; it stops once the run has ended. No build step, no library.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });
  var box = document.getElementById("live");
  if (!box || box.dataset.active !== "yes") {
    return;
  }
  var ACTIVE = ["queued", "running"];

  function swap(html) {
    var open = {};
    box.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
    box.innerHTML = html;
    box.querySelectorAll("details[id]").forEach(function (d) {
      if (d.id in open) { d.open = open[d.id]; }
    });
    box.querySelectorAll("pre.log.live").forEach(function (pre) { pre.scrollTop = pre.scrollHeight; });
  }

  function tick() {
    fetch(box.dataset.live, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null) { swap(html); }
        var body = box.querySelector(".live-body");
        if (body && ACTIVE.indexOf(body.dataset.status) < 0) {
          box.dataset.active = "no";
          return;
        }
        window.setTimeout(tick, 1000);
      })
      .catch(function () { window.setTimeout(tick, 2000); });
  }
  window.setTimeout(tick, 1000);
})();
