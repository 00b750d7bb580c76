// The test bench sheet: the emulator's clock, fault switches and scenario files. It shows
// what the backend says is in force and sends changes back; the backend checks every value.
import { call } from "./ipc.js";
import { showErrorIn } from "./messages.js";
import { clock } from "./words.js";

const $ = (sel, root = document) => root.querySelector(sel);
const dialog = $("#bench");
const form = $("#faults-form");
const note = $("#bench-note");
let bench = null;

function say(text, tone = "") {
  note.textContent = text;
  note.className = `muted small ${tone}`;
}

function sayError(err) {
  showErrorIn(note, err);
  note.className = "muted small bad";
}

function offsetText(secs) {
  if (!secs) return "real time";
  const sign = secs > 0 ? "+" : "−";
  const a = Math.abs(secs);
  const parts = [];
  if (a >= 86400) parts.push(`${Math.floor(a / 86400)} d`);
  if (a % 86400 >= 3600) parts.push(`${Math.floor((a % 86400) / 3600)} h`);
  if (a % 3600 >= 60) parts.push(`${Math.floor((a % 3600) / 60)} min`);
  if (a % 60) parts.push(`${a % 60} s`);
  return `${sign}${parts.join(" ")}`;
}

// The emulated time stays in the top bar while it differs from real time by a minute or more:
// the badge reads hours and minutes, and a few seconds' drift is no warning.
const BADGE_FROM_SECS = 60;
export function showClock(b) {
  const badge = $("#emulated-clock");
  const off = b?.clockOffsetSecs || 0;
  badge.hidden = Math.abs(off) < BADGE_FROM_SECS;
  if (!badge.hidden) {
    const at = clock(Date.now() + off * 1000);
    // The words give way in a narrow window (styles.css); the time and offset stay, whole in
    // the title.
    const word = document.createElement("span");
    word.className = "clock-word";
    word.textContent = "Server clock ";
    badge.replaceChildren(word, `${at} (${offsetText(off)})`);
    badge.title = `Server clock ${at} (${offsetText(off)})`;
    badge.dataset.offset = String(off);
  }
}

const SWITCHES = ["require_dpop_nonce", "omit_continue_token", "rewrite_signed_metadata", "hook_unreachable", "messages_lost"];
const PASSKEY_SWITCHES = ["passkey_counter_behind", "passkey_options_uv_discouraged", "passkey_wrong_origin", "passkey_blocked"];

// The emulator's last passkey refusal, in its own words: what a tester reads to see why.
function showRefusal(r) {
  $("#bench-passkey-refusal").textContent = r
    ? `Last refused: ${r.ceremony} at ${clock(r.at * 1000)}${r.check ? ` (check ${r.check})` : ""}: ${r.why}`
    : "No passkey refused yet.";
}

function fill(b) {
  bench = b;
  showClock(b);
  const at = clock(b.emulatedNowMs);
  $("[data-testid=bench-clock]").textContent = `Emulated time: ${at} (${offsetText(b.clockOffsetSecs)})`;
  const f = b.faults;
  for (const name of [...SWITCHES, ...PASSKEY_SWITCHES]) {
    form.elements[name].checked = Boolean(f[name]);
  }
  showRefusal(b.passkeyRefusal);
  form.elements.delay_ms.value = f.delay_ms;
  form.elements.message_delay_ms.value = f.message_delay_ms;
  // One row per route, one column per way to fail: the column headers name the switches, and
  // each box also carries its own accessible name.
  $("#route-rows").replaceChildren(
    ...b.routes.map(({ path: route, slug }) => {
      const row = document.createElement("tr");
      const head = document.createElement("th");
      head.scope = "row";
      const name = document.createElement("code");
      name.textContent = route;
      head.append(name);
      row.append(head);
      for (const [kind, label] of [["fail_routes", "5xx"], ["rate_limit_routes", "429"], ["lose_response_routes", "lost"]]) {
        const cell = document.createElement("td");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.dataset.kind = kind;
        box.dataset.route = route;
        box.dataset.testid = `fault-${label}-${slug}`;
        box.setAttribute("aria-label", `${route}: ${label === "lost" ? "answer lost" : label}`);
        box.checked = (f[kind] || []).includes(route);
        cell.append(box);
        row.append(cell);
      }
      return row;
    }),
  );
}

