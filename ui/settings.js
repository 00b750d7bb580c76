// The settings sheet: server choice (with a connection test) and the approval history.
import { loadPasskeySettings } from "./passkeys.js";
import { call } from "./ipc.js";
import { showErrorIn } from "./messages.js";
import { transferLine } from "./money.js";
import { clock } from "./words.js";

const $ = (sel) => document.querySelector(sel);
const dialog = $("#settings");
const form = $("#server-form");
const valueField = $("#server-value-field");
const valueInput = $("#server-value");
const status = $("#server-status");
const keyField = $("#emulator-key-field");
const keyInput = $("#emulator-key");
const keyState = $("#emulator-key-state");

const LABEL = { app_id: "App ID", url: "Base URL" };
const PLACEHOLDER = { app_id: "e.g. 54e9ujn", url: "https://auth.example.com or http://127.0.0.1:4010" };

function kind() {
  return form.querySelector("input[name=kind]:checked")?.value || "embedded";
}

// What was typed for each kind: an app id never carries over into the URL field, or back.
const typed = { app_id: "", url: "" };
let shownKind = null;

function syncKind() {
  const k = kind();
  if (shownKind in typed) typed[shownKind] = valueInput.value;
  if (k !== shownKind && k in typed) valueInput.value = typed[k];
  shownKind = k;
  valueField.hidden = k === "embedded";
  // Only a standalone emulator (a URL) has a control plane that may take a key.
  keyField.hidden = k !== "url";
  $("#server-value-label").textContent = LABEL[k] || "";
  valueInput.placeholder = PLACEHOLDER[k] || "";
}

// The status line sits under the server field; a value refused as input marks that field.
function say(text, tone = "") {
  status.textContent = text;
  status.className = "hint " + tone;
  valueInput.removeAttribute("aria-invalid");
}

function sayError(err) {
  showErrorIn(status, err);
  status.className = "hint bad";
  if (err.badInput) valueInput.setAttribute("aria-invalid", "true");
}

// The emulator key is write-only: the app says whether it has one, never what it is.
const KEY_STATE = {
  keyring: "Key set.",
  environment: "Set by COUNTERSIGN_EMULATOR_KEY for this run.",
  none: "No key set.",
};

function showKeyState(source) {
  keyState.textContent = KEY_STATE[source] || "";
  const fromEnv = source === "environment";
  keyInput.disabled = fromEnv;
  $("#set-emulator-key").disabled = fromEnv;
  $("#forget-emulator-key").hidden = source !== "keyring";
}

// Set when the key changed: the demo inbox and the test bench may appear or go, so the page
// is drawn again when the sheet closes.
let keyChanged = false;

// The field is cleared before the call: the key is sent once and kept nowhere in the page.
async function setKey(key) {
  keyInput.value = "";
  try {
    const s = await call("set_emulator_key", { key });
    keyChanged = true;
    showKeyState(s.emulatorKey);
    say(key ? "Emulator key set." : "Emulator key forgotten.", "good");
  } catch (err) {
    sayError(err);
  }
}

async function loadHistory() {
  const list = $("#history");
  const note = $("#history-note");
  try {
    const log = await call("audit_log");
    list.replaceChildren(
      ...log.entries.map((e) => {
        const li = document.createElement("li");
        li.dataset.testid = "audit-entry";
        li.dataset.outcome = e.outcome;
        const what = document.createElement("span");
        what.className = "what";
        // What was asked in words (a scope without words by its name), then a transfer in the
        // one money format, or other details as they were asked.
        const meta = transferLine(e.metadata) || Object.values(e.metadata).join(" ");
        what.textContent = `${e.scopeWords || e.scope}${meta ? " · " + meta : ""}`;
        const badge = document.createElement("span");
        badge.className = `outcome ${e.outcome}`;
        // The backend's words for the outcome and the steps; an outcome it has none for as written.
        badge.textContent = e.outcomeLabel || e.outcome;
        const when = document.createElement("span");
        when.className = "when";
        const steps = e.stepLabels.length ? ` · ${e.stepLabels.join(" → ")}` : "";
        // The error's code is for testers: a tooltip, not part of the line.
        if (e.errorCode) li.title = `Error: ${e.errorCode}`;
        const who = e.requester ? ` · asked by ${e.requester}` : "";
        when.textContent = `${clock(e.startedAt)}${who}${steps}`;
        li.append(what, badge, when);
        return li;
      }),
    );
    const parts = [];
    if (!log.entries.length) parts.push("No approvals yet.");
    if (log.unreadable) {
      const lines = log.unreadable === 1 ? "1 damaged line was" : `${log.unreadable} damaged lines were`;
      parts.push(`${lines} skipped; the file keeps them.`);
    }
    note.textContent = parts.join(" ");
  } catch (err) {
    showErrorIn(note, err);
  }
}

