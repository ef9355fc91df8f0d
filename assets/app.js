// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  // After a failed submit, move focus to the message.
  const alert = document.querySelector(".flash[role=alert]");
  if (alert) {
    alert.setAttribute("tabindex", "-1");
    alert.focus();
  }
  showSimilarWhileTyping();
  showSimilarSystemsWhileTyping();
  suggestAskersWhileTyping();
  suggestAnswersWhileTyping();
});

// Returns a function that fills `box` with a heading and a list of what a URL
// answers (`{items}`), one `li` per item made by `item`, and hides the box when
// there is nothing. Answers that arrive after a newer request are dropped.
function suggestions(box, item) {
  let latest = 0;
  return async (url) => {
    const ticket = ++latest;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok || ticket !== latest) return;
    const { items } = await response.json();
    box.replaceChildren();
    if (items.length === 0) {
      box.hidden = true;
      return;
    }
    const heading = document.createElement("h2");
    heading.textContent = box.dataset.heading;
    const list = document.createElement("ul");
    list.className = "similar-list";
    list.append(...items.map(item));
    box.append(heading, list);
    box.hidden = false;
  };
}

// Runs `refresh` 400 ms after the user stops typing in any of `fields`.
function afterTyping(fields, refresh) {
  let timer = null;
  for (const field of fields) {
    field.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    });
  }
}

// On the new-consultation form: similar consultations as the requester types, so
// they can read an existing answer instead of filing again. Text is inserted with
// textContent only, never as HTML.
function showSimilarWhileTyping() {
  const form = document.getElementById("new-consultation");
  const box = document.getElementById("similar");
  if (!form || !box) return;
  const show = suggestions(box, (item) => {
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/consultations/${item.id}`;
    link.textContent = `${item.number} ${item.title}`;
    li.append(link);
    if (item.resolution) {
      const p = document.createElement("p");
      p.className = "prose resolution";
      p.textContent = `${box.dataset.resolution}: ${item.resolution}`;
      li.append(p);
    }
    return li;
  });
  const fields = ["title", "current_work", "wish"].map((n) => form.elements[n]).filter(Boolean);
  afterTyping(fields, () => {
    const title = form.elements.title.value.trim();
    const body = [form.elements.current_work.value, form.elements.wish.value].join("\n").trim();
    if (title.length + body.length < 2) {
      box.hidden = true;
      return;
    }
    show(`/api/v1/consultations/similar?${new URLSearchParams({ title, body })}`);
  });
}

// On the ledger's registration and edit form: existing systems with a similar
// name as the user types, so a duplicate app is noticed before it is built.
// Text is inserted with textContent only, never as HTML.
function showSimilarSystemsWhileTyping() {
  const form = document.getElementById("system-form");
  const box = document.getElementById("similar-systems");
  if (!form || !box) return;
  const name = form.elements.name;
  const show = suggestions(box, (item) => {
    const li = document.createElement("li");
    li.dataset.id = item.id;
    const link = document.createElement("a");
    link.href = `/systems/${item.id}`;
    link.textContent = item.name;
    li.append(link, ` (${item.department})`);
    return li;
  });
  afterTyping([name], () => {
    const value = name.value.trim();
    // A warning the server rendered (with its confirmation box) stays as it is.
    if (value.length < 2 || form.elements.confirm_different) return;
    const query = new URLSearchParams({ name: value });
    if (name.dataset.exclude) query.set("exclude", name.dataset.exclude);
    show(`/api/v1/systems/similar?${query}`);
  });
}

// On the helpdesk's quick record: people whose name or e-mail contains what is
// typed, offered in a datalist (chosen with the arrow keys and Enter). Picking
// one fills the hidden asker id; typing again clears it, and without script
// the server finds the asker from the text (an e-mail or a unique name).
function suggestAskersWhileTyping() {
  const input = document.getElementById("asker");
  const list = document.getElementById("asker-suggestions");
  const id = document.getElementById("asker_id");
  if (!input || !list || !id) return;
  let found = [];
  let latest = 0;
  const label = (p) => `${p.name} <${p.email}>`;
  input.addEventListener("input", async () => {
    const chosen = found.find((p) => label(p) === input.value);
    id.value = chosen ? chosen.id : "";
    const text = input.value.trim();
    if (chosen || text.length < 1) return;
    const ticket = ++latest;
    const response = await fetch(`/api/v1/inquiries/askers?${new URLSearchParams({ q: text })}`, {
      credentials: "same-origin",
    });
    if (!response.ok || ticket !== latest) return;
    found = (await response.json()).items;
    list.replaceChildren(
      ...found.map((p) => {
        const option = document.createElement("option");
        option.value = label(p);
        return option;
      }),
    );
  });
}

// On "ask the helpdesk": FAQ articles and answered inquiries like the question
// being typed, so it may be answered before it is sent. An article offers
// "this solved it" (a form posted with the page's CSRF token). Text is inserted
// with textContent only, never as HTML.
function suggestAnswersWhileTyping() {
  const form = document.getElementById("new-inquiry-form");
  const box = document.getElementById("faq-suggestions");
  if (!form || !box) return;
  let latest = 0;
  const fields = [form.elements.subject, form.elements.question].filter(Boolean);
  afterTyping(fields, async () => {
    const text = fields.map((f) => f.value).join("\n").trim();
    if (text.length < 2) {
      box.hidden = true;
      return;
    }
    const ticket = ++latest;
    const response = await fetch(`/api/v1/faq/suggest?${new URLSearchParams({ text })}`, {
      credentials: "same-origin",
    });
    if (!response.ok || ticket !== latest) return;
    const { articles, inquiries } = await response.json();
    box.replaceChildren();
    if (articles.length + inquiries.length === 0) {
      box.hidden = true;
      return;
    }
    const heading = document.createElement("h2");
    heading.textContent = box.dataset.heading;
    const list = document.createElement("ul");
    list.className = "similar-list";
    for (const article of articles) {
      const li = document.createElement("li");
      li.dataset.faq = article.id;
      const link = document.createElement("a");
      link.href = `/faq/${article.id}`;
      link.textContent = article.title;
      const answer = document.createElement("p");
      answer.className = "prose resolution";
      answer.textContent = article.answer;
      const solved = document.createElement("form");
      solved.method = "post";
      solved.action = `/faq/${article.id}/solved`;
      solved.className = "faq-solved";
      const csrf = document.createElement("input");
      csrf.type = "hidden";
      csrf.name = "_csrf";
      csrf.value = box.dataset.csrf;
      const button = document.createElement("button");
      button.type = "submit";
      button.textContent = box.dataset.solved;
      solved.append(csrf, button);
      li.append(link, answer, solved);
      list.append(li);
    }
    for (const inquiry of inquiries) {
      const li = document.createElement("li");
      li.dataset.inquiry = inquiry.id;
      const link = document.createElement("a");
      link.href = `/inquiries/${inquiry.id}`;
      link.textContent = `${inquiry.number} ${inquiry.subject}`;
      const answer = document.createElement("p");
      answer.className = "prose resolution";
      answer.textContent = inquiry.answer || "";
      li.append(link, answer);
      list.append(li);
    }
    box.append(heading, list);
    box.hidden = false;
  });
}

// The effects report's print button (no inline script under the CSP).
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
