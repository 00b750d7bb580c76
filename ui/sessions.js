// A session row's words: the device and OS the server knows it by, what kind of device, and
// when it was last active; the session's id is kept in the row's title, for testers.
import { clock } from "./words.js";

// `r` is a `SessionRow` (view.rs); `isolated` draws text others control in a <bdi>.
export function sessionMeta(r, isolated) {
  const meta = document.createElement("div");
  meta.className = "meta";
  const name = document.createElement("span");
  name.className = "device";
  // The name comes from that device's User-Agent: its owner's words, isolated and capped.
  if (r.device) name.replaceChildren(isolated(r.device));
  else name.textContent = "Unknown device";
  const sub = document.createElement("span");
  sub.className = r.current ? "current" : "muted";
  sub.dataset.testid = "session-when";
  const parts = [];
  if (r.kind) parts.push(r.kind);
  if (r.current) parts.push("this device");
  const seen = r.lastSeenAt ? Date.parse(r.lastSeenAt) : NaN;
  parts.push(Number.isFinite(seen) ? `last active ${clock(seen)}` : "last active: not known");
  sub.textContent = parts.join(" · ").replace(/^./, (c) => c.toUpperCase());
  meta.append(name, sub);
  return meta;
}
