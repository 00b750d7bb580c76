// Drawing text others control (a requester's, a link's, the server's) and the backend's
// sentences of parts, so none of it can reorder or pass for the text around it.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// View fields that hold what others wrote: a requester, a link, the server.
export const OTHERS = /^(request|challenge|grant)\./;

// Text others control, in a <bdi> so it cannot reorder what is around it; past `max`
// characters (the backend's cap) it is shortened, whole in its title.
export function isolated(text, whole = false, max = 48) {
  const b = document.createElement("bdi");
  const s = String(text ?? "");
  const chars = [...s];
  if (!whole && chars.length > max) {
    b.textContent = chars.slice(0, max).join("") + "…";
    b.title = s;
    b.dataset.shortened = "true";
  } else {
    b.textContent = s;
  }
  return b;
}

// A sentence of plain parts and `{ isolate }` parts (see words.js), or a plain value.
export function fillParts(el, value, max) {
  if (Array.isArray(value)) {
    el.replaceChildren(
      ...value.map((p) =>
        p && typeof p === "object" ? isolated(p.isolate, p.whole, max) : document.createTextNode(String(p)),
      ),
    );
  } else {
    el.textContent = value == null ? "" : String(value);
  }
}

// The backend's warning for a value that could pass for another, drawn beside it.
export function lookalikeNote(text) {
  const w = document.createElement("span");
  w.className = "lookalike";
  w.dataset.testid = "lookalike-warning";
  w.setAttribute("role", "note");
  w.title = "It may imitate another name: read it letter by letter.";
  w.textContent = text;
  return w;
}

export function warnAfter(el, warning) {
  const next = el.nextElementSibling;
  if (next?.classList.contains("lookalike")) next.remove();
  if (warning && !el.hidden) el.after(lookalikeNote(warning));
}
