// The page's entry point: a hash router over the views, the live event
// stream, the unread count and the keys that work everywhere.
//
//   #/?q=...&start=N    the inbox (inbox.js)
//   #/message/ID[/tab]  one message (message.js)
//   #/sessions?outcome= the sessions (sessions.js)
//   #/session/ID        one session's conversation
//   #/rules             the reply rules (rules.js)
//   #/keys              the keyboard

import * as api from "./api.js";
import { debounce, h, replace } from "./dom.js";
import * as inbox from "./inbox.js";
import { KEYS, install, setHandler } from "./keys.js";
import * as live from "./live.js";
import * as message from "./message.js";
import * as rules from "./rules.js";
import * as sessions from "./sessions.js";

const main = document.getElementById("main");
let view = null;
let lastList = "#/";

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case undefined: return { name: "inbox", params, show: inbox.show };
    case "message": return { name: "inbox", params, id: parts[1], tab: parts[2], show: message.show };
    case "sessions": return { name: "sessions", params, show: sessions.showList };
    case "session": return { name: "sessions", params, id: parts[1], show: sessions.showOne };
    case "rules": return { name: "rules", params, show: rules.show };
    case "keys": return { name: "keys", params, show: showKeys };
    default: return { name: "", params, show: notFound };
  }
}

function showKeys(el) {
  replace(el, h("section", { class: "keys", "aria-labelledby": "keys-title" },
    h("h1", { id: "keys-title", tabindex: "-1" }, "Keyboard"),
    h("dl", {}, KEYS.map(([k, v]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, v)]))));
  return { unmount() {}, keys: () => false };
}

function notFound(el) {
  replace(el, h("p", { class: "error" }, "No such page. "), h("a", { href: "#/" }, "Back to the inbox"));
  return { unmount() {}, keys: () => false };
}

function navigate() {
  view?.unmount();
  const r = route();
  if (r.show === inbox.show || r.show === sessions.showList) lastList = location.hash || "#/";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === r.name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren();
  view = r.show(main, r.params, r);
  setHandler(view?.keys?.bind(view) || null);
  // The focus goes to the new view's heading (or the main area), so that
  // a screen reader announces it and Tab starts from there.
  requestAnimationFrame(() => {
    const heading = main.querySelector("h1");
    if (heading && !main.contains(document.activeElement)) heading.focus({ preventScroll: true });
  });
}

let pendingG = false;
function globalKeys(key) {
  if (pendingG) {
    pendingG = false;
    const to = { i: "#/", s: "#/sessions", r: "#/rules" }[key];
    if (to) location.hash = to;
    return Boolean(to);
  }
  switch (key) {
    case "g": pendingG = true; return true;
    case "u": case "Escape":
      if (location.hash.startsWith("#/message/") || location.hash.startsWith("#/session/")) {
        location.hash = lastList;
        return true;
      }
      return false;
    case "?": location.hash = "#/keys"; return true;
    default: return false;
  }
}

const liveStatus = document.getElementById("live");
function status(text, ok) {
  replace(liveStatus, text);
  liveStatus.classList.toggle("ok", ok);
}

const unread = document.getElementById("unread-count");
const refreshCount = debounce(async () => {
  try {
    const page = await api.listing("", 0, 1);
    replace(unread, page.unread ? String(page.unread) : "");
    document.title = page.unread ? `(${page.unread}) smtp-receive inbox` : "smtp-receive inbox";
  } catch {
    // The count is a nicety; the views report errors.
  }
}, 300);

live.on("any", refreshCount);
live.on("resync", refreshCount);
live.connect(status);
install(globalKeys);
window.addEventListener("hashchange", navigate);
navigate();
refreshCount();
