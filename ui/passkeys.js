// Passkeys on the screens: the account panel's list (add, rename, delete), the PIN when one
// is added, "Approve with this computer" on a verify_passkey step and "Sign in with this
// computer". The page never sees a key, a challenge or an assertion: only the view model.
import { call } from "./ipc.js";
import { showErrorIn } from "./messages.js";
import { clock } from "./words.js";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// What app.js lends: `act(command, args, trigger)`, the current view, `flash`, `confirmFirst`.
let ctx = null;

export function initPasskeys(context) {
  ctx = context;
}

const triesWords = (n) => `${n} ${n === 1 ? "try" : "tries"} left before this computer's passkeys are blocked.`;

// Shows or hides the passkey parts of the screen on `root` for the view `v`.
export function showPasskeys(v, root) {
  const p = v.passkey || {};
  const login = $(".passkey-login", root);
  if (login) {
    login.hidden = !p.login;
    $(".passkey-login-pin", root).hidden = !p.loginPin;
  }
  const step = v.challenge?.passkey;
  if (v.challenge) {
    const ready = Boolean(step && step.available && step.here);
    if (step) for (const el of $$(".otp-only, .custom-only", root)) el.hidden = true;
    const approve = $(".passkey-approve", root);
    if (approve) approve.hidden = !ready;
    const missing = $(".passkey-missing", root);
    if (missing) missing.hidden = !step || ready;
    const pin = $(".passkey-pin-field", root);
    if (pin) {
      pin.hidden = !(ready && step.pin);
      $("#passkey-tries", root).textContent =
        step && step.pinTriesLeft < 8 ? triesWords(step.pinTriesLeft) : "";
    }
  }
  const offer = $(".passkey-offer", root);
  if (offer) {
    const was = !offer.hidden;
    offer.hidden = !p.waiting || p.setup;
    if (!offer.hidden && !was) offer.scrollIntoView({ block: "nearest" });
  }
  const setup = $("#passkey-setup", root);
  if (setup) {
    const was = !setup.hidden;
    setup.hidden = !p.setup;
    $(".passkey-confirm", setup).hidden = p.pinSet;
    $("#passkey-setup-lead", setup).textContent = p.pinSet
      ? "A code confirmed it's you. Enter your Countersign PIN to add this computer's passkey."
      : "A code confirmed it's you. Choose a Countersign PIN: it is asked when an approval needs more than a click.";
    $("#setup-pin-hint", setup).hidden = p.pinSet;
    // While the PIN is asked, the code step is behind: the panel no longer offers to add one
    // nor says that a code comes first.
    const add = $(".passkeys-panel [data-action=passkey-add]", root);
    if (add) add.hidden = p.setup;
    const intro = $("#passkeys-note", root);
    if (intro) intro.hidden = p.setup;
    if (p.setup && !was)
      requestAnimationFrame(() => {
        // The whole form in view, its buttons too, not only the first field.
        setup.scrollIntoView({ block: "center" });
        $("#setup-pin", setup)?.focus({ preventScroll: true });
      });
    const reset = $("[data-action=pin-reset]", root);
    if (reset) reset.hidden = !p.pinSet;
  }
}

// Wires the passkey parts of a freshly mounted `stage`.
export function wirePasskeys(stage, root) {
  if (stage === "login") {
    $("[data-action=login-passkey]", root)?.addEventListener("click", (e) =>
      ctx.act("login_with_passkey", { pin: $("#login-pin", root).value || null }, e.currentTarget),
    );
  }
  if (stage === "step-up-otp") {
    $("[data-action=approve-passkey]", root)?.addEventListener("click", async (e) => {
      const began = performance.now();
      const field = $("#approve-pin", root);
      const ok = await ctx.act("approve_with_passkey", { pin: field?.value || null }, e.currentTarget);
      if (ok) {
        // For the end-to-end timing: the click to "Scope granted." painted.
        requestAnimationFrame(() =>
          requestAnimationFrame(() => {
            document.body.dataset.passkeyApproveMs = String(Math.round(performance.now() - began));
          }),
        );
      } else if ($("#approve-pin") && $("#error")?.dataset.pinFault === "true") {
        // Only a PIN that was wrong (or missing) is marked so; another failure is not its fault.
        $("#approve-pin").value = "";
        $("#approve-pin").setAttribute("aria-invalid", "true");
        $("#approve-pin").focus();
      }
    });
    $("[data-action=passkey-add]", root)?.addEventListener("click", (e) => ctx.act("add_passkey", {}, e.currentTarget));
  }
  if (stage === "logged") {
    $("[data-action=passkey-add]", root)?.addEventListener("click", (e) => ctx.act("add_passkey", {}, e.currentTarget));
    const setup = $("#passkey-setup", root);
    setup?.addEventListener("submit", async (e) => {
      e.preventDefault();
      const pin = $("#setup-pin", setup).value;
      const confirm = ctx.view()?.passkey?.pinSet ? null : $("#setup-pin-confirm", setup).value;
      await ctx.act("register_passkey", { pin, confirm }, e.submitter);
      for (const f of $$("input", setup)) f.value = "";
      // Reloaded either way: a failed registration may have left a key "not confirmed".
      loadPasskeys(root);
    });
    $("[data-action=passkey-setup-cancel]", root)?.addEventListener("click", (e) =>
      ctx.act("cancel_passkey_setup", {}, e.currentTarget),
    );
    const reset = $("[data-action=pin-reset]", root);
    if (reset)
      ctx.confirmFirst(reset, "Delete this computer's passkeys and the PIN? Click again", async (e) => {
        if (await ctx.act("reset_pin", {}, e.target)) loadPasskeys(root);
      });
    loadPasskeys(root);
  }
}

