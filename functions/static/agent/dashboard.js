// The dashboard: what the counts endpoint gives today. Charts and trends come with the
// reporting API; until then the page says so.
import {api, showProblem} from "./api.js";
import {countText, h} from "./dom.js";

const QUEUE_NAMES = {unassigned: "Unassigned", mine: "Mine", teams: "My teams",
                     pending: "Pending on requester", escalated: "Escalated",
                     overdue: "Overdue", resolved: "Resolved"};

export async function showDashboard(main, current) {
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
  main.replaceChildren(
    h("h1", {}, "Dashboard"),
    h("p", {class: "info"}, "Counts as they are now, each up to ", String(data.cap),
      ". Charts, trends and CSV export come with the reporting API."),
    h("h2", {}, "Queues"),
    h("div", {class: "cards"}, Object.entries(QUEUE_NAMES).map(([name, label]) =>
      card(label, data.queues[name] ?? 0, `#/queue/${name}`))),
    h("h2", {}, "By status"),
    h("div", {class: "cards"}, Object.entries(data.statuses || {}).map(([status, n]) =>
      card(status[0].toUpperCase() + status.slice(1), n))),
    Object.keys(data.teams).length ? [h("h2", {}, "My teams (not yet resolved)"),
      h("div", {class: "cards"}, Object.entries(data.teams).map(([team, n]) =>
        card(team, n, `#/queue/teams?team=${encodeURIComponent(team)}`)))] : null);
}
