// What the user reads for each error code. Codes are stable; wording lives here only.
const TEXT = {
  invalid_otp_code: (e) =>
    e.attemptsRemaining === 0
      ? "Wrong code. No tries are left for it: send a new code."
      : e.attemptsRemaining != null
        ? `Wrong code. ${e.attemptsRemaining} ${e.attemptsRemaining === 1 ? "attempt" : "attempts"} left.`
        : "Wrong code.",
  step_up_blocked: () => "Your hook denied this scope.",
  scope_not_allowed: () => "This app is not allowed to ask for that scope.",
  step_up_not_configured: () => "Approvals are not set up for this app yet.",
  forbidden: (e) => `Not allowed: ${e.message}`,
  expired_challenge_token: () => "This approval has expired.",
  token_reused: () => "This approval was already used.",
  invalid_challenge_token: () => "This approval is no longer valid.",
  missing_challenge_token: () => "The server did not start the approval.",
  rate_limited: (e) => `Too many attempts. ${cap(e.message)}.`,
  no_tries_left: () => "Wrong code, and no tries are left for it. Send a new code.",
  code_ended: () => "This code has expired or can no longer be used. Send a new code.",
  wrong_stage: () => "That action no longer applies here.",
  custom_step_elsewhere: () => "This step is completed in the app that asked for the approval.",
  too_many_attempts: () =>
    "Too many wrong codes for this phone or email. It is locked for a while; try again later.",
  invalid_identifier: (e) => cap(e.message) + ".",
  invalid_input: (e) => cap(e.message) + ".",
  invalid_metadata: (e) => cap(e.message) + ".",
  no_login_config: () => "This server does not accept that kind of phone number or email.",
  unauthorized: () => "Your session has ended. Sign in again.",
  not_signed_in: () => "You are not signed in.",
  network: () => "Cannot reach the server. Check the connection and try again.",
  timeout: () => "The server did not answer in time. Try again.",
  internal: () => "The server had a problem. Try again in a moment.",
  keyring_unavailable: () => "The system keyring is locked or missing. Unlock it, then try again.",
  demo_only: () => "Only available with the built-in demo server.",
  challenge_mismatch: () =>
    "The server’s approval did not say exactly what was asked, so it was refused. Nothing was approved.",
  no_request: () => "That request is no longer waiting.",
  connection_failed: (e) => cap(e.message) + ".",
};

function cap(s) {
  const t = String(s || "").replace(/\.$/, "");
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export function describe(err) {
  const f = TEXT[err.code];
  return f ? f(err) : cap(err.message || err.code || "Something went wrong") + ".";
}

// Errors after which the approval must be started again.
export const RESTARTABLE = new Set(["expired_challenge_token", "token_reused", "invalid_challenge_token"]);
