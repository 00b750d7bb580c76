// The only door to the backend. Errors arrive as {code, message}; anything else (a bug, a
// missing permission) is turned into the same shape so the view has one path.
const tauri = window.__TAURI__;

export async function call(command, args = {}) {
  try {
    return await tauri.core.invoke(command, args);
  } catch (e) {
    if (e && typeof e === "object" && "code" in e) throw e;
    throw { code: "ipc", message: String(e) };
  }
}

export function listen(event, handler) {
  return tauri.event.listen(event, (e) => handler(e.payload));
}
