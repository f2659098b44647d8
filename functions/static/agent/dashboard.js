// The dashboard: the queue counts for every agent and, for supervisors, the reports of a
// date range (GET /api/reports/summary): totals as cards, charts of volume, backlog,
// response and resolution times, SLA breaches and satisfaction, and the range's tickets
// as CSV. The range and the filter live in the hash (#/dashboard?from=&to=&dimension=&value=),
// so a view can be bookmarked and the back button works.
import {api, showProblem} from "./api.js";
import {chartFigure, chartLibrary, destroyCharts} from "./charts.js";
import {append, clear, countText, h, span} from "./dom.js";
import {directory, me} from "./state.js";

const QUEUE_NAMES = {unassigned: "Unassigned", mine: "Mine", teams: "My teams",
                     pending: "Pending on requester", escalated: "Escalated",
                     overdue: "Overdue", resolved: "Resolved"};
const DEFAULT_DAYS = 30;
const DIMENSIONS = {team: "Team", category: "Category", agent: "Agent", channel: "Channel", priority: "Priority"};
const FIXED_VALUES = {channel: ["web", "email", "chat", "phone", "api"],
                      priority: ["low", "normal", "high", "urgent"]};
const NO_VALUE = "~none";  // the reports' row for tickets without the dimension (no team, ...)

