// One ticket: its thread in order, its details and SLA clocks, and every action the
// ticket's status allows. Each action sends the ETag of the version on screen; when
// someone else changed the ticket meanwhile the page says so and offers to reload,
// keeping what the agent typed, and never sends it again by itself. A resolved ticket can
// be promoted to a knowledge base article; every ticket lists the ones most like it, and
// the people copied on it (collaborators), whom an agent adds and removes. A
// line under the title names the other agents who have it open (presence.js).
// A ticket can be merged into another (a merged one says where it went, and the target
// shows the duplicate's thread collapsed) and linked to others (related, parent, child).
import {ApiError, api, busy, hideProblem, showProblem} from "./api.js";
import {announce, assignBody, countdown, field, formValue, h, when} from "./dom.js";
import {directory, me, refreshCounts} from "./state.js";
import {promoteForm, similarPanel} from "./kb.js";
import {watchPresence} from "./presence.js";

const LABELS = {
  created: "Opened", message: "Requester wrote", reply: "Reply", note: "Internal note",
  assigned: "Assigned", changed: "Changed", info_requested: "Information requested", escalated: "Escalated",
  resolved: "Resolved", closed: "Closed", reopened: "Reopened", reminder: "Reminder sent",
  sla: "SLA", email_sent: "Email sent", collaborators: "Collaborators", merging: "Merging",
  merged: "Merged in", merged_into: "Merged into", merge_cancelled: "Merge given up", linked: "Linked",
  unlinked: "Unlinked",
};
// What the other ticket of a link is to this one.
const LINK_KINDS = {related: "Related", parent: "Parent", child: "Child"};
const CONVERSATION = new Set(["created", "message", "reply", "note", "info_requested", "escalated", "resolved"]);
export const TIERS = {"senior-support": "Senior Support", "sysadmins-developers": "SysAdmins/Developers",
                      "vendor-support": "Vendor Support"};

let shown = null;  // the ticket on screen: {number, view, etag, open(action), take()}

export async function showTicket(main, number, current) {
  const {data, etag} = await api(`/api/tickets/${encodeURIComponent(number)}`);
  if (!current()) return;
  const state = {number, view: data, etag};
  const banner = h("div", {class: "notice banner", role: "alert", hidden: true});
  const title = h("h1", {});
  const here = h("p", {class: "presence muted", id: "presence", "aria-live": "polite"});
  const actions = h("div", {class: "actions", role: "toolbar", "aria-label": "Actions"});
  const thread = h("ol", {class: "thread", "aria-label": "Thread"});
  const details = h("div", {});
  const links = h("section", {class: "links", "aria-label": "Links"});
  const people = h("section", {class: "collaborators-panel", "aria-labelledby": "collaborators-title"});
  const fields = h("section", {class: "ticket-fields", "aria-labelledby": "fields-title"});
  const aside = h("aside", {"aria-label": "Details"}, details, fields, people, links, similarPanel(number));
  const panels = h("div", {});
  const promote = promoteForm(number);
  const merged = h("p", {class: "notice merged", role: "status", hidden: true});
  main.replaceChildren(banner, title, here, merged, h("div", {class: "ticket"},
    h("section", {"aria-label": "Conversation"}, actions, panels, h("h2", {}, "Thread"), thread), aside));

  const forms = buildForms(state, panels);
  panels.append(promote.done, promote.form);
  state.promote = promote;

  function render() {
    const {ticket} = state.view;
    title.replaceChildren(h("span", {class: "muted"}, `#${ticket.number} `), ticket.subject);
    renderActions(state, actions, forms);
    renderThread(state.view, thread);
    renderAside(state.view, details);
    renderFields(state, fields, current);
    renderMerged(ticket, merged);
    renderCollaborators(state, people);
    renderLinks(state, links);
  }

  state.render = render;
  state.apply = (view, newEtag) => {
    state.view = view;
    state.etag = newEtag;
    render();
  };
  state.conflict = () => {
    banner.replaceChildren(
      h("strong", {}, "Someone else changed this ticket since you opened it. "),
      "Nothing was sent. Reload to see their change; what you typed stays where it is. ",
      reloadButton());
    banner.hidden = false;
    banner.querySelector("button").focus();
  };
  function reloadButton() {
    const button = h("button", {type: "button", class: "secondary"}, "Reload");
    button.addEventListener("click", () => busy(button, async () => {
      try {
        const fresh = await api(`/api/tickets/${encodeURIComponent(number)}`);
        state.apply(fresh.data, fresh.etag);
        banner.hidden = true;
        announce("Ticket reloaded");
      } catch (err) {
        showProblem(banner, err);
      }
    }));
    return button;
  }
  state.open = (action) => {
    const form = forms[action];
    if (!form || !offered(state.view).includes(action)) return false;
    for (const [name, other] of Object.entries(forms)) other.hidden = name !== action;
    promote.form.hidden = true;
    form.querySelector("textarea, select, input").focus();
    return true;
  };
  state.take = () => {
    if (!state.view.allowed_actions.includes("assign") || state.view.ticket.assignee === me.id) return false;
    const button = actions.querySelector("[data-action=take]");
    busy(button, () => send(state, "assign", {agent: me.id}, actionError));
    return true;
  };
  const actionError = h("div", {class: "notice", role: "alert", hidden: true});
  panels.before(actionError);
  state.actionError = actionError;
  shown = state;
  render();
  watchPresence(number, here, panels, current);
}

