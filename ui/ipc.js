// The only door to the backend. Errors arrive as {code, message}; anything else (a bug, a
// missing permission) is turned into the same shape so the view has one path.
// Every answer and event is also announced on `window` as `countersign:ipc`, so what crosses
// into the webview can be observed (the end-to-end tests check it holds no secret).
const tauri = window.__TAURI__;

function announce(kind, name, payload) {
  window.dispatchEvent(new CustomEvent("countersign:ipc", { detail: { kind, name, payload } }));
}

export async function call(command, args = {}) {
  try {
    const result = await tauri.core.invoke(command, args);
    announce("response", command, result);
    return result;
  } catch (e) {
    announce("error", command, e);
    if (e && typeof e === "object" && "code" in e) throw e;
    throw { code: "ipc", message: String(e) };
  }
}

export function listen(event, handler) {
  return tauri.event.listen(event, (e) => {
    announce("event", event, e.payload);
    handler(e.payload);
  });
}
