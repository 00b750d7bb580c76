// The approval prompt's facts and states, beside render.js: the facts box's rows
// (amount, payee or its absence, who approves), the requester's note, an approval that names
// no details, the step that cannot go on, and errors drawn under the field they are about.
import { details, money } from "./money.js";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// The facts box's rows, from the metadata's `[key, value, warning]` triples: a transfer's
// amount and currency become one formatted amount, its payee has a row of its own (or a
// warning row when none is given), and who approves closes the list. Each row is
// `[label, value, warning, fact]`; `fact` names the row for the page's styles and the tests.
export function factRows(list, v, bound) {
  const rows = [];
  const m = details(list);
  const warn = Object.fromEntries(list.map(([k, , w]) => [k, w]));
  const sum = money(m.amount, m.currency);
  const transfer = "amount" in m;
  for (const [k, val, w] of list) {
    if (k === "amount" && sum) rows.push(["Amount", sum, w || warn.currency, "amount"]);
    else if (k === "currency" && sum) continue;
    else if (k === "payee") rows.push(["Payee", val, w, "payee"]);
    else rows.push([k, val, w, ""]);
  }
  if (transfer && !m.payee) {
    // Payee first after the amount: a transfer that names no payee cannot be judged.
    const at = rows.findIndex((r) => r[3] === "amount") + 1;
    rows.splice(at, 0, ["Payee", "not given", null, "no-payee"]);
  }
  // Who approves, on the screens that ask; the granted screen's list is what was approved.
  if (bound !== "grant.metadata" && v.user?.approver) rows.push(["Approving as", v.user.approver, null, "approver"]);
  return rows;
}

// The parts of the prompt render.js binds no value to: shown or hidden from the view.
export function showPrompt(v, root) {
  const note = Boolean(v.request?.reason);
  for (const el of $$(".note", root)) el.hidden = !note;
  const broad = v.stage === "request" ? v.request?.broad : v.challenge?.broad;
  for (const el of $$("[data-testid=broad]", root)) {
    el.hidden = !broad;
    $(".broad-text", el).textContent = broad || "";
  }
  const end = v.challenge?.deadEnd;
  const box = $("[data-testid=dead-end]", root);
  if (box) {
    box.hidden = !end;
    // A step no code can come for offers no field and no Approve: Deny, and the way out.
    $("#stepup-form", root)?.toggleAttribute("data-dead-end", Boolean(end));
    if (end) {
      for (const el of $$(".otp-only, .custom-only", root)) el.hidden = true;
      $("[data-testid=dead-end-why]", box).textContent = end.why;
      $("[data-testid=dead-end-fix]", box).textContent = end.fix;
    }
    const add = $("[data-action=dead-end-add]", root);
    add.hidden = !end;
    if (end) {
      add.textContent = end.action;
      add.dataset.testid = `dead-end-add-${end.missing}`;
    }
  }
  // With no tries left, the way on sits beside the Approve it disables.
  const resend = $("[data-testid=resend-stepup-code]", root);
  const approve = $("[data-testid=verify-stepup]", root);
  if (resend && approve) {
    const links = $(".row-links", root);
    const beside = Boolean(v.codeExhausted) && !end;
    if (beside && resend.previousElementSibling !== approve) approve.after(resend);
    if (!beside && resend.parentElement !== links) links.prepend(resend);
    resend.classList.toggle("secondary", beside);
    resend.classList.toggle("link", !beside);
  }
}

// The dead end's button: this approval is denied (nothing can pass its step), and the
// account screen, where addresses are managed, is next.
export function wireDeadEnd(root, view, act) {
  $("[data-action=dead-end-add]", root)?.addEventListener("click", async (e) => {
    const v = view();
    const ok = v?.request
      ? await act("deny_request", { id: v.request.id, report: false }, e.currentTarget)
      : await act("deny_step_up", {}, e.currentTarget);
    if (ok) $("#card")?.scrollIntoView({ block: "start" });
  });
}

// Errors go where they are about: under the field they name (the field marked), under the
// code field on the check, else at the top of the card. A dead end says its error itself.
export function placeError(box, actions, v, root) {
  if (!box.hidden && v?.challenge?.deadEnd && box.dataset.noAddress === "true") {
    box.hidden = true;
    return;
  }
  for (const f of $$("[aria-invalid][data-marked]", root)) {
    f.removeAttribute("aria-invalid");
    delete f.dataset.marked;
  }
  const field = box.dataset.field ? $(`[name="${CSS.escape(box.dataset.field)}"]`, root) : null;
  // The first slot on show: the step's code field, or the PIN field of a passkey step.
  const shown = $$("[data-error-slot]", root).find((el) => !el.closest("[hidden]"));
  const slot = field?.closest(".field") || (!box.hidden && shown);
  if (field && !box.hidden) {
    field.setAttribute("aria-invalid", "true");
    field.dataset.marked = "true";
    field.setAttribute("aria-describedby", "error");
  }
  if (slot && !box.hidden) {
    slot.append(box, actions);
    box.classList.add("inline");
  } else if (box.parentElement !== $(".alerts")) {
    $(".alerts").prepend(box, actions);
    box.classList.remove("inline");
  }
}
