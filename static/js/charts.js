/* Plotly charts: every element with data-figure="<id>" is drawn from the JSON that
 * {{ figure|json_script:"<id>" }} put in the page, on load and after htmx swaps in new
 * content (another report, other filters). No inline script: the page carries only data.
 *
 * Plotly (several MB) is fetched the first time a page has a chart to draw, from the URL
 * in this script tag's data-plotly-src, so pages without a chart and htmx never wait for it.
 */
(function () {
  "use strict";

  const plotlySrc = document.currentScript.dataset.plotlySrc;

  function withPlotly(callback) {
    if (window.Plotly) {
      callback();
      return;
    }
    let script = document.querySelector("script[data-plotly]");
    if (!script) {
      script = document.createElement("script");
      script.src = plotlySrc;
      script.dataset.plotly = "1";
      document.head.appendChild(script);
    }
    script.addEventListener("load", callback);
  }

  function drawCharts(root) {
    const charts = root.querySelectorAll("[data-figure]");
    if (!charts.length) {
      return;
    }
    withPlotly(function () {
      charts.forEach(function (el) {
        const figure = JSON.parse(document.getElementById(el.dataset.figure).textContent);
        window.Plotly.newPlot(el, figure.data, figure.layout, {
          displayModeBar: false,
          responsive: true,
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.detail.elt); });
})();
