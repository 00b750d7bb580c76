// Countersign's view: renders the backend's view model and turns clicks into commands.
// It holds no session state of its own beyond what is on screen.
import { call, listen } from "./ipc.js";
import { addMessage, clearInbox, refreshInbox, showDemoIdentities, startInbox } from "./demo.js";
import { wireIdentifiers } from "./identifiers.js";
import { RESTARTABLE, showErrorIn } from "./messages.js";
import { factRows, placeError, showPrompt, wireDeadEnd } from "./prompt.js";
import { sessionMeta } from "./sessions.js";
import { derived, left as fmtLeft, pick } from "./words.js";
import { initPasskeys, showPasskeys, wirePasskeys } from "./passkeys.js";
import { gateMatching, initMatchingSetting, renderMatching } from "./matching.js";
import { initAutostartSetting } from "./autostart.js";

const scriptAt = performance.now();
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const app = $("#app");
const card = $("#card");
const stageRoot = $("#stage-root");
const errorBox = $("#error");
const errorActions = $("#error-actions");

let view = null;
let mounted = null;
let busy = false;
let acts = 0;
let lastApproval = null;

// ---------------------------------------------------------------------------------------------
// Rendering

const THEMES = ["system", "light", "dark"];
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

const THEME_ICON = {
  system: "M12 3a9 9 0 1 0 0 18zm0 2v14a7 7 0 0 0 0-14z",
  light: "M12 7a5 5 0 1 0 0 10 5 5 0 0 0 0-10zM11 1h2v3h-2zm0 19h2v3h-2zM1 11h3v2H1zm19 0h3v2h-3zM4.2 2.8l2.1 2.1-1.4 1.4-2.1-2.1zm14.9 14.9 2.1 2.1-1.4 1.4-2.1-2.1zM2.8 19.8l2.1-2.1 1.4 1.4-2.1 2.1zM17.7 4.9l2.1-2.1 1.4 1.4-2.1 2.1z",
  dark: "M12 3a9 9 0 1 0 9 9 7 7 0 0 1-9-9z",
};
const THEME_NAME = { system: "same as the system", light: "light", dark: "dark" };
// The word beside the icon: the theme in force, so the button is more than a shape.
const THEME_LABEL = { system: "System", light: "Light", dark: "Dark" };

// The toggle says which theme is on and what a click does; its icon changes with it.
function showTheme(theme) {
  const next = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  const toggle = $("#theme-toggle");
  toggle.setAttribute("aria-label", `Colour theme: ${THEME_NAME[theme]}. Switch to ${THEME_NAME[next]}`);
  toggle.title = `Colour theme: ${THEME_NAME[theme]}`;
  toggle.dataset.themeState = theme;
  $("path", toggle).setAttribute("d", THEME_ICON[theme] || THEME_ICON.dark);
  $("#theme-label").textContent = THEME_LABEL[theme] || THEME_LABEL.dark;
}

