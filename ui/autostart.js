// Settings' "Start with the session": one autostart entry per profile, which starts
// Countersign in the background. Greyed out, saying why, where the session has no tray.
import { call } from "./ipc.js";

const $ = (sel) => document.querySelector(sel);

function show(s) {
  const box = $("#autostart-switch");
  box.checked = s.on;
  // Turning it off always works; on needs a tray.
  box.disabled = !s.available && !s.on;
  $("#autostart-why").textContent = s.why || "";
  $("#autostart-why").hidden = !s.why;
  // Read since the sheet opened (tests wait for it).
  box.dataset.loaded = "true";
}

export function initAutostartSetting() {
  const box = $("#autostart-switch");
  const note = $("#autostart-note");
  if (!box) return;
  $("#settings-open")?.addEventListener("click", async () => {
    note.textContent = "";
    delete box.dataset.loaded;
    try {
      show(await call("autostart_state"));
    } catch (err) {
      box.disabled = true;
      note.textContent = err?.message || String(err);
    }
  });
  box.addEventListener("change", async () => {
    try {
      const s = await call("set_autostart", { on: box.checked });
      show(s);
      note.textContent = s.on ? "Countersign starts with your session." : "Countersign no longer starts with your session.";
    } catch (err) {
      box.checked = !box.checked;
      note.textContent = err?.message || String(err);
    }
  });
}