function read() {
  const el = form.elements;
  const routes = (kind) =>
    [...form.querySelectorAll(`input[data-kind=${kind}]`)].filter((b) => b.checked).map((b) => b.dataset.route);
  // Routes the sheet does not list (set by a script) are kept.
  const others = (kind) => (bench?.faults[kind] || []).filter((r) => !bench.routes.some((x) => x.path === r));
  return {
    ...bench.faults,
    require_dpop_nonce: el.require_dpop_nonce.checked,
    omit_continue_token: el.omit_continue_token.checked,
    rewrite_signed_metadata: el.rewrite_signed_metadata.checked,
    hook_unreachable: el.hook_unreachable.checked,
    messages_lost: el.messages_lost.checked,
    ...Object.fromEntries(PASSKEY_SWITCHES.map((n) => [n, el[n].checked])),
    delay_ms: Number(el.delay_ms.value || 0),
    message_delay_ms: Number(el.message_delay_ms.value || 0),
    fail_routes: [...routes("fail_routes"), ...others("fail_routes")],
    rate_limit_routes: [...routes("rate_limit_routes"), ...others("rate_limit_routes")],
    lose_response_routes: [...routes("lose_response_routes"), ...others("lose_response_routes")],
  };
}

// `onChange` re-reads the app's view (countdowns follow the clock; a reset signs out).
export function initBench(onChange) {
  const open = async () => {
    say("");
    try {
      fill(await call("bench_state"));
    } catch (err) {
      sayError(err);
    }
    dialog.showModal();
  };

  $("#bench-close").addEventListener("click", () => dialog.close());

  for (const b of dialog.querySelectorAll("[data-clock]")) {
    b.addEventListener("click", async () => {
      const by = b.dataset.clock === "now" ? null : Number(b.dataset.clock);
      try {
        fill(await call("move_clock", { bySecs: by }));
        say(by ? `The server clock moved ${offsetText(by).replace("+", "")} forward.` : "The server clock is back to real time.", "good");
        onChange();
      } catch (err) {
        sayError(err);
      }
    });
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      fill(await call("set_faults", { faults: read() }));
      say("Switches applied.", "good");
    } catch (err) {
      sayError(err);
    }
  });

  $("#faults-clear").addEventListener("click", async () => {
    try {
      const off = { ...bench.faults, require_dpop_nonce: false, omit_continue_token: false, rewrite_signed_metadata: false,
        hook_unreachable: false, messages_lost: false, delay_ms: 0, message_delay_ms: 0, fail_routes: [], rate_limit_routes: [],
        lose_response_routes: [], ...Object.fromEntries(PASSKEY_SWITCHES.map((n) => [n, false])) };
      fill(await call("set_faults", { faults: off }));
      say("Every switch is off.", "good");
    } catch (err) {
      sayError(err);
    }
  });

  $("#scenario-export").addEventListener("click", async () => {
    try {
      const path = await call("export_scenario");
      say(path ? `Saved to ${path}` : "Not saved.", path ? "good" : "");
    } catch (err) {
      sayError(err);
    }
  });

  $("#scenario-import").addEventListener("click", async () => {
    try {
      const b = await call("import_scenario");
      if (b) {
        fill(b);
        say("Scenario imported.", "good");
        onChange();
      } else {
        say("Nothing imported.");
      }
    } catch (err) {
      sayError(err);
    }
  });

  // A reset signs everyone out: the first click asks, a second within 5 s does it.
  let armed = null;
  const resetButton = $("#bench-reset");
  resetButton.addEventListener("click", async () => {
    if (!armed) {
      resetButton.textContent = "Click again to reset";
      say("A reset signs you out and puts every setting back to the start.");
      armed = setTimeout(() => {
        armed = null;
        resetButton.textContent = "Reset demo";
      }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    resetButton.textContent = "Reset demo";
    try {
      await call("reset_demo");
      fill(await call("bench_state"));
      say("The demo server was reset; you are signed out.", "good");
      onChange();
    } catch (err) {
      sayError(err);
    }
  });

  return open;
}
