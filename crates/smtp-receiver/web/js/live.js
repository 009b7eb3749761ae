// Live updates: the server-sent events of /api/v1/events (new, deleted,
// updated, session, resync), handed to whichever view listens. The browser
// reconnects by itself; after a reconnect the views reload ("resync"),
// since what happened in between was not told.

const listeners = new Map();
let source = null;
let connectedBefore = false;

/** Calls `fn(data)` for each event `name`; returns the unsubscribe function. */
export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, new Set());
  listeners.get(name).add(fn);
  return () => listeners.get(name)?.delete(fn);
}

function emit(name, data) {
  for (const fn of [...(listeners.get(name) || [])]) {
    try {
      fn(data);
    } catch (error) {
      console.warn("live listener failed", error);
    }
  }
}

/** Opens the event stream; `status(text, ok)` reports the connection. */
export function connect(status) {
  if (source) return;
  source = new EventSource("/api/v1/events");
  source.addEventListener("ready", () => {
    status("live", true);
    if (connectedBefore) emit("resync", { Missed: 0 });
    connectedBefore = true;
  });
  for (const name of ["new", "deleted", "updated", "session", "resync"]) {
    source.addEventListener(name, (event) => {
      let data = {};
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      emit(name, data);
      emit("any", { name, data });
    });
  }
  source.addEventListener("error", () => status("reconnecting…", false));
}
