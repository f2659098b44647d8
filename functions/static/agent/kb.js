// The knowledge base in the agents' page: search (#/kb?q=...), an article (#/kb/<id>) and
// its editing under If-Match, the "Promote to article" form of a resolved ticket, and the
// "Similar" panel of every ticket. Article text is shown as text, never as markup.
import {ApiError, api, busy, hideProblem, showProblem} from "./api.js";
import {announce, append, clear, h, when} from "./dom.js";
import {directory} from "./state.js";

function visibility(article) {
  return article.public ? h("span", {class: "badge public"}, "Public")
                        : h("span", {class: "badge note"}, "Internal");
}

function categorySelect(id, chosen) {
  const select = h("select", {id, name: "category", required: true});
  const fill = (list) => {
    const ids = list.map((c) => c.id);
    if (chosen && !ids.includes(chosen)) select.append(h("option", {value: chosen, selected: true}, chosen));
    for (const c of list) select.append(h("option", {value: c.id, selected: c.id === chosen}, c.name));
  };
  directory("categories").then(fill).catch(() => fill([]));
  return select;
}

function articleFields(prefix, {title = "", body = "", category = "general", isPublic = false}) {
  return [
    h("label", {for: `${prefix}-title`}, "Title"),
    h("input", {id: `${prefix}-title`, name: "title", required: true, minlength: "3", maxlength: "200", value: title}),
    h("label", {for: `${prefix}-body`}, "Article text"),
    Object.assign(h("textarea", {id: `${prefix}-body`, name: "body", required: true, maxlength: "20000", rows: "10"}),
                  {value: body}),
    h("label", {for: `${prefix}-category`}, "Category"),
    categorySelect(`${prefix}-category`, category),
    h("label", {class: "choice"}, h("input", {type: "checkbox", name: "public", checked: isPublic}),
      "Public: requesters find it in the help articles and the web form"),
  ];
}

function articleBody(form) {
  return {title: form.elements.title.value.trim(), body: form.elements.body.value.trim(),
          category: form.elements.category.value, public: form.elements.public.checked};
}

// -- search ------------------------------------------------------------------------------

export async function showKb(main, q, current) {
  const input = h("input", {id: "kb-q", name: "q", type: "search", value: q, maxlength: "300", autocomplete: "off"});
  const form = h("form", {role: "search", class: "kb-search", "aria-label": "Search the knowledge base"},
    h("label", {for: "kb-q"}, "Search articles"), input, h("button", {type: "submit"}, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text) location.hash = `#/kb?q=${encodeURIComponent(text)}`;
  });
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const results = h("div", {id: "kb-results"});
  main.replaceChildren(h("h1", {}, "Knowledge base"), form, error, results);
  if (!q) {
    results.append(h("p", {class: "info"},
      "Articles are promoted from resolved tickets (“Promote to article” on the ticket). ",
      "Search them by their words; public ones are also in the requesters' help articles."));
    return;
  }
  results.append(h("p", {class: "muted"}, "Searching…"));
  let data;
  try {
    ({data} = await api(`/api/kb/search?${new URLSearchParams({q})}`));
  } catch (err) {
    if (current()) {
      results.replaceChildren();
      showProblem(error, err);
    }
    return;
  }
  if (!current()) return;
  if (!data.items.length) {
    results.replaceChildren(h("p", {class: "info"}, `No article matches “${q}”.`));
    return;
  }
  results.replaceChildren(h("ul", {class: "thread", "aria-label": "Articles found"}, data.items.map((hit) =>
    h("li", {dataset: {article: hit.id}},
      h("div", {class: "meta"}, visibility(hit), " ", hit.category),
      h("a", {href: `#/kb/${encodeURIComponent(hit.id)}`}, h("strong", {}, hit.title)),
      h("div", {class: "body muted"}, hit.snippet)))));
}

// -- one article, and editing it ----------------------------------------------------------

