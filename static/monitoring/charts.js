// Two small SVG charts, drawn without any library: bars per minute and bars per type.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function element(name, attributes, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clear(container) {
    while (container.firstChild) container.removeChild(container.firstChild);
  }

  // points: [{minute: ISO string, count: n}], oldest first.
  function perMinute(container, points) {
    clear(container);
    var width = 600, height = 160, left = 34, bottom = 20, top = 8;
    var max = Math.max(1, Math.max.apply(null, points.map(function (p) { return p.count; })));
    var svg = element("svg", { viewBox: "0 0 " + width + " " + height, class: "bars", preserveAspectRatio: "none" });
    var plotWidth = width - left - 4, plotHeight = height - bottom - top;
    var step = plotWidth / Math.max(points.length, 1);
    [0, max].forEach(function (value) {
      var y = top + plotHeight - (value / max) * plotHeight;
      svg.appendChild(element("line", { x1: left, x2: width, y1: y, y2: y, class: "grid" }));
      svg.appendChild(element("text", { x: left - 4, y: y + 4, class: "axis", "text-anchor": "end" }, String(value)));
    });
    points.forEach(function (point, index) {
      var barHeight = (point.count / max) * plotHeight;
      var bar = element("rect", {
        x: left + index * step + 1, y: top + plotHeight - barHeight,
        width: Math.max(step - 2, 1), height: barHeight, class: "bar",
      });
      var when = new Date(point.minute);
      bar.appendChild(element("title", {}, when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + ": " + point.count + " events"));
      svg.appendChild(bar);
    });
    if (points.length) {
      [0, points.length - 1].forEach(function (index) {
        var label = new Date(points[index].minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        svg.appendChild(element("text", {
          x: left + index * step + step / 2, y: height - 4, class: "axis",
          "text-anchor": index === 0 ? "start" : "end",
        }, label));
      });
    }
    container.appendChild(svg);
  }

  // rows: [{type, source, count}], most frequent first.
  function byType(container, rows) {
    clear(container);
    if (!rows.length) {
      var empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "No events counted in the last hour.";
      container.appendChild(empty);
      return;
    }
    var rowHeight = 22, width = 600, labelWidth = 230;
    var max = Math.max.apply(null, rows.map(function (r) { return r.count; }));
    var svg = element("svg", { viewBox: "0 0 " + width + " " + rows.length * rowHeight, class: "types" });
    rows.forEach(function (row, index) {
      var y = index * rowHeight;
      var barWidth = Math.max(((width - labelWidth - 50) * row.count) / max, 1);
      svg.appendChild(element("text", { x: labelWidth - 6, y: y + 15, class: "label", "text-anchor": "end" }, row.type));
      svg.appendChild(element("rect", { x: labelWidth, y: y + 3, width: barWidth, height: rowHeight - 6, class: "bar src-" + row.source }));
      svg.appendChild(element("text", { x: labelWidth + barWidth + 4, y: y + 15, class: "value" }, String(row.count)));
    });
    container.appendChild(svg);
  }

  window.platformCharts = { perMinute: perMinute, byType: byType };
})();