function render(v) {
  view = v;
  app.dataset.stage = v.stage;
  app.dataset.theme = v.theme;
  showTheme(v.theme);
  $("#server-label").textContent = v.server.label;
  $("#inbox").hidden = !v.server.demo;
  $("#scenario-tools").hidden = !v.server.scenarios;
  $("#bench-open").hidden = !v.server.demo;
  // Signing out is always one click away, in the top bar, while signed in.
  $("#logout").hidden = !v.user;
  showDemoIdentities(v);
  refreshInbox();
  // The picker shows the preset the server is on (after a restart too), or none.
  if (v.server.scenarios) $("#scenario").value = v.server.scenario || "";
  const notice = $("#notice");
  // Its parts: what names a requester comes isolated, so its letters cannot reorder the rest.
  fillParts(notice, v.notice || "");
  // Whole in its title: a short window clamps it (it may name a long program path).
  notice.title = [v.notice || ""].flat().map((p) => (p && typeof p === "object" ? p.isolate : p)).join("");
  notice.hidden = !v.notice;
  const queue = $("#queue-count");
  queue.textContent = v.waiting ? `${v.waiting} more waiting` : "";
  queue.hidden = !v.waiting;
  $("#report-offer").hidden = !v.reportOffer;
  const warning = $("#store-warning");
  warning.textContent = v.storeWarning || "";
  warning.hidden = !v.storeWarning;
  if (mounted !== v.stage) {
    // A note about the screen before ("A new code is on its way.", "Next approvals: …") is
    // not about this one.
    if (mounted) clearToast();
    mount(v.stage);
  }
  const d = derived(v);
  for (const el of $$("[data-bind]", stageRoot)) {
    const key = el.dataset.bind;
    const value = key in d ? d[key] : pick(v, key);
    if (OTHERS.test(key) && typeof value === "string") {
      // A requester's, a link's or the server's text: isolated, and capped unless the
      // element shows it whole (the reason, clamped by its style).
      el.replaceChildren(isolated(value, "full" in el.dataset));
      if ("full" in el.dataset) el.title = value;
    } else {
      fillParts(el, value);
      // A heading may be clamped in a short window: whole in its title.
      if (el.tagName === "H1") el.title = el.textContent;
    }
    // Only others' values carry warnings ("request.metadata" → "request.warnings.metadata");
    // a key of our own has none, and must not read itself as one.
    warnAfter(el, OTHERS.test(key) ? pick(v, key.replace(/\.([^.]+)$/, ".warnings.$1")) : null);
  }
  for (const el of $$("[data-bind-list]", stageRoot)) {
    const rows = factRows(pick(v, el.dataset.bindList) || [], v, el.dataset.bindList);
    el.replaceChildren(
      ...rows.map(([k, val, warning, fact]) => {
        const row = document.createElement("div");
        if (fact) row.dataset.fact = fact;
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.append(isolated(k.charAt(0).toUpperCase() + k.slice(1)));
        dd.append(isolated(val));
        if (warning) dd.append(lookalikeNote(warning));
        row.append(dt, dd);
        return row;
      }),
    );
  }
  // Before a new request settles, so its numbers settle with its other answers.
  renderMatching($("[data-slot=matching]", stageRoot), v.stage === "request" ? v.request : null, (n, b) =>
    act("pick_number", { id: v.request.id, number: n }, b),
  );
  if (v.request && v.stage === "request" && app.dataset.requestShown !== v.request.id) {
    // An error and its "Start again" were about the request before: they go with it.
    if (app.dataset.requestShown) clearError();
    app.dataset.requestShown = v.request.id;
    markPainted(v.request.id);
    // A new request on a screen already up: nothing keeps the focus, and clicks wait.
    const h1 = $("h1", stageRoot);
    if (h1 && document.activeElement?.closest?.(".decide, .row-links")) {
      h1.tabIndex = -1;
      h1.focus();
    }
    settle();
  }
  // A link's hint is its warning; a program's is a reminder a short window leaves out.
  $("[data-testid=request-hint]", stageRoot)?.toggleAttribute("data-link", Boolean(v.request?.fromLink));
  // Whole in its title: a short window clamps who asked to three lines.
  for (const p of $$(".asked-by", stageRoot)) p.title = p.textContent.replace(/\s+/g, " ").trim();
  if (!busy) gateCode();
  for (const el of $$(".request-only", stageRoot)) el.hidden = !v.request;
  // A program's request is answered, so it has one Deny; Cancel is for the app's own form.
  for (const el of $$(".own-only", stageRoot)) el.hidden = Boolean(v.request);
  const reason = $("[data-testid=request-reason]", stageRoot);
  if (reason) reason.hidden = !v.request?.reason;
  if (v.challenge) {
    const otp = Boolean(v.challenge.channel);
    for (const el of $$(".otp-only", stageRoot)) el.hidden = !otp;
    for (const el of $$(".custom-only", stageRoot)) el.hidden = otp || !v.challenge.customHere;
  }
  showPrompt(v, stageRoot);
  showPasskeys(v, stageRoot);
  tick();
}

// View fields that hold what others wrote: a requester, a link, the server.
const OTHERS = /^(request|challenge|grant)\./;

