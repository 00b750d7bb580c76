// The account's email addresses and phone numbers, and adding one: the backend asks Prelude's
// reserved scope for it, and the code goes to the new address (docs/protocol.md, "Registering
// an identifier"). The panel draws what the backend answers; it keeps no state of its own.
import { call } from "./ipc.js";
import { refreshInbox } from "./demo.js";
import { showErrorIn } from "./messages.js";
import { left as timeLeft } from "./words.js";

const $ = (sel, root) => root.querySelector(sel);

// Wires the panel inside `root` (the signed-in screen); `flash` shows a short confirmation.
export function wireIdentifiers(root, flash) {
  const panel = $("#identifiers-panel", root);
  if (!panel) return;
  const list = $("#identifier-list", panel);
  const count = $("#identifiers-count", panel);
  const actions = $("#identifier-actions", panel);
  const form = $("#identifier-form", panel);
  const input = $("#identifier-value", panel);
  const codeForm = $("#identifier-code-form", panel);
  const codeInput = $("#identifier-code", panel);
  const resend = $("[data-testid=identifier-resend]", panel);
  const errorBox = $("#identifier-error", panel);
  const errorHome = errorBox.parentElement;
  // The kinds of address and their words come with the panel's view (`kinds`); `kind` is the
  // one the open form adds, sent back as the backend named it.
  let kinds = [];
  let kind = null;
  let lastError = null;
  const wordsFor = (k) => kinds.find((w) => w.kind === k);
  let busy = false;
  let resendTimer = null;

  const clearError = () => {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    delete errorBox.dataset.code;
    lastError = null;
  };
  // Only as far as needed to see it, as the main error line does.
  const seen = (el) => el.scrollIntoView({ block: "nearest", behavior: "auto" });
  // Under the field of the open form; with no form open, at the foot of the panel. The field
  // is marked where its submit failed (below), not for a resend or a network fault.
  const showError = (err) => {
    showErrorIn(errorBox, err);
    const field = !codeForm.hidden ? codeInput : !form.hidden ? input : null;
    const home = field ? field.closest(".field") : errorHome;
    if (errorBox.parentElement !== home) home.append(errorBox);
    errorBox.classList.toggle("inline", Boolean(field));
    errorBox.hidden = false;
    errorBox.dataset.code = err.code;
    lastError = err;
    seen(errorBox);
  };

  // The resend button waits for the server's cooldown, as the other code screens do.
  const armResend = (at) => {
    clearTimeout(resendTimer);
    const left = (at || 0) - Date.now();
    resend.disabled = left > 0;
    // Waiting, it still reads as the time left (styles.css), as on the other code screens.
    resend.dataset.waiting = String(left > 0);
    if (left > 0) resendTimer = setTimeout(() => armResend(at), Math.min(left, 1000));
    resend.textContent = left > 0 ? `Send a new code in ${timeLeft(left)}` : "Send a new code";
  };

  const draw = (v) => {
    kinds = v.kinds;
    list.replaceChildren(
      ...v.identifiers.map((r) => {
        const li = document.createElement("li");
        li.dataset.testid = "identifier-row";
        li.dataset.kind = r.kind;
        const meta = document.createElement("div");
        meta.className = "meta";
        // The value is the user's own, canonical and checked by the wire rules; still drawn
        // as text only, and isolated so its letters cannot reorder the label beside it.
        const value = document.createElement("bdi");
        value.textContent = r.value;
        value.title = r.value;
        const sub = document.createElement("span");
        sub.className = r.signedInWith ? "current" : "muted";
        sub.textContent = `${r.kindName}${r.signedInWith ? " · signed in with it" : ""}`;
        meta.append(value, sub);
        li.append(meta);
        return li;
      }),
    );
    if (!v.identifiers.length) {
      // A resumed session: the app was not told which address signed in.
      const li = document.createElement("li");
      li.className = "muted";
      li.dataset.testid = "identifier-none";
      li.textContent = "None known on this computer yet: the ones you add here are listed.";
      list.append(li);
    }
    count.textContent = v.identifiers.length ? `· ${v.identifiers.length}` : "";
    const pending = v.pending;
    const appearing = Boolean(pending) && codeForm.hidden;
    actions.hidden = Boolean(pending) || !form.hidden;
    codeForm.hidden = !pending;
    if (pending) {
      form.hidden = true;
      $("[data-testid=identifier-pending]", codeForm).textContent = pending.value;
      armResend(v.resendMs);
      if (appearing) seen(codeForm);
    } else {
      clearTimeout(resendTimer);
    }
  };

  // One command at a time; the panel's buttons wait while it runs.
  const run = async (command, args, trigger) => {
    if (busy) return null;
    busy = true;
    clearError();
    const buttons = [...panel.querySelectorAll("button, input")];
    const was = buttons.map((b) => b.disabled);
    buttons.forEach((b) => (b.disabled = true));
    trigger?.setAttribute("aria-busy", "true");
    try {
      const v = await call(command, args);
      buttons.forEach((b, i) => (b.disabled = was[i]));
      draw(v);
      // A code used or given up here is marked so in the demo inbox at once.
      refreshInbox();
      return v;
    } catch (err) {
      buttons.forEach((b, i) => (b.disabled = was[i]));
      showError(err);
      return null;
    } finally {
      trigger?.removeAttribute("aria-busy");
      busy = false;
    }
  };

  const open = (k) => {
    const w = wordsFor(k);
    if (!w) return;
    kind = k;
    $("#identifier-value-label", form).textContent = w.label;
    $("#identifier-value-hint", form).textContent = w.hint;
    input.placeholder = w.placeholder;
    input.type = w.inputType;
    input.autocomplete = w.autocomplete;
    input.value = "";
    input.removeAttribute("aria-invalid");
    clearError();
    actions.hidden = true;
    form.hidden = false;
    seen(form);
    input.focus();
  };
  const close = () => {
    form.hidden = true;
    actions.hidden = false;
    clearError();
  };

  for (const b of actions.querySelectorAll("button[data-kind]")) {
    b.addEventListener("click", () => open(b.dataset.kind));
  }
  $("[data-testid=identifier-cancel]", form).addEventListener("click", close);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = input.value;
    const v = await run("add_identifier", { kind, value }, e.submitter);
    if (!v && lastError?.lookalike) {
      // The warning came before any code: sending is the person's informed choice.
      const anyway = document.createElement("button");
      anyway.type = "button";
      anyway.className = "secondary small-btn";
      anyway.dataset.testid = "identifier-anyway";
      anyway.textContent = "Send the code anyway";
      anyway.addEventListener("click", async (ev) => {
        if (await run("add_identifier", { kind, value, anyway: true }, ev.currentTarget)) codeInput.focus();
      });
      errorBox.append(anyway);
      seen(anyway);
    }
    if (v) {
      codeInput.value = "";
      codeInput.focus();
    } else {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  });
  codeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const adding = $("[data-testid=identifier-pending]", codeForm).textContent;
    const v = await run("verify_identifier_code", { code: codeInput.value }, e.submitter);
    if (v && !v.pending) {
      flash(wordsFor(v.identifiers.find((r) => r.value === adding)?.kind || kind)?.added || "");
      // The form is gone: the focus goes to the list's next action, not to the page.
      actions.querySelector("button")?.focus();
    } else {
      codeInput.value = "";
      codeInput.setAttribute("aria-invalid", "true");
      codeInput.focus();
    }
  });
  resend.addEventListener("click", async (e) => {
    if (await run("resend_identifier_code", {}, e.currentTarget)) flash("A new code is on its way.");
  });
  $("[data-testid=identifier-cancel-code]", codeForm).addEventListener("click", (e) =>
    run("cancel_identifier", {}, e.currentTarget),
  );

  run("list_identifiers", {});
}