export function canReport() {
  return me.roles.includes("supervisor") || me.roles.includes("admin");
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The range and filter the hash asks for; the last 30 days (UTC, like the reports) by default. */
export function reportQuery(params) {
  const today = new Date();
  const first = new Date(today.getTime() - (DEFAULT_DAYS - 1) * 86_400_000);
  const query = {from: params.get("from") || isoDay(first), to: params.get("to") || isoDay(today)};
  if (DIMENSIONS[params.get("dimension")] && params.get("value")) {
    query.dimension = params.get("dimension");
    query.value = params.get("value");
  }
  return query;
}

function keyLabel(key) {
  return key === NO_VALUE ? "(none)" : key;
}

const hours = (seconds) => (seconds === null || seconds === undefined ? null : Math.round(seconds / 36) / 100);
const duration = (h_) => (h_ === null || h_ === undefined ? "—" : span(h_ * 3600));
const percent = (rate) => (rate === null || rate === undefined ? null : Math.round(rate * 1000) / 10);
const percentText = (p) => (p === null || p === undefined ? "—" : `${p}%`);

export async function showDashboard(main, params, current) {
  destroyCharts();
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  main.replaceChildren(h("h1", {}, "Dashboard"), error, h("p", {class: "muted"}, "Loading…"));
  let data;
  try {
    ({data} = await api("/api/queues/counts?statuses=true"));
  } catch (err) {
    if (current()) showProblem(error, err);
    return;
  }
  if (!current()) return;
  const card = (label, n, href) => h("div", {class: "card"},
    h("div", {class: "value"}, countText(n, data.cap)),
    href ? h("a", {href}, label) : h("span", {}, label));
  const reports = h("section", {"aria-labelledby": "reports-title", id: "reports"});
  append(clear(main), [
    h("h1", {}, "Dashboard"),
    reports,
    h("h2", {}, "Queues now"),
    h("p", {class: "muted"}, "Counts as they are now, each up to ", String(data.cap), "."),
    h("div", {class: "cards"}, Object.entries(QUEUE_NAMES).map(([name, label]) =>
      card(label, data.queues[name] ?? 0, `#/queue/${name}`))),
    h("h2", {}, "By status"),
    h("div", {class: "cards"}, Object.entries(data.statuses || {}).map(([status, n]) =>
      card(status[0].toUpperCase() + status.slice(1), n))),
    Object.keys(data.teams).length ? [h("h2", {}, "My teams (not yet resolved)"),
      h("div", {class: "cards"}, Object.entries(data.teams).map(([team, n]) =>
        card(team, n, `#/queue/teams?team=${encodeURIComponent(team)}`)))] : null]);
  if (!canReport()) {
    reports.append(h("h2", {id: "reports-title"}, "Reports"),
      h("p", {class: "info", id: "reports-need-role"},
        "The reporting charts and the CSV export need the supervisor role. ",
        "Ask an administrator if you need them."));
    return;
  }
  await showReports(reports, reportQuery(params), current);
}

// -- the reports (supervisors) ------------------------------------------------------------

function rangeForm(query, holder) {
  const dimension = h("select", {name: "dimension", id: "report-dimension"},
    h("option", {value: ""}, "All tickets"),
    Object.entries(DIMENSIONS).map(([id, label]) => h("option", {value: id, selected: id === query.dimension}, label)));
  const value = h("select", {name: "value", id: "report-value", disabled: !query.dimension});
  const fillValues = async () => {
    const dim = dimension.value;
    value.replaceChildren();
    value.disabled = !dim;
    if (!dim) return;
    let options = (FIXED_VALUES[dim] || []).map((v) => [v, v]);
    if (!options.length) {
      const kind = {team: "teams", category: "categories", agent: "agents"}[dim];
      try {
        options = (await directory(kind)).map((item) => [item.id, item.name]);
      } catch (err) {
        options = [];
      }
    }
    if (dim === "team" || dim === "agent") options.push([NO_VALUE, dim === "team" ? "(no team)" : "(unassigned)"]);
    if (query.value && dim === query.dimension && !options.some(([v]) => v === query.value)) {
      options.unshift([query.value, query.value]);
    }
    for (const [v, label] of options) {
      value.append(h("option", {value: v, selected: dim === query.dimension && v === query.value}, label));
    }
  };
  dimension.addEventListener("change", fillValues);
  const form = h("form", {class: "report-range", "aria-label": "Report range"},
    h("div", {}, h("label", {for: "report-from"}, "From"),
      h("input", {type: "date", id: "report-from", name: "from", value: query.from, required: true})),
    h("div", {}, h("label", {for: "report-to"}, "To"),
      h("input", {type: "date", id: "report-to", name: "to", value: query.to, required: true})),
    h("div", {}, h("label", {for: "report-dimension"}, "Filter"), dimension),
    h("div", {}, h("label", {for: "report-value"}, "Value"), value),
    h("button", {type: "submit"}, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams({from: form.elements.from.value, to: form.elements.to.value});
    if (dimension.value && value.value) {
      next.set("dimension", dimension.value);
      next.set("value", value.value);
    }
    const hash = `#/dashboard?${next}`;
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hash;
  });
  fillValues();
  holder.append(form);
}

function cards(totals, backlog) {
  const open = backlog.reduce((n, b) => n + b.open, 0);
  const fr = totals.first_response, res = totals.resolution;
  const items = [
    ["Created", String(totals.created), "created"],
    ["Resolved", String(totals.resolved), "resolved"],
    ["Still open (created in range)", String(open), "open"],
    ["Reopened", `${totals.reopened}${totals.reopen_rate === null ? "" : ` (${percentText(percent(totals.reopen_rate))})`}`, "reopened"],
    ["First response, median", duration(hours(fr.median_seconds)), "frt"],
    ["Resolution, median", duration(hours(res.median_seconds)), "res"],
    ["SLA breach rate", percentText(percent(totals.sla.breach_rate)), "breach"],
    ["Satisfied", totals.satisfaction.rate === null ? "—" :
      `${percentText(percent(totals.satisfaction.rate))} of ${totals.satisfaction.yes + totals.satisfaction.no}`, "csat"],
  ];
  return h("div", {class: "cards", id: "report-totals"}, items.map(([label, value, key]) =>
    h("div", {class: "card", dataset: {total: key}}, h("div", {class: "value"}, value), h("span", {}, label))));
}

async function showReports(holder, query, current) {
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const body = h("div", {"aria-busy": "true"}, h("p", {class: "muted"}, "Loading the reports…"));
  holder.append(h("h2", {id: "reports-title"}, "Reports"));
  rangeForm(query, holder);
  const csv = new URLSearchParams({from: query.from, to: query.to});
  holder.append(error,
    h("p", {}, h("a", {class: "button secondary", id: "download-csv", href: `/api/reports/tickets.csv?${csv}`,
                       download: `tickets-${query.from}-${query.to}.csv`}, "Download CSV"),
      h("span", {class: "muted"}, " Every ticket created in the range, one line each.")),
    body);
  const byDay = new URLSearchParams({from: query.from, to: query.to, group: "day"});
  if (query.dimension) {
    byDay.set("dimension", query.dimension);
    byDay.set("value", query.value);
  }
  let day, team, Chart;
  try {
    [{data: day}, {data: team}, Chart] = await Promise.all([
      api(`/api/reports/summary?${byDay}`),
      api(`/api/reports/summary?${new URLSearchParams({from: query.from, to: query.to, group: "team"})}`),
      chartLibrary()]);
  } catch (err) {
    if (current()) {
      showProblem(error, err);
      body.replaceChildren();
      body.removeAttribute("aria-busy");
    }
    return;
  }
  if (!current()) return;
  // A filter on teams narrows the by-team charts to that team; another filter cannot apply
  // to them (the API groups a filtered report by day), and the page says so.
  let teams = team.groups;
  let teamNote = null;
  if (query.dimension === "team") teams = teams.filter((g) => g.key === query.value);
  else if (query.dimension) teamNote = h("p", {class: "muted"}, `The charts by team count every ticket: the filter (${DIMENSIONS[query.dimension]} ${keyLabel(query.value)}) applies to the totals and the daily figures.`);
  const teamLabels = teams.map((g) => keyLabel(g.key));
  const filter = query.dimension ? ` (${DIMENSIONS[query.dimension]}: ${keyLabel(query.value)})` : "";

  const charts = [
    chartFigure({id: "volume", type: "line", title: `Created and resolved per day${filter}`,
                 labelHeading: "Day", labels: day.created_resolved_per_day.map((d) => d.day), integer: true,
                 tick: (day_) => day_.slice(5),
                 axis: "Tickets",
                 series: [{label: "Created", values: day.created_resolved_per_day.map((d) => d.created)},
                          {label: "Resolved", values: day.created_resolved_per_day.map((d) => d.resolved)}]}),
    chartFigure({id: "backlog", type: "bar", title: `Open tickets by age${filter}`, labelHeading: "Age",
                 labels: day.backlog_by_age.map((b) => b.age), integer: true, axis: "Open tickets",
                 series: [{label: "Open", values: day.backlog_by_age.map((b) => b.open)}]}),
    chartFigure({id: "times", type: "bar", title: "First response and resolution by team (hours)",
                 labelHeading: "Team", labels: teamLabels, axis: "Hours", format: duration,
                 series: [
                   {label: "First response, median", values: teams.map((g) => hours(g.first_response.median_seconds))},
                   {label: "First response, 90th percentile", values: teams.map((g) => hours(g.first_response.p90_seconds))},
                   {label: "Resolution, median", values: teams.map((g) => hours(g.resolution.median_seconds))},
                   {label: "Resolution, 90th percentile", values: teams.map((g) => hours(g.resolution.p90_seconds))}]}),
    chartFigure({id: "breaches", type: "bar", title: "SLA breach rate by team (% of resolved tickets with an SLA)",
                 labelHeading: "Team", labels: teamLabels, axis: "%", percent: true, format: percentText,
                 series: [{label: "Breach rate", values: teams.map((g) => percent(g.sla.breach_rate))}]}),
    chartFigure({id: "satisfaction", type: "bar", title: "Satisfaction ratings by team", stacked: true,
                 labelHeading: "Team", labels: teamLabels, integer: true, axis: "Ratings",
                 series: [{label: "Solved", values: teams.map((g) => g.satisfaction.yes)},
                          {label: "Not solved", values: teams.map((g) => g.satisfaction.no)}]}),
  ];
  append(clear(body), [
    cards(day.totals, day.backlog_by_age),
    teamNote,
    h("div", {class: "charts"}, charts.map((c) => c.figure))]);
  body.removeAttribute("aria-busy");
  for (const c of charts) c.draw(Chart);
}