// Text others control, in a <bdi> so it cannot reorder what is around it; past the backend's
// cap it is shortened, whole in its title.
function isolated(text, whole = false) {
  const b = document.createElement("bdi");
  const s = String(text ?? "");
  const chars = [...s];
  const max = view?.rules?.shownMax || 48;
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
function fillParts(el, value) {
  if (Array.isArray(value)) {
    el.replaceChildren(
      ...value.map((p) => (p && typeof p === "object" ? isolated(p.isolate, p.whole) : document.createTextNode(String(p)))),
    );
  } else {
    el.textContent = value == null ? "" : String(value);
  }
}

// The backend's warning for a value that could pass for another, drawn beside it.
function lookalikeNote(text) {
  const w = document.createElement("span");
  w.className = "lookalike";
  w.dataset.testid = "lookalike-warning";
  w.setAttribute("role", "note");
  w.title = "It may imitate another name: read it letter by letter.";
  w.textContent = text;
  return w;
}

function warnAfter(el, warning) {
  const next = el.nextElementSibling;
  if (next?.classList.contains("lookalike")) next.remove();
  if (warning && !el.hidden) el.after(lookalikeNote(warning));
}

// A stray click or key must not answer a request: for about a second after a request or
// its check appears, or the window gains focus, the answer buttons ignore clicks (and say
// so in aria-disabled and their title).
const SETTLE_MS = 1000;
const SETTLING_TITLE = "Just appeared: wait a moment before answering";
let settledAt = 0;
let settleTimer = null;
function answerButtons() {
  return [...$$(".decide button, .match-number, [data-action=deny-report]", stageRoot), $("#restart-approval")];
}
function settle() {
  settledAt = performance.now() + SETTLE_MS;
  for (const b of answerButtons()) {
    b.setAttribute("aria-disabled", "true");
    if (!b.dataset.settleTitle) b.dataset.settleTitle = b.title || " ";
    b.title = SETTLING_TITLE;
  }
  clearTimeout(settleTimer);
  settleTimer = setTimeout(() => {
    for (const b of answerButtons()) {
      b.removeAttribute("aria-disabled");
      if (b.dataset.settleTitle != null) b.title = b.dataset.settleTitle.trim();
      delete b.dataset.settleTitle;
    }
  }, SETTLE_MS);
}
const settling = () => performance.now() < settledAt;
const ANSWERS = new Set(["request", "step-up-otp"]);

// Clicks that land on an answer while it settles are dropped before any handler sees them.
stageRoot.addEventListener(
  "click",
  (e) => {
    if (settling() && e.target.closest?.(".decide button, .match-number, [data-action=deny-report]")) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  },
  true,
);
window.addEventListener("focus", () => {
  if (ANSWERS.has(mounted)) settle();
});

// Enter answers nothing on the request screen; on the check, it submits only from the code
// field once a code is typed there. Buttons still answer to a click, and Space once focused.
stageRoot.addEventListener(
  "keydown",
  (e) => {
    // An input method's Enter commits what it composed: it answers nothing, and is left to it.
    if (e.key !== "Enter" || e.isComposing || !ANSWERS.has(mounted)) return;
    const input = e.target.closest?.(".code-input");
    const min = view?.rules?.codeMin || 4;
    e.preventDefault();
    e.stopPropagation();
    // Submitted here, not by the browser's implicit submission: that clicks the Approve
    // button, which may still be settling.
    if (input && input.value.replace(/\D/g, "").length >= min) input.form?.requestSubmit();
  },
  true,
);

// When a request's first frame is out (the callback of the frame after it), its id and the
// wall-clock time go on the root, where the request benchmark reads them.
function markPainted(id) {
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      app.dataset.requestPainted = `${id} ${Date.now()}`;
    }),
  );
}

// A code with no tries left: the way on is a new code, not another try.
function gateCode() {
  for (const id of ["verify-login", "verify-stepup"]) {
    const b = $(`[data-testid=${id}]`, stageRoot);
    if (b) b.disabled = Boolean(view?.codeExhausted);
  }
}

function mount(stage) {
  announced = null;
  $("#announcer").textContent = "";
  const tpl = $(`#tpl-${stage}`);
  stageRoot.replaceChildren(tpl.content.cloneNode(true));
  mounted = stage;
  clearError();
  WIRE[stage]?.();
  wirePasskeys(stage, stageRoot);
  if (ANSWERS.has(stage)) settle();
  // Focus goes to the first field, else to the screen's heading, so a keyboard or screen
  // reader user starts where the new screen does.
  const first = $("input:not([type=hidden])", stageRoot) || $("h1", stageRoot);
  if (first) {
    if (first.tagName === "H1") first.tabIndex = -1;
    requestAnimationFrame(() => first.focus());
  }
}