export async function showArticle(main, id, current) {
  const {data, etag} = await api(`/api/kb/articles/${encodeURIComponent(id)}`);
  if (!current()) return;
  const state = {article: data, etag};
  const banner = h("div", {class: "notice banner", role: "alert", hidden: true});
  const title = h("h1", {});
  const meta = h("p", {class: "muted article-meta"});
  const text = h("div", {class: "thread-body article-body"});
  const edit = h("button", {type: "button", class: "secondary", "aria-expanded": "false"}, "Edit");
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const save = h("button", {type: "submit"}, "Save article");
  const cancel = h("button", {type: "button", class: "secondary"}, "Cancel");
  const form = h("form", {class: "composer", hidden: true, "aria-label": "Edit the article"},
    h("h2", {}, "Edit the article"), error,
    articleFields("edit", {title: data.title, body: data.body, category: data.category, isPublic: data.public}),
    h("div", {class: "actions"}, save, cancel));
  main.replaceChildren(banner, h("p", {}, h("a", {href: "#/kb"}, "← Knowledge base")), title, meta,
                       h("div", {class: "actions"}, edit), form, text);

  const render = () => {
    const a = state.article;
    title.replaceChildren(a.title);
    append(clear(meta), [visibility(a), ` ${a.category} · by ${a.author} · updated `,
      h("time", {datetime: a.updated_at}, when(a.updated_at)),
      a.from_ticket ? [" · from ", h("a", {href: `#/ticket/${encodeURIComponent(a.from_ticket)}`}, `#${a.from_ticket}`)] : null,
      a.public ? [" · ", h("a", {href: `/api/help/${encodeURIComponent(a.id)}`}, "public page")] : null]);
    text.replaceChildren(a.body);
  };
  const open = (show) => {
    form.hidden = !show;
    edit.setAttribute("aria-expanded", String(show));
    if (show) form.elements.title.focus();
  };
  edit.addEventListener("click", () => open(form.hidden));
  cancel.addEventListener("click", () => open(false));
  const reload = h("button", {type: "button", class: "secondary"}, "Reload");
  reload.addEventListener("click", () => busy(reload, async () => {
    try {
      const fresh = await api(`/api/kb/articles/${encodeURIComponent(id)}`);
      state.article = fresh.data;
      state.etag = fresh.etag;
      render();
      banner.hidden = true;
      announce("Article reloaded; your edit is still in the form");
    } catch (err) {
      showProblem(banner, err);
    }
  }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    hideProblem(error);
    await busy(save, async () => {
      try {
        const {data: saved, etag: newEtag} = await api(`/api/kb/articles/${encodeURIComponent(id)}`, {
          method: "PUT", body: articleBody(form), headers: {"If-Match": state.etag}});
        state.article = saved;
        state.etag = newEtag;
        render();
        open(false);
        announce("Article saved");
      } catch (err) {
        if (err instanceof ApiError && err.status === 412) {
          banner.replaceChildren(h("strong", {}, "Someone else changed this article since you opened it. "),
            "Nothing was saved. Reload to see their version; your edit stays in the form. ", reload);
          banner.hidden = false;
          reload.focus();
        } else {
          showProblem(error, err);
        }
      }
    });
  });
  render();
}

// -- on a ticket: promote its resolution, and what is like it ---------------------------------

/** The "Promote to article" form of a resolved or closed ticket; open(ticket) fills it. */
export function promoteForm(number) {
  const error = h("div", {class: "notice", role: "alert", hidden: true});
  const done = h("div", {class: "success", role: "status", hidden: true});
  const submit = h("button", {type: "submit"}, "Create article");
  const cancel = h("button", {type: "button", class: "secondary"}, "Cancel");
  const fields = h("div", {});
  const form = h("form", {class: "composer", hidden: true, "aria-label": "Promote to article", dataset: {form: "promote"}},
    h("h2", {}, "Promote to article"),
    h("p", {class: "muted"}, "The resolution becomes a knowledge base article; edit it for the next reader."),
    error, fields, h("div", {class: "actions"}, submit, cancel));
  cancel.addEventListener("click", () => { form.hidden = true; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    hideProblem(error);
    await busy(submit, async () => {
      try {
        const {data} = await api("/api/kb/articles", {method: "POST", body: {...articleBody(form), from_ticket: number}});
        form.hidden = true;
        done.replaceChildren("Article created: ", h("a", {href: `#/kb/${encodeURIComponent(data.id)}`}, data.title));
        done.hidden = false;
        announce("Article created");
      } catch (err) {
        showProblem(error, err);
      }
    });
  });
  const open = (ticket) => {
    fields.replaceChildren(...articleFields("promote", {title: ticket.subject, body: ticket.resolution || "",
                                                       category: ticket.category}));
    hideProblem(error);
    done.hidden = true;
    form.hidden = false;
    form.elements.title.focus();
  };
  return {form, done, open};
}

/** The resolved tickets and the articles most like this ticket, filled in when they come. */
export function similarPanel(number) {
  const box = h("section", {class: "similar", "aria-labelledby": "similar-title", "aria-busy": "true"},
    h("h2", {id: "similar-title"}, "Similar"), h("p", {class: "muted"}, "Looking for similar tickets…"));
  api(`/api/tickets/${encodeURIComponent(number)}/similar`).then(({data}) => {
    box.replaceChildren(h("h2", {id: "similar-title"}, "Similar"),
      h("h3", {}, "Resolved tickets"),
      data.tickets.length ? h("ul", {class: "similar-tickets"}, data.tickets.map((t) => h("li", {},
        h("a", {href: `#/ticket/${encodeURIComponent(t.number)}`}, `#${t.number} ${t.subject}`),
        h("span", {class: "muted"}, ` (${t.status})`)))) : h("p", {class: "muted"}, "None found."),
      h("h3", {}, "Articles"),
      data.articles.length ? h("ul", {class: "similar-articles"}, data.articles.map((a) => h("li", {},
        h("a", {href: `#/kb/${encodeURIComponent(a.id)}`}, a.title), " ", visibility(a)))) :
        h("p", {class: "muted"}, "None found."));
  }).catch((err) => {
    box.replaceChildren(h("h2", {id: "similar-title"}, "Similar"),
      h("p", {class: "muted"}, `Could not look for similar tickets: ${err.message}`));
  }).finally(() => box.removeAttribute("aria-busy"));
  return box;
}
