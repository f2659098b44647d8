// Building the page from data without ever parsing it as HTML: every text a person typed
// becomes a text node (textContent), never markup. Nothing here uses innerHTML.

/** An element: h("a", {href: "#/x", class: "y"}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) throw new Error("bind events with addEventListener");
    if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** "2d 3h", "5h 12m", "7m": the two largest units of a duration in seconds. */
export function span(seconds) {
  const s = Math.floor(Math.abs(seconds));
  if (s < 60) return "<1m";
  const d = Math.floor(s / 86400), hrs = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return hrs ? `${d}d ${hrs}h` : `${d}d`;
  if (hrs) return m ? `${hrs}h ${m}m` : `${hrs}h`;
  return `${m}m`;
}

export function age(iso, now = Date.now()) {
  return span((now - Date.parse(iso)) / 1000);
}

/** A due time as a countdown; sets `.breached` once it has passed. */
export function countdown(el, iso, now = Date.now()) {
  if (!iso) {
    el.textContent = "—";
    el.classList.remove("breached");
    return;
  }
  const left = (Date.parse(iso) - now) / 1000;
  el.textContent = left >= 0 ? `in ${span(left)}` : `${span(left)} overdue`;
  el.classList.toggle("breached", left < 0);
  el.title = new Date(iso).toLocaleString();
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString([], {dateStyle: "medium", timeStyle: "short"}) : "—";
}

/** A count from the counts endpoint: "1000+" at the cap. */
export function countText(n, cap) {
  return n >= cap ? `${cap}+` : String(n);
}

export function announce(text) {
  const live = document.getElementById("live");
  if (live) live.textContent = text;
}

// -- action forms (the ticket page's and the queue's bulk toolbar) --------------------------

/** A labelled control: [label, control], the control given `id`. */
export function field(id, label, control, hint) {
  control.id = id;
  return [h("label", {for: id}, label, hint ? h("span", {class: "hint"}, ` ${hint}`) : null), control];
}

/** A form field's value, trimmed. */
export function formValue(form, name) {
  return form.elements[name].value.trim();
}

/** The body of an assignment from a form with "agent" and "team" selects ("" keeps). */
export function assignBody(form) {
  const body = {};
  if (formValue(form, "agent")) body.agent = formValue(form, "agent");
  if (formValue(form, "team")) body.team = formValue(form, "team");
  if (!body.agent && !body.team) throw new Error("Choose an agent, a team, or both.");
  return body;
}
