// Queue lists and search results: one table, sortable where the index allows, paged with
// the API's continuation token, rows chosen with j/k and opened with Enter. In a queue,
// tickets are selected for a bulk action (bulk.js) by their checkboxes, a shift-click for
// a range, the header's box for the whole page, or x on the row in focus.
import {api, showProblem} from "./api.js";
import {bulkBar} from "./bulk.js";
import {age, countdown, h, when} from "./dom.js";
import {directory, me} from "./state.js";

export const QUEUES = {
  unassigned: {title: "Unassigned", query: {assignee: "none", active: "true"}, sort: "created"},
  mine: {title: "Mine", query: {assignee: "me", active: "true"}, sort: "due"},
  teams: {title: "My teams", query: {active: "true"}, sort: "due"},
  pending: {title: "Pending on requester", query: {status: "pending"}, sort: "updated"},
  escalated: {title: "Escalated", query: {status: "escalated"}, sort: "due"},
  overdue: {title: "Overdue", query: {overdue: "true", active: "true"}, sort: "due", fixed: true},
  resolved: {title: "Resolved", query: {status: "resolved"}, sort: "updated"},
};
const PAGE_SIZE = 50;
const SORTS = {created: "ascending", updated: "descending", due: "ascending"};

let rows = [];
let selected = -1;
let firstRender = true;
let picks = null;  // the shown list's selection for bulk actions: {boxes, items, last, changed}

export async function showQueue(main, name, params, current) {
  const queue = QUEUES[name];
  if (!queue) {
    location.hash = "#/queue/unassigned";
    return;
  }
  const sort = queue.fixed ? queue.sort : (SORTS[params.get("sort")] ? params.get("sort") : queue.sort);
  const query = {...queue.query, sort, limit: String(PAGE_SIZE)};
  const heading = h("h1", {}, queue.title);
  const tools = h("div", {class: "list-tools"});
  if (name === "teams") {
    const record = await me.load();
    const teams = record ? record.teams : [];
    if (!current()) return;
    if (!teams.length) {
      main.replaceChildren(heading, h("p", {class: "info"},
        "You belong to no team yet. An administrator adds you to teams in the directory."));
      return;
    }
    const team = teams.includes(params.get("team")) ? params.get("team") : teams[0];
    query.team = team;
    if (teams.length > 1) {
      const picker = h("select", {id: "team-picker"},
        teams.map((t) => h("option", {value: t, selected: t === team}, t)));
      picker.addEventListener("change", () => {
        location.hash = `#/queue/teams?team=${encodeURIComponent(picker.value)}&sort=${sort}`;
      });
      tools.append(h("label", {for: "team-picker"}, "Team"), picker);
    } else {
      tools.append(h("p", {class: "muted"}, `Team: ${team}`));
    }
  }
  // Narrowed to a category, and to values of its choice fields (field.<id>), from the
  // address, so a narrowed queue can be bookmarked and shared.
  const narrow = new URLSearchParams();
  for (const [key, value] of params) {
    if ((key === "category" || /^field\.[a-z][a-z0-9_]{0,39}$/.test(key)) && value) narrow.set(key, value);
  }
  for (const [key, value] of narrow) query[key] = value;
  const go = (changes) => {
    const next = new URLSearchParams();
    if (name === "teams" && query.team) next.set("team", query.team);
    next.set("sort", sort);
    for (const [key, value] of Object.entries({...Object.fromEntries(narrow), ...changes})) {
      if (value) next.set(key, value);
    }
    location.hash = `#/queue/${name}?${next}`;
  };
  const categories = await directory("categories").catch(() => []);
  if (!current()) return;
  const chosen = categories.find((c) => c.id === narrow.get("category"));
  const categoryPicker = h("select", {id: "category-filter"}, h("option", {value: ""}, "Any category"),
    categories.map((c) => h("option", {value: c.id, selected: c === chosen}, c.name)));
  categoryPicker.addEventListener("change", () => go({category: categoryPicker.value,
    ...Object.fromEntries([...narrow.keys()].filter((k) => k.startsWith("field.")).map((k) => [k, ""]))}));
  tools.append(h("label", {for: "category-filter"}, "Category"), categoryPicker);
  for (const def of (chosen?.fields || []).filter((f) => f.type === "choice" || f.type === "multi-choice")) {
    const key = `field.${def.id}`;
    const select = h("select", {id: `filter-${def.id}`}, h("option", {value: ""}, "Any"),
      def.choices.map((c) => h("option", {value: c, selected: narrow.get(key) === c}, c)));
    select.addEventListener("change", () => go({[key]: select.value}));
    tools.append(h("label", {for: `filter-${def.id}`}, def.label), select);
  }
  const tokens = [null];  // the continuation token of each page shown so far
  const holder = h("div", {});
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  let shownIndex = 0;
  const bar = bulkBar({reload: () => load(shownIndex)});
  main.replaceChildren(heading, tools, error, bar.el, bar.result, holder);

  const load = async (index) => {
    const search = new URLSearchParams(query);
    if (tokens[index]) search.set("continuation", tokens[index]);
    let page;
    try {
      ({data: page} = await api(`/api/tickets?${search}`));
    } catch (err) {
      if (current()) showProblem(error, err);
      return;
    }
    if (!current()) return;
    shownIndex = index;
    tokens[index + 1] = page.continuation;
    const sorter = queue.fixed ? null : (by) => {
      const next = new URLSearchParams(narrow);
      if (name === "teams") next.set("team", query.team);
      next.set("sort", by);
      location.hash = `#/queue/${name}?${next}`;
    };
    const pager = h("div", {class: "pager"});
    const prev = h("button", {type: "button", class: "secondary", disabled: index === 0}, "Previous");
    const next = h("button", {type: "button", class: "secondary", disabled: !page.continuation}, "Next");
    prev.addEventListener("click", () => load(index - 1));
    next.addEventListener("click", () => load(index + 1));
    pager.append(prev, h("span", {class: "muted"}, `Page ${index + 1}`), next);
    holder.replaceChildren(table(page.items, {sort, sorter, caption: queue.title,
                                              onSelect: bar.update}), pager);
    bar.update([]);
    if (!page.items.length) {
      holder.prepend(h("p", {class: "info"}, "No tickets here."));
    }
  };
  await load(0);
}

