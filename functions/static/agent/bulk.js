// The bulk toolbar of a queue: one action on the tickets selected on the page, sent as one
// request (POST /api/tickets/bulk) with the time each row was last updated, so that a
// ticket someone changed since the list was loaded is refused, not overwritten. The
// answer is listed ticket by ticket: what was done, and what was refused and why.
import {api, busy, hideProblem, showProblem} from "./api.js";
import {announce, append, assignBody, field, formValue, h} from "./dom.js";
import {directory, refreshCounts} from "./state.js";

const PRIORITIES = ["low", "normal", "high", "urgent"];
const NAMES = {assign: "Assign", change: "Change", note: "Note", resolve: "Resolve", close: "Close"};

/** The toolbar (`el`), the results (`result`, a live region) and `update(items)`, which
 * the list calls with the selected rows whenever the selection changes. */
export function bulkBar({reload}) {
  let chosen = [];
  const count = h("p", {class: "bulk-count", id: "bulk-count"});
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  // Always in the page (empty until the first answer), so that screen readers announce it.
  const result = h("div", {class: "bulk-result", id: "bulk-result", role: "status",
                           "aria-live": "polite"});
  const buttons = h("div", {class: "actions", role: "toolbar", "aria-label": "Act on the selected tickets",
                            "aria-describedby": "bulk-count"});
  const forms = h("div", {});
  const el = h("section", {class: "bulk", "aria-label": "Bulk actions", hidden: true},
               count, buttons, error, forms);

  async function apply(action, body, button) {
    hideProblem(error);
    const numbers = chosen.map((item) => item.number);
    const expected = Object.fromEntries(chosen.map((item) => [item.number, item.updated_at]));
    let outcome;
    try {
      ({data: outcome} = await busy(button, () => api("/api/tickets/bulk", {
        method: "POST", body: {numbers, action, body, expected}})));
    } catch (err) {
      showProblem(error, err);
      return false;
    }
    showResult(result, outcome);
    announce(`${NAMES[action]}: ${outcome.succeeded} of ${outcome.results.length} done`);
    refreshCounts();
    reload();
    return true;
  }

  const panels = {};
  const make = (action, heading, controls, label, collect) => {
    const submit = h("button", {type: "submit"}, label);
    const cancel = h("button", {type: "button", class: "secondary"}, "Cancel");
    const form = h("form", {class: "composer", hidden: true, "aria-label": heading, dataset: {bulk: action}},
                   h("h2", {}, heading), controls, h("div", {class: "actions"}, submit, cancel));
    cancel.addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let body;
      try {
        body = collect(form);
      } catch (err) {
        showProblem(error, err);
        return;
      }
      if (await apply(action, body, submit)) {
        form.reset();
        form.hidden = true;
      }
    });
    panels[action] = form;
    forms.append(form);
  };
  const keep = () => h("option", {value: ""}, "(keep)");

  const agents = h("select", {name: "agent"}, keep());
  const teams = h("select", {name: "team"}, keep());
  make("assign", "Assign the selected tickets", [field("bulk-agent", "Agent", agents),
                                                 field("bulk-team", "Team", teams)],
       "Assign", assignBody);
  const priority = h("select", {name: "priority"}, keep(), PRIORITIES.map((p) => h("option", {value: p}, p)));
  const category = h("select", {name: "category"}, keep());
  make("change", "Change priority or category", [field("bulk-priority", "Priority", priority),
                                                 field("bulk-category", "Category", category)],
       "Change", (form) => {
         const body = {};
         if (formValue(form, "priority")) body.priority = formValue(form, "priority");
         if (formValue(form, "category")) body.category = formValue(form, "category");
         if (!body.priority && !body.category) throw new Error("Choose a priority, a category, or both.");
         return body;
       });
  make("note", "Add an internal note to each", [field("bulk-note", "Note (agents only)",
       h("textarea", {name: "body", required: true, maxlength: "20000", rows: "3"}))],
       "Add note", (form) => ({body: formValue(form, "body")}));
  make("resolve", "Resolve the selected tickets", [field("bulk-resolution",
       "Resolution notes (each requester sees them)",
       h("textarea", {name: "resolution", required: true, maxlength: "20000", rows: "3"}))],
       "Resolve", (form) => ({resolution: formValue(form, "resolution")}));
  directory("agents").then((list) => {
    for (const a of list) agents.append(h("option", {value: a.id}, a.name));
  }).catch(() => {});
  directory("teams").then((list) => {
    for (const t of list) teams.append(h("option", {value: t.id}, t.name));
  }).catch(() => {});
  directory("categories").then((list) => {
    for (const c of list) category.append(h("option", {value: c.id}, c.name || c.id));
  }).catch(() => {});

  const open = (action) => {
    for (const [name, form] of Object.entries(panels)) form.hidden = name !== action;
    panels[action].querySelector("select, textarea").focus();
  };
  const mine = h("button", {type: "button", dataset: {bulk: "take"}}, "Assign to me");
  mine.addEventListener("click", () => apply("assign", {agent: "me"}, mine));
  buttons.append(mine);
  for (const [action, label] of [["assign", "Assign…"], ["change", "Priority or category…"],
                                 ["note", "Note…"], ["resolve", "Resolve…"]]) {
    const button = h("button", {type: "button", class: "secondary", dataset: {bulk: action}}, label);
    button.addEventListener("click", () => open(action));
    buttons.append(button);
  }
  const close = h("button", {type: "button", class: "secondary", dataset: {bulk: "close"}}, "Close");
  close.addEventListener("click", () => apply("close", {}, close));
  buttons.append(close);

  return {
    el, result,
    update(items) {
      chosen = items;
      el.hidden = !items.length;
      count.textContent = `${items.length} selected`;
      if (!items.length) {
        for (const form of Object.values(panels)) form.hidden = true;
        hideProblem(error);
      }
    },
  };
}

function showResult(box, outcome) {
  const done = outcome.results.filter((r) => r.ok);
  const refused = outcome.results.filter((r) => !r.ok);
  const link = (r) => h("a", {href: `#/ticket/${r.number}`}, r.number);
  const reason = (r) => r.status === 412
    ? "changed since the list was loaded; open it to see what changed"
    : `${r.title || "Refused"}: ${r.detail || ""}`;
  box.replaceChildren();
  append(box, [
    h("p", {}, h("strong", {}, `${NAMES[outcome.action] || outcome.action}: ${done.length} of ${outcome.results.length} done`),
      refused.length ? `, ${refused.length} refused.` : "."),
    done.length ? [h("h2", {}, "Done"), h("ul", {class: "bulk-done"}, done.map((r) => h("li", {}, link(r))))] : null,
    refused.length ? [h("h2", {}, "Refused"), h("ul", {class: "bulk-refused"}, refused.map((r) =>
      h("li", {dataset: {number: r.number, status: r.status}}, link(r), ` — ${reason(r)}`)))] : null]);
}
