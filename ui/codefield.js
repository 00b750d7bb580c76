// The sign-in fields: the identifier's live verdict and the one-time code field, which takes
// digits as typed and hands anything inserted whole to the backend to read.
import { call } from "./ipc.js";

// The identifier rules live in the backend; the form only shows its verdict as one types.
// Returns a checker `(input, hint, fallback) → verdict` whose older answers never overwrite
// a newer one.
export function identifierChecker() {
  let checks = 0;
  return async function checkIdentifier(input, hint, fallback) {
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
  };
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

// Makes `input` a code field of at most `max` digits; `onComplete` runs when a code was read
// from an insertion, and `showError` says why an insertion was refused.
export function codeField(input, onComplete, { max, showError }) {
  input.removeAttribute("maxlength");
  const refuse = (why) => {
    input.setAttribute("aria-invalid", "true");
    // The page's own refusal: no code, only the reason, said plainly (messages.js).
    showError({ reason: why, message: why, plain: true });
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