export async function showSearch(main, q, current) {
  const heading = h("h1", {}, `Search: ${q}`);
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  main.replaceChildren(heading, error, h("p", {class: "muted"}, "Searching…"));
  let result;
  try {
    ({data: result} = await api(`/api/search?q=${encodeURIComponent(q)}`));
  } catch (err) {
    if (!current()) return;
    main.replaceChildren(heading, error);
    showProblem(error, err);
    return;
  }
  if (!current()) return;
  if (result.kind === "number" && result.items.length === 1) {
    location.replace(`#/ticket/${result.items[0].number}`);
    return;
  }
  const what = {number: "Ticket number", email: "Tickets of this requester",
                words: "Tickets whose subject, requester or description has these words"}[result.kind];
  const parts = [heading, h("p", {class: "muted"}, what),
    result.items.length ? table(result.items, {caption: `Search results for ${q}`})
                        : h("p", {class: "info"}, "No ticket matches.")];
  if (result.truncated) parts.push(h("p", {class: "muted"}, "Showing the first matches; narrow the search to see others."));
  main.replaceChildren(...parts);
}

function sortHeader(label, by, {sort, sorter}, cls) {
  const th = h("th", {scope: "col", class: cls});
  if (!sorter) {
    th.append(label);
    return th;
  }
  if (sort === by) th.setAttribute("aria-sort", SORTS[by]);
  const button = h("button", {type: "button", title: `Sort by ${by}`}, label, sort === by ? (SORTS[by] === "ascending" ? " ▲" : " ▼") : "");
  button.addEventListener("click", () => sorter(by));
  th.append(button);
  return th;
}