/** Send one action with the version's ETag; true when it was applied. */
async function send(state, action, body, errorBox, method = "POST") {
  hideProblem(errorBox);
  try {
    const {data, etag} = await api(`/api/tickets/${encodeURIComponent(state.number)}/${action}`,
                                   {method, body, headers: {"If-Match": state.etag}});
    state.apply(data, etag);
    announce(`${LABELS[data.thread.at(-1)?.kind] || "Done"}: saved`);
    refreshCounts();
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 412) state.conflict();
    else showProblem(errorBox, err);
    return false;
  }
}

// -- actions and their forms -----------------------------------------------------------

const BUTTONS = [
  ["reply", "Reply", "r"], ["note", "Note", "n"], ["request-info", "Request info", "i"],
  ["assign", "Assign…", null], ["escalate", "Escalate", "e"], ["resolve", "Resolve", "s"],
  ["close", "Close", null], ["reopen", "Reopen", null], ["merge", "Merge into…", null],
];

/** The lifecycle's actions for this agent, and merging while the ticket is not closed
 * or merged (the API refuses the rest). */
function offered(view) {
  const t = view.ticket;
  const mergeable = !t.merged_into && !t.merging_into && t.status !== "closed";
  return mergeable ? [...view.allowed_actions, "merge"] : view.allowed_actions;
}

function renderActions(state, bar, forms) {
  bar.replaceChildren();
  const allowed = offered(state.view);
  if (allowed.includes("assign") && state.view.ticket.assignee !== me.id) {
    const take = h("button", {type: "button", dataset: {action: "take"}, "aria-keyshortcuts": "t"},
                   "Take it");
    take.addEventListener("click", () => state.take());
    bar.append(take);
  }
  for (const [action, label, key] of BUTTONS) {
    if (!allowed.includes(action)) continue;
    const button = h("button", {type: "button", class: "secondary", dataset: {action},
                                "aria-keyshortcuts": key, "aria-expanded": String(!forms[action].hidden)},
                     label, key ? h("kbd", {class: "hint-key"}, key) : null);
    button.addEventListener("click", () => state.open(action));
    bar.append(button);
  }
  for (const [action, form] of Object.entries(forms)) {
    if (!allowed.includes(action)) form.hidden = true;
  }
  const t = state.view.ticket;
  if (["resolved", "closed"].includes(t.status) && t.resolution) {
    const button = h("button", {type: "button", class: "secondary", dataset: {action: "promote"}}, "Promote to article");
    button.addEventListener("click", () => {
      for (const form of Object.values(forms)) form.hidden = true;
      state.promote.open(t);
    });
    bar.append(button);
  } else {
    state.promote.form.hidden = true;
  }
}

