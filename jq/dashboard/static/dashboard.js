/* jq dashboard: live refresh in place, confirmations before actions, charts.
   Every page works without this file; it only adds to them. No data is ever inserted as HTML
   except the live parts the server rendered (and escaped) itself. */
(function () {
  "use strict";
  var body = document.body;
  var base = body.getAttribute("data-base") || "";
  var poll = parseFloat(body.getAttribute("data-poll") || "0");
  var live = document.getElementById("live");
  var stateBadge = document.querySelector("[data-live-state]");

  function here() {
    var path = location.pathname;
    if (base && path.indexOf(base) === 0) { path = path.slice(base.length) || "/"; }
    return path + location.search.replace(/([?&])notice=[^&]*(&|$)/, "$1").replace(/[?&]$/, "");
  }

  function checkedIds() {
    var ids = {};
    live.querySelectorAll("input[name=job_id]:checked").forEach(function (box) { ids[box.value] = true; });
    return ids;
  }

  function busy() {
    var active = document.activeElement;
    return active && live.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName) && active.type !== "checkbox";
  }

  function refresh() {
    if (document.visibilityState !== "visible" || busy()) { return; }
    fetch(location.href, { headers: { "X-JQ-Live": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) {
        var keep = checkedIds();
        live.innerHTML = answer.live;
        live.querySelectorAll("input[name=job_id]").forEach(function (box) { box.checked = !!keep[box.value]; });
        if (stateBadge) {
          stateBadge.textContent = "live · " + new Date().toLocaleTimeString();
          stateBadge.classList.remove("offline");
        }
        document.dispatchEvent(new CustomEvent("jq:refreshed"));
      })
      .catch(function (error) {
        if (stateBadge) {
          stateBadge.textContent = "not updating (" + error.message + ")";
          stateBadge.classList.add("offline");
        }
      });
  }

  if (poll > 0 && live) { setInterval(refresh, poll * 1000); }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-jump")) {
      event.preventDefault();
      var id = form.querySelector("input[name=id]").value.trim();
      if (id) { location.href = base + "/jobs/" + encodeURIComponent(id); }
      return;
    }
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && message.indexOf("%n") >= 0) {
      var count = form.querySelectorAll("input[name=job_id]:checked").length;
      if (count === 0) {
        event.preventDefault();
        window.alert("Select one job or more first.");
        return;
      }
      message = message.replace("%n", String(count));
    }
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }
    form.querySelectorAll("input[data-next]").forEach(function (input) { input.value = here(); });
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.hasAttribute && box.hasAttribute("data-select-all")) {
      box.form.querySelectorAll("input[name=job_id]").forEach(function (other) { other.checked = box.checked; });
    }
  });

  // -- charts: inline SVG, drawn from /api/history ------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#2f6fde", "#d64545", "#2e9e5b", "#b7791f"];

  function node(name, attributes, parent) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, attributes[key]); });
    if (parent) { parent.appendChild(element); }
    return element;
  }

  function lineChart(title, series) {
    var width = 560, height = 180, left = 48, bottom = 22, top = 10;
    var figure = document.createElement("figure");
    figure.className = "chart";
    var caption = document.createElement("figcaption");
    caption.textContent = title;
    figure.appendChild(caption);
    var svg = node("svg", { viewBox: "0 0 " + width + " " + height, role: "img" }, figure);
    node("title", {}, svg).textContent = title;
    var xs = [], ys = [0];
    series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
    if (!xs.length) {
      var empty = node("text", { x: width / 2, y: height / 2, "text-anchor": "middle", "class": "axis" }, svg);
      empty.textContent = "no data yet";
      return figure;
    }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y1 = Math.max.apply(null, ys) || 1;
    function sx(x) { return left + (x1 === x0 ? 0 : (x - x0) / (x1 - x0)) * (width - left - 8); }
    function sy(y) { return height - bottom - (y / y1) * (height - bottom - top); }
    node("line", { x1: left, y1: sy(0), x2: width - 8, y2: sy(0), "class": "axis-line" }, svg);
    [0, y1 / 2, y1].forEach(function (v) {
      node("text", { x: left - 6, y: sy(v) + 4, "text-anchor": "end", "class": "axis" }, svg).textContent =
        (Math.round(v * 100) / 100).toString();
    });
    [x0, x1].forEach(function (v, i) {
      node("text", { x: sx(v), y: height - 6, "text-anchor": i ? "end" : "start", "class": "axis" }, svg).textContent =
        new Date(v * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    });
    var legend = document.createElement("div");
    legend.className = "legend";
    series.forEach(function (s, i) {
      var color = COLORS[i % COLORS.length];
      var d = s.points.map(function (p, j) { return (j ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1); }).join(" ");
      node("path", { d: d, fill: "none", stroke: color, "stroke-width": 2, "data-series": s.name }, svg);
      var key = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = color;
      key.appendChild(swatch);
      key.appendChild(document.createTextNode(s.name));
      legend.appendChild(key);
    });
    figure.appendChild(legend);
    return figure;
  }

  function drawCharts() {
    var holder = document.querySelector("[data-chart]");
    if (!holder) { return; }
    var form = document.querySelector("[data-chart-form]");
    var query = form ? new URLSearchParams(new FormData(form)).toString() : "";
    fetch(holder.getAttribute("data-chart") + (query ? "?" + query : ""), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (chart) {
        holder.textContent = "";
        if (chart.error) { holder.textContent = chart.error; return; }
        var byUnit = {};
        (chart.series || []).forEach(function (s) { (byUnit[s.unit || ""] = byUnit[s.unit || ""] || []).push(s); });
        Object.keys(byUnit).forEach(function (unit) { holder.appendChild(lineChart(unit, byUnit[unit])); });
        holder.setAttribute("data-drawn", "1");
      })
      .catch(function (error) { holder.textContent = "cannot read the history: " + error.message; });
  }

  var chartForm = document.querySelector("[data-chart-form]");
  if (chartForm) {
    chartForm.addEventListener("change", drawCharts);
    chartForm.addEventListener("submit", function (event) { event.preventDefault(); drawCharts(); });
  }
  drawCharts();
  if (document.querySelector("[data-chart]")) { setInterval(drawCharts, 60000); }
})();
