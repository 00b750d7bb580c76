// Guards against answering by reflex: a stray click or key must not answer a request. For
// about a second after a request or its check appears, or the window gains focus, the answer
// buttons ignore clicks (and say so in aria-disabled and their title); Enter answers nothing.
import { $, $$ } from "./parts.js";

const SETTLE_MS = 1000;
const SETTLING_TITLE = "Just appeared: wait a moment before answering";
const ANSWER_BUTTONS = ".decide button, .match-number, [data-action=deny-report]";

// The stages that show an answer.
export const ANSWERS = new Set(["request", "step-up-otp"]);

// Installs the guards on `stageRoot` for the app state `ui` (its `view` and `mounted`) and
// returns `{ settle, settling }`: start the pause now, and whether it is still on.
export function createSettle(ui, stageRoot) {
  let settledAt = 0;
  let settleTimer = null;
  const answerButtons = () => [...$$(ANSWER_BUTTONS, stageRoot), $("#restart-approval")];

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

  // Clicks that land on an answer while it settles are dropped before any handler sees them.
  stageRoot.addEventListener(
    "click",
    (e) => {
      if (settling() && e.target.closest?.(ANSWER_BUTTONS)) {
        e.preventDefault();
        e.stopImmediatePropagation();
      }
    },
    true,
  );
  window.addEventListener("focus", () => {
    if (ANSWERS.has(ui.mounted)) settle();
  });

  // Enter answers nothing on the request screen; on the check, it submits only from the code
  // field once a code is typed there. Buttons still answer to a click, and Space once focused.
  stageRoot.addEventListener(
    "keydown",
    (e) => {
      // An input method's Enter commits what it composed: it answers nothing, and is left to it.
      if (e.key !== "Enter" || e.isComposing || !ANSWERS.has(ui.mounted)) return;
      const input = e.target.closest?.(".code-input");
      const min = ui.view?.rules?.codeMin || 4;
      e.preventDefault();
      e.stopPropagation();
      // Submitted here, not by the browser's implicit submission: that clicks the Approve
      // button, which may still be settling.
      if (input && input.value.replace(/\D/g, "").length >= min) input.form?.requestSubmit();
    },
    true,
  );

  return { settle, settling };
}
