// A ticket taken by phone: the agent types it in on the caller's behalf (channel phone).
import {api, busy, hideProblem, showProblem} from "./api.js";
import {announce, append, h} from "./dom.js";
import {directory, refreshCounts} from "./state.js";
import {fieldInput, inputValue} from "./ticket.js";

const PRIORITIES = ["low", "normal", "high", "urgent"];

export async function showNewTicket(main, current) {
  const error = h("div", {class: "notice", role: "alert", hidden: true, id: "new-error"});
  const category = h("select", {name: "category", id: "new-category"});
  const input = (name, label, attrs = {}, hint = null) => {
    const id = `new-${name}`;
    return [h("label", {for: id}, label, hint ? h("span", {class: "hint"}, ` ${hint}`) : null,
              h("span", {class: "field-error", id: `${id}-error`})),
            name === "description"
              ? h("textarea", {id, name, required: true, maxlength: "20000", "aria-describedby": `${id}-error`})
              : h("input", {id, name, "aria-describedby": `${id}-error`, ...attrs})];
  };
  const submit = h("button", {type: "submit"}, "Create ticket");
  // The chosen category's own fields, agents-only ones too (the caller cannot see them).
  const fieldsBox = h("fieldset", {class: "category-fields", hidden: true});
  let defs = [];
  let categories = [];
  const showFields = () => {
    defs = (categories.find((c) => c.id === category.value) || {}).fields || [];
    fieldsBox.hidden = !defs.length;
    fieldsBox.replaceChildren();
    append(fieldsBox, [h("legend", {}, "Details for this category"), defs.map((def) => [
      h("label", {for: `tf-${def.id}`}, def.label, def.required ? h("span", {class: "hint"}, " (required)") : null,
        def.visibility === "agents" ? h("span", {class: "hint"}, " (agents only)") : null),
      fieldInput(def, undefined, "field.")])]);
  };
  category.addEventListener("change", showFields);
  const form = h("form", {class: "phone-form", novalidate: true, "aria-labelledby": "new-title"},
    error,
    input("name", "Caller's name", {required: true, maxlength: "200", autocomplete: "off"}),
    input("email", "Caller's email", {type: "email", autocomplete: "off"}, "(email or phone, or both)"),
    input("phone", "Caller's phone", {type: "tel", maxlength: "40", autocomplete: "off"}),
    input("subject", "Subject", {required: true, maxlength: "250"}),
    input("description", "What the caller says"),
    h("label", {for: "new-priority"}, "Priority"),
    h("select", {name: "priority", id: "new-priority"},
      PRIORITIES.map((p) => h("option", {value: p, selected: p === "normal"}, p))),
    h("label", {for: "new-category"}, "Category"), category, fieldsBox,
    submit);
  main.replaceChildren(h("h1", {id: "new-title"}, "New ticket taken by phone"), form);
  form.elements.name.focus();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    hideProblem(error);
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    const body = {channel: "phone"};
    for (const name of ["name", "email", "phone", "subject", "description", "priority", "category"]) {
      const value = form.elements[name].value.trim();
      if (value) body[name] = value;
    }
    const fields = {};
    for (const def of defs) {
      const value = inputValue(fieldsBox, def, "field.");
      if (value !== null && value !== false && !(Array.isArray(value) && !value.length)) fields[def.id] = value;
    }
    if (Object.keys(fields).length) body.fields = fields;
    busy(submit, async () => {
      try {
        const {data} = await api("/api/tickets", {method: "POST", body});
        announce(`Ticket ${data.number} created`);
        refreshCounts();
        location.hash = `#/ticket/${data.number}`;
      } catch (err) {
        showProblem(error, err);
        for (const e of err.problem?.errors || []) {
          const slot = document.getElementById(`new-${String(e.field).split(".")[0]}-error`);
          if (slot) slot.textContent = ` ${e.message}`;
        }
        error.focus?.();
      }
    });
  });
  // After the listener: a click while the categories load submits through it, never as a
  // plain form (which would reload the page and lose what was typed).
  try {
    categories = await directory("categories");
    for (const c of categories) category.append(h("option", {value: c.id}, c.name));
    showFields();
  } catch (err) {
    if (current()) showProblem(error, err);
  }
}
