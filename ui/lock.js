// The lock screen: "Locked", how many requests wait, and the way to open it (the PIN, or a
// click when none is set). The backend owns the lock: while it is locked, its view holds
// nothing else, and every other command is refused. Also Ctrl+L ("Lock now"), and input
// reported to the backend (at most every few seconds) so the idle minutes start again.
import { confirmFirst } from "./actions.js";
import { call } from "./ipc.js";
import { $ } from "./parts.js";
import { left as fmtLeft } from "./words.js";

const INPUT_EVERY_MS = 5000;

const TEMPLATE = `
  <div class="stage lock-stage" data-testid="lock-screen">
    <h1 data-testid="lock-title">Locked</h1>
    <p class="lock-waiting" data-testid="lock-waiting" role="status"></p>
    <form class="lock-form" id="unlock-form" novalidate>
      <div class="field lock-pin">
        <label for="unlock-pin">Countersign PIN</label>
        <input id="unlock-pin" data-testid="unlock-pin" type="password" inputmode="numeric"
               autocomplete="off" spellcheck="false" maxlength="32">
      </div>
      <p class="muted small lock-pin" data-testid="unlock-tries"></p>
      <p class="muted small" data-testid="unlock-wait" role="status" hidden></p>
      <button type="submit" class="primary" data-testid="unlock">Unlock</button>
    </form>
    <button type="button" class="link lock-pin" data-testid="forgot-pin">Forgot PIN</button>
    <p class="muted small lock-pin" data-testid="forgot-pin-why">Forgetting the PIN deletes this computer's passkeys and signs you out: you sign in again with a code.</p>
  </div>`;

// The screen's template, added once, where the other screens' are.
function addTemplate() {
  if ($("#tpl-locked")) return;
  const tpl = document.createElement("template");
  tpl.id = "tpl-locked";
  tpl.innerHTML = TEMPLATE;
  document.body.append(tpl);
}

const waitingText = (n) =>
  n === 0 ? "No request is waiting." : n === 1 ? "1 request is waiting." : `${n} requests are waiting.`;

let waitTimer = null;

// Draws the lock's part of view `v` on the mounted lock screen.
export function showLock(v, root) {
  const screen = $("[data-testid=lock-screen]", root);
  if (!screen || !v.lock) return;
  $("[data-testid=lock-waiting]", screen).textContent = waitingText(v.waiting);
  for (const el of screen.querySelectorAll(".lock-pin")) el.hidden = !v.lock.pin;
  // Settings and the theme answer nothing while locked: their buttons go until the unlock
  // (which loads the page again).
  // The count is in the screen itself.
  for (const id of ["#settings-open", "#theme-toggle", "#bench-open", "#logout", "#queue-count", "#server-label"]) {
    $(id).hidden = true;
  }
  const unlock = $("[data-testid=unlock]", screen);
  unlock.textContent = v.lock.pin ? "Unlock" : "Show Countersign";
  const tries = v.lock.pinTriesLeft;
  $("[data-testid=unlock-tries]", screen).textContent =
    tries === 0 ? "No tries left: the PIN is blocked. Forget it to go on." : `${tries} ${tries === 1 ? "try" : "tries"} left.`;
  // After a wrong PIN the next try waits; the backend refuses one sooner all the same.
  const wait = $("[data-testid=unlock-wait]", screen);
  clearInterval(waitTimer);
  const count = () => {
    const left = (v.lock.retryMs || 0) - Date.now();
    wait.hidden = left <= 0;
    wait.textContent = left > 0 ? `Next try in ${fmtLeft(left)}.` : "";
    if (left <= 0) clearInterval(waitTimer);
  };
  count();
  if (!wait.hidden) waitTimer = setInterval(count, 250);
}

// The lock screen's controls, once mounted.
function wire(ui) {
  const form = $("#unlock-form");
  const pin = $("#unlock-pin");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const typed = pin.value;
    pin.value = "";
    await ui.act("unlock", { pin: ui.view?.lock?.pin ? typed : null }, $("[data-testid=unlock]", form));
    $("#unlock-pin")?.focus();
  });
  confirmFirst($("[data-testid=forgot-pin]"), "Delete passkeys and sign out? Click again", (e) =>
    ui.act("forgot_pin", {}, e.target),
  );
}

// A move into or out of the lock loads the page again: nothing drawn before the lock (codes
// in the inbox, the history, a request) stays in the page, and after it the page starts whole.
// True when it does (the caller draws nothing more).
let drawnLocked = null;
export function crossesLock(ui, v) {
  const locked = Boolean(v.lock);
  const from = ui.mounted;
  if (!from || from === "loading" || drawnLocked === null || drawnLocked === locked) {
    drawnLocked = locked;
    return false;
  }
  location.reload();
  return true;
}

const afterText = (m) => (m === 0 ? "Never" : m === 1 ? "1 minute" : m === 60 ? "1 hour" : `${m} minutes`);

// Settings' "Lock after": read each time the sheet opens.
function initLockSetting() {
  const select = $("#lock-after");
  const note = $("#lock-note");
  if (!select) return;
  const show = (s) => {
    select.replaceChildren(
      ...s.choices.map((m) => {
        const o = document.createElement("option");
        o.value = String(m);
        o.textContent = afterText(m);
        return o;
      }),
    );
    select.value = String(s.minutes);
    note.textContent = s.overrideSecs ? `For this run, ${s.overrideSecs} s (COUNTERSIGN_LOCK_AFTER_SECS).` : "";
    select.dataset.loaded = "true";
  };
  $("#settings-open")?.addEventListener("click", async () => {
    delete select.dataset.loaded;
    try {
      show(await call("lock_setting"));
    } catch (err) {
      note.textContent = err?.message || String(err);
    }
  });
  select.addEventListener("change", async () => {
    try {
      show(await call("set_lock_after", { minutes: Number(select.value) }));
      note.textContent = select.value === "0" ? "Countersign no longer locks by itself." : `Locks after ${afterText(Number(select.value)).toLowerCase()} without input.`;
    } catch (err) {
      note.textContent = err?.message || String(err);
    }
  });
}

// Reports input now and then, and Ctrl+L locks.
export function initLock(ui) {
  addTemplate();
  initLockSetting();
  ui.wire.locked = () => wire(ui);
  // At most one report every few seconds: the first input at once, and one more at the end
  // of the interval for input that came during it, so the idle time counts from the last.
  let last = 0;
  let pending = null;
  const report = () => {
    pending = null;
    last = Date.now();
    if (!ui.view?.lock) call("note_input").catch(() => {});
  };
  const input = () => {
    if (ui.view?.lock || pending) return;
    const wait = last + INPUT_EVERY_MS - Date.now();
    if (wait <= 0) report();
    else pending = setTimeout(report, wait);
  };
  for (const type of ["pointerdown", "keydown", "wheel"]) addEventListener(type, input, { capture: true, passive: true });
  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "l")) return;
    e.preventDefault();
    if (!ui.view?.lock) ui.act("lock_now", {});
  });
}
