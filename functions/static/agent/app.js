// The agents' page: a hash router over a few views, the queue sidebar with live counts,
// and the keyboard shortcuts. Routes: #/queue/<name>, #/ticket/<number>, #/new,
// #/search?q=..., #/dashboard?from=&to=..., #/kb?q=..., #/kb/<article id>, and for
// admins #/mailboxes, #/audit?from=&to=&actor=..., #/categories?id=... (a category's
// own fields), #/webhooks, #/webhooks/<endpoint id> and #/requesters (a requester's data:
// the address is typed in the view, never carried in the hash).
import {me, refreshCounts} from "./state.js";
import {showQueue, showSearch, moveSelection, openSelection, togglePick} from "./queue.js";
import {showTicket, ticketShortcut} from "./ticket.js";
import {showNewTicket} from "./newticket.js";
import {showDashboard} from "./dashboard.js";
import {destroyCharts} from "./charts.js";
import {showArticle, showKb} from "./kb.js";
import {refreshMailboxAlerts, showMailboxes} from "./mailboxes.js";
import {showAudit} from "./audit.js";
import {showCategories} from "./categories.js";
import {showWebhook, showWebhooks} from "./webhooks.js";
import {showRequesters} from "./requesters.js";

const main = document.getElementById("main");
const COUNT_EVERY_MS = 30_000;
const ALERTS_EVERY_MS = 60_000;

function markCurrent(name) {
  for (const link of document.querySelectorAll("#queues a")) {
    if (link.dataset.queue === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

let generation = 0;

/** Render the view the hash names; a view started earlier and finishing later is dropped. */
async function route() {
  const mine = ++generation;
  const current = () => mine === generation;
  destroyCharts();
  const hash = location.hash.replace(/^#/, "") || "/queue/unassigned";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  try {
    if (parts[0] === "queue") {
      markCurrent(parts[1]);
      await showQueue(main, parts[1] || "unassigned", params, current);
    } else if (parts[0] === "ticket" && parts[1]) {
      markCurrent(null);
      await showTicket(main, parts[1], current);
    } else if (parts[0] === "new") {
      markCurrent(null);
      await showNewTicket(main, current);
    } else if (parts[0] === "search") {
      markCurrent(null);
      document.getElementById("search").value = params.get("q") || "";
      await showSearch(main, params.get("q") || "", current);
    } else if (parts[0] === "dashboard") {
      markCurrent("dashboard");
      await showDashboard(main, params, current);
    } else if (parts[0] === "kb" && parts[1]) {
      markCurrent("kb");
      await showArticle(main, decodeURIComponent(parts[1]), current);
    } else if (parts[0] === "mailboxes") {
      markCurrent("mailboxes");
      await showMailboxes(main, current);
    } else if (parts[0] === "audit") {
      markCurrent("audit");
      await showAudit(main, params, current);
    } else if (parts[0] === "categories") {
      markCurrent("categories");
      await showCategories(main, params, current);
    } else if (parts[0] === "webhooks" && parts[1]) {
      markCurrent("webhooks");
      await showWebhook(main, decodeURIComponent(parts[1]), current);
    } else if (parts[0] === "webhooks") {
      markCurrent("webhooks");
      await showWebhooks(main, current);
    } else if (parts[0] === "requesters") {
      markCurrent("requesters");
      await showRequesters(main, current);
    } else if (parts[0] === "kb") {
      markCurrent("kb");
      await showKb(main, params.get("q") || "", current);
    } else {
      location.hash = "#/queue/unassigned";
    }
  } catch (err) {
    if (!current()) return;
    main.replaceChildren();
    const box = document.createElement("div");
    box.className = "notice";
    box.setAttribute("role", "alert");
    box.textContent = `Could not show this page: ${err.message}`;
    main.append(box);
  }
}

// -- keyboard ---------------------------------------------------------------------------

const GO = {u: "#/queue/unassigned", m: "#/queue/mine", t: "#/queue/teams", p: "#/queue/pending",
            e: "#/queue/escalated", o: "#/queue/overdue", r: "#/queue/resolved",
            d: "#/dashboard", k: "#/kb", n: "#/new"};
let pendingG = 0;

// Fields that take typed text; a checkbox or a button in focus still lets shortcuts through.
const NOT_TYPED = new Set(["checkbox", "radio", "button", "submit", "reset"]);

function typing(target) {
  return target instanceof HTMLElement &&
    (target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName) ||
     (target.tagName === "INPUT" && !NOT_TYPED.has(target.type)));
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (typing(event.target) || document.querySelector("dialog[open]")) return;
  const key = event.key;
  if (pendingG && Date.now() - pendingG < 1500 && GO[key]) {
    pendingG = 0;
    event.preventDefault();
    location.hash = GO[key];
    return;
  }
  pendingG = 0;
  if (key === "?") {
    event.preventDefault();
    document.getElementById("shortcuts").showModal();
  } else if (key === "/") {
    event.preventDefault();
    document.getElementById("search").focus();
  } else if (key === "g") {
    pendingG = Date.now();
  } else if (key === "j" || key === "k") {
    if (moveSelection(key === "j" ? 1 : -1)) event.preventDefault();
  } else if (key === "x") {
    if (togglePick()) event.preventDefault();
  } else if (key === "Enter") {
    if (event.target === document.body || event.target === main) {
      if (openSelection()) event.preventDefault();
    }
  } else if (ticketShortcut(key)) {
    event.preventDefault();
  }
}

// -- start ------------------------------------------------------------------------------

document.getElementById("help").addEventListener("click", () =>
  document.getElementById("shortcuts").showModal());
document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = document.getElementById("search").value.trim();
  if (q) location.hash = `#/search?q=${encodeURIComponent(q)}`;
});
document.addEventListener("keydown", onKey);
window.addEventListener("hashchange", route);
route();
refreshCounts();
setInterval(refreshCounts, COUNT_EVERY_MS);
refreshMailboxAlerts();
setInterval(refreshMailboxAlerts, ALERTS_EVERY_MS);
if ((document.body.dataset.roles || "").split(",").includes("admin")) {
  document.getElementById("mailboxes-link").hidden = false;
  document.getElementById("audit-link").hidden = false;
  document.getElementById("categories-link").hidden = false;
  document.getElementById("webhooks-link").hidden = false;
  document.getElementById("requesters-link").hidden = false;
}
me.load();
