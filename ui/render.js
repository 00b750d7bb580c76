// Rendering: draws the backend's view model, mounts each screen's template, and runs the
// countdowns. It holds no session state of its own beyond what is on screen.
import { showDemoIdentities, refreshInbox } from "./demo.js";
import { crossesLock, showLock } from "./lock.js";
import { renderMatching } from "./matching.js";
import { $, $$, OTHERS, fillParts, isolated, lookalikeNote, warnAfter } from "./parts.js";
import { showPasskeys, wirePasskeys } from "./passkeys.js";
import { factRows, showPrompt } from "./prompt.js";
import { ANSWERS } from "./settle.js";
import { derived, left as fmtLeft, pick } from "./words.js";

export const THEMES = ["system", "light", "dark"];

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

// When a request's first frame is out (the callback of the frame after it), its id and the
// wall-clock time go on the root, where the request benchmark reads them.
function markPainted(app, id) {
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      app.dataset.requestPainted = `${id} ${Date.now()}`;
    }),
  );
}

// The renderer for the app state `ui`: it sets `view` and `mounted`, reads `busy`, and calls
// `act`, `clearError`, `clearToast`, `settle` and `wire` (the screens' wiring) when needed.
// Returns `{ render, mount, gateCode, tick }`.
export function createRender(ui) {
  const app = $("#app");
  const stageRoot = $("#stage-root");
  const cap = () => ui.view?.rules?.shownMax || 48;
  let ticker = null;
  let announced = null;

  function render(v) {
    if (crossesLock(ui, v)) return;
    ui.view = v;
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
    fillParts(notice, v.notice || "", cap());
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
    if (ui.mounted !== v.stage) {
      // A note about the screen before ("A new code is on its way.", "Next approvals: …") is
      // not about this one.
      if (ui.mounted) ui.clearToast();
      mount(v.stage);
    }
    bindValues(v);
    // Before a new request settles, so its numbers settle with its other answers.
    renderMatching($("[data-slot=matching]", stageRoot), v.stage === "request" ? v.request : null, (n, b) =>
      ui.act("pick_number", { id: v.request.id, number: n }, b),
    );
    if (v.request && v.stage === "request" && app.dataset.requestShown !== v.request.id) {
      // An error and its "Start again" were about the request before: they go with it.
      if (app.dataset.requestShown) ui.clearError();
      app.dataset.requestShown = v.request.id;
      markPainted(app, v.request.id);
      // A new request on a screen already up: nothing keeps the focus, and clicks wait.
      const h1 = $("h1", stageRoot);
      if (h1 && document.activeElement?.closest?.(".decide, .row-links")) {
        h1.tabIndex = -1;
        h1.focus();
      }
      ui.settle();
    }
    showParts(v);
    showPrompt(v, stageRoot);
    showPasskeys(v, stageRoot);
    showLock(v, stageRoot);
    tick();
  }

  // Fills every `data-bind` and `data-bind-list` element of the screen from `v`.
  function bindValues(v) {
    const d = derived(v);
    for (const el of $$("[data-bind]", stageRoot)) {
      const key = el.dataset.bind;
      const value = key in d ? d[key] : pick(v, key);
      if (OTHERS.test(key) && typeof value === "string") {
        // A requester's, a link's or the server's text: isolated, and capped unless the
        // element shows it whole (the reason, clamped by its style).
        el.replaceChildren(isolated(value, "full" in el.dataset, cap()));
        if ("full" in el.dataset) el.title = value;
      } else {
        fillParts(el, value, cap());
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
          dt.append(isolated(k.charAt(0).toUpperCase() + k.slice(1), false, cap()));
          dd.append(isolated(val, false, cap()));
          if (warning) dd.append(lookalikeNote(warning));
          row.append(dt, dd);
          return row;
        }),
      );
    }
  }

  // Shows the parts of the screen that apply to `v` and hides the rest.
  function showParts(v) {
    // A link's hint is its warning; a program's is a reminder a short window leaves out.
    $("[data-testid=request-hint]", stageRoot)?.toggleAttribute("data-link", Boolean(v.request?.fromLink));
    // Whole in its title: a short window clamps who asked to three lines.
    for (const p of $$(".asked-by", stageRoot)) p.title = p.textContent.replace(/\s+/g, " ").trim();
    if (!ui.busy) gateCode();
    for (const el of $$(".request-only", stageRoot)) el.hidden = !v.request;
    const reason = $("[data-testid=request-reason]", stageRoot);
    if (reason) reason.hidden = !v.request?.reason;
    if (v.challenge) {
      const otp = Boolean(v.challenge.channel);
      for (const el of $$(".otp-only", stageRoot)) el.hidden = !otp;
      for (const el of $$(".custom-only", stageRoot)) el.hidden = otp || !v.challenge.customHere;
    }
  }

  // A code with no tries left: the way on is a new code, not another try.
  function gateCode() {
    for (const id of ["verify-login", "verify-stepup"]) {
      const b = $(`[data-testid=${id}]`, stageRoot);
      if (b) b.disabled = Boolean(ui.view?.codeExhausted);
    }
  }

  function mount(stage) {
    announced = null;
    $("#announcer").textContent = "";
    const tpl = $(`#tpl-${stage}`);
    stageRoot.replaceChildren(tpl.content.cloneNode(true));
    ui.mounted = stage;
    ui.clearError();
    ui.wire[stage]?.();
    wirePasskeys(stage, stageRoot);
    if (ANSWERS.has(stage)) ui.settle();
    // Focus goes to the first field, else to the screen's heading, so a keyboard or screen
    // reader user starts where the new screen does.
    const first = $("input:not([type=hidden])", stageRoot) || $("h1", stageRoot);
    if (first) {
      if (first.tagName === "H1") first.tabIndex = -1;
      requestAnimationFrame(() => first.focus());
    }
  }

  // Countdowns: resend buttons wait for their deadline; expiries count down. The clock only
  // runs while a countdown is on screen.
  function tick() {
    const view = ui.view;
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
      el.textContent = left > 0 ? `Send a new code in ${fmtLeft(left)}` : "Send a new code";
      if (!ui.busy) el.disabled = left > 0;
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
          ? el.dataset.expiredText
            ? `in ${fmtLeft(left)}`
            : `Expires in ${fmtLeft(left)}`
          : el.dataset.expiredText || "Expired";
      if (!el.dataset.expiredText) announceLeft(left);
    }
    showGrantEnd(view, now);
  }

  // A grant past its end allows nothing: its screen stops saying it is granted.
  function showGrantEnd(view, now) {
    const stage = $("#done-stage", stageRoot);
    const at = view.grant?.expiresMs;
    if (!stage || !at) return;
    const over = at - now <= 0;
    // The headline is bound anew on each render: past the end, it says what ended, every time.
    if (over) fillParts($("[data-testid=grant-title]", stage), derived(view).grantEndedTitle, cap());
    if (over === stage.hasAttribute("data-expired")) return;
    stage.toggleAttribute("data-expired", over);
    $(".success-mark", stage).hidden = over;
    $("[data-testid=scope-granted]", stage).hidden = over;
    $("[data-testid=grant-requester]", stage).hidden = over || !view.grant.requester;
    $("[data-testid=grant-expired]", stage).hidden = !over;
  }

  // The visible countdown changes every second; screen readers hear it once a minute, at 10 s
  // and when it runs out.
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

  return { render, mount, gateCode, tick, isolated: (text, whole) => isolated(text, whole, cap()) };
}