function textarea(name, required = true) {
  return h("textarea", {name, required, maxlength: "20000", rows: "5"});
}

function buildForms(state, holder) {
  const forms = {};
  const make = (action, heading, controls, submitLabel, collect) => {
    const error = h("div", {class: "notice", role: "alert", hidden: true});
    const submit = h("button", {type: "submit"}, submitLabel);
    const cancel = h("button", {type: "button", class: "secondary"}, "Cancel");
    const form = h("form", {class: "composer", hidden: true, "aria-label": heading, dataset: {form: action}},
                   h("h2", {}, heading), error, controls,
                   h("div", {class: "actions"}, submit, cancel));
    cancel.addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let body;
      try {
        body = await collect(form);
      } catch (err) {
        showProblem(error, err);
        return;
      }
      const ok = await busy(submit, () => send(state, action, body, error));
      if (ok) {
        form.reset();
        form.hidden = true;
      }
    });
    forms[action] = form;
    holder.append(form);
    return form;
  };

  // Reply: text, canned responses, attachments.
  const canned = h("select", {name: "canned"}, h("option", {value: ""}, "Canned response…"));
  const insert = h("button", {type: "button", class: "secondary"}, "Insert");
  const files = h("input", {type: "file", name: "files", multiple: true});
  const replyText = textarea("body");
  make("reply", "Reply to the requester", [
    field("reply-body", "Reply (the requester sees this)", replyText),
    h("div", {class: "inline"}, field("reply-canned", "Canned response", canned), insert),
    field("reply-files", "Attachments", files, `(at most ${me.maxFiles}, ${Math.round(me.maxBytes / 1048576)} MB each)`),
  ], "Send reply", async (form) => ({body: formValue(form, "body"), attachments: await readFiles(files)}));
  directory("canned").then((list) => {
    for (const c of list) canned.append(h("option", {value: c.id}, c.title));
    canned.dataset.loaded = "true";
    canned._items = list;
  }).catch(() => {});
  insert.addEventListener("click", () => {
    const chosen = (canned._items || []).find((c) => c.id === canned.value);
    if (!chosen) return;
    const t = state.view.ticket;
    const filled = chosen.body.replace(/\{\{\s*(requester_name|number|subject|agent_name)\s*\}\}/g, (_, name) =>
      ({requester_name: t.requester_name, number: t.number, subject: t.subject, agent_name: me.name})[name]);
    replyText.value = replyText.value ? `${replyText.value}\n\n${filled}` : filled;
    replyText.focus();
  });

  make("note", "Internal note", [field("note-body", "Note (agents only; the requester never sees it)", textarea("body"))],
       "Add note", (form) => ({body: formValue(form, "body")}));
  make("request-info", "Request information", [
    field("info-question", "Question for the requester (emailed; the ticket waits on them)", textarea("question"))],
       "Send request", (form) => ({question: formValue(form, "question")}));

  const agentSelect = h("select", {name: "agent"}, h("option", {value: ""}, "(keep)"));
  const teamSelect = h("select", {name: "team"}, h("option", {value: ""}, "(keep)"));
  make("assign", "Assign", [field("assign-agent", "Agent", agentSelect), field("assign-team", "Team", teamSelect)],
       "Assign", assignBody);
  directory("agents").then((list) => {
    for (const a of list) agentSelect.append(h("option", {value: a.id}, `${a.name}${a.id === me.id ? " (me)" : ""}`));
  }).catch(() => {});
  directory("teams").then((list) => {
    for (const t of list) teamSelect.append(h("option", {value: t.id}, t.name));
  }).catch(() => {});

  const tier = h("select", {name: "tier", required: true},
    Object.entries(TIERS).map(([id, name]) => h("option", {value: id}, name)));
  const vendor = h("div", {hidden: true},
    field("escalate-vendor", "Vendor name", h("input", {name: "vendor_name", maxlength: "200"})),
    field("escalate-vendor-ref", "Vendor reference", h("input", {name: "vendor_reference", maxlength: "200"})));
  tier.addEventListener("change", () => { vendor.hidden = tier.value !== "vendor-support"; });
  make("escalate", "Escalate", [field("escalate-tier", "Tier", tier),
                                field("escalate-reason", "Reason (internal)", textarea("reason")), vendor],
       "Escalate", (form) => {
         const body = {tier: formValue(form, "tier"), reason: formValue(form, "reason")};
         if (body.tier === "vendor-support") {
           body.vendor_name = formValue(form, "vendor_name");
           if (formValue(form, "vendor_reference")) body.vendor_reference = formValue(form, "vendor_reference");
         }
         return body;
       });
  make("resolve", "Resolve", [field("resolve-notes", "Resolution notes (the requester sees them; searchable later)", textarea("resolution"))],
       "Resolve", (form) => ({resolution: formValue(form, "resolution")}));
  make("close", "Close", [field("close-comment", "Comment (optional)", textarea("comment", false))],
       "Close ticket", (form) => ({comment: formValue(form, "comment")}));
  make("reopen", "Reopen", [field("reopen-comment", "Comment (optional)", textarea("comment", false))],
       "Reopen", (form) => ({comment: formValue(form, "comment")}));
  make("merge", "Merge into another ticket", [
    field("merge-into", "Ticket number to merge this one into",
          h("input", {name: "into", required: true, inputmode: "numeric", pattern: "[0-9]{8}", maxlength: "8"}),
          "(this ticket closes and points there; its requester is told once)"),
    field("merge-comment", "Comment (internal, optional)", textarea("comment", false))],
       "Merge", (form) => ({into: formValue(form, "into"), comment: formValue(form, "comment")}));
  return forms;
}

