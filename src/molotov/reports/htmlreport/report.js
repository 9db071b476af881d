/* molotov's HTML report: draws the charts of the data block with uPlot, sorts the tables.
 * Colours come from the page's CSS variables, so the charts follow light and dark mode; they
 * are redrawn when the scheme changes and, light and at the paper's width, around printing.
 * A dashboard's page (live.js) hands it newer parts of the same page as the run goes on:
 * window.molotovReport.show(body, data) draws them as the page drew its own. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("molotov-data").textContent);
  var charts = [];
  window.molotovCharts = charts; // the uPlot instances, in page order (for scripts and tests)
  var HEIGHT = 230;
  // Time-axis steps: whole seconds at least (a row is one second), up to days.
  var SECONDS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
    21600, 43200, 86400, 172800, 604800];

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function palette() {
    var out = [];
    for (var i = 1; i <= 8; i++) out.push(cssVar("--c" + i));
    return out;
  }

  function withAlpha(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function trim(text) {
    return text.indexOf(".") < 0 ? text : text.replace(/\.?0+$/, "");
  }

  function fmtNumber(v) {
    if (v == null) return "—";
    var a = Math.abs(v);
    if (a >= 1e6) return trim((v / 1e6).toFixed(2)) + "M";
    if (a >= 1e4) return trim((v / 1e3).toFixed(1)) + "k";
    if (a >= 100) return v.toFixed(0);
    return trim(v.toFixed(2));
  }

  function fmtMs(v) {
    if (v == null) return "—";
    if (v === 0) return "0";
    if (v < 1) return trim((v * 1000).toFixed(0)) + "µs";
    if (v < 1000) return trim(v.toFixed(v < 10 ? 2 : 1)) + "ms";
    return trim((v / 1000).toFixed(2)) + "s";
  }

  function fmt(v, unit) {
    if (v == null) return "—";
    return unit === "ms" ? fmtMs(v) : fmtNumber(v) + unit;
  }

  function axis(format) {
    var line = { stroke: cssVar("--grid"), width: 1 };
    return {
      stroke: cssVar("--fg"),
      grid: line,
      ticks: line,
      size: 60,
      // A log axis passes null for the splits it leaves unlabelled.
      values: format && function (u, splits) {
        return splits.map(function (v) { return v == null ? "" : format(v); });
      },
    };
  }

  function fromZero(u, min, max) {
    return [0, max > 0 ? max * 1.08 : 1];
  }

  // A log y range over the points before x = tail (the run's end: the second of the stop and
  // the drain after it, see charts.py), whose stalls would flatten the rest of the run; they
  // are still drawn, clipped at the top, after a dashed line at the tail (spec.tail.label).
  function logRange(tail) {
    return function (u, min, max) {
      var x = u.data[0];
      var low = Infinity;
      var high = -Infinity;
      u.data.slice(1).forEach(function (column) {
        column.forEach(function (v, i) {
          if (v == null || (tail != null && x[i] >= tail)) return;
          low = Math.min(low, v);
          high = Math.max(high, v);
        });
      });
      if (high < low) return uPlot.rangeLog(min, max, 10, true); // only the end has values
      return uPlot.rangeLog(low, high, 10, true);
    };
  }

  // Series with an x of their own (gauges, drawn when they were read): one x column, the
  // union, and each series undefined where it has no point, which uPlot draws through (a
  // null stays a gap).
  function columnsOf(spec) {
    var own = spec.series.map(function (s) { return s.x || data.t; });
    if (own.every(function (x) { return x === data.t; })) {
      return [data.t].concat(spec.series.map(function (s) { return s.values; }));
    }
    var at = own.map(function () { return new Map(); });
    var union = new Set();
    spec.series.forEach(function (s, j) {
      own[j].forEach(function (x, i) {
        if (x == null) return;
        union.add(x);
        at[j].set(x, s.values[i]);
      });
    });
    var xs = Array.from(union).sort(function (a, b) { return a - b; });
    return [xs].concat(at.map(function (values) {
      return xs.map(function (x) { return values.has(x) ? values.get(x) : undefined; });
    }));
  }

  function timeChart(spec, el, width) {
    var colors = palette();
    var opts = {
      width: width,
      height: HEIGHT,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      // spec.log: a log y axis (latency: slow seconds next to fast ones).
      scales: {
        x: { time: true },
        y: spec.log ? { distr: 3, range: logRange(spec.tail && spec.tail.x) } : { range: fromZero },
      },
      series: [{ label: "UTC" }].concat(spec.series.map(function (s, i) {
        return {
          label: s.label,
          stroke: colors[i % colors.length],
          width: 1.5,
          spanGaps: false,
          value: function (u, v) { return fmt(v, spec.unit); },
        };
      })),
      axes: [
        Object.assign(axis(null), { incrs: SECONDS }),
        axis(function (v) { return fmt(v, spec.unit === "ms" ? "ms" : ""); }),
      ],
    };
    if (spec.tail) opts.hooks = { draw: [function (u) { drawTail(u, spec.tail); }] };
    return new uPlot(opts, columnsOf(spec), el);
  }

  // Dashed vertical lines at x values (marks: [{x, label}]), labelled at the top; a label
  // that would leave the plot goes on the line's left.
  function drawMarks(u, marks) {
    var ctx = u.ctx;
    var ratio = window.devicePixelRatio || 1;
    var top = u.bbox.top;
    var bottom = top + u.bbox.height;
    var right = u.bbox.left + u.bbox.width;
    ctx.save();
    var fg = cssVar("--fg");
    ctx.strokeStyle = fg;
    ctx.lineWidth = ratio;
    ctx.setLineDash([4 * ratio, 3 * ratio]);
    ctx.font = 11 * ratio + "px system-ui, sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    marks.forEach(function (mark, i) {
      var x = Math.round(u.valToPos(mark.x, "x", true));
      if (mark.line !== false) {
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, bottom);
        ctx.stroke();
      }
      ctx.fillStyle = mark.color || fg;
      var width = ctx.measureText(mark.label).width;
      var left = x + 3 * ratio + width > right ? x - 3 * ratio - width : x + 3 * ratio;
      ctx.fillText(mark.label, left, top + (12 + 12 * (mark.row == null ? i : mark.row)) * ratio);
    });
    ctx.restore();
  }

  // The run's end (spec.tail: its x and label): a dashed line where it begins (none when the
  // whole chart is the end), and at the top, for each of its points above the y range, the
  // highest value there (an arrow, in its series' colour): a stall is clipped, never hidden.
  function drawTail(u, tail) {
    var colors = palette();
    var x = u.data[0];
    var marks = x[0] < tail.x ? [{ x: tail.x, label: tail.label, row: 0 }] : [];
    x.forEach(function (at, i) {
      if (at < tail.x) return;
      var top = null;
      for (var s = 1; s < u.data.length; s++) {
        var v = u.data[s][i];
        if (v != null && v > u.scales.y.max && (top == null || v >= top.v)) top = { v: v, s: s };
      }
      if (top) {
        marks.push({
          x: at, label: "\u25b2 " + fmtMs(top.v), row: 1, line: false, color: colors[(top.s - 1) % 8],
        });
      }
    });
    drawMarks(u, marks);
  }

  function distributionChart(spec, el, width) {
    var color = palette()[0];
    var opts = {
      width: width,
      height: HEIGHT,
      scales: {
        x: { time: false, distr: 3 },
        y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.15 : 1]; } },
      },
      series: [
        { label: "from", value: function (u, v) { return fmtMs(v); } },
        {
          label: "% of " + spec.what,
          stroke: color,
          fill: withAlpha(color, 0.25),
          width: 1.5,
          paths: uPlot.paths.stepped({ align: 1 }),
          points: { show: false },
          value: function (u, v) { return v == null ? "—" : v.toFixed(2) + "%"; },
        },
      ],
      axes: [axis(fmtMs), axis(function (v) { return trim(v.toFixed(1)) + "%"; })],
      hooks: {
        draw: [function (u) {
          drawMarks(u, spec.marks.filter(function (m) { return m.ms > 0; }).map(function (m) {
            return { x: m.ms, label: m.label };
          }));
        }],
      },
    };
    return new uPlot(opts, [spec.x, spec.y], el);
  }

  var specs = {};

  function setData(value) {
    data = value;
    specs = {};
    data.requests.forEach(function (c) { specs[c.id] = [timeChart, c]; });
    data.charts.forEach(function (c) { specs[c.id] = [timeChart, c]; });
    data.distributions.forEach(function (c) { specs[c.id] = [distributionChart, c]; });
  }

  function build() {
    while (charts.length) charts.pop().destroy();
    document.querySelectorAll("figure.chart").forEach(function (figure) {
      var entry = specs[figure.dataset.chart];
      var plot = figure.querySelector(".plot");
      plot.textContent = "";
      var chart = entry[0](entry[1], plot, Math.max(200, plot.clientWidth));
      chart.root.dataset.chart = figure.dataset.chart;
      charts.push(chart);
    });
  }

  function resize() {
    charts.forEach(function (chart) {
      var width = Math.max(200, chart.root.parentNode.clientWidth);
      if (width !== chart.width) chart.setSize({ width: width, height: HEIGHT });
    });
  }

  var pending = 0;
  window.addEventListener("resize", function () {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(resize);
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", build);
  window.addEventListener("beforeprint", function () {
    document.documentElement.classList.add("printing");
    build();
  });
  window.addEventListener("afterprint", function () {
    document.documentElement.classList.remove("printing");
    build();
  });

  function sortKey(cell, numeric) {
    var value = cell.dataset.value;
    if (numeric) return value === undefined || value === "" ? -Infinity : Number(value);
    return cell.textContent.trim().toLowerCase();
  }

  // The order a reader chose for each table (by its class), kept when the page is updated.
  var chosen = {};

  function sortBy(table, column, ascending) {
    var headers = table.querySelectorAll("thead th");
    var numeric = headers[column].classList.contains("num");
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    headers[column].setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = sortKey(a.cells[column], numeric);
      var y = sortKey(b.cells[column], numeric);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function sortable(root) {
    root.querySelectorAll("table.sortable").forEach(function (table) {
      var headers = table.querySelectorAll("thead th");
      headers.forEach(function (th, column) {
        function sort() {
          var ascending = th.getAttribute("aria-sort") !== "ascending";
          chosen[table.className] = { column: column, ascending: ascending };
          sortBy(table, column, ascending);
        }
        th.tabIndex = 0;
        th.title = "Sort by " + th.textContent;
        th.addEventListener("click", sort);
        th.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
        });
      });
      var order = chosen[table.className];
      if (order) sortBy(table, order.column, order.ascending);
    });
  }

  // Newer parts of this page (a dashboard's, see live.js): the <main>'s HTML and the data
  // block, drawn as the page's own; the reader's table orders and open <details> stay.
  function show(body, value) {
    var main = document.querySelector("main");
    var open = {};
    main.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
    main.innerHTML = body;
    main.querySelectorAll("details[id]").forEach(function (d) {
      if (d.id in open) d.open = open[d.id];
    });
    setData(value);
    sortable(main);
    build();
  }

  window.molotovReport = { show: show };
  setData(data);
  sortable(document);
  build();
})();
