// The one wording table: what a person reads for each error code. Codes are stable and never
// appear in these sentences; the technical message goes to the "Details" disclosure for
// testers. "Wrong code.", "Scope granted." and "Your hook denied this scope." are the seed's
// own words and stay as they are.
const TEXT = {
  invalid_otp_code: (e) =>
    e.attemptsRemaining === 0
      ? "Wrong code. No tries are left for it: send a new code."
      : e.attemptsRemaining != null
        ? `Wrong code. ${e.attemptsRemaining} ${e.attemptsRemaining === 1 ? "try" : "tries"} left.`
        : "Wrong code.",
  no_tries_left: () => "Wrong code, and no tries are left for it. Send a new code.",
  code_ended: () => "This code has expired or can no longer be used. Send a new code.",
  too_many_attempts: () =>
    "Too many wrong codes for this phone or email. It is locked for a while; try again later.",
  rate_limited: (e) => (e.reason ? `Not so fast: ${e.reason}.` : "Too many tries at once. Wait a moment, then try again."),

  step_up_blocked: () => "Your hook denied this scope.",
  scope_not_allowed: () => "This app is not allowed to ask for that kind of approval.",
  step_up_not_configured: () => "Approvals are not set up for this app yet.",
  forbidden: () => "The server does not allow this for your account.",
  expired_challenge_token: () => "This approval has expired. Start again to get a new one.",
  token_reused: () => "This approval was already used. Start again for a new one.",
  invalid_challenge_token: () => "This approval is no longer valid. Start again for a new one.",
  missing_challenge_token: () => "The server did not start the approval. Try again.",
  challenge_mismatch: () =>
    "The server’s approval did not say exactly what was asked, so it was refused. Nothing was approved.",
  challenge_text_refused: () =>
    "The server’s approval holds text that could read otherwise than it is signed, so it was refused. Nothing was approved.",
  grant_unverifiable: () =>
    "The server approved this without a signed record of what it approved, so Countersign could not check it and did not accept it.",
  custom_step_elsewhere: () => "This step is completed in the app that asked for the approval.",
  no_email_for_step: () =>
    "This step sends a code by email, but your account has no email address. Nothing was sent.",
  no_phone_for_step: () =>
    "This step sends a code by text message, but your account has no phone number. Nothing was sent.",
  no_request: () => "That request is no longer waiting.",
  number_mismatch: () =>
    "That is not the number the program's terminal shows, so the request was denied. Nothing was approved.",
  number_not_picked: () => "Pick the number the program's terminal shows first.",
  wrong_stage: () => "That action no longer applies here.",

  // The server's reason says why (an address that mixes scripts, say); it is shown plainly.
  invalid_identifier: (e) =>
    e.reason ? `That phone number or email cannot be used here: ${String(e.reason).replace(/[.\s]+$/, "")}.` : "That phone number or email cannot be used here.",
  conflict: (e) => (e.reason ? sentence(e.reason) : "That clashes with what the server already holds."),
  identifier_already_exists: () =>
    "That address is already on an account, this one or another. Nothing was sent; use another address.",
  lookalike_identifier: (e) =>
    `This address could pass for someone else’s. ${e.reason ? sentence(e.reason) : ""} Nothing was sent: check it letter by letter, and send the code only if it is exactly yours.`,
  no_login_config: () => "This server does not accept that kind of phone number or email.",
  invalid_input: (e) => (e.reason ? sentence(e.reason) : "Something you entered is not valid."),
  invalid_metadata: () => "The details of this approval are not in a form the server accepts.",
  bad_request: () => "The server could not accept this request.",
  not_found: () => "The server no longer has that. Look again: it may have been removed already.",
  insufficient_scope: () => "This session may not do that yet. Approve it first, then try again.",
  generic: (e) => (e.reason ? `The server refused this: ${sentence(e.reason)}` : "The server refused this. Try again."),

  unauthorized: () => "Your session has ended. Sign in again.",
  not_signed_in: () => "You are not signed in.",
  muted: () =>
    "You reported this program's last request, so its requests are refused for 20 minutes. Settings can unmute it.",
  network: () => "Cannot reach the server. Check the connection and try again.",
  timeout: () => "The server did not answer in time. Try again.",
  internal: () => "The server had a problem. Try again in a moment.",
  connection_failed: () => "Could not reach that server. Check the address and that it is running.",
  plain_http_refused: () =>
    "Plain http:// is only used with this computer. Use https:// for another machine; for a standalone emulator there, start it with --tls --cert-out FILE and start Countersign with --ca-file FILE.",
  response_too_large: () => "The server's answer was too large to read, so it was not used.",
  clock_skew_too_large: () =>
    "This computer's clock, or the server's, is off by more than 30 days. Check the date and time, then try again.",
  keyring_unavailable: () =>
    "The system keyring is locked or missing, so no passkey can be kept on this computer. Unlock it, then try again.",
  wrong_pin: (e) =>
    `Wrong PIN. ${e.attemptsRemaining} ${e.attemptsRemaining === 1 ? "try" : "tries"} left before this computer's passkeys are blocked.`,
  pin_blocked: () =>
    "Too many wrong PINs: this computer's passkeys are blocked. Reset the PIN in the Passkeys panel, then add a passkey again.",
  pin_required: () => "Enter your Countersign PIN to approve.",
  pin_policy: () => "A PIN is 6 to 32 digits.",
  pin_mismatch: () => "The two PINs differ. Type the same PIN twice.",
  pin_not_set: () => "No Countersign PIN is set on this computer yet.",
  pin_already_set: () => "A PIN is already set. Change it with the old one.",
  no_passkey_here: () =>
    "No passkey for this account is on this computer. Add one from the Passkeys panel, or sign in with a code.",
  passkey_wrong_rp: () =>
    "The server asked for a passkey of another site than the one this server's passkeys belong to, so nothing was signed.",
  no_user_presence: () => "The approval was not confirmed on this computer.",
  passkey_unsupported: () => "The server asks for a kind of passkey this computer cannot make.",
  passkey_damaged: () => "A passkey kept on this computer is damaged. Delete it and add a new one.",
  needs_passkey: () =>
    "This approval needs a passkey, and no passkey of your account is on this computer. Add one (below, or in the Passkeys panel): the approval starts again once it is added.",
  passkey_not_configured: () => "Passkeys are not set up on this server.",
  passkey_registration_failed: () => "The server did not accept this computer's passkey. Nothing was added.",
  passkey_step_unavailable: () =>
    "The server did not accept a passkey for this step: your account may have none it can use. Add one on this computer, or deny.",
  passkey_authenticator_blocked: () =>
    "The server blocked this passkey: its sign counter went backwards, as if it had been copied, or an operator blocked it. Delete it and add a new one.",
  passkey_already_registered: () => "This computer's passkey is already registered for this account.",
  cancelled: () => "Nothing was signed on this computer.",
  locked: () => "Countersign is locked. Unlock it first.",
  lock_wait: () => "Too soon after a wrong PIN: wait until the next try is allowed.",
  demo_only: () => "Only available with the built-in demo server.",
  emulator: () => "The demo server had a problem. Try again, or reset it from the test bench.",
  settings: () => "Your settings could not be saved.",
  audit: () => "The approval history could not be read or saved.",
  startup: (e) => (e.reason ? sentence(e.reason) : "The server chosen at start could not be used."),
};