function readFiles(input) {
  const chosen = [...input.files];
  if (chosen.length > me.maxFiles) throw new Error(`At most ${me.maxFiles} attachments.`);
  const big = chosen.filter((f) => f.size > me.maxBytes);
  if (big.length) throw new Error(`Too large: ${big.map((f) => f.name).join(", ")}.`);
  return Promise.all(chosen.map((file) => new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve({
      filename: file.name, content_type: file.type || "application/octet-stream",
      data: String(reader.result).split(",", 2)[1] || ""}));
    reader.addEventListener("error", () => reject(new Error(`Could not read ${file.name}.`)));
    reader.readAsDataURL(file);
  })));
}

// -- the thread and the details ---------------------------------------------------------

function attachmentLinks(view, seq) {
  const files = view.attachments.filter((a) => seq === undefined || a.entry === seq);
  if (!files.length) return null;
  return h("ul", {class: "attachments"}, files.map((a) => h("li", {},
    h("a", {href: `/api/tickets/${view.ticket.number}/attachments/${a.id}`, download: a.filename}, a.filename),
    h("span", {class: "muted"}, ` (${Math.max(1, Math.round(a.size / 1024))} KB)`))));
}

// What the mail parser cut from an email as quoted history, collapsed, so that an agent
// can check that nothing new was cut with it.
function quotedHistory(data) {
  if (!data.quoted) return null;
  return h("details", {class: "quoted"},
    h("summary", {}, "Quoted history"),
    h("div", {class: "body"}, data.quoted));
}

// An email whose sender the desk could not authenticate: it claimed to answer another
// ticket (by its subject or an earlier message) and was kept apart (shared/channels/email.py).
function senderWarning(data) {
  if (!data.sender || data.sender.verified) return null;
  return h("p", {class: "notice sender-unverified"},
    h("strong", {}, "Sender not verified"), ` (${data.sender.how}).`,
    data.claims_ticket ? [" It claims to answer ticket ",
      h("a", {href: `#/ticket/${encodeURIComponent(data.claims_ticket)}`}, `#${data.claims_ticket}`),
      "; it was not added there. Check with the requester before acting on it."] : null);
}

