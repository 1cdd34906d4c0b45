/* The office dashboard's charts (Apache ECharts, vendored in static/vendor/echarts with its
 * licence). The numbers come from the page's data-charts attribute, built from the same rows as the tables
 * beside the charts; without this file the tables still say everything. */
(function () {
  "use strict";

  var GREENS = ["#198754", "#20c997", "#0d6efd", "#fd7e14", "#6f42c1"];

  function render(element, spec, name) {
    var twoAxes = spec.series.some(function (s) { return s.yAxisIndex === 1; });
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption({
      color: GREENS,
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: twoAxes ? 48 : 16, top: 40, bottom: 60, containLabel: true },
      xAxis: { type: "category", data: spec.categories,
               axisLabel: { rotate: spec.categories.length > 6 ? 30 : 0, interval: 0 } },
      yAxis: twoAxes
        ? [{ type: "value" }, { type: "value", max: 100, axisLabel: { formatter: "{value}%" } }]
        : [{ type: "value" }],
      series: spec.series
    });
    element.setAttribute("data-gm-rendered", name);
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var block = document.getElementById("gm-chart-data");
    if (!block || !window.echarts) { return; }
    var data = JSON.parse(block.getAttribute("data-charts"));
    document.querySelectorAll("[data-gm-chart]").forEach(function (element) {
      var name = element.getAttribute("data-gm-chart");
      if (data[name]) { render(element, data[name], name); }
    });
  });
})();
