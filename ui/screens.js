// The per-screen wiring: what each screen's controls do once its template is mounted.
import { confirmFirst } from "./actions.js";
import { codeField, identifierChecker } from "./codefield.js";
import { wireIdentifiers } from "./identifiers.js";
import { call } from "./ipc.js";
import { $ } from "./parts.js";
import { wireDeadEnd } from "./prompt.js";
import { sessionMeta } from "./sessions.js";

// The wiring for each stage, for the app state `ui` (its `view` and `lastApproval`, and the
// `act`, `flash`, `clearError`, `showError` and `isolated` of the other modules), keyed by
// stage; `stageRoot` holds the mounted screen.
export function createScreens(ui, stageRoot) {
  const checkIdentifier = identifierChecker();
  const codeOf = (input, onComplete) =>
    codeField(input, onComplete, { max: ui.view?.rules?.codeMax || 8, showError: ui.showError });
  const act = (...a) => ui.act(...a);
  const flash = (text) => ui.flash(text);

  async function loadSessions() {
    const list = $("#sessions");
    if (!list) return;
    try {
      const rows = await call("list_sessions");
      const count = $("#sessions-count");
      if (count) count.textContent = rows.length === 1 ? "· this device only" : `· ${rows.length} devices`;
      list.replaceChildren(...rows.map(sessionRow));
    } catch (err) {
      ui.showError(err);
    }
  }

  function sessionRow(r) {
    const li = document.createElement("li");
    li.dataset.testid = "session-row";
    li.dataset.sessionId = r.id;
    li.title = r.id;
    li.append(sessionMeta(r, ui.isolated));
    // Every row signs its session out; this device's is the top bar's Sign out.
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.dataset.testid = "session-sign-out";
    b.textContent = "Sign out";
    b.addEventListener("click", async () => {
      if (r.current) {
        if (await act("logout", {}, b)) flash("You are signed out.");
      } else if (await act("revoke_sessions", { target: ui.view.user.revokeTargets.one, sessionId: r.id }, b)) loadSessions();
    });
    li.append(b);
    return li;
  }

  return {
    login() {
      const form = $("#login-form");
      const input = $("#identifier");
      const hint = $("#identifier-hint");
      const defaultHint = ui.view?.rules?.identifierHint || hint.textContent;
      hint.textContent = defaultHint;
      if (ui.view?.lastIdentifier) input.value = ui.view.lastIdentifier;
      input.addEventListener("input", () => checkIdentifier(input, hint, defaultHint));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        // A malformed phone number or email is said once, in the field's own hint: no banner.
        const verdict = await checkIdentifier(input, hint, defaultHint);
        if (verdict.state === "bad") {
          ui.clearError();
          input.focus();
          return;
        }
        act("start_login", { identifier: input.value }, e.submitter);
      });
    },

    code() {
      const form = $("#code-form");
      const input = $("#login-code");
      codeOf(input, () => form.requestSubmit());
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const ok = await act("verify_login_code", { code: input.value }, e.submitter);
        const field = $("#login-code");
        if (!ok && field) {
          field.value = "";
          field.setAttribute("aria-invalid", "true");
          field.focus();
        }
      });
      $("[data-action=resend-login]").addEventListener("click", async (e) => {
        if (await act("resend_login_code", {}, e.currentTarget)) flash("A new code is on its way.");
      });
      $("[data-action=change-identifier]").addEventListener("click", (e) => act("change_identifier", {}, e.currentTarget));
    },

    logged() {
      const form = $("#approval-form");
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        ui.lastApproval = {
          scope: ui.view.formScope,
          metadata: {
            amount: $("#amount").value.trim(),
            currency: $("#currency").value,
            payee: $("#payee").value.trim(),
          },
        };
        act("request_step_up", ui.lastApproval, e.submitter);
      });
      $("[data-action=load-sessions]").addEventListener("click", () => loadSessions());
      confirmFirst($("[data-action=revoke-others]"), "Sign the others out? Click again", async (e) => {
        if (await act("revoke_sessions", { target: ui.view.user.revokeTargets.others }, e.target)) {
          flash("Your other sessions are signed out.");
          loadSessions();
        }
      });
      confirmFirst($("[data-action=revoke-all]"), "This device too? Click again", async (e) => {
        if (await act("revoke_sessions", { target: ui.view.user.revokeTargets.all }, e.target)) flash("Signed out everywhere.");
      });
      loadSessions();
      wireIdentifiers(stageRoot, flash);
    },

    "step-up-otp"() {
      const form = $("#stepup-form");
      const input = $("#stepup-code");
      codeOf(input, () => form.requestSubmit());
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const view = ui.view;
        if (view?.challenge && !view.challenge.channel) {
          if (view.challenge.customHere) act("complete_custom_step", {}, e.submitter);
          return;
        }
        const ok = await act("verify_step_up_code", { code: input.value }, e.submitter);
        const field = $("#stepup-code");
        if (field) {
          field.value = "";
          if (!ok) field.setAttribute("aria-invalid", "true");
          field.focus();
        }
      });
      $("[data-action=resend-stepup]").addEventListener("click", async (e) => {
        if (await act("resend_step_up_code", {}, e.currentTarget)) flash("A new code is on its way.");
      });
      $("[data-action=confirm-custom]").addEventListener("click", (e) => act("complete_custom_step", {}, e.currentTarget));
      $("[data-action=deny]").addEventListener("click", async (e) => {
        if (ui.view?.request) return act("deny_request", { id: ui.view.request.id, report: false }, e.currentTarget);
        if (await act("deny_step_up", {}, e.currentTarget)) flash("Denied. Nothing was approved.");
      });
      $("[data-action=deny-report]").addEventListener("click", (e) =>
        act("deny_request", { id: ui.view?.request?.id, report: true }, e.currentTarget),
      );
      wireDeadEnd(stageRoot, () => ui.view, act);
    },

    request() {
      $("[data-action=approve-request]").addEventListener("click", (e) => {
        ui.lastApproval = null;
        act("approve_request", { id: ui.view?.request?.id }, e.currentTarget);
      });
      // Each answer names the request it was given for, so a request that changed under the
      // click is never the one answered.
      $("[data-action=deny-request]").addEventListener("click", (e) =>
        act("deny_request", { id: ui.view?.request?.id, report: false }, e.currentTarget),
      );
      $("[data-action=deny-report]").addEventListener("click", (e) =>
        act("deny_request", { id: ui.view?.request?.id, report: true }, e.currentTarget),
      );
    },

    done() {
      $("[data-action=finish]").addEventListener("click", (e) => act("finish_step_up", {}, e.currentTarget));
    },
  };
}