function eventText(entry) {
  const d = entry.data || {};
  const parts = [];
  if (entry.kind === "assigned") {
    if (d.agent) parts.push(`to ${d.agent}`);
    if (d.team) parts.push(`${d.agent ? "and team" : "to team"} ${d.team}`);
  } else if (entry.kind === "changed") {
    if (d.priority) parts.push(`priority ${d.previous_priority} → ${d.priority}`);
    if (d.category) parts.push(`category ${d.previous_category} → ${d.category}`);
    for (const [id, change] of Object.entries(d.fields || {})) {
      parts.push(`${id}: ${fieldText(change.from) || "(empty)"} → ${fieldText(change.to) || "(empty)"}`);
    }
  } else if (entry.kind === "email_sent") {
    parts.push(`to ${d.to || "?"}: ${entry.body}`);
  } else if (["merging", "merged_into", "merge_cancelled"].includes(entry.kind)) {
    parts.push(`#${d.into}`);
    if (entry.body && entry.kind !== "merged_into") parts.push(`: ${entry.body}`);
  } else if (entry.kind === "merged") {
    parts.push(`#${d.duplicate} “${d.subject || ""}” from ${d.requester || "?"}`);
    if (d.cc_added?.length) parts.push(`(now copied: ${d.cc_added.join(", ")})`);
  } else if (["linked", "unlinked"].includes(entry.kind)) {
    parts.push(`#${d.ticket}${d.kind ? ` as ${(LINK_KINDS[d.kind] || d.kind).toLowerCase()}` : ""}`);
  } else if (entry.kind === "collaborators") {
    const how = {agent: "by an agent", portal: "in the portal", unsubscribe: "by their stop-copying link"}[d.via] || "";
    parts.push(d.added ? `added ${d.added}` : `removed ${d.removed}`, how);
  } else if (entry.body) {
    parts.push(entry.body);
  }
  if (d.from && d.to && entry.kind !== "email_sent") parts.push(`(${d.from} → ${d.to})`);
  return parts.join(" ");
}

// -- collaborators ---------------------------------------------------------------------

/** A message by someone copied on the ticket rather than its requester. */
function byCollaborator(view, entry) {
  return entry.kind === "message" && entry.actor.toLowerCase() !== (view.ticket.requester_email || "").toLowerCase();
}

/** Add or remove a collaborator under the version's ETag, as the actions are sent. */
async function changeCollaborator(state, method, path, body, errorBox) {
  hideProblem(errorBox);
  try {
    const {data, etag} = await api(`/api/tickets/${encodeURIComponent(state.number)}/collaborators${path}`,
                                   {method, body, headers: {"If-Match": state.etag}});
    state.apply(data, etag);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 412) state.conflict();
    else showProblem(errorBox, err);
    return false;
  }
}

function renderCollaborators(state, box) {
  const cc = state.view.ticket.cc || [];
  const errorBox = h("div", {class: "notice", role: "alert", hidden: true});
  const list = cc.length ? h("ul", {class: "collaborators", id: "collaborator-list"}, cc.map((email) => {
    const remove = h("button", {type: "button", class: "secondary", "aria-label": `Remove ${email}`}, "Remove");
    remove.addEventListener("click", () => busy(remove, async () => {
      if (await changeCollaborator(state, "DELETE", `/${encodeURIComponent(email)}`, undefined, errorBox)) {
        announce(`${email} is no longer copied`);
      }
    }));
    return h("li", {dataset: {email}}, h("span", {class: "collaborator-email"}, email), " ", remove);
  })) : h("p", {class: "muted", id: "collaborator-list"}, "None");
  const input = h("input", {type: "email", name: "email", required: true, maxlength: "254",
                            autocomplete: "off", placeholder: "name@example.com"});
  const add = h("button", {type: "submit", class: "secondary"}, "Add");
  const form = h("form", {class: "composer", id: "collaborator-form"},
    field("collaborator-email", "Copy someone", input), h("div", {class: "inline"}, add), errorBox);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(add, async () => {
      const email = input.value.trim();
      if (await changeCollaborator(state, "POST", "", {email}, errorBox)) {
        announce(`${email} is now copied`);
        box.querySelector("#collaborator-email")?.focus();
      }
    });
  });
  box.replaceChildren(
    h("h2", {id: "collaborators-title"}, "Collaborators"),
    h("p", {class: "hint"}, "Copied on every public email; their replies join the ticket."),
    list, form);
}