// Countdowns: resend buttons wait for their deadline; expiries count down. The clock only runs
// while a countdown is on screen.
let ticker = null;
function tick() {
  if (!view) return;
  const counting = $$("[data-deadline-from], [data-expires-from]", stageRoot).length > 0;
  if (counting && !ticker) ticker = setInterval(tick, 1000);
  if (!counting && ticker) {
    clearInterval(ticker);
    ticker = null;
  }
  const now = Date.now();
  for (const el of $$("[data-deadline-from]", stageRoot)) {
    const at = pick(view, el.dataset.deadlineFrom);
    const left = at ? at - now : 0;
    el.dataset.waiting = left > 0 ? "true" : "false";
    el.textContent =
      left > 0 ? `Send a new code in ${fmtLeft(left)}` : "Send a new code";
    if (!busy) el.disabled = left > 0;
  }
  for (const el of $$("[data-expires-from]", stageRoot)) {
    const at = pick(view, el.dataset.expiresFrom);
    if (!at) {
      el.textContent = el.dataset.expiredText ? "When the session ends" : "";
      continue;
    }
    const left = at - now;
    el.textContent =
      left > 0
        ? (el.dataset.expiredText ? `in ${fmtLeft(left)}` : `Expires in ${fmtLeft(left)}`)
        : el.dataset.expiredText || "Expired";
    if (!el.dataset.expiredText) announceLeft(left);
  }
  showGrantEnd(now);
}

// A grant past its end allows nothing: its screen stops saying it is granted.
function showGrantEnd(now) {
  const stage = $("#done-stage", stageRoot);
  const at = view.grant?.expiresAt;
  if (!stage || !at) return;
  const over = at - now <= 0;
  // The headline is bound anew on each render: past the end, it says what ended, every time.
  if (over) fillParts($("[data-testid=grant-title]", stage), derived(view).grantEndedTitle);
  if (over === stage.hasAttribute("data-expired")) return;
  stage.toggleAttribute("data-expired", over);
  $(".success-mark", stage).hidden = over;
  $("[data-testid=scope-granted]", stage).hidden = over;
  $("[data-testid=grant-requester]", stage).hidden = over || !view.grant.requester;
  $("[data-testid=grant-expired]", stage).hidden = !over;
}

// The visible countdown changes every second; screen readers hear it once a minute, at 10 s
// and when it runs out.
let announced = null;
function announceLeft(left) {
  const s = Math.max(0, Math.ceil(left / 1000));
  const mark = s === 0 ? "0" : s <= 10 ? "10" : `m${Math.ceil(s / 60)}`;
  if (mark === announced) return;
  const first = announced === null;
  announced = mark;
  if (first) return;
  const text =
    s === 0 ? "The approval has expired." : s <= 10 ? "10 seconds left to approve." : `${Math.ceil(s / 60)} minutes left to approve.`;
  $("#announcer").textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Errors and busy state

function showError(err) {
  showErrorIn(errorBox, err);
  errorBox.hidden = false;
  errorBox.dataset.code = err.code;
  errorBox.dataset.field = err.field || "";
  placeError(errorBox, errorActions, view, stageRoot);
  errorActions.hidden = !(RESTARTABLE.has(err.code) && (lastApproval || view?.request) && view?.stage !== "login");
  // Only as far as needed to see it: scrolling the card to the top would hide the top bar
  // (and move buttons under a pointer about to click them).
  errorBox.scrollIntoView({ block: "nearest", behavior: reducedMotion.matches ? "auto" : "smooth" });
}

function clearError() {
  errorBox.hidden = true;
  errorBox.replaceChildren();
  delete errorBox.dataset.code;
  delete errorBox.dataset.field;
  errorActions.hidden = true;
  placeError(errorBox, errorActions, view, stageRoot);
}

function setBusy(on, trigger) {
  busy = on;
  card.setAttribute("aria-busy", on ? "true" : "false");
  for (const b of $$("button, input, select", card)) {
    if (on) {
      b.dataset.wasDisabled = b.disabled ? "1" : "";
      b.disabled = true;
    } else {
      b.disabled = b.dataset.wasDisabled === "1";
      delete b.dataset.wasDisabled;
    }
  }
  if (trigger) {
    const spin = trigger.querySelector(".spinner");
    if (on && !spin) {
      const s = document.createElement("span");
      s.className = "spinner";
      s.setAttribute("aria-hidden", "true");
      trigger.prepend(s);
    } else if (!on && spin) {
      spin.remove();
    }
  }
  if (!on) {
    gateCode();
    gateMatching(stageRoot, view?.stage === "request" ? view.request : null);
    tick();
  }
}

// The badge's dot says whether the server answered the last request.
const UNREACHABLE = new Set(["network", "timeout", "connection_failed", "startup", "internal"]);
function serverHealth(up) {
  const badge = $("#server-label");
  badge.dataset.health = up ? "up" : "down";
  badge.title = up ? "The server answered" : "The server did not answer the last request";
}

// Runs one command; renders the new view or shows the error (then re-reads the view, since a
// failure may have ended the session).
async function act(command, args, trigger) {
  if (busy) return false;
  acts += 1;
  clearError();
  setBusy(true, trigger);
  try {
    render(await call(command, args));
    serverHealth(true);
    return true;
  } catch (err) {
    serverHealth(!UNREACHABLE.has(err.code));
    setBusy(false, trigger);
    try {
      render(await call("app_state"));
    } catch (_) {
      /* keep the last view */
    }
    showError(err);
    return false;
  } finally {
    if (busy) setBusy(false, trigger);
    if (staleView) refresh();
  }
}

// A view pushed by the backend (a request arrived, timed out, or was withdrawn) is drawn at
// once, unless a command is running: then the view is read again when it ends.
let staleView = false;
async function refresh() {
  staleView = false;
  try {
    render(await call("app_state"));
  } catch (_) {
    /* keep the last view */
  }
}
function pushed(v) {
  if (busy) staleView = true;
  else render(v);
}

// A short confirmation that an action worked, gone after a few seconds.
let toastTimer = null;
function clearToast() {
  clearTimeout(toastTimer);
  $("#toast").hidden = true;
}

function flash(text) {
  const t = $("#toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    t.hidden = true;
  }, 4000);
}

