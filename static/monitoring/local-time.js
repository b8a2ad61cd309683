// Show every <time datetime="..."> in the viewer's own time zone (the server renders UTC).
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });

  function localise(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (element) {
      var value = element.getAttribute("datetime");
      if (!value) return;
      var moment = new Date(value);
      if (isNaN(moment.getTime())) return;
      element.textContent = format.format(moment);
      element.title = moment.toISOString();
    });
  }

  window.platformLocalTime = { localise: localise, format: format };
  document.addEventListener("DOMContentLoaded", function () {
    localise(document);
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll("[data-local-zone]").forEach(function (element) {
      element.textContent = zone || "your browser's zone";
    });
  });
})();