// Programs muted after a report, each until its time; the panel shows only when there are.
async function loadMuted() {
  const panel = $("#muted-panel");
  try {
    const muted = await call("muted_programs");
    $("#muted-list").replaceChildren(
      ...muted.map((m) => {
        const li = document.createElement("li");
        li.dataset.testid = "muted-program";
        const what = document.createElement("bdi");
        what.className = "what";
        what.textContent = m.program;
        const when = document.createElement("span");
        when.className = "when";
        when.textContent = `until ${clock(m.until)}`;
        li.append(what, when);
        return li;
      }),
    );
    panel.hidden = !muted.length;
  } catch (_) {
    panel.hidden = true;
  }
}

// Wires the sheet once; returns the function that opens it.
export function initSettings(onView) {
  form.addEventListener("change", (e) => {
    if (e.target.name === "kind") {
      syncKind();
      say("");
    }
  });

  const open = async () => {
    say("");
    try {
      const s = await call("server_settings");
      form.querySelector(`input[value=${s.kind}]`).checked = true;
      typed.app_id = typed.url = "";
      if (s.kind in typed) typed[s.kind] = s.value;
      shownKind = null;
      syncKind();
      // A server chosen on the command line cannot be switched here, but it can be tested.
      for (const el of form.querySelectorAll("input, button")) el.disabled = s.overridden && el.id !== "test-connection" && !keyField.contains(el);
      if (s.overridden) say("Set on the command line or in the environment for this run. Test connection checks it.");
      keyInput.value = "";
      showKeyState(s.emulatorKey);
    } catch (err) {
      sayError(err);
    }
    loadHistory();
    loadMuted();
    loadPasskeySettings(onView);
    dialog.showModal();
  };

  $("#settings-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", async () => {
    keyInput.value = "";
    if (!keyChanged) return;
    keyChanged = false;
    try {
      onView(await call("app_state"));
    } catch (_) {
      /* the next action draws the page */
    }
  });
  $("#set-emulator-key").addEventListener("click", () => {
    if (keyInput.value.trim()) setKey(keyInput.value);
  });
  $("#forget-emulator-key").addEventListener("click", () => setKey(null));
  // Enter in the key field sets the key; it must not submit (and switch) the server form.
  keyInput.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    if (keyInput.value.trim()) setKey(keyInput.value);
  });

  $("#test-connection").addEventListener("click", async () => {
    say("Testing…");
    try {
      say(await call("test_connection", { kind: kind(), value: valueInput.value }), "good");
    } catch (err) {
      sayError(err);
    }
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    say("Switching…");
    try {
      const v = await call("switch_server", { kind: kind(), value: valueInput.value });
      keyChanged = false;
      say("Saved.", "good");
      onView(v);
      dialog.close();
    } catch (err) {
      sayError(err);
    }
  });

  $("#unmute-programs").addEventListener("click", async () => {
    try {
      onView(await call("unmute_programs"));
    } catch (err) {
      sayError(err);
    }
    loadMuted();
  });

  $("#export-audit").addEventListener("click", async () => {
    const note = $("#history-note");
    try {
      const path = await call("export_audit_log");
      note.textContent = path ? `Saved to ${path}` : "Not saved.";
    } catch (err) {
      showErrorIn(note, err);
    }
    // The note is below the list: bring it into view so the result is seen.
    note.scrollIntoView({ block: "nearest" });
  });
  return open;
}