// Destructive actions ask first: the first click arms the button and says what a second
// click does; a second click within 5 s does it.
function confirmFirst(button, prompt, run) {
  const label = button.textContent;
  let timer = null;
  const disarm = () => {
    clearTimeout(timer);
    timer = null;
    delete button.dataset.armed;
    button.textContent = label;
  };
  button.addEventListener("click", (e) => {
    if (!timer) {
      button.dataset.armed = "true";
      button.textContent = prompt;
      timer = setTimeout(disarm, 5000);
      return;
    }
    disarm();
    run(e);
  });
}

// ---------------------------------------------------------------------------------------------
// Stage wiring

// The identifier rules live in the backend; the form only shows its verdict as one types.
let checks = 0;
async function checkIdentifier(input, hint, fallback) {
  const mine = ++checks;
  let verdict = { state: "", message: fallback };
  try {
    verdict = await call("check_identifier", { text: input.value });
  } catch (_) {
    /* keep the plain hint */
  }
  if (mine !== checks || !hint.isConnected) return verdict;
  hint.className = "hint " + verdict.state;
  hint.textContent = verdict.message || fallback;
  input.setAttribute("aria-invalid", verdict.state === "bad" ? "true" : "false");
  return verdict;
}

// Code fields take digits as typed (up to the longest code the server may send). Anything
// that inserts more than one character at once (a paste, a drop, autofill, an input method)
// is read by the backend, which finds the code in whatever came ("027 194", "Your code is
// 538750"), and a code found that way is submitted at once. No maxlength: it would cut
// "Your Countersign code is 123456" to "Your Cou" before anyone could read it.
const WHOLE_INSERTS = new Set(["insertFromPaste", "insertFromDrop", "insertReplacementText", "insertFromYank"]);
// Full-width digits (an input method's) are the same digits; those of other scripts are
// refused in words (docs/protocol.md, "Codes").
const halfWidth = (t) => t.replace(/[\uFF10-\uFF19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xff10 + 48));
const OTHER_DIGITS = /[^\P{Nd}0-9\uFF10-\uFF19]/u;
const OTHER_DIGITS_WHY = "the code is written with the digits 0 to 9";
function codeField(input, onComplete) {
  const max = view?.rules?.codeMax || 8;
  input.removeAttribute("maxlength");
  const refuse = (why) => {
    input.setAttribute("aria-invalid", "true");
    showError({ code: "invalid_input", reason: why, message: why });
  };
  const readInserted = async (text) => {
    const code = await call("read_code", { text }).catch(() => null);
    if (!input.isConnected) return;
    if (code) {
      input.value = code;
      input.removeAttribute("aria-invalid");
      onComplete();
    } else {
      input.value = "";
      refuse(OTHER_DIGITS.test(text) ? OTHER_DIGITS_WHY : "there is no 4 to 8 digit code in what was pasted");
    }
  };
  let before = input.value;
  // Typed digits are kept, up to the longest code; anything else is dropped.
  const keepDigits = () => {
    const other = OTHER_DIGITS.test(input.value);
    const digits = halfWidth(input.value).replace(/\D/g, "").slice(0, max);
    if (digits !== input.value) input.value = digits;
    before = input.value;
    if (other) refuse(OTHER_DIGITS_WHY);
    else input.removeAttribute("aria-invalid");
  };
  // While an input method composes, the field is its own; what it commits is read then.
  let composing = false;
  input.addEventListener("compositionstart", () => {
    composing = true;
  });
  input.addEventListener("compositionend", () => {
    composing = false;
    const text = input.value;
    if (/^[\d\s-]*$/.test(halfWidth(text)) && !OTHER_DIGITS.test(text)) keepDigits();
    else readInserted(text);
  });
  const inserted = (e) => e.data ?? e.dataTransfer?.getData("text/plain") ?? e.dataTransfer?.getData("text") ?? "";
  const whole = (e, text) => WHOLE_INSERTS.has(e.inputType) || [...text].length > 1;
  input.addEventListener("beforeinput", (e) => {
    if (e.isComposing || composing) return;
    before = input.value;
    const text = inserted(e);
    if (e.cancelable && text && whole(e, text)) {
      e.preventDefault();
      readInserted(text);
    }
  });
  input.addEventListener("input", (e) => {
    if (e.isComposing || composing) return;
    // An insertion the page could not stop first (some autofill): read the field whole.
    // Only the browser's own input events say what they did (a script's plain `input` does not).
    const grew = [...input.value].length - [...before].length;
    if (typeof e.inputType === "string" && (whole(e, inserted(e)) || grew > 1)) {
      readInserted(input.value);
      before = "";
      return;
    }
    keepDigits();
  });
  input.addEventListener("paste", (e) => {
    e.preventDefault();
    readInserted(e.clipboardData?.getData("text") ?? "");
  });
  input.addEventListener("drop", (e) => {
    const text = e.dataTransfer?.getData("text/plain") || e.dataTransfer?.getData("text") || "";
    if (!text) return;
    e.preventDefault();
    input.focus();
    readInserted(text);
  });
}

