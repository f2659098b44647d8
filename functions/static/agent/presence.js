// Who else has this ticket open: a heartbeat (PUT /api/tickets/<number>/presence) every
// few seconds while the page is visible, and at once when the agent starts or stops
// typing in one of the ticket's forms; the answer names the other agents here and who of
// them is typing. Leaving the ticket (another view, another page) says so (DELETE). A
// courtesy only: the ticket's ETag still refuses an action on a version someone changed.
import {api} from "./api.js";

const TYPING_FOR_MS = 6_000;  // typing counts this long after the last keystroke

/** Keep `line` (a polite live region, empty while nobody else is here) saying who else is here while `current()` holds; `typingIn` is the element
 * whose text fields count as typing a reply. */
export function watchPresence(number, line, typingIn, current) {
  const path = `/api/tickets/${encodeURIComponent(number)}/presence`;
  let every = 5_000;
  let lastKey = 0;
  let sentTyping = false;
  let timer = null;
  let gone = false;

  const typing = () => Date.now() - lastKey < TYPING_FOR_MS;

  async function beat() {
    if (gone) return;
    if (!current() || !line.isConnected) {
      leave();
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(beat, every);
    if (document.visibilityState !== "visible") return;
    sentTyping = typing();
    try {
      const {data} = await api(path, {method: "PUT", body: {typing: sentTyping}});
      if (gone || !current()) return;
      every = (data.heartbeat_seconds || 5) * 1000;
      show(line, data.others || []);
    } catch (err) {
      // Presence is a convenience: the next heartbeat tries again.
    }
  }

  function leave() {
    if (gone) return;
    gone = true;
    clearTimeout(timer);
    clearTimeout(stopped);
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("pagehide", onHide);
    typingIn.removeEventListener("input", onInput);
    // keepalive: the request outlives a page being closed.
    fetch(path, {method: "DELETE", credentials: "same-origin", keepalive: true,
                 headers: {"X-Helpdesk-Request": "1"}}).catch(() => {});
  }

  let stopped = null;
  function onInput(event) {
    if (!(event.target instanceof HTMLTextAreaElement)) return;
    lastKey = Date.now();
    if (!sentTyping) beat();
    // Tell the others once the typing stops, without waiting for the next heartbeat.
    clearTimeout(stopped);
    stopped = setTimeout(() => { if (sentTyping && !typing()) beat(); }, TYPING_FOR_MS + 100);
  }
  const onVisible = () => { if (document.visibilityState === "visible") beat(); };
  const onHide = () => leave();

  typingIn.addEventListener("input", onInput);
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("pagehide", onHide);
  window.addEventListener("hashchange", () => setTimeout(() => { if (!current()) leave(); }), {once: true});
  beat();
  return {leave};
}

function show(line, others) {
  const text = others.length
    ? `Also here: ${others.map((p) => p.typing ? `${p.name} (typing…)` : p.name).join(", ")}`
    : "";
  // Unchanged text is not written again, so a screen reader does not repeat it.
  if (line.textContent !== text) line.textContent = text;
}
