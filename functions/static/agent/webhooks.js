// Outbound webhooks, for admins (docs/webhooks.md): #/webhooks lists the endpoints and
// registers one (the signing secret is shown once, here); #/webhooks/<id> is one
// endpoint's delivery log (its last 100 attempts), its parked deliveries with a Replay
// button, and rotate, enable/disable, remove. Text goes in as text nodes only (dom.js).
import {api, busy, hideProblem, showProblem} from "./api.js";
import {clear, h, when} from "./dom.js";

const EVENTS = ["ticket.created", "ticket.assigned", "ticket.replied", "ticket.status_changed",
                "ticket.escalated", "sla.warning", "sla.breached", "ticket.rated"];
const TEAMS_EVENTS = ["ticket.created", "ticket.escalated", "sla.breached"];

function cell(text) {
  return h("td", {}, text === null || text === undefined || text === "" ? "—" : String(text));
}

function list(value) {
  return value.split(",").map((v) => v.trim()).filter(Boolean);
}

function secretNotice(secret) {
  return h("div", {class: "notice", role: "status", id: "webhook-secret"},
    h("strong", {}, "Signing secret: "), h("code", {}, secret),
    h("p", {}, "Copy it now: it is not shown again. Receivers check X-Helpdesk-Signature with it."));
}

function endpointForm(onCreated) {
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const boxes = EVENTS.map((e) => h("label", {class: "choice"},
    h("input", {type: "checkbox", name: "events", value: e, checked: e === "ticket.created"}), e));
  const form = h("form", {id: "webhook-form", "aria-label": "Register a webhook endpoint"},
    h("h2", {}, "Register an endpoint"),
    h("label", {for: "wh-name"}, "Name"),
    h("input", {id: "wh-name", name: "name", required: true, maxlength: "200"}),
    h("label", {for: "wh-url"}, "URL (https; for Teams, the channel's Workflows webhook URL)"),
    h("input", {id: "wh-url", name: "url", type: "url", required: true, maxlength: "2048"}),
    h("label", {for: "wh-format"}, "Format"),
    h("select", {id: "wh-format", name: "format"},
      h("option", {value: "json"}, "Signed JSON"), h("option", {value: "teams"}, "Microsoft Teams card")),
    h("fieldset", {}, h("legend", {}, "Events"), boxes),
    h("label", {for: "wh-teams"}, "Only these teams (ids, comma-separated; required for Teams)"),
    h("input", {id: "wh-teams", name: "teams"}),
    h("label", {for: "wh-categories"}, "Only these categories"),
    h("input", {id: "wh-categories", name: "categories"}),
    h("label", {for: "wh-priorities"}, "Only these priorities"),
    h("input", {id: "wh-priorities", name: "priorities"}),
    error,
    h("button", {type: "submit"}, "Register"));
  form.elements.format.addEventListener("change", () => {
    const teams = form.elements.format.value === "teams";
    for (const box of form.querySelectorAll("input[name=events]")) {
      box.disabled = teams && !TEAMS_EVENTS.includes(box.value);
      if (box.disabled) box.checked = false;
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    hideProblem(error);
    const f = form.elements;
    const body = {
      name: f.name.value.trim(), url: f.url.value.trim(), format: f.format.value,
      events: [...form.querySelectorAll("input[name=events]:checked")].map((b) => b.value),
      teams: list(f.teams.value), categories: list(f.categories.value), priorities: list(f.priorities.value),
    };
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        const {data} = await api("/api/webhooks", {method: "POST", body});
        onCreated(data);
      } catch (err) {
        showProblem(error, err);
      }
    });
  });
  return form;
}

export async function showWebhooks(main, current, created = null) {
  const {data} = await api("/api/webhooks");
  if (!current()) return;
  const rows = data.map((e) => h("tr", {dataset: {endpoint: e.id}},
    h("td", {}, h("a", {href: `#/webhooks/${encodeURIComponent(e.id)}`}, e.name)),
    cell(e.url), cell(e.format === "teams" ? "Teams" : "JSON"), cell(e.events.join(", ")),
    cell([...e.teams, ...e.categories, ...e.priorities].join(", ")),
    cell(e.enabled ? "on" : "off"),
    cell(e.secret === "setting" ? `app setting ${e.secret_setting}` : e.secret)));
  clear(main).append(
    h("h1", {}, "Webhooks"),
    h("p", {class: "muted"}, "Ticket events posted to other systems, signed, retried for a day, then parked here for you to replay."),
    created && created.signing_secret ? secretNotice(created.signing_secret) : null,
    data.length === 0 ? h("p", {}, "No endpoint is registered.") :
      h("table", {class: "list", id: "webhook-endpoints"},
        h("thead", {}, h("tr", {}, ["Name", "URL", "Format", "Events", "Filters", "Enabled", "Secret"]
          .map((t) => h("th", {scope: "col"}, t)))),
        h("tbody", {}, rows)),
    endpointForm((made) => showWebhooks(main, current, made)));
}