initPasskeys({ act, view: () => view, confirmFirst });

const WIRE = {
  login() {
    const form = $("#login-form");
    const input = $("#identifier");
    const hint = $("#identifier-hint");
    const defaultHint = view?.rules?.identifierHint || hint.textContent;
    hint.textContent = defaultHint;
    if (view?.lastIdentifier) input.value = view.lastIdentifier;
    input.addEventListener("input", () => checkIdentifier(input, hint, defaultHint));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      // A malformed phone number or email is said once, in the field's own hint: no banner.
      const verdict = await checkIdentifier(input, hint, defaultHint);
      if (verdict.state === "bad") {
        clearError();
        input.focus();
        return;
      }
      act("start_login", { identifier: input.value }, e.submitter);
    });
  },

  code() {
    const form = $("#code-form");
    const input = $("#login-code");
    const submit = () => form.requestSubmit();
    codeField(input, submit);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const ok = await act("verify_login_code", { code: input.value }, e.submitter);
      if (!ok && $("#login-code")) {
        $("#login-code").value = "";
        $("#login-code").setAttribute("aria-invalid", "true");
        $("#login-code").focus();
      }
    });
    $("[data-action=resend-login]").addEventListener("click", async (e) => {
      if (await act("resend_login_code", {}, e.currentTarget)) flash("A new code is on its way.");
    });
    $("[data-action=change-identifier]").addEventListener("click", (e) => act("change_identifier", {}, e.currentTarget));
  },

  logged() {
    const form = $("#approval-form");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      lastApproval = {
        scope: "transfer:write",
        metadata: {
          amount: $("#amount").value.trim(),
          currency: $("#currency").value,
          payee: $("#payee").value.trim(),
        },
      };
      act("request_step_up", lastApproval, e.submitter);
    });
    $("[data-action=load-sessions]").addEventListener("click", () => loadSessions());
    confirmFirst($("[data-action=revoke-others]"), "Sign the others out? Click again", async (e) => {
      if (await act("revoke_sessions", { target: "others" }, e.target)) {
        flash("Your other sessions are signed out.");
        loadSessions();
      }
    });
    confirmFirst($("[data-action=revoke-all]"), "This device too? Click again", async (e) => {
      if (await act("revoke_sessions", { target: "all" }, e.target)) flash("Signed out everywhere.");
    });
    loadSessions();
    wireIdentifiers(stageRoot, flash);
  },

  "step-up-otp"() {
    const form = $("#stepup-form");
    const input = $("#stepup-code");
    codeField(input, () => form.requestSubmit());
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (view?.challenge && !view.challenge.channel) {
        if (view.challenge.customHere) act("complete_custom_step", {}, e.submitter);
        return;
      }
      const ok = await act("verify_step_up_code", { code: input.value }, e.submitter);
      const field = $("#stepup-code");
      if (field) {
        field.value = "";
        if (!ok) field.setAttribute("aria-invalid", "true");
        field.focus();
      }
    });
    $("[data-action=resend-stepup]").addEventListener("click", async (e) => {
      if (await act("resend_step_up_code", {}, e.currentTarget)) flash("A new code is on its way.");
    });
    $("[data-action=confirm-custom]").addEventListener("click", (e) => act("complete_custom_step", {}, e.currentTarget));
    confirmFirst($("[data-action=cancel-stepup]"), "Cancel it? Click again", async (e) => {
      if (await act("cancel_step_up", {}, e.target)) flash("The approval was cancelled.");
    });
    $("[data-action=deny]").addEventListener("click", async (e) => {
      if (view?.request) return act("deny_request", { id: view.request.id, report: false }, e.currentTarget);
      if (await act("deny_step_up", {}, e.currentTarget)) flash("Denied. Nothing was approved.");
    });
    $("[data-action=deny-report]").addEventListener("click", (e) =>
      act("deny_request", { id: view?.request?.id, report: true }, e.currentTarget),
    );
    wireDeadEnd(stageRoot, () => view, act);
  },

  request() {
    $("[data-action=approve-request]").addEventListener("click", (e) => {
      lastApproval = null;
      act("approve_request", { id: view?.request?.id }, e.currentTarget);
    });
    // Each answer names the request it was given for, so a request that changed under the click
    // is never the one answered.
    $("[data-action=deny-request]").addEventListener("click", (e) =>
      act("deny_request", { id: view?.request?.id, report: false }, e.currentTarget),
    );
    $("[data-action=deny-report]").addEventListener("click", (e) =>
      act("deny_request", { id: view?.request?.id, report: true }, e.currentTarget),
    );
  },

  done() {
    $("[data-action=finish]").addEventListener("click", (e) => act("finish_step_up", {}, e.currentTarget));
  },
};

