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

export function addMessage(m) {
  if (seen.has(m.id)) return;
  seen.add(m.id);
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.dataset.testid = "demo-inbox-message";
  b.dataset.code = m.code;
  b.dataset.channel = m.channel;
  b.title = "Fill in this code";
  const to = document.createElement("span");
  to.className = "msg-to";
  to.textContent = `${m.channel === "sms" ? "SMS" : "Email"} to ${m.to}`;
  const code = document.createElement("span");
  code.className = "msg-code";
  code.textContent = m.code;
  const what = document.createElement("span");
  what.className = "msg-what";
  what.textContent = m.purpose === "login" ? "Sign-in code" : "Approval code";
  b.append(to, code, what);
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
  strip.hidden = false;
  strip.dataset.code = m.code;
  strip.textContent = "";
  const what = document.createElement("span");
  what.textContent = `${m.purpose === "login" ? "Sign-in" : "Approval"} code by ${m.channel === "sms" ? "SMS" : "email"}`;
  const code = document.createElement("strong");
  code.textContent = m.code;
  strip.append(what, code);
}

$("#code-strip").addEventListener("click", (e) =>
  fill($("#login-code") || $("#stepup-code"), e.currentTarget.dataset.code || ""),
);

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