// "a reason" → "A reason."
function sentence(s) {
  const t = String(s || "").replace(/[.\s]+$/, "");
  return t.charAt(0).toUpperCase() + t.slice(1) + ".";
}

function describe(err) {
  // The page's own refusal (a code field's) has no code: its reason is the sentence.
  if (!err.code && err.reason) return sentence(err.reason);
  const f = TEXT[err.code];
  return f ? f(err) : "Something went wrong. Try again.";
}

// For the "Details" disclosure: the code and the technical message, for testers and reports.
function details(err) {
  const parts = [err.code, err.message].filter(Boolean);
  return parts.join(": ");
}

// What to do next, beneath the sentence, where the sentence itself keeps the seed's words.
const NEXT = {
  step_up_blocked: () =>
    "Nothing was approved. If you expected this to be allowed, ask whoever runs your server’s step-up rules (its hook) to allow it, then try again.",
};

const PLAIN = new Set([
  "invalid_input",
  "invalid_otp_code",
  "lookalike_identifier",
  "wrong_pin",
  "pin_required",
  "pin_policy",
  "pin_mismatch",
  "locked",
  "lock_wait",
]);

// Puts an error into `el`: the sentence, what to do next where it says, then the technical
// detail folded under "Details". Plain input errors are the person's own, a code or a PIN typed
// wrong among them: no Details.
export function showErrorIn(el, err) {
  const parts = [document.createTextNode(describe(err))];
  const next = NEXT[err.code]?.(err);
  if (next) {
    const p = document.createElement("p");
    p.className = "next-step";
    p.dataset.testid = "error-next";
    p.textContent = next;
    parts.push(p);
  }
  if (err.plain || PLAIN.has(err.code)) {
    el.replaceChildren(...parts);
    return;
  }
  const box = document.createElement("details");
  box.className = "details";
  box.dataset.testid = "error-details";
  const summary = document.createElement("summary");
  summary.textContent = "Details";
  const code = document.createElement("code");
  code.textContent = details(err);
  box.append(summary, code);
  el.replaceChildren(...parts, box);
}

