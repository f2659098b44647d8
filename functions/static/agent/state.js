// What every view shares: who is signed in (from the page and /api/me) and the sidebar.
import {api} from "./api.js";
import {countText} from "./dom.js";

const body = document.body;
let loading = null;

export const me = {
  id: body.dataset.me,
  name: body.dataset.name,
  roles: (body.dataset.roles || "").split(",").filter(Boolean),
  maxBytes: Number(body.dataset.maxBytes),
  maxFiles: Number(body.dataset.maxFiles),
  record: null,  // the agent's directory entry (teams), once loaded
  /** The directory entry; loaded once, null if this agent has none. */
  load() {
    loading ??= api("/api/me").then(({data}) => { me.record = data.agent; return data.agent; })
      .catch(() => { loading = null; return null; });
    return loading;
  },
};

const lists = new Map();

/** A directory list (agents, teams, canned, categories), read once per page. */
export function directory(kind) {
  if (!lists.has(kind)) {
    lists.set(kind, api(`/api/directory/${kind}`).then(({data}) => data)
      .catch((err) => { lists.delete(kind); throw err; }));
  }
  return lists.get(kind);
}

/** Read a directory list again next time (after an admin changed it). */
export function forget(kind) {
  lists.delete(kind);
}

/** The sidebar's counts: every 30 seconds and after every action. */
export async function refreshCounts() {
  try {
    const {data} = await api("/api/queues/counts");
    for (const [name, n] of Object.entries(data.queues)) {
      const el = document.querySelector(`[data-count="${name}"]`);
      if (el) {
        el.textContent = countText(n, data.cap);
      }
    }
    return data;
  } catch (err) {
    return null;  // counts are a convenience: the next refresh tries again
  }
}