function renderThread(view, list) {
  list.replaceChildren();
  for (const entry of view.thread) {
    // An email the desk chose not to send (the per-address cap) is not "Email sent".
    const label = entry.kind === "email_sent" && entry.data?.skipped ? "Email not sent"
      : byCollaborator(view, entry) ? "Collaborator wrote"
      : LABELS[entry.kind] || entry.kind;
    const meta = [h("span", {class: "actor"}, entry.actor), " · ",
                  h("time", {datetime: entry.at}, when(entry.at))];
    if (CONVERSATION.has(entry.kind) || (entry.body && ["closed", "reopened", "reminder"].includes(entry.kind))) {
      const note = entry.kind === "note";
      const badges = [h("span", {class: `badge${note ? " note" : ""}`}, label)];
      if (byCollaborator(view, entry)) badges.push(" ", h("span", {class: "badge collaborator"}, "collaborator"));
      if (!entry.public && !note) badges.push(" ", h("span", {class: "badge note"}, "Internal"));
      const d = entry.data || {};
      const extra = entry.kind === "escalated" ? ` to ${TIERS[d.tier] || d.tier}${d.vendor_name ? ` (${d.vendor_name})` : ""}` :
        (d.from && d.to ? ` (${d.from} → ${d.to})` : "");
      list.append(h("li", {class: `entry ${entry.kind}${note ? " note" : ""}`, dataset: {kind: entry.kind, seq: entry.seq}},
        h("div", {class: "meta"}, badges, extra, " ", meta),
        senderWarning(d),
        entry.body ? h("div", {class: "body"}, entry.body) : null,
        quotedHistory(d),
        attachmentLinks(view, entry.seq)));
    } else {
      list.append(h("li", {class: "event", dataset: {kind: entry.kind, seq: entry.seq}},
        h("strong", {}, label), " ", eventText(entry), " · ", meta,
        entry.kind === "merged" ? mergedThread(entry.data.duplicate) : null));
    }
  }
}

// The thread of a duplicate merged into this ticket: it stays on the duplicate, shown here
// collapsed and read when opened.
function mergedThread(number) {
  const box = h("details", {class: "merged-thread", dataset: {duplicate: number}},
                h("summary", {}, `Thread of #${number}`));
  const list = h("ol", {class: "thread"});
  box.append(list);
  box.addEventListener("toggle", async () => {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = "true";
    try {
      const {data} = await api(`/api/tickets/${encodeURIComponent(number)}`);
      renderThread({...data, thread: data.thread.filter((e) => CONVERSATION.has(e.kind))}, list);
    } catch (err) {
      const error = h("div", {class: "notice", role: "alert"});
      showProblem(error, err);
      list.replaceChildren(error);
      delete box.dataset.loaded;
    }
  });
  return box;
}

// -- the category's own fields ----------------------------------------------------------