/** The list of tickets. Every value is set as text. */
export function table(items, options = {}) {
  const now = Date.now();
  const pick = options.onSelect ? {boxes: [], items, last: -1, all: null} : null;
  const head = h("tr", {},
    pick ? h("th", {scope: "col", class: "pick"}, pick.all = h("input", {
      type: "checkbox", id: "pick-all", "aria-label": "Select all tickets on this page"})) : null,
    h("th", {scope: "col"}, "Number"),
    h("th", {scope: "col"}, "Subject"),
    h("th", {scope: "col"}, "Priority"),
    sortHeader("SLA due", "due", options),
    h("th", {scope: "col", class: "wide"}, "Requester"),
    h("th", {scope: "col", class: "wide"}, "Channel"),
    h("th", {scope: "col", class: "wide"}, "Status"),
    sortHeader("Updated", "updated", options, "wide"),
    sortHeader("Age", "created", options),
  );
  const body = h("tbody", {});
  rows = [];
  selected = -1;
  picks = pick;
  if (pick) {
    pick.changed = () => {
      const chosen = pick.boxes.filter((box) => box.checked).length;
      pick.all.checked = chosen > 0 && chosen === pick.boxes.length;
      pick.all.indeterminate = chosen > 0 && chosen < pick.boxes.length;
      pick.boxes.forEach((box, i) => rows[i]?.classList.toggle("picked", box.checked));
      options.onSelect(items.filter((_, i) => pick.boxes[i].checked));
    };
    pick.all.addEventListener("change", () => {
      for (const box of pick.boxes) box.checked = pick.all.checked;
      pick.last = -1;
      pick.changed();
    });
  }
  for (const [index, item] of items.entries()) {
    const due = h("span", {class: "countdown", dataset: {due: item.due_at || ""}});
    countdown(due, item.due_at, now);
    const link = h("a", {href: `#/ticket/${item.number}`}, item.number);
    const tr = h("tr", {dataset: {number: item.number}},
      pick ? pickCell(pick, index, item) : null,
      h("td", {}, link),
      h("td", {class: "subject"}, item.subject),
      h("td", {}, h("span", {class: `badge ${item.priority}`}, item.priority)),
      h("td", {}, due),
      h("td", {class: "wide"}, item.requester_name, h("br", {}), h("span", {class: "muted"}, item.requester_email)),
      h("td", {class: "wide"}, item.channel),
      h("td", {class: "wide"}, item.status),
      h("td", {class: "wide", title: when(item.updated_at)}, h("span", {dataset: {age: item.updated_at}}, age(item.updated_at, now))),
      h("td", {title: when(item.created_at)}, h("span", {dataset: {age: item.created_at}}, age(item.created_at, now))),
    );
    tr.addEventListener("click", (event) => {
      if (event.target.closest("a, td.pick")) return;
      location.hash = `#/ticket/${item.number}`;
    });
    body.append(tr);
    rows.push(tr);
  }
  const list = h("table", {class: "list"},
    options.caption ? h("caption", {class: "visually-hidden"}, options.caption) : null,
    h("thead", {}, head), body);
  if (firstRender && items.length) {
    firstRender = false;
    requestAnimationFrame(() => performance.mark("queue-rendered"));
  }
  return list;
}

/** A row's checkbox: a click picks it, a shift-click every row from the last one clicked. */
function pickCell(pick, index, item) {
  const box = h("input", {type: "checkbox", class: "pick", "aria-label": `Select ticket ${item.number}`,
                          dataset: {number: item.number}});
  pick.boxes.push(box);
  box.addEventListener("click", (event) => {
    if (event.shiftKey && pick.last >= 0 && pick.last !== index) {
      const [from, to] = [Math.min(pick.last, index), Math.max(pick.last, index)];
      for (let i = from; i <= to; i++) pick.boxes[i].checked = box.checked;
    }
    pick.last = index;
    pick.changed();
  });
  return h("td", {class: "pick"}, box);
}

/** x: select or unselect the row in focus (or the one j/k chose) for a bulk action. */
export function togglePick() {
  if (!picks || !picks.boxes.length || !picks.boxes[0].isConnected) return false;
  const focused = document.activeElement?.closest?.("tbody tr");
  const index = focused ? rows.indexOf(focused) : selected;
  const box = picks.boxes[index];
  if (!box) return false;
  box.checked = !box.checked;
  picks.last = index;
  picks.changed();
  return true;
}

/** j/k: move the selection; the selected row's link takes the focus (Enter opens it). */
export function moveSelection(step) {
  const live = rows.filter((tr) => tr.isConnected);
  if (!live.length) return false;
  rows = live;
  if (selected >= 0 && rows[selected]) rows[selected].classList.remove("selected");
  selected = Math.min(rows.length - 1, Math.max(0, selected + step));
  const tr = rows[selected];
  tr.classList.add("selected");
  tr.querySelector("a").focus();
  tr.scrollIntoView({block: "nearest"});
  return true;
}

export function openSelection() {
  const tr = rows[selected];
  if (!tr || !tr.isConnected) return false;
  location.hash = `#/ticket/${tr.dataset.number}`;
  return true;
}

// Countdowns and ages move on by themselves, every 30 seconds.
setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll(".countdown[data-due]")) {
    if (el.dataset.due) countdown(el, el.dataset.due, now);
  }
  for (const el of document.querySelectorAll("[data-age]")) el.textContent = age(el.dataset.age, now);
}, 30_000);
