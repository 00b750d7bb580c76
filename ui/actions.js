// Actions: running one command at a time (the busy state), the error shown for a failed one,
// the server's health dot, and the short notes and two-click confirmations around them.
import { call } from "./ipc.js";
import { gateMatching } from "./matching.js";
import { showErrorIn } from "./messages.js";
import { $, $$ } from "./parts.js";
import { placeError } from "./prompt.js";

const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

// The backend's flags decide: after a `restartable` error the approval must be started again;
// an `unreachable` one says the server did not answer.
const restartable = (err) => err.restartable === true;
const unreachable = (err) => err.unreachable === true;

// The actions for the app state `ui` (`view`, `busy`, `acts`, `lastApproval`, `staleView`,
// and the `render`, `gateCode` and `tick` of render.js, read when called).
export function createActions(ui) {
  const card = $("#card");
  const stageRoot = $("#stage-root");
  const errorBox = $("#error");
  const errorActions = $("#error-actions");
  let toastTimer = null;

  function showError(err) {
    showErrorIn(errorBox, err);
    errorBox.hidden = false;
    errorBox.dataset.code = err.code || "";
    errorBox.dataset.field = err.field || "";
    errorBox.dataset.pinFault = String(Boolean(err.pinFault));
    errorBox.dataset.noAddress = String(Boolean(err.noAddress));
    placeError(errorBox, errorActions, ui.view, stageRoot);
    const restart = restartable(err) && (ui.lastApproval || ui.view?.request) && ui.view?.stage !== "login";
    // An approval that needs a passkey this computer lacks: the way on is beside the error,
    // since the Passkeys panel is often below the fold.
    const addPasskey = err.addPasskey === true;
    $("#restart-approval").hidden = !restart;
    $("#error-add-passkey").hidden = !addPasskey;
    errorActions.hidden = !(restart || addPasskey);
    // Only as far as needed to see it: scrolling the card to the top would hide the top bar
    // (and move buttons under a pointer about to click them).
    errorBox.scrollIntoView({ block: "nearest", behavior: reducedMotion.matches ? "auto" : "smooth" });
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    delete errorBox.dataset.code;
    delete errorBox.dataset.field;
    delete errorBox.dataset.pinFault;
    delete errorBox.dataset.noAddress;
    errorActions.hidden = true;
    placeError(errorBox, errorActions, ui.view, stageRoot);
  }

  function setBusy(on, trigger) {
    ui.busy = on;
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
      ui.gateCode();
      gateMatching(stageRoot, ui.view?.stage === "request" ? ui.view.request : null);
      ui.tick();
    }
  }

  // The badge's dot says whether the server answered the last request.
  function serverHealth(up) {
    const badge = $("#server-label");
    badge.dataset.health = up ? "up" : "down";
    badge.title = up ? "The server answered" : "The server did not answer the last request";
  }

  // Runs one command; renders the new view or shows the error (then re-reads the view, since a
  // failure may have ended the session).
  async function act(command, args, trigger) {
    if (ui.busy) return false;
    ui.acts += 1;
    clearError();
    setBusy(true, trigger);
    try {
      ui.render(await call(command, args));
      serverHealth(true);
      return true;
    } catch (err) {
      serverHealth(!unreachable(err));
      setBusy(false, trigger);
      try {
        ui.render(await call("app_state"));
      } catch (_) {
        /* keep the last view */
      }
      showError(err);
      return false;
    } finally {
      if (ui.busy) setBusy(false, trigger);
      if (ui.staleView) refresh();
    }
  }

  // A view pushed by the backend (a request arrived, timed out, or was withdrawn) is drawn at
  // once, unless a command is running: then the view is read again when it ends.
  async function refresh() {
    ui.staleView = false;
    try {
      ui.render(await call("app_state"));
    } catch (_) {
      /* keep the last view */
    }
  }
  function pushed(v) {
    if (ui.busy) ui.staleView = true;
    else ui.render(v);
  }

  // A short confirmation that an action worked, gone after a few seconds.
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

  return { act, showError, clearError, refresh, pushed, flash, clearToast };
}

// Destructive actions ask first: the first click arms the button and says what a second
// click does; a second click within 5 s does it.
export function confirmFirst(button, prompt, run) {
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