async function loadSessions() {
  const list = $("#sessions");
  if (!list) return;
  try {
    const rows = await call("list_sessions");
    const count = $("#sessions-count");
    if (count) count.textContent = rows.length === 1 ? "· this device only" : `· ${rows.length} devices`;
    list.replaceChildren(
      ...rows.map((r) => {
        const li = document.createElement("li");
        li.dataset.testid = "session-row";
        li.dataset.sessionId = r.id;
        li.title = r.id;
        li.append(sessionMeta(r, isolated));
        // Every row signs its session out; this device's is the top bar's Sign out.
        const b = document.createElement("button");
        b.type = "button";
        b.className = "link";
        b.dataset.testid = "session-sign-out";
        b.textContent = "Sign out";
        b.addEventListener("click", async () => {
          if (r.current) {
            if (await act("logout", {}, b)) flash("You are signed out.");
          } else if (await act("revoke_sessions", { target: "session", sessionId: r.id }, b)) loadSessions();
        });
        li.append(b);
        return li;
      }),
    );
  } catch (err) {
    showError(err);
  }
}

$("#restart-approval").addEventListener("click", (e) => {
  if (settling()) return;
  if (view?.request) act("approve_request", { id: view.request.id }, e.currentTarget);
  else if (lastApproval) act("request_step_up", lastApproval, e.currentTarget);
});

$("#logout").addEventListener("click", async (e) => {
  if (await act("logout", {}, e.currentTarget)) flash("You are signed out.");
});

$("#revoke-after-report").addEventListener("click", async (e) => {
  if (await act("revoke_sessions", { target: "others" }, e.currentTarget)) flash("Your other sessions are signed out.");
});

