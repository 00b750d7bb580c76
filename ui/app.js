// Countersign's view, its entry module: builds the app state and the parts that render it and
// act on it, wires the top bar, and boots from the backend's first view.
import { confirmFirst, createActions } from "./actions.js";
import { addMessage, clearInbox, refreshInbox, startInbox } from "./demo.js";
import { call, listen } from "./ipc.js";
import { initMatchingSetting } from "./matching.js";
import { initAutostartSetting } from "./autostart.js";
import { $ } from "./parts.js";
import { initLock } from "./lock.js";
import { initPasskeys } from "./passkeys.js";
import { THEMES, createRender } from "./render.js";
import { createScreens } from "./screens.js";
import { createSettle } from "./settle.js";

const scriptAt = performance.now();
const app = $("#app");
const stageRoot = $("#stage-root");

// The app state, passed to each part: the view on screen, the stage mounted, whether a
// command runs, how many were started, the last own approval asked (for "Start again"), and
// whether a view pushed meanwhile is still to be read. The parts add their functions to it.
const ui = { view: null, mounted: null, busy: false, acts: 0, lastApproval: null, staleView: false };
Object.assign(ui, createSettle(ui, stageRoot), createActions(ui), createRender(ui));
ui.wire = createScreens(ui, stageRoot);
const { act, flash, render, showError } = ui;

initPasskeys({ act, view: () => ui.view, confirmFirst });
initLock(ui);

$("#restart-approval").addEventListener("click", (e) => {
  if (ui.settling()) return;
  if (ui.view?.request) act("approve_request", { id: ui.view.request.id }, e.currentTarget);
  else if (ui.lastApproval) act("request_step_up", ui.lastApproval, e.currentTarget);
});

$("#error-add-passkey").addEventListener("click", (e) => act("add_passkey", {}, e.currentTarget));

$("#logout").addEventListener("click", async (e) => {
  if (await act("logout", {}, e.currentTarget)) flash("You are signed out.");
});

$("#revoke-after-report").addEventListener("click", async (e) => {
  const target = ui.view?.user?.revokeTargets.others;
  if (target && (await act("revoke_sessions", { target }, e.currentTarget))) flash("Your other sessions are signed out.");
});

// Clicks in quick succession: only the last one's answer is drawn, since an earlier one may
// answer after it and would turn the page back to a theme no longer chosen.
let themeTurn = 0;
$("#theme-toggle").addEventListener("click", async () => {
  const next = THEMES[(THEMES.indexOf(app.dataset.theme) + 1) % THEMES.length];
  app.dataset.theme = next;
  const turn = ++themeTurn;
  try {
    const v = await call("set_theme", { theme: next });
    if (turn === themeTurn) render(v);
  } catch (err) {
    showError(err);
  }
});

// The demo inbox's scenario picker and reset.
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

// The test bench, for an emulator only; loaded on first use.
let bench = null;
$("#bench-open").addEventListener("click", async () => {
  bench ??= import("./bench.js").then((m) => m.initBench(() => ui.refresh()));
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
    page: {
      scriptAt: Math.round(scriptAt),
      viewAt: Math.round(viewAt),
      paintAt: Math.round(performance.now()),
      navigationStart: performance.timeOrigin,
    },
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
    ui.mount("loading");
  }
  const before = ui.acts;
  try {
    await listen("app-view", ui.pushed);
    const v = await call("app_state");
    // An action started meanwhile has rendered a newer view (or will).
    if (ui.acts === before) render(v);
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
