// The admins' view of a category's own fields (#/categories?id=…): add, reorder, change
// and remove them, saved with PUT /api/directory/categories/{id}. A field's id is the key
// its values are kept under, so it is fixed once saved; removing a field or a choice
// leaves the values tickets hold (agents see them as retired). Text goes in as text nodes.
import {api, busy, hideProblem, showProblem} from "./api.js";
import {announce, h} from "./dom.js";
import {directory, forget} from "./state.js";

const TYPES = {text: "Text", number: "Number", date: "Date", choice: "Choice",
               "multi-choice": "Multiple choice", checkbox: "Checkbox"};
const CHOICES = new Set(["choice", "multi-choice"]);

function fieldRow(def, saved, index, rows) {
  const n = index + 1;
  const id = h("input", {name: "id", value: def.id || "", required: true, pattern: "[a-z][a-z0-9_]{0,39}",
                         readonly: saved, "aria-label": `Field ${n} id`});
  const label = h("input", {name: "label", value: def.label || "", required: true, maxlength: "200",
                            "aria-label": `Field ${n} label`});
  const type = h("select", {name: "type", "aria-label": `Field ${n} type`},
    Object.entries(TYPES).map(([value, text]) => h("option", {value, selected: def.type === value}, text)));
  const visibility = h("select", {name: "visibility", "aria-label": `Field ${n} shown to`},
    h("option", {value: "requester", selected: def.visibility !== "agents"}, "Requesters and agents"),
    h("option", {value: "agents", selected: def.visibility === "agents"}, "Agents only"));
  const required = h("input", {type: "checkbox", name: "required", checked: !!def.required,
                               "aria-label": `Field ${n} required`});
  const choices = h("textarea", {name: "choices", rows: "3", "aria-label": `Field ${n} choices, one per line`});
  choices.value = (def.choices || []).join("\n");
  const help = h("input", {name: "help", value: def.help || "", maxlength: "500", "aria-label": `Field ${n} help`});
  const showChoices = () => { choices.hidden = !CHOICES.has(type.value); };
  type.addEventListener("change", showChoices);
  showChoices();
  const move = (step, text) => {
    const button = h("button", {type: "button", class: "secondary", "aria-label": `${text} field ${n}`}, text);
    button.addEventListener("click", () => rows.move(index, step));
    return button;
  };
  const remove = h("button", {type: "button", class: "secondary", "aria-label": `Remove field ${n}`}, "Remove");
  remove.addEventListener("click", () => rows.remove(index));
  return h("fieldset", {class: "field-def", dataset: {field: def.id || ""}},
    h("legend", {}, `Field ${n}`), id, label, type, visibility,
    h("label", {class: "check"}, required, " required"), choices, help,
    h("div", {class: "row-actions"}, move(-1, "Up"), move(1, "Down"), remove));
}

function read(row) {
  const get = (name) => row.querySelector(`[name=${name}]`);
  const def = {id: get("id").value.trim(), label: get("label").value.trim(), type: get("type").value,
               visibility: get("visibility").value, required: get("required").checked,
               help: get("help").value.trim()};
  if (CHOICES.has(def.type)) {
    def.choices = get("choices").value.split("\n").map((c) => c.trim()).filter(Boolean);
  }
  return def;
}

export async function showCategories(main, params, current) {
  const categories = await directory("categories");
  if (!current()) return;
  const chosen = categories.find((c) => c.id === params.get("id")) || categories[0];
  const picker = h("select", {id: "category-pick"},
    categories.map((c) => h("option", {value: c.id, selected: c === chosen}, c.name)));
  picker.addEventListener("change", () => { location.hash = `#/categories?id=${encodeURIComponent(picker.value)}`; });
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const list = h("div", {class: "field-defs"});
  const savedIds = new Set((chosen?.fields || []).map((f) => f.id));
  let defs = [...(chosen?.fields || [])];
  const rows = {
    render() {
      list.replaceChildren(...defs.map((def, i) => fieldRow(def, savedIds.has(def.id), i, rows)));
      if (!defs.length) list.append(h("p", {class: "muted"}, "This category has no fields of its own."));
    },
    snapshot() { defs = [...list.querySelectorAll("fieldset.field-def")].map(read); },
    move(i, step) {
      rows.snapshot();
      const j = i + step;
      if (j < 0 || j >= defs.length) return;
      [defs[i], defs[j]] = [defs[j], defs[i]];
      rows.render();
    },
    remove(i) { rows.snapshot(); defs.splice(i, 1); rows.render(); },
  };
  const add = h("button", {type: "button", class: "secondary"}, "Add a field");
  add.addEventListener("click", () => {
    rows.snapshot();
    defs.push({id: "", label: "", type: "text", visibility: "requester"});
    rows.render();
    list.querySelector("fieldset.field-def:last-of-type [name=id]").focus();
  });
  const save = h("button", {type: "submit"}, "Save fields");
  const form = h("form", {"aria-label": "Fields of the category"}, list, add, " ", save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    hideProblem(error);
    rows.snapshot();
    await busy(save, async () => {
      try {
        const {id, ...rest} = chosen;
        await api(`/api/directory/categories/${encodeURIComponent(id)}`,
                  {method: "PUT", body: {...rest, fields: defs}});
        forget("categories");
        for (const def of defs) savedIds.add(def.id);
        rows.render();
        announce("Fields saved");
      } catch (err) {
        showProblem(error, err);
      }
    });
  });
  main.replaceChildren(h("h1", {}, "Category fields"),
    h("p", {class: "muted"}, "Each category can ask for details of its own, on the web form (requester fields) ",
      "and on the ticket page. A field's id is where its values are kept: it cannot change once saved. ",
      "Removing a field or a choice keeps the values tickets already hold; agents see them as retired."),
    h("label", {for: "category-pick"}, "Category"), picker, error, form);
  rows.render();
}
