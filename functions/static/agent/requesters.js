// A requester's data for admins (#/requesters): everything the desk holds about an
// address as a ZIP (POST /api/requesters/export), and its erasure (POST
// /api/requesters/erase, the address typed again) with the job's progress, polled
// (GET /api/requesters/erasures/{id}). The address travels only in request bodies, never
// in the hash or a query string, which history and logs keep. Text goes in as text nodes
// only (dom.js).
import {api, busy, hideProblem, showProblem} from "./api.js";
import {clear, h, when} from "./dom.js";

const POLL_MS = 2000;
const FILE_NAME = "requester-data.zip";

function isAdmin() {
  return (document.body.dataset.roles || "").split(",").includes("admin");
}

/** Save a Blob as a file through a temporary object URL. */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", {href: url, download: name, hidden: true});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function kb(bytes) {
  return bytes < 1024 ? `${bytes} bytes` : `${Math.ceil(bytes / 1024)} KB`;
}

/** What the progress region says about a job: state, tickets, the replacement. */
function progressLines(job) {
  const state = {pending: "waiting to start", running: "running", done: "done"}[job.state] || job.state;
  return [
    h("p", {}, h("strong", {}, `Erasure ${state}`),
      job.state === "pending" ? "" : `: ${job.tickets_done} of ${job.tickets} tickets done.`),
    h("p", {}, "The requester is now ", h("code", {class: "replacement"}, job.replacement), "."),
    job.state === "done" ?
      h("p", {class: "muted"}, `Finished ${when(job.finished_at)}; messages ${job.mode === "redact" ? "redacted" : "removed"}.`) :
      h("p", {class: "muted"}, `Job ${job.id}: you may leave this page, it carries on.`),
  ];
}

export async function showRequesters(main, current) {
  if (!isAdmin()) {
    clear(main).append(h("h1", {}, "Requester data"),
      h("div", {class: "notice", role: "alert"}, "Only an admin can export or erase a requester's data."));
    return;
  }
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const done = h("div", {class: "success", role: "status", hidden: true});
  const exportForm = h("form", {id: "requester-form", class: "report-range", "aria-label": "Whose data"},
    h("div", {}, h("label", {for: "requester-email"}, "Requester's email address"),
      h("input", {id: "requester-email", name: "email", type: "email", required: true,
                  autocomplete: "off", maxlength: "320"})),
    h("button", {type: "submit"}, "Download their data"));

  const eraseError = h("div", {class: "notice", role: "alert", hidden: true});
  const toggle = h("button", {type: "button", class: "danger", "aria-expanded": "false",
                              "aria-controls": "erase-form"}, "Erase this requester…");
  const eraseForm = h("form", {id: "erase-form", "aria-label": "Erase this requester", hidden: true},
    h("p", {id: "erase-what"}, "Erasing replaces their name and address everywhere the desk keeps them, ",
      "removes or redacts their messages (as this desk is set), deletes their files and keeps their ",
      "tickets counted in the reports. ", h("strong", {}, "It cannot be undone.")),
    h("label", {for: "erase-confirm"}, "Type the address again to confirm"),
    h("input", {id: "erase-confirm", name: "confirm", type: "email", required: true,
                autocomplete: "off", maxlength: "320", "aria-describedby": "erase-what"}),
    eraseError,
    h("button", {type: "submit", class: "danger"}, "Erase for good"), " ",
    h("button", {type: "button", class: "secondary", id: "erase-cancel"}, "Cancel"));
  const progress = h("div", {id: "erasure-progress", role: "status", "aria-live": "polite"});

  clear(main).append(
    h("h1", {}, "Requester data"),
    h("p", {class: "muted"}, "Everything the desk holds about a requester: their tickets as they see them ",
      "(public thread only), their files and ratings. Type their address; it is never put in a link."),
    exportForm, error, done,
    h("h2", {}, "Erasure"), toggle, eraseForm, progress);

  const open = (shown) => {
    eraseForm.hidden = !shown;
    toggle.setAttribute("aria-expanded", String(shown));
    if (!shown) {
      eraseForm.reset();
      hideProblem(eraseError);
    }
  };
  toggle.addEventListener("click", () => {
    open(eraseForm.hidden);
    if (!eraseForm.hidden) eraseForm.elements.confirm.focus();
  });
  eraseForm.querySelector("#erase-cancel").addEventListener("click", () => open(false));

  exportForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    hideProblem(error);
    done.hidden = true;
    const email = exportForm.elements.email.value.trim();
    await busy(exportForm.querySelector("button[type=submit]"), async () => {
      try {
        const {data} = await api("/api/requesters/export", {method: "POST", body: {email}, blob: true});
        if (!current()) return;
        save(data, FILE_NAME);
        done.textContent = `Downloaded ${FILE_NAME} (${kb(data.size)}).`;
        done.hidden = false;
      } catch (err) {
        if (current()) showProblem(error, err);
      }
    });
  });

  let shown = "";
  const report = (job) => {
    const text = JSON.stringify([job.state, job.tickets_done, job.tickets, job.replacement]);
    if (text === shown) return;  // a live region is announced at every change, not every poll
    shown = text;
    clear(progress).append(...progressLines(job));
    progress.dataset.state = job.state;
  };
  const poll = async (id) => {
    while (current() && main.contains(progress)) {
      try {
        const {data} = await api(`/api/requesters/erasures/${encodeURIComponent(id)}`);
        if (!current()) return;
        report(data);
        if (data.state === "done") break;
      } catch (err) {
        // A dropped connection or a busy store: the next poll tries again; anything else ends it.
        if (!(err.status === 0 || err.status >= 500)) {
          if (current()) showProblem(eraseError, err);
          break;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    toggle.disabled = false;
  };

  eraseForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    hideProblem(eraseError);
    if (!exportForm.reportValidity()) return;
    const body = {email: exportForm.elements.email.value.trim(), confirm: eraseForm.elements.confirm.value.trim()};
    let job = null;
    await busy(eraseForm.querySelector("button[type=submit]"), async () => {
      try {
        job = (await api("/api/requesters/erase", {method: "POST", body})).data;
      } catch (err) {
        if (current()) showProblem(eraseError, err);
      }
    });
    if (!job || !current()) return;
    open(false);
    toggle.disabled = true;
    shown = "";
    report(job);
    poll(job.id);
  });
}
