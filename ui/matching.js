// Number matching: a program's request offers three numbers, one of them on the program's
// terminal; "Continue to approve" waits for the right pick, and a wrong one denies. Also the
// Settings switch that turns matching off for the profile.
import { call } from "./ipc.js";

const $ = (sel, root = document) => root.querySelector(sel);

function para(text, cls = "muted small") {
  const p = document.createElement("p");
  p.className = cls;
  p.textContent = text;
  return p;
}

// Draws the request's numbers into `slot` (drawn again only when they change, so focus stays)
// and holds the approve button until the right pick. `onPick(number, button)` sends a pick.
export function renderMatching(slot, request, onPick) {
  if (!slot) return;
  const m = request?.matching;
  const key = request ? `${request.id} ${m ? m.picked : "-"} ${request.matchingOff}` : "";
  if (slot.dataset.key === key) return gateMatching(slot, request);
  slot.dataset.key = key;
  slot.hidden = !m && !request?.matchingOff;
  if (!m) {
    gateMatching(slot, request);
    slot.replaceChildren(
      ...(request?.matchingOff
        ? [para("Number matching is off for this profile (Settings): make sure you started this request yourself.", "match-off small")]
        : []),
    );
    return;
  }
  // The one thing to do before Continue: said in the text's own colour, not as a hint.
  const ask = para(m.picked ? "The number matches: you may continue." : "Pick the number the program's terminal shows.", "small");
  if (!m.picked) {
    // A short window leaves this out (styles.css); the title keeps it.
    const warn = document.createElement("span");
    warn.className = "match-warn";
    warn.textContent = " A wrong number denies the request.";
    ask.append(warn);
    ask.title = ask.textContent;
  }
  ask.id = "match-ask";
  ask.dataset.testid = "match-ask";
  const row = document.createElement("div");
  row.className = "match-choices";
  row.setAttribute("role", "group");
  row.setAttribute("aria-labelledby", "match-ask");
  for (const n of m.choices) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary match-number";
    b.dataset.testid = "match-number";
    b.textContent = String(n).padStart(2, "0");
    b.disabled = m.picked;
    b.setAttribute("aria-pressed", String(m.chosen === n));
    b.addEventListener("click", () => onPick(n, b));
    row.append(b);
  }
  slot.replaceChildren(ask, row);
  gateMatching(slot, request);
}

// The approve button waits for the right pick, and the numbers go once it is made; called
// after each drawing and when a busy screen is given back its buttons.
export function gateMatching(root, request) {
  const m = request?.matching;
  const stage = root?.closest?.(".stage") || root;
  const approve = stage && $("[data-action=approve-request]", stage);
  if (approve) approve.disabled = Boolean(m && !m.picked);
  for (const b of stage ? stage.querySelectorAll(".match-number") : []) b.disabled = Boolean(m?.picked);
}

// Settings: the switch reads the profile's setting each time the sheet opens.
export function initMatchingSetting() {
  const box = $("#matching-switch");
  const note = $("#matching-note");
  if (!box) return;
  const load = async () => {
    try {
      box.checked = await call("number_matching");
      note.textContent = "";
    } catch (_) {
      box.disabled = true;
    }
  };
  $("#settings-open")?.addEventListener("click", load);
  box.addEventListener("change", async () => {
    try {
      box.checked = await call("set_number_matching", { on: box.checked });
      note.textContent = box.checked ? "On for requests from now on." : "Off for requests from now on.";
    } catch (err) {
      box.checked = !box.checked;
      note.textContent = err?.message || String(err);
    }
  });
}
