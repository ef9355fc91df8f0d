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

// The effects report's print button (no inline script under the CSP).
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
