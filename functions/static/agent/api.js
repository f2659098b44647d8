// The JSON API as the page uses it: every call says it comes from this page (the CSRF
// header the app demands of cookie-authenticated changes) and problem JSON becomes an
// ApiError that a form can show. `{blob: true}` answers a file (a ZIP) as a Blob.
import {h} from "./dom.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function api(path, {method = "GET", body, headers = {}, blob = false} = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: {"Accept": "application/json", "X-Helpdesk-Request": "1", ...headers},
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, {title: "Network error", detail: "The help desk could not be reached. Check your connection and try again."});
  }
  const type = response.headers.get("Content-Type") || "";
  if (blob && response.ok) return {data: await response.blob(), etag: null, status: response.status};
  const data = type.includes("json") ? await response.json().catch(() => ({})) : {};
  if (response.status === 401) {
    throw new ApiError(401, {title: "Signed out", detail: "Your session has ended: reload the page to sign in again."});
  }
  if (!response.ok) throw new ApiError(response.status, data && typeof data === "object" ? data : {});
  return {data, etag: response.headers.get("ETag"), status: response.status};
}

/** Show an error next to the form that caused it: title, detail and each field's error. */
export function showProblem(box, error) {
  box.replaceChildren();
  box.hidden = false;
  const problem = error instanceof ApiError ? error.problem : {detail: String(error.message || error)};
  box.append(h("strong", {}, problem.title || "Something went wrong"), " ",
             problem.detail || "");
  if (Array.isArray(problem.errors) && problem.errors.length) {
    box.append(h("ul", {}, problem.errors.map((e) => h("li", {}, `${e.field}: ${e.message}`))));
  }
}

export function hideProblem(box) {
  box.hidden = true;
  box.replaceChildren();
}

/** Run `work` with `button` showing it is busy (disabled, aria-busy) until it ends. */
export async function busy(button, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = `${label}…`;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}