// The account panel's list: the server's passkeys, ours marked.
export async function loadPasskeys(root) {
  const list = $("#passkey-list", root);
  if (!list) return;
  const note = $("#passkeys-note", root);
  try {
    const rows = await call("list_passkeys");
    list.replaceChildren(...rows.map((r) => row(r, root)));
    if (!rows.length) {
      const li = document.createElement("li");
      li.className = "muted small";
      li.textContent = "No passkeys yet.";
      list.append(li);
    }
  } catch (err) {
    if (note) showErrorIn(note, err);
  }
}

const PLACE = {
  here: "This computer",
  gone: "No longer on this computer",
  elsewhere: "Another device",
  unconfirmed: "This computer · added, not confirmed by the server",
};

function row(r, root) {
  const li = document.createElement("li");
  li.dataset.testid = "passkey-item";
  li.dataset.place = r.place;
  li.dataset.credentialId = r.id;
  const meta = document.createElement("div");
  meta.className = "meta";
  const name = document.createElement("strong");
  name.textContent = r.nickname || "Passkey";
  const place = document.createElement("span");
  place.className = r.place === "here" ? "current" : "muted";
  place.dataset.testid = "passkey-place";
  place.textContent = PLACE[r.place] || PLACE.elsewhere;
  const when = document.createElement("span");
  when.className = "muted small";
  const used = r.lastUsedMs && r.lastUsedMs !== r.createdMs ? ` · last used ${clock(r.lastUsedMs)}` : " · not used yet";
  when.textContent = r.place === "unconfirmed" ? "The server did not answer when it was added" : `Added ${clock(r.createdMs)}${used}`;
  meta.append(name, place, when);
  const buttons = document.createElement("div");
  buttons.className = "row-buttons";
  const rename = document.createElement("button");
  rename.type = "button";
  rename.className = "link";
  rename.dataset.testid = "passkey-rename";
  rename.textContent = "Rename";
  rename.addEventListener("click", () => renameForm(li, name, r, root));
  const del = document.createElement("button");
  del.type = "button";
  del.className = "link danger";
  del.dataset.testid = "passkey-delete";
  del.textContent = "Delete";
  const ask = r.place === "unconfirmed" ? "Delete it here? Click again" : "Delete it? A code confirms. Click again";
  ctx.confirmFirst(del, ask, (e) => ctx.act("delete_passkey", { id: r.id }, e.target));
  if (r.place === "unconfirmed") buttons.append(del);
  else buttons.append(rename, del);
  li.append(meta, buttons);
  return li;
}

function renameForm(li, name, r, root) {
  const form = document.createElement("form");
  form.className = "rename";
  const input = document.createElement("input");
  input.type = "text";
  input.maxLength = 64;
  input.value = r.nickname || "";
  input.dataset.testid = "passkey-nickname";
  input.setAttribute("aria-label", "New name");
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "secondary small-btn";
  save.dataset.testid = "passkey-rename-save";
  save.textContent = "Save";
  form.append(input, save);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (await ctx.act("rename_passkey", { id: r.id, nickname: input.value }, save)) loadPasskeys(root);
  });
  name.replaceWith(form);
  input.focus();
}

// Settings: this server's RP ID and origin, and changing the PIN. Wired once, filled each time
// the sheet opens; `onView` redraws the page after a change.
let settingsWired = false;
export async function loadPasskeySettings(onView) {
  const note = $("#passkey-settings-note");
  const rp = $("#passkey-rp-id");
  const origin = $("#passkey-origin");
  const fill = (s) => {
    rp.value = s.rpId || "";
    rp.disabled = s.fixed;
    origin.value = s.origin || "";
  };
  note.textContent = "";
  // Changing the PIN needs one: without it, the form would ask for a PIN that does not exist.
  const pinSet = Boolean(ctx?.view()?.passkey?.pinSet);
  $("#pin-change-form").hidden = !pinSet;
  $("#pin-none").hidden = pinSet;
  try {
    fill(await call("passkey_settings"));
  } catch (err) {
    showErrorIn(note, err);
  }
  if (settingsWired) return;
  settingsWired = true;
  $("#passkey-rp-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      fill(await call("set_passkey_server", { rpId: rp.value, origin: origin.value }));
      note.textContent = "Saved.";
    } catch (err) {
      showErrorIn(note, err);
    }
  });
  $("#pin-change-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    try {
      onView(await call("change_pin", { old: f["pin-old"].value, new: f["pin-new"].value, confirm: f["pin-new-confirm"].value }));
      note.textContent = "Your Countersign PIN is changed.";
    } catch (err) {
      showErrorIn(note, err);
    } finally {
      for (const el of e.target.querySelectorAll("input")) el.value = "";
    }
  });
}