function fieldText(value) {
  if (value === null || value === undefined) return "";
  if (value === true) return "yes";
  if (value === false) return "no";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/** One input for a field's definition, holding the stored value (a choice no longer
 * offered stays offered to this ticket, marked, so saving keeps it). */
export function fieldInput(def, value, prefix = "") {
  const id = `tf-${def.id}`;
  const name = `${prefix}${def.id}`;
  if (def.type === "checkbox") {
    return h("input", {type: "checkbox", id, name, checked: value === true});
  }
  if (def.type === "choice" || def.type === "multi-choice") {
    const stored = value === null || value === undefined ? [] : [].concat(value);
    const choices = [...def.choices, ...stored.filter((v) => !def.choices.includes(v))];
    const label = (c) => def.choices.includes(c) ? c : `${c} (no longer offered)`;
    if (def.type === "choice") {
      return h("select", {id, name},
        h("option", {value: ""}, "—"),
        choices.map((c) => h("option", {value: c, selected: stored.includes(c)}, label(c))));
    }
    return h("fieldset", {class: "choices", id, dataset: {multi: def.id}},
      choices.map((c) => h("label", {class: "check"},
        h("input", {type: "checkbox", name, value: c, checked: stored.includes(c)}), " ", label(c))));
  }
  const type = {number: "number", date: "date"}[def.type] || "text";
  return h("input", {type, id, name, value: fieldText(value), step: type === "number" ? "any" : null,
                     maxlength: type === "text" ? "1000" : null});
}

export function inputValue(form, def, prefix = "") {
  const input = form.elements[`${prefix}${def.id}`];
  if (def.type === "checkbox") return input.checked;
  if (def.type === "multi-choice") {
    return [...form.querySelectorAll(`[data-multi="${def.id}"] input:checked`)].map((i) => i.value);
  }
  const raw = input.value.trim();
  return raw === "" ? null : raw;
}

function same(def, before, after) {
  if (def.type === "checkbox") return (before === true) === after;
  if (def.type === "multi-choice") return fieldText(before || []) === fieldText(after);
  return fieldText(before) === fieldText(after);
}

/** The ticket's category fields (agent-only ones marked) and the values of retired ones;
 * edited with the version's ETag, as every action is. */
async function renderFields(state, box, current) {
  const {ticket} = state.view;
  let categories = [];
  try {
    categories = await directory("categories");
  } catch {
    categories = [];
  }
  if (!current() || state.view.ticket !== ticket) return;
  const defs = (categories.find((c) => c.id === ticket.category) || {}).fields || [];
  const values = ticket.fields || {};
  const editable = state.view.allowed_actions.includes("change");
  // Another action re-renders the page: what the agent is typing here stays unless the
  // fields themselves (or whether they may be edited) changed.
  const key = JSON.stringify([ticket.number, ticket.category, values, editable]);
  if (box.dataset.shown === key) return;
  box.dataset.shown = key;
  const retired = Object.keys(values).filter((id) => !defs.some((d) => d.id === id));
  box.hidden = !defs.length && !retired.length;
  if (box.hidden) return box.replaceChildren();
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const rows = defs.map((def) => h("div", {class: "field", dataset: {field: def.id}},
    h("label", {for: `tf-${def.id}`}, def.label,
      def.visibility === "agents" ? h("span", {class: "hint"}, " (agents only)") : null,
      def.required ? h("span", {class: "hint"}, " (required)") : null),
    editable ? fieldInput(def, values[def.id]) : h("p", {}, fieldText(values[def.id]) || "—")));
  const old = retired.map((id) => h("div", {class: "field retired", dataset: {field: id}},
    h("span", {}, `${id} (retired): `), fieldText(values[id]),
    editable ? [" ", h("label", {class: "check"},
      h("input", {type: "checkbox", name: `clear-${id}`, dataset: {clear: id}}), " clear")] : null));
  const save = h("button", {type: "submit", class: "secondary"}, "Save fields");
  const form = h("form", {class: "fields-form", "aria-label": "Fields"}, rows, old, editable ? save : null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changed = {};
    for (const def of defs) {
      const after = inputValue(form, def);
      if (!same(def, values[def.id], after)) changed[def.id] = after;
    }
    for (const input of form.querySelectorAll("input[data-clear]:checked")) changed[input.dataset.clear] = null;
    if (!Object.keys(changed).length) return announce("Nothing changed");
    await busy(save, () => send(state, "change", {fields: changed}, error));
  });
  box.replaceChildren(h("h2", {id: "fields-title"}, "Fields"), error, form);
}

function ticketLink(number) {
  return h("a", {href: `#/ticket/${encodeURIComponent(number)}`}, `#${number}`);
}

function renderMerged(ticket, box) {
  const into = ticket.merged_into || ticket.merging_into;
  box.hidden = !into;
  box.replaceChildren();
  if (!into) return;
  box.append(h("strong", {}, ticket.merged_into ? "Merged. " : "Being merged. "),
             `This ticket ${ticket.merged_into ? "was merged" : "is being merged"} into `, ticketLink(into),
             ": work on it there; mail to this ticket reaches it. Only internal notes are added here.");
}