// Esc cancels an approval the way its Cancel does: the first press asks, a second confirms.
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape" || document.querySelector("dialog[open]")) return;
  const cancel = $("[data-action=cancel-stepup]", stageRoot);
  if (cancel && !cancel.disabled && !cancel.hidden) {
    e.preventDefault();
    cancel.click();
    if (cancel.dataset.armed) cancel.focus();
  }
});

// ---------------------------------------------------------------------------------------------
// Theme

$("#theme-toggle").addEventListener("click", async () => {
  const next = THEMES[(THEMES.indexOf(app.dataset.theme) + 1) % THEMES.length];
  app.dataset.theme = next;
  try {
    render(await call("set_theme", { theme: next }));
  } catch (err) {
    showError(err);
  }
});

// ---------------------------------------------------------------------------------------------
// Demo inbox

$("#scenario").addEventListener("change", async (e) => {
  const picked = e.target.selectedOptions[0]?.textContent || "";
  if (await act("set_scenario", { scenario: e.target.value })) flash(`Next approvals: ${picked}.`);
});
confirmFirst($("#reset-demo"), "Sign out and reset? Click again", async (e) => {
  if (await act("reset_demo", {}, e.target)) {
    clearInbox();
    flash("The demo server was reset; you are signed out.");
  }
});

// ---------------------------------------------------------------------------------------------
// Start

// The test bench, for an emulator only; loaded on first use.
let bench = null;
$("#bench-open").addEventListener("click", async () => {
  bench ??= import("./bench.js").then((m) => m.initBench(() => refresh()));
  (await bench)();
});

// The server clock badge stays up while the emulator's clock is moved.
async function readClock(v) {
  if (!v.server.demo) return;
  try {
    const m = await import("./bench.js");
    m.showClock(await call("bench_state"));
  } catch (_) {
    /* no bench on this server */
  }
}

// The settings sheet is loaded on first use: most runs never open it.
let settings = null;
$("#settings-open").addEventListener("click", async () => {
  settings ??= import("./settings.js").then((m) =>
    m.initSettings((v) => {
      render(v);
      location.reload();
    }),
  );
  (await settings)();
});
initMatchingSetting();
initAutostartSetting();

// The backend gives the window the sign-in screen when it is known at start, so the first
// frame shows it; after a reload the backend is asked instead, as it may have moved on.
function bootView() {
  const nav = performance.getEntriesByType("navigation")[0];
  return nav && nav.type === "reload" ? null : window.__COUNTERSIGN_BOOT__ || null;
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

// Resolves once the frame with what is on screen now is out (the callback of the frame after
// it), and tells the backend (and the startup benchmark).
async function painted() {
  const viewAt = performance.now();
  await nextFrame();
  await nextFrame();
  call("ui_ready", {
    page: { scriptAt: Math.round(scriptAt), viewAt: Math.round(viewAt), paintAt: Math.round(performance.now()) },
  }).catch(() => {});
}

// Whichever comes first: the first screen is out, the user is already at it, or a second has
// passed (a hidden or throttled window may not draw frames at all).
function settled(framed) {
  return new Promise((resolve) => {
    const done = () => {
      for (const type of INPUT_EVENTS) removeEventListener(type, done, true);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, 1000);
    for (const type of INPUT_EVENTS) addEventListener(type, done, true);
    framed.then(done);
  });
}
const INPUT_EVENTS = ["pointerdown", "keydown", "input"];

async function start() {
  const boot = bootView();
  if (boot) {
    render(boot);
    // The sign-in screen is usable as it stands: the backend is asked once it is on screen,
    // so the two do not compete for the first frame.
    await settled(painted());
  } else {
    mount("loading");
  }
  const before = acts;
  try {
    await listen("app-view", pushed);
    const v = await call("app_state");
    // An action started meanwhile has rendered a newer view (or will).
    if (acts === before) render(v);
    if (!boot) painted();
    if (v.server.demo) {
      readClock(v);
      await listen("demo-inbox", addMessage);
      await startInbox();
      // Codes expire on the server's clock: look again now and then.
      setInterval(refreshInbox, 15000);
    }
  } catch (err) {
    showError(err);
  }
  // The tests start once this is set: the backend has been heard and live events are on.
  app.dataset.ready = "true";
}

start();
