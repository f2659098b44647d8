// Charts for the dashboard, drawn by Chart.js (npm `chart.js`, copied into
// /api/static/vendor/ by `make install` and served by the app, so the page's CSP needs no
// other origin). The library is loaded only when a chart is first drawn. Every chart comes
// with its figures as a table, visually hidden, that screen readers and tests read.
import {h} from "./dom.js";

const LIBRARY = "/api/static/vendor/chart.umd.min.js";
// Colours that keep 3:1 against white and stay apart for the common colour blindnesses.
export const COLOURS = ["#0b5cad", "#b35900", "#116329", "#8250df", "#a40e26", "#57606a"];

let loading = null;
const drawn = [];

/** Chart.js, loaded once (a script from our own origin: `script-src 'self'` allows it). */
export function chartLibrary() {
  loading ??= new Promise((resolve, reject) => {
    if (window.Chart) {
      resolve(window.Chart);
      return;
    }
    const script = document.createElement("script");
    script.src = LIBRARY;
    script.addEventListener("load", () => resolve(window.Chart));
    script.addEventListener("error", () => {
      loading = null;
      script.remove();
      reject(new Error("The chart library could not be loaded."));
    });
    document.head.append(script);
  });
  return loading;
}

/** Forget the charts of a page being left (each watches its canvas's size). */
export function destroyCharts() {
  while (drawn.length) drawn.pop().destroy();
}

/**
 * A figure: a caption, a canvas named by it, and a table of the same figures.
 * spec: {id, title, type ("bar" | "line"), labels, series: [{label, values}], format(value),
 *        axis (the value axis's title), tick(label) (a shorter label under the axis),
 *        integer, stacked, percent}
 * Returns {figure, draw(Chart)}: draw once the figure is in the page.
 */
export function chartFigure(spec) {
  const format = spec.format || ((v) => (v === null || v === undefined ? "—" : String(v)));
  const canvas = h("canvas", {id: `chart-${spec.id}`, role: "img",
                              "aria-label": `${spec.title}. The figures are in the table that follows.`});
  const table = h("table", {class: "visually-hidden", dataset: {figures: spec.id}},
    h("caption", {}, spec.title),
    h("thead", {}, h("tr", {}, h("th", {scope: "col"}, spec.labelHeading || ""),
                     spec.series.map((s) => h("th", {scope: "col"}, s.label)))),
    h("tbody", {}, spec.labels.map((label, i) => h("tr", {},
      h("th", {scope: "row"}, label), spec.series.map((s) => h("td", {}, format(s.values[i])))))));
  const figure = h("figure", {class: "chart", dataset: {chart: spec.id}},
    h("figcaption", {}, spec.title),
    h("div", {class: "chart-box"}, canvas),
    table);
  const draw = (Chart) => {
    const chart = new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.series.map((s, i) => ({
          label: s.label, data: s.values, borderColor: COLOURS[i % COLOURS.length],
          backgroundColor: COLOURS[i % COLOURS.length], borderWidth: 2, pointRadius: 2,
          spanGaps: false})),
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: {
          legend: {display: spec.series.length > 1},
          tooltip: {callbacks: {label: (ctx) => `${ctx.dataset.label}: ${format(ctx.raw)}`}},
        },
        scales: {
          x: {stacked: Boolean(spec.stacked), ticks: {
            maxRotation: 0, autoSkip: true, autoSkipPadding: 12,
            callback(value) {
              const label = this.getLabelForValue(value);
              return spec.tick ? spec.tick(label) : label;
            }}},
          y: {stacked: Boolean(spec.stacked), beginAtZero: true, max: spec.percent ? 100 : undefined,
              title: {display: Boolean(spec.axis), text: spec.axis},
              ticks: spec.integer ? {precision: 0} : {}},
        },
      },
    });
    drawn.push(chart);
    return chart;
  };
  return {figure, draw};
}
