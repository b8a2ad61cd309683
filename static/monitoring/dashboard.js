// The live dashboard: events pushed by Server-Sent Events, figures refreshed every 10 s.
(function () {
  "use strict";
  var MAX_ROWS = 50;
  var REFRESH_MS = 10000;
  var root, list, seen = {}, received = 0, status = null;

  function text(tag, className, value) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    node.textContent = value;
    return node;
  }

  function link(href, className, value) {
    var node = text("a", className, value);
    node.href = href;
    return node;
  }

  function setLiveState(label, className) {
    var state = document.getElementById("live-state");
    state.textContent = label;
    state.className = "live-state " + className;
  }

  function addEvent(event) {
    if (seen[event.position]) return;
    seen[event.position] = true;
    received += 1;
    var item = document.createElement("li");
    item.dataset.position = event.position;
    item.dataset.type = event.type;
    item.dataset.correlationId = event.correlation_id;
    var time = text("time", "", event.recorded_at);
    time.setAttribute("datetime", event.recorded_at);
    item.appendChild(time);
    item.appendChild(text("span", "type src-" + event.source, event.type));
    item.appendChild(link(root.dataset.streamUrl + encodeURIComponent(event.stream_id) + "/", "mono stream", event.stream_id));
    item.appendChild(link(root.dataset.correlationUrl + event.correlation_id + "/", "chain", "chain"));
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_ROWS) list.removeChild(list.lastChild);
    window.platformLocalTime.localise(item);
    countInChart(event);
  }

  // Between refreshes, the current minute's bar grows with the live events.
  function countInChart(event) {
    if (!status || !status.per_minute.length) return;
    var minute = new Date(event.recorded_at);
    minute.setSeconds(0, 0);
    var last = status.per_minute[status.per_minute.length - 1];
    if (new Date(last.minute).getTime() === minute.getTime()) last.count += 1;
  }

  function onBatch(message) {
    JSON.parse(message.data).forEach(addEvent);
    document.getElementById("live-count").textContent = String(received);
    document.getElementById("live-empty").hidden = received > 0;
    setLiveState("live", "ok");
    if (status) window.platformCharts.perMinute(document.getElementById("rate-chart"), status.per_minute);
  }

  function connect() {
    var source = new EventSource(root.dataset.liveUrl);
    source.addEventListener("open", function () { setLiveState("live", "ok"); });
    source.addEventListener("events", onBatch);
    source.addEventListener("unavailable", function () { setLiveState("Redis unavailable — retrying", "bad"); });
    source.addEventListener("error", function () {
      // EventSource reconnects by itself (the server ends each stream after a few minutes).
      if (source.readyState !== EventSource.OPEN) setLiveState("reconnecting…", "warn");
    });
  }

  function showHealth(health) {
    Object.keys(health).forEach(function (name) {
      var card = root.querySelector('[data-check="' + name + '"]');
      if (!card) return;
      var check = health[name];
      card.className = "health-card status-" + check.status;
      card.querySelector(".state").textContent = check.status;
      var detail = check.detail || "";
      if (name === "relay" && check.lag !== undefined) detail = check.lag + " behind";
      if (name === "workers") detail = check.count + " responding";
      card.querySelector(".detail").textContent = detail;
    });
  }

  function showSubscribers(rows) {
    rows.forEach(function (row) {
      var line = root.querySelector('tr[data-subscriber="' + CSS.escape(row.name) + '"]');
      if (!line) return;
      line.children[1].textContent = String(row.checkpoint);
      line.querySelector(".lag").textContent = String(row.lag);
      var parked = line.querySelector(".parked");
      var anchor = parked.querySelector("a");
      if (anchor) anchor.textContent = String(row.parked);
      else parked.textContent = String(row.parked);
    });
  }

  function refresh() {
    fetch(root.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        status = data;
        showHealth(data.health);
        showSubscribers(data.subscribers);
        window.platformCharts.perMinute(document.getElementById("rate-chart"), data.per_minute);
        window.platformCharts.byType(document.getElementById("type-chart"), data.by_type);
        var updated = document.getElementById("updated-at");
        updated.setAttribute("datetime", data.generated_at);
        window.platformLocalTime.localise(updated.parentNode);
      })
      .catch(function () { setLiveState("figures unavailable — retrying", "warn"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("dashboard");
    list = document.getElementById("live-events");
    connect();
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
})();
