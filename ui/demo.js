// The demo panel: the demo user's identities and the inbox of codes the demo phone and
// mailbox received. Clicking either fills in the field on screen.
import { call } from "./ipc.js";

const $ = (sel, root = document) => root.querySelector(sel);

function fill(field, value) {
  if (!field) return;
  field.value = value;
  field.dispatchEvent(new Event("input", { bubbles: true }));
  field.focus();
}

// The embedded demo's user, one click from the sign-in field.
export function showDemoIdentities(v) {
  const ids = v.server.demoIdentities || [];
  const box = $("#demo-ids");
  box.hidden = ids.length === 0;
  const list = $("#demo-id-list");
  if (list.childElementCount === ids.length) return;
  list.replaceChildren(
    ...ids.map((id) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "ghost small-btn";
      b.textContent = id;
      b.title = "Sign in as this demo user";
      b.addEventListener("click", () => fill($("#identifier"), id));
      return b;
    }),
  );
}

const inboxList = $("#inbox-list");
const seen = new Set();

// What became of a code, as the inbox marks it; a live code has no mark. A status this list
// does not know is still struck out (styles.css strikes every status but live).
const STATUS = {
  used: "Used",
  no_tries_left: "No tries left",
  expired: "Expired",
  replaced: "Replaced by a newer code",
  session_ended: "Session ended",
  locked_out: "Locked out",
  void: "Void",
};

// What each code is for, as the inbox names it.
const PURPOSE = { login: "Sign-in code", step_up: "Approval code", register: "Code to add this address" };

function mark(b, status) {
  const s = status || "live";
  if (b.dataset.status === s) return;
  b.dataset.status = s;
  const what = b.querySelector(".msg-what");
  const purpose = PURPOSE[b.dataset.purpose] || "Approval code";
  const why = s === "live" ? null : STATUS[s] || "No longer works";
  what.textContent = why ? `${purpose} · ${why}` : purpose;
  b.title = why ? `${why}: this code no longer works` : "Fill in this code";
}

export function addMessage(m) {
  if (seen.has(m.id)) return;
  seen.add(m.id);
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.dataset.testid = "demo-inbox-message";
  b.dataset.code = m.code;
  b.dataset.channel = m.channel;
  b.dataset.id = m.id;
  b.dataset.purpose = m.purpose;
  const to = document.createElement("span");
  to.className = "msg-to";
  to.textContent = `${m.channel === "sms" ? "SMS" : "Email"} to ${m.to}`;
  const code = document.createElement("span");
  code.className = "msg-code";
  code.textContent = m.code;
  const what = document.createElement("span");
  what.className = "msg-what";
  b.append(to, code, what);
  mark(b, m.status);
  b.addEventListener("click", () => fill($("#login-code") || $("#stepup-code"), m.code));
  li.append(b);
  inboxList.prepend(li);
  $("#inbox-empty").hidden = true;
  showNewest(m);
}

// In a narrow window the inbox sits below the card: the newest code also shows in a strip
// above it (CSS decides when), so a presenter never scrolls to read it.
function showNewest(m) {
  const strip = $("#code-strip");
  strip.hidden = (m.status || "live") !== "live";
  strip.dataset.code = m.code;
  strip.dataset.id = m.id;
  strip.textContent = "";
  const what = document.createElement("span");
  what.textContent = `${PURPOSE[m.purpose] || "Approval code"} by ${m.channel === "sms" ? "SMS" : "email"}`;
  const code = document.createElement("strong");
  code.textContent = m.code;
  strip.append(what, code);
}

$("#code-strip").addEventListener("click", (e) =>
  fill($("#login-code") || $("#stepup-code"), e.currentTarget.dataset.code || ""),
);

// Brings the marks up to date (a code was used, ran out of tries or expired), and adds any
// message the live feed missed.
let refreshing = false;
export async function refreshInbox() {
  if (refreshing || $("#inbox").hidden) return;
  refreshing = true;
  try {
    const msgs = await call("demo_inbox");
    for (const m of msgs) {
      if (!seen.has(m.id)) addMessage(m);
      const b = inboxList.querySelector(`button[data-id="${CSS.escape(m.id)}"]`);
      if (b) mark(b, m.status);
    }
    // The strip only ever offers a code that still works.
    const strip = $("#code-strip");
    const newest = msgs.find((m) => m.id === strip.dataset.id);
    if (newest && newest.status !== "live") strip.hidden = true;
  } catch (_) {
    /* not a demo server */
  } finally {
    refreshing = false;
  }
}

export async function startInbox() {
  try {
    const msgs = await call("demo_inbox");
    inboxList.replaceChildren();
    seen.clear();
    msgs.forEach(addMessage);
    $("#inbox-empty").hidden = msgs.length > 0;
  } catch (_) {
    /* not a demo server */
  }
}

export function clearInbox() {
  inboxList.replaceChildren();
  seen.clear();
  $("#inbox-empty").hidden = false;
  $("#code-strip").hidden = true;
}
