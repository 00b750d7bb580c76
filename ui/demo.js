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

// What became of a code, as the inbox marks it (the backend's `statusLabel`); a live code has
// none. Every status but live is struck out (styles.css).
function mark(b, m) {
  const s = m.status || "live";
  if (b.dataset.status === s) return;
  b.dataset.status = s;
  const what = b.querySelector(".msg-what");
  const why = m.statusLabel || null;
  what.textContent = why ? `${m.purposeLabel} · ${why}` : m.purposeLabel;
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
  // "SMS to …", "Email to …": the backend's mid-sentence word, capitalised here.
  to.textContent = `${m.channelLabel.charAt(0).toUpperCase()}${m.channelLabel.slice(1)} to ${m.to}`;
  const code = document.createElement("span");
  code.className = "msg-code";
  code.textContent = m.code;
  const what = document.createElement("span");
  what.className = "msg-what";
  b.append(to, code, what);
  mark(b, m);
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
  strip.hidden = Boolean(m.statusLabel);
  strip.dataset.code = m.code;
  strip.dataset.id = m.id;
  strip.textContent = "";
  const what = document.createElement("span");
  what.textContent = `${m.purposeLabel} by ${m.channelLabel}`;
  const code = document.createElement("strong");
  code.textContent = m.code;
  strip.append(what, code);
}

$("#code-strip").addEventListener("click", (e) =>
  fill($("#login-code") || $("#stepup-code"), e.currentTarget.dataset.code || ""),
);

// Brings the marks up to date (a code was used, ran out of tries or expired), and adds any
// message the live feed missed. Not before `startInbox` has read it: the first screen's
// frame goes out without waiting on the backend.
let refreshing = false;
let started = false;
export async function refreshInbox() {
  if (refreshing || !started || $("#inbox").hidden) return;
  refreshing = true;
  try {
    const msgs = await call("demo_inbox");
    for (const m of msgs) {
      if (!seen.has(m.id)) addMessage(m);
      const b = inboxList.querySelector(`button[data-id="${CSS.escape(m.id)}"]`);
      if (b) mark(b, m);
    }
    // The strip only ever offers a code that still works.
    const strip = $("#code-strip");
    const newest = msgs.find((m) => m.id === strip.dataset.id);
    if (newest && newest.statusLabel) strip.hidden = true;
  } catch (_) {
    /* not a demo server */
  } finally {
    refreshing = false;
  }
}

export async function startInbox() {
  started = true;
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
