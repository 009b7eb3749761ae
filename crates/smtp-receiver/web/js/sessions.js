// Every recorded SMTP session, also those that delivered nothing: outcome,
// client, TLS, duration, the judge's badge; filtered by outcome. And one
// session on its own page, drawn as a conversation.

import * as api from "./api.js";
import * as conversation from "./conversation.js";
import { debounce, duration, h, replace, time, toast } from "./dom.js";
import { Cursor } from "./keys.js";
import * as live from "./live.js";

const LIMIT = 50;
const OUTCOMES = ["delivered", "refused", "auth-failed", "dropped", "timed-out", "closed"];

export function showList(main, params) {
  const outcome = params.get("outcome") || "";
  const start = Math.max(0, Number.parseInt(params.get("start") || "0", 10) || 0);
  const body = h("tbody");
  const cursor = new Cursor(() => [...body.rows]);
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const href = (o, s) => {
    const p = new URLSearchParams();
    if (o) p.set("outcome", o);
    if (s > 0) p.set("start", String(s));
    return `#/sessions${p.toString() ? `?${p}` : ""}`;
  };
  const filter = h("select", { id: "outcome", onchange: () => (location.hash = href(filter.value, 0)) },
    h("option", { value: "" }, "all outcomes"),
    OUTCOMES.map((o) => h("option", { value: o, selected: o === outcome }, o)));
  const prev = h("a", { class: "button", href: href(outcome, start - LIMIT) }, "← Newer");
  const next = h("a", { class: "button", href: href(outcome, start + LIMIT) }, "Older →");

  replace(main, h("section", { class: "sessions", "aria-labelledby": "sessions-title" },
    h("h1", { id: "sessions-title", tabindex: "-1" }, "Sessions"),
    h("div", { class: "toolbar" }, h("label", { for: "outcome" }, "Outcome "), filter),
    status,
    h("table", { class: "session-table" },
      h("caption", { class: "vh" }, "SMTP sessions, newest first"),
      h("thead", {}, h("tr", {}, ["Started", "Client", "EHLO", "TLS", "Outcome", "Duration", "Messages", "Judge"]
        .map((t) => h("th", { scope: "col" }, t)))),
      body),
    h("nav", { class: "pager", "aria-label": "Pages" }, prev, next)));

  const row = (s) => h("tr", { dataset: { id: s.ID }, onclick: (e) => {
    if (!e.target.closest("a")) location.hash = `#/session/${encodeURIComponent(s.ID)}`;
  } },
    h("td", {}, h("a", { href: `#/session/${encodeURIComponent(s.ID)}` }, time(s.StartedAt))),
    h("td", { class: "mono" }, s.Peer),
    h("td", { class: "mono" }, s.Helo || "—"),
    h("td", {}, s.TLS ? s.TLS.Version : "no"),
    h("td", {}, conversation.outcome(s)),
    h("td", {}, duration(s.Ended - s.Started)),
    h("td", {}, String((s.Messages || []).length)),
    h("td", {}, conversation.badge(s.Badge)));

  async function load() {
    try {
      const list = await api.sessions(outcome, start, LIMIT);
      const keep = cursor.current()?.dataset.id;
      replace(body, list.sessions.map(row));
      replace(status, list.count ? `${start + 1}–${start + list.count} of ${list.total}` : "No sessions recorded yet.");
      prev.hidden = start === 0;
      next.hidden = start + list.count >= list.total;
      if (keep) cursor.restore(keep);
    } catch (error) {
      toast(`Cannot list sessions: ${error.message}`, "error");
    }
  }
  const reload = debounce(load, 150);
  const unsubscribe = [live.on("session", reload), live.on("resync", reload)];
  load();
  return {
    unmount: () => unsubscribe.forEach((u) => u()),
    keys(key) {
      if (key === "j") cursor.move(1);
      else if (key === "k") cursor.move(-1);
      else if (key === "Enter" && cursor.current()) location.hash = `#/session/${encodeURIComponent(cursor.current().dataset.id)}`;
      else return false;
      return true;
    },
  };
}

export function showOne(main, params, route) {
  (async () => {
    try {
      const s = await api.session(route.id);
      replace(main, h("article", { class: "session", "aria-labelledby": "session-title" },
        h("p", { class: "crumbs" }, h("a", { href: "#/sessions" }, "← Sessions")),
        h("h1", { id: "session-title", tabindex: "-1" }, "Session ", h("code", {}, s.ID), " ", conversation.badge(s.Badge)),
        conversation.render(s)));
      document.getElementById("session-title")?.focus();
    } catch (error) {
      replace(main, h("p", { class: "error" }, error.message), h("p", {}, h("a", { href: "#/sessions" }, "Back to the sessions")));
    }
  })();
  return { unmount() {}, keys: () => false };
}
