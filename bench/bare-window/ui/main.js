// Like Countersign, report once the first frame with content has been produced (the callback
// of the frame after it), with the same marks: milliseconds since navigation started when the
// script ran and when the frame was out.
const scriptAt = performance.now();
requestAnimationFrame(() =>
  requestAnimationFrame(() =>
    window.__TAURI__.core.invoke("ready", {
      scriptAt: Math.round(scriptAt),
      paintAt: Math.round(performance.now()),
      navigationStart: performance.timeOrigin,
    }),
  ),
);
