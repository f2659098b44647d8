// Fetched mailboxes: the banner every agent sees while one has failed past the alert
// threshold (GET /api/mailboxes/alerts, polled), and the admins' view of each mailbox's
// health (#/mailboxes, GET /api/mailboxes). Text goes in as text nodes only (dom.js).
import {api} from "./api.js";
import {clear, h, when} from "./dom.js";

const banner = () => document.getElementById("mailbox-alerts");

/** Show or hide the banner; quiet when the call fails (the next poll tries again). */
export async function refreshMailboxAlerts() {
  const box = banner();
  if (!box) return;
  let failing;
  try {
    failing = (await api("/api/mailboxes/alerts")).data;
  } catch (err) {
    return;
  }
  if (!Array.isArray(failing) || failing.length === 0) {
    box.hidden = true;
    clear(box);
    delete box.dataset.shown;
    return;
  }
  // The banner is an alert: screen readers announce it whenever it changes, so it is
  // rewritten only when what it says changes, not at every poll.
  const shown = JSON.stringify(failing.map((m) => [m.address, m.failing_since, m.last_error]));
  if (box.dataset.shown === shown) return;
  box.dataset.shown = shown;
  clear(box).append(...failing.map((m) => h("p", {},
    h("strong", {}, `Mail from ${m.address} is not being fetched`),
    ` (failing since ${m.failing_since ? when(m.failing_since) : "a while"}): ${m.last_error || "unknown error"}. `,
    "Mail waiting there is fetched once it works again.")));
  box.hidden = false;
}

function cell(text) {
  return h("td", {}, text === null || text === undefined || text === "" ? "—" : String(text));
}

// How a sender is authenticated before mail joins a ticket by its subject or sender
// (shared/mail/inbound/senders.py); "off" is said plainly, it is a risk an admin chose.
function senderCheck(m) {
  if (m.sender_check === "off") {
    return h("td", {class: "sender-check off"}, h("strong", {}, "Not checked"),
      h("div", {class: "muted"}, "Mail joins tickets by subject or sender without proof of who sent it."));
  }
  if (m.sender_check === "authentication-results") {
    return cell(`Authentication-Results of ${m.authserv_id}`);
  }
  return cell("DKIM, verified by the desk");
}

export async function showMailboxes(main, current) {
  const {data} = await api("/api/mailboxes");
  if (!current()) return;
  const rows = data.map(({mailbox: m, health: hl, alarming}) => h("tr", {class: alarming ? "breached" : null},
    cell(m.id), cell(m.address), cell(`${m.host}:${m.port} (${m.security}, ${m.auth})`),
    cell(m.enabled ? "on" : "off"), senderCheck(m),
    cell(hl.last_success_at ? when(hl.last_success_at) : "never"),
    h("td", {}, hl.last_error ? `${hl.last_error_at ? when(hl.last_error_at) : ""}: ${hl.last_error}` : "—",
      hl.failing_since ? h("div", {class: "muted"}, `failing since ${when(hl.failing_since)}`) : null),
    cell(hl.fetched_today), cell(hl.waiting),
    h("td", {}, hl.notes.length ? h("ul", {}, hl.notes.slice(-5).map((n) => h("li", {}, `${when(n.at)}: ${n.text}`))) : "—")));
  clear(main).append(
    h("h1", {}, "Mailboxes"),
    h("p", {class: "muted"}, "Mail fetched from IMAP mailboxes. Add or change one with PUT /api/directory/mailboxes/{id}."),
    data.length === 0 ? h("p", {}, "No mailbox is connected.") :
      h("table", {class: "list", id: "mailbox-health"},
        h("thead", {}, h("tr", {}, ["Id", "Address", "Server", "Enabled", "Senders", "Last fetch", "Last error",
                                    "Fetched today", "Waiting", "Notes"].map((t) => h("th", {scope: "col"}, t)))),
        h("tbody", {}, rows)));
}
