// What the screens say, derived from the view model: titles, step text, scopes in words.
// Error sentences are in messages.js. A text others control (a payee, a requester, a step
// key) goes into a sentence as an isolated part, `{ isolate: text }`: the page draws it in a
// <bdi>, so it cannot reorder the words around it.

import { details, money } from "./money.js";

// The UI's one time format, for every time it shows: the time of day as a clock shows it,
// hours and minutes in the locale's way ("5:57 PM", "17:57"); a day other than today adds its
// short date before it ("Nov 28, 5:57 PM"), and another year the year too. `at` is
// milliseconds since the Unix epoch or a Date.
export function clock(at) {
  const d = new Date(at);
  const time = d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return time;
  const year = d.getFullYear() === now.getFullYear() ? {} : { year: "numeric" };
  return `${d.toLocaleDateString([], { month: "short", day: "numeric", ...year })}, ${time}`;
}

// Time left on a countdown: "4:05", the same on every screen that counts down.
export function left(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function pick(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

export function derived(v) {
  const c = v.challenge;
  return {
    progress: c
      ? `Step ${c.step} of ${c.stepCount}${c.channelLabel ? " · " + c.channelLabel : ""}`
      : "",
    sentTo: c && c.deadEnd
      ? ""
      : c?.passkey
      ? !c.passkey.available
        ? "This approval needs a passkey, and your account has none yet. Add one on this computer (a code confirms it's you), then this approval starts again."
        : !c.passkey.here
          ? "This approval needs a passkey, but no passkey for this account is on this computer."
          : c.passkey.pin
            ? "Approve with the passkey on this computer: enter your Countersign PIN. No code is sent."
            : "Approve with the passkey on this computer. No code is sent."
      : c && c.channel
      ? c.codeSent
        ? `We sent a code by ${c.channelLabel} to ${c.destination}.`
        : c.resumed
          ? `A code by ${c.channelLabel} to ${c.destination}, sent before Countersign closed, still works. If none came, send a new one.`
          : `No code has gone out by ${c.channelLabel} yet. Once the problem above is fixed, use “Send a new code”.`
      : c && c.customHere
        ? "Last, your own app confirms this approval. In this demo, Countersign stands in for it: confirm below."
        : c ? "This step is completed in the app that asked for this approval. Complete it there; if you did not start it, deny it here." : "",
    // The backend sends the mode's label ("This sign-in"), not its wire name.
    grantMode: v.grant ? v.grant.grantMode || "As the server decides" : "",
    approvalTitle: c ? approvalTitle(c) : "",
    requestTitle: v.request ? requestTitle(v.request) : "",
    // The executable and pid are the system's word; the script is the program's own.
    // Paths are isolated whole (a long one keeps its end, cut by the backend), so letters in
    // them cannot reorder the pid or the words around them.
    requestSource: v.request?.requester
      ? [{ isolate: v.request.requester.executable, whole: true }, ` (pid ${v.request.requester.pid})`]
      : v.request?.source || "",
    // The step-up screen keeps to the system's word, so its buttons stay in view.
    askedBy: v.request?.requester
      ? [{ isolate: v.request.requester.executable, whole: true }, ` (pid ${v.request.requester.pid})`]
      : c?.askedBy || "",
    requestScript: v.request?.requester?.script
      ? ["· running ", { isolate: v.request.requester.script, whole: true }, ", by its own account"]
      : "",
    requestTime: v.request ? `at ${clock(v.request.receivedMs)}` : "",
    // The app's own form is asked "on" this computer; a program or a link asks "by".
    askedVerb: v.request ? "Asked by" : "Asked on",
    askedTime: c?.askedMs ? `at ${clock(c.askedMs)}` : "",
    scopeWords: c ? scopeWords(c) : "",
    requestScopeWords: v.request ? scopeWords(v.request) : "",
    requestHint: v.request
      ? v.request.fromLink
        ? "A link opened this request. Anyone can make a link: approve only what you expect."
        : "Nothing is approved until you pass the check that follows."
      : "",
    grantTitle: v.grant ? grantTitle(v.grant) : "",
    grantEndedTitle: v.grant ? grantEndedTitle(v.grant) : "",
    told: v.grant?.requester ? [{ isolate: v.grant.requester }, " was told it is approved."] : "",
  };
}

// Scopes this app knows, in words; the technical name stays beside them, small.
// The backend says them (`scopeWords`): the page spells no scope's wire name.
function scopeWords(x) {
  return x?.scopeWords || "";
}

// What another program asks for, in words: the amount and payee when it names them.
function requestTitle(r) {
  const title = approvalTitle(r);
  if (title[0] === "Approve " || r.broadTitle) return [...title, "?"];
  const words = scopeWords(r);
  return words ? [`${words}?`] : ["Approve “", { isolate: r.scope }, "”?"];
}

// "Approve €500.00 to ACME Ltd": what is approved, in words, from the challenge itself. The
// amount and payee are the requester's text: isolated parts.
function approvalTitle(c) {
  const m = details(c.metadata);
  const sum = money(m.amount, m.currency);
  if (!sum) {
    // No details: the heading says it allows any (the backend's words).
    if (c.broadTitle) return [c.broadTitle];
    const words = scopeWords(c);
    return words ? [words] : ["Confirm it’s you"];
  }
  // The amount is formatted here from digits; a currency other than three capitals stays the
  // requester's text, isolated.
  const shown = /^[A-Z]{3}$/.test(m.currency || "") || !m.currency ? sum : { isolate: sum };
  return m.payee ? ["Approve ", shown, " to ", { isolate: m.payee }] : ["Approve ", shown];
}


// "€500.00 to ACME Ltd approved": what happened, from the grant's own details; a grant that
// names no amount says what it allows.
function grantTitle(g) {
  const title = approvalTitle(g);
  if (title[0] === "Approve ") return [...title.slice(1), " approved"];
  const words = scopeWords(g);
  return words ? [`${words}: approved`] : ["Approved: “", { isolate: g.scope }, "”"];
}

// "Approval expired: €500.00 to ACME Ltd": the same facts, once the grant is over.
function grantEndedTitle(g) {
  const title = approvalTitle(g);
  if (title[0] === "Approve ") return ["Approval expired: ", ...title.slice(1)];
  const words = scopeWords(g);
  return words ? [`Approval expired: ${words}`] : ["Approval expired: “", { isolate: g.scope }, "”"];
}