export async function showWebhook(main, id, current, notice = null) {
  const {data} = await api(`/api/webhooks/${encodeURIComponent(id)}/deliveries`);
  if (!current()) return;
  const e = data.endpoint;
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const again = (text) => showWebhook(main, id, current, text);

  const replayButton = (d) => {
    const button = h("button", {type: "button", dataset: {event: d.event_id}}, "Replay");
    button.addEventListener("click", () => busy(button, async () => {
      try {
        await api(`/api/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(d.event_id)}/replay`,
                  {method: "POST"});
        await again(h("div", {class: "notice", role: "status"}, `Delivery ${d.event_id} queued again.`));
      } catch (err) {
        showProblem(error, err);
      }
    }));
    return button;
  };
  const action = (label, work) => {
    const button = h("button", {type: "button"}, label);
    button.addEventListener("click", () => busy(button, async () => {
      try {
        await work();
      } catch (err) {
        showProblem(error, err);
      }
    }));
    return button;
  };
  const toggle = action(e.enabled ? "Disable" : "Enable", async () => {
    const body = {name: e.name, url: e.url, format: e.format, events: e.events, teams: e.teams,
                  categories: e.categories, priorities: e.priorities, enabled: !e.enabled,
                  secret_setting: e.secret_setting};
    await api(`/api/webhooks/${encodeURIComponent(id)}`, {method: "PUT", body});
    await again(null);
  });
  const rotate = e.secret_setting ? null : action("New signing secret", async () => {
    const {data: rotated} = await api(`/api/webhooks/${encodeURIComponent(id)}/secret`, {method: "POST"});
    await again(secretNotice(rotated.signing_secret));
  });
  const remove = action("Remove", async () => {
    if (!confirm(`Remove the endpoint ${e.name} with its deliveries and log?`)) return;
    await api(`/api/webhooks/${encodeURIComponent(id)}`, {method: "DELETE"});
    location.hash = "#/webhooks";
  });

  const deliveryRows = (items, withReplay) => items.map((d) => h("tr", {dataset: {event: d.event_id}},
    cell(d.event_id), cell(d.event_type), cell(d.attempts), cell(d.last_code),
    cell(d.last_error), cell(d.next_at ? when(d.next_at) : null),
    withReplay ? h("td", {}, replayButton(d)) : cell(null)));
  const deliveryTable = (tableId, items, withReplay) => h("table", {class: "list", id: tableId},
    h("thead", {}, h("tr", {}, ["Event", "Type", "Attempts", "Last code", "Last error", "Next attempt", ""]
      .map((t) => h("th", {scope: "col"}, t)))),
    h("tbody", {}, deliveryRows(items, withReplay)));

  clear(main).append(
    h("p", {}, h("a", {href: "#/webhooks"}, "← Webhooks")),
    h("h1", {}, `Webhook: ${e.name}`),
    h("p", {class: "muted"}, `${e.url} · ${e.format === "teams" ? "Teams card" : "signed JSON"} · ${e.events.join(", ")} · ${e.enabled ? "enabled" : "disabled"}`),
    notice, error,
    h("p", {}, toggle, " ", rotate, " ", remove),
    h("h2", {}, "Parked"),
    data.parked.length ? deliveryTable("webhook-parked", data.parked, true)
      : h("p", {class: "muted"}, "Nothing parked."),
    h("h2", {}, "Retrying"),
    data.retrying.length ? deliveryTable("webhook-retrying", data.retrying, true)
      : h("p", {class: "muted"}, "Nothing waiting for a retry."),
    h("h2", {}, "Delivery log (last 100 attempts)"),
    data.attempts.length === 0 ? h("p", {class: "muted"}, "No attempt yet.") :
      h("table", {class: "list", id: "webhook-log"},
        h("thead", {}, h("tr", {}, ["When", "Event", "Attempt", "Outcome", "Code", "Duration", "Error"]
          .map((t) => h("th", {scope: "col"}, t)))),
        h("tbody", {}, data.attempts.map((a) => h("tr", {class: a.outcome === "delivered" ? null : "breached"},
          cell(when(a.at)), cell(`${a.event_type} (${a.event_id})`), cell(a.attempt), cell(a.outcome),
          cell(a.code), cell(`${a.duration_ms} ms`), cell(a.error))))));
}
