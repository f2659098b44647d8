// The web form: while the requester types a subject, public help articles that match it
// are listed under the field, so a known problem may be solved before it is submitted.
// Everything shown is set as text; the form works the same without this script.
const subject = document.getElementById("subject");
const box = document.getElementById("suggestions");
let timer = null;
let asked = "";

async function suggest() {
  const query = subject.value.trim();
  if (query.length < 4 || query === asked) {
    if (query.length < 4) box.hidden = true;
    return;
  }
  asked = query;
  let items = [];
  try {
    const response = await fetch(`/api/kb/suggest?q=${encodeURIComponent(query)}`,
                                 { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    items = (await response.json()).items;
  } catch {
    return;  // suggestions are a help, never an obstacle
  }
  if (query !== subject.value.trim()) return;  // typed on meanwhile
  const list = box.querySelector("ul");
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = item.url;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = item.title;
    li.append(link);
    return li;
  }));
  box.hidden = items.length === 0;
}

if (subject && box) {
  subject.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, 300);
  });
}

// The category's own fields: each category's are a fieldset of their own; the chosen
// one's is shown at once when the category changes, the others hidden and disabled (so
// their inputs are neither checked nor sent). Without this script the form's "Continue"
// button asks the server for the page with the chosen category's fields.
const category = document.getElementById("category");
const step = document.getElementById("category-step");

function showFields() {
  for (const set of document.querySelectorAll("fieldset.category-fields")) {
    const mine = set.dataset.category === category.value;
    set.hidden = !mine;
    set.disabled = !mine;
  }
}

if (category) {
  if (step) step.hidden = true;
  category.addEventListener("change", showFields);
  showFields();
}