function renderLinks(state, box) {
  const {view} = state;
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const items = view.links.map((link) => {
    const remove = h("button", {type: "button", class: "secondary", "aria-label": `Remove the link to #${link.ticket}`},
                     "Remove");
    remove.addEventListener("click", () => busy(remove, () =>
      send(state, `links/${encodeURIComponent(link.ticket)}`, undefined, error, "DELETE")));
    return h("li", {dataset: {link: link.ticket, kind: link.kind}},
      h("span", {class: "badge"}, LINK_KINDS[link.kind] || link.kind), " ", ticketLink(link.ticket), " ",
      link.subject, " ", h("span", {class: "badge", dataset: {linkStatus: link.status}}, link.status), " ", remove);
  });
  const number = h("input", {id: "link-ticket", name: "ticket", required: true, inputmode: "numeric",
                             pattern: "[0-9]{8}", maxlength: "8", size: "9"});
  const kind = h("select", {id: "link-kind", name: "kind"},
    Object.entries(LINK_KINDS).map(([id, label]) => h("option", {value: id}, label)));
  const add = h("button", {type: "submit", class: "secondary"}, "Link");
  const form = h("form", {class: "inline link-form", "aria-label": "Link a ticket"},
    h("label", {for: "link-ticket"}, "Ticket number"), number,
    h("label", {for: "link-kind"}, "is this ticket's"), kind, add);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(add, () => send(state, "links", {ticket: number.value.trim(), kind: kind.value}, error));
  });
  box.replaceChildren(h("h2", {}, "Links"), error,
    items.length ? h("ul", {class: "links"}, items) : h("p", {class: "muted"}, "None"), form);
}

function clock(view, target, metAt) {
  const {ticket} = view;
  if (!ticket.sla) return "No SLA";
  if (metAt) return `Met ${when(metAt)}`;
  const due = (view.sla_due || {})[target];
  if (!due) return ticket.sla.paused_at ? "Paused (waiting on the requester)" : "—";
  const el = h("span", {class: "countdown", dataset: {due}});
  countdown(el, due);
  return [el, h("span", {class: "muted"}, ` (${when(due)})`)];
}

function renderAside(view, aside) {
  const t = view.ticket;
  const rows = [
    ["Status", h("span", {class: "badge", dataset: {status: t.status}}, t.status)],
    ["Priority", h("span", {class: `badge ${t.priority}`}, t.priority)],
    ["Category", t.category], ["Channel", t.channel],
    ["Team", t.team || "—"], ["Assignee", t.assignee || "—"],
    ["Requester", [t.requester_name, h("br", {}), t.requester_email || "", t.phone ? [h("br", {}), t.phone] : null]],
    ["Created", when(t.created_at)], ["Updated", when(t.updated_at)],
  ];
  if (t.resolution) rows.push(["Resolution", t.resolution]);
  if (t.satisfied !== null && t.satisfied !== undefined) {
    rows.push(["Requester's rating", h("span", {id: "satisfaction"},
      h("span", {class: `badge ${t.satisfied ? "satisfied" : "unsatisfied"}`},
        t.satisfied ? "Solved" : "Not solved"),
      t.rated_at ? [" ", h("time", {class: "muted", datetime: t.rated_at}, when(t.rated_at))] : null,
      t.satisfaction_comment ? h("q", {class: "satisfaction-comment"}, t.satisfaction_comment) : null)]);
  }
  aside.replaceChildren(
    h("h2", {}, "Details"),
    h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h2", {}, "SLA"),
    h("dl", {class: "sla"},
      h("dt", {}, "First response"),
      h("dd", {}, clock(view, "first_response", t.first_response_at || t.sla?.first_response_at)),
      h("dt", {}, "Resolution"), h("dd", {}, clock(view, "resolution", t.resolved_at || t.sla?.resolved_at))),
    h("h2", {}, "Attachments"),
    attachmentLinks(view) || h("p", {class: "muted"}, "None"));
}

/** r, n, i, t, e, s on a ticket page; false when no ticket is shown or not allowed. */
export function ticketShortcut(key) {
  if (!shown || !document.contains(document.querySelector("[data-form=reply]"))) return false;
  const action = {r: "reply", n: "note", i: "request-info", e: "escalate", s: "resolve"}[key];
  if (action) return shown.open(action);
  if (key === "t") return shown.take();
  return false;
}
