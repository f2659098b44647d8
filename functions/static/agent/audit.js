// The audit log for admins (#/audit?from=&to=&actor=&route=&method=&target=): who changed
// what, from where, newest first (GET /api/audit), a page at a time ("Older entries"),
// and the same filters as a CSV download (GET /api/audit.csv). The filters live in the
// hash, so a view can be bookmarked. Text goes in as text nodes only (dom.js).
import {api, showProblem} from "./api.js";
import {clear, h, when} from "./dom.js";

const FILTERS = ["from", "to", "actor", "route", "method", "target"];
const METHODS = ["", "POST", "PUT", "PATCH", "DELETE", "GET"];

function filtersOf(params) {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = (params.get(name) || "").trim();
    if (value) query.set(name, value);
  }
  return query;
}

function cell(text, attrs = {}) {
  return h("td", attrs, text === null || text === undefined || text === "" ? "—" : String(text));
}

function who(actor) {
  const label = actor.kind === "apikey" ? `API key ${actor.name || actor.id}` : (actor.name || actor.id);
  return h("td", {}, label, h("div", {class: "muted"},
    actor.kind === "apikey" ? `${actor.id} · ${actor.roles.join(", ")}` : `${actor.id} · ${actor.roles.join(", ") || "no role"}`));
}

function target(entry) {
  const parts = [];
  if (entry.ticket) parts.push(`ticket ${entry.ticket}`);
  if (entry.target && entry.target !== entry.ticket) parts.push(entry.target);
  for (const [key, value] of Object.entries(entry.params || {})) {
    if (key !== "number" && key !== "id") parts.push(`${key}: ${value}`);
  }
  return cell(parts.join(" · "));
}

function row(entry) {
  const failed = entry.status === null || entry.status >= 400;
  return h("tr", {class: failed ? "breached" : null, dataset: {entry: entry.id}},
    cell(when(entry.at), {title: entry.at}), who(entry.actor),
    h("td", {}, h("code", {}, `${entry.method} ${entry.route}`)), target(entry),
    cell(entry.status === null ? "not recorded" : entry.status), cell(entry.summary),
    cell(entry.address));
}

function filterForm(query) {
  const field = (name, label, attrs = {}) => h("div", {},
    h("label", {for: `audit-${name}`}, label),
    h("input", {id: `audit-${name}`, name, value: query.get(name) || "", ...attrs}));
  const method = h("select", {id: "audit-method", name: "method"},
    METHODS.map((m) => h("option", {value: m, selected: (query.get("method") || "") === m}, m || "any")));
  const form = h("form", {class: "report-range", "aria-label": "Audit filters"},
    field("from", "From", {type: "date"}), field("to", "To", {type: "date"}),
    field("actor", "Who (id)", {type: "text", autocomplete: "off"}),
    field("route", "Route contains", {type: "text", autocomplete: "off"}),
    h("div", {}, h("label", {for: "audit-method"}, "Method"), method),
    field("target", "Ticket or item id", {type: "text", autocomplete: "off"}),
    h("button", {type: "submit"}, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = filtersOf(new FormData(form));
    const hash = `#/audit${next.toString() ? `?${next}` : ""}`;
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hash;
  });
  return form;
}

export async function showAudit(main, params, current) {
  const query = filtersOf(params);
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const csv = `/api/audit.csv${query.toString() ? `?${query}` : ""}`;
  const body = h("tbody", {});
  const more = h("button", {type: "button", class: "secondary audit-more", hidden: true}, "Older entries");
  const table = h("table", {class: "list", id: "audit-entries", hidden: true},
    h("caption", {class: "visually-hidden"}, "Audit log entries, newest first"),
    h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Target", "Status", "Summary", "From"]
      .map((t) => h("th", {scope: "col"}, t)))), body);
  const empty = h("p", {hidden: true}, "No entries match.");
  clear(main).append(
    h("h1", {}, "Audit log"),
    h("p", {class: "muted"}, "Every change by an admin or supervisor, every use of an API key and every agent's ",
      "download of a ticket's file: who, when, what and from where. Entries cannot be changed."),
    filterForm(query), error,
    h("p", {}, h("a", {href: csv, download: "", id: "audit-csv"}, "Download as CSV")),
    table, empty, more);
  let continuation = null;
  const load = async () => {
    const page = new URLSearchParams(query);
    page.set("limit", "50");
    if (continuation) page.set("continuation", continuation);
    const {data} = await api(`/api/audit?${page}`);
    if (!current()) return;
    body.append(...data.entries.map(row));
    continuation = data.continuation;
    more.hidden = !continuation;
    empty.hidden = body.children.length > 0;
    table.hidden = !empty.hidden;
  };
  more.addEventListener("click", async () => {
    try {
      await load();
    } catch (err) {
      showProblem(error, err);
    }
  });
  try {
    await load();
  } catch (err) {
    if (current()) showProblem(error, err);
  }
}
