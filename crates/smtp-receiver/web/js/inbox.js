// The inbox: newest first, live, with search (the API's syntax), selection,
// read state, delete, and paging.

import * as api from "./api.js";
import { address, debounce, h, hidden, replace, size, time, toast } from "./dom.js";
import { Cursor } from "./keys.js";
import * as live from "./live.js";

const LIMIT = 50;

// The API's search syntax (Mailpit's, plus the envelope): src/inbox/search.rs.
const SYNTAX = [
  ["word \"a phrase\"", "anywhere: addresses, subject, body, file names"],
  ["from: to: cc: bcc: reply-to:", "a header address contains"],
  ["envelope-from: envelope-to:", "MAIL FROM / RCPT TO contains (Bcc shows here)"],
  ['subject:"big news"', "the subject contains"],
  ["is:unread is:read is:tagged", "state"],
  ["has:attachment has:inline", "parts"],
  ["larger:10k smaller:2mb", "size"],
  ["tag:signup", "tagged (plus-addressing tags by itself)"],
  ["-word !word", "does not match"],
];

export function show(main, params) {
  const query = params.get("q") || "";
  const start = Math.max(0, Number.parseInt(params.get("start") || "0", 10) || 0);
  const selected = new Set();
  let page = null;

  const body = h("tbody");
  const table = h("table", { class: "messages" },
    h("caption", { class: "vh" }, query ? `Messages matching ${query}` : "Messages, newest first"),
    h("thead", { class: "vh" }, h("tr", {},
      ["Select", "From", "To", "Subject", "Attachments", "Size", "Received"].map((t) => h("th", { scope: "col" }, t)))),
    body);
  const cursor = new Cursor(() => [...body.rows]);
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const empty = h("p", { class: "empty", hidden: true });
  const selectAll = h("input", { type: "checkbox", id: "select-all", onchange: () => selectPage(selectAll.checked) });
  const prev = h("a", { class: "button", href: pageHref(start - LIMIT) }, "← Newer");
  const next = h("a", { class: "button", href: pageHref(start + LIMIT) }, "Older →");

  function pageHref(s) {
    const p = new URLSearchParams();
    if (query) p.set("q", query);
    if (s > 0) p.set("start", String(s));
    const qs = p.toString();
    return `#/${qs ? `?${qs}` : ""}`;
  }

  const search = h("form", { class: "search", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const q = input.value.trim();
    location.hash = q ? `#/?q=${encodeURIComponent(q)}` : "#/";
  } });
  const input = h("input", { type: "search", id: "search", name: "q", value: query, autocomplete: "off",
    placeholder: 'from:alice subject:"hello" is:unread has:attachment', "aria-describedby": "search-help" });
  input.value = query;
  replace(search,
    h("label", { for: "search", class: "vh" }, "Search messages"),
    input, h("button", { type: "submit" }, "Search"),
    query ? h("a", { href: "#/", class: "button quiet" }, "Clear") : null,
    h("details", { class: "syntax", id: "search-help" }, h("summary", {}, "Search syntax"),
      h("dl", {}, SYNTAX.map(([k, v]) => [h("dt", {}, h("code", {}, k)), h("dd", {}, v)]))));

  const act = (label, fn, cls) => h("button", { type: "button", class: cls, onclick: fn }, label);
  const toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Messages" },
    h("label", { class: "check" }, selectAll, hidden("Select all on this page")),
    act("Mark read", () => markSelected(true)),
    act("Mark unread", () => markSelected(false)),
    act("Delete", () => deleteSelected(), "danger"),
    h("span", { class: "spacer" }),
    act(query ? "Mark all matching read" : "Mark all read", () => markAll()),
    act(query ? "Delete all matching" : "Delete all", () => deleteAll(), "danger"));

  replace(main, h("section", { class: "inbox", "aria-labelledby": "inbox-title" },
    h("h1", { id: "inbox-title", tabindex: "-1", class: "vh" }, "Inbox"),
    search, toolbar, status, table, empty,
    h("nav", { class: "pager", "aria-label": "Pages" }, prev, next)));

  function row(m) {
    const check = h("input", { type: "checkbox", checked: selected.has(m.ID),
      "aria-label": `Select: ${m.Subject || "(no subject)"}`,
      onchange: () => (check.checked ? selected.add(m.ID) : selected.delete(m.ID)) });
    const to = [...(m.To || []), ...(m.Cc || [])];
    // RCPT TO recipients that no To or Cc header names: the Bcc lesson.
    const named = new Set(to.map((a) => (a.Address || "").toLowerCase()));
    const envelopeOnly = (m.Envelope?.To || []).filter((r) => !named.has(r.toLowerCase())).length;
    return h("tr", { dataset: { id: m.ID }, class: m.Read ? "" : "unread",
      onclick: (e) => { if (!e.target.closest("input, a")) location.hash = `#/message/${encodeURIComponent(m.ID)}`; } },
      h("td", { class: "sel" }, check),
      h("td", { class: "from", title: address(m.From) }, m.From?.Name || m.From?.Address || m.Envelope?.From || "<>"),
      h("td", { class: "to", title: to.map(address).join(", ") },
        to[0] ? to[0].Address : "", to.length > 1 ? ` +${to.length - 1}` : "",
        envelopeOnly > 0 ? h("span", { class: "tag bcc", title: "RCPT TO recipients not in the headers (Bcc)" }, `+${envelopeOnly} Bcc`) : null),
      h("td", { class: "subject" },
        m.Read ? null : hidden("Unread: "),
        h("a", { href: `#/message/${encodeURIComponent(m.ID)}` }, m.Subject || "(no subject)"),
        h("span", { class: "snippet" }, m.Snippet || "")),
      h("td", { class: "att" }, m.Attachments ? h("span", { class: "icon icon-clip", title: `${m.Attachments} attachment(s)` }, hidden(`${m.Attachments} attachments`)) : null),
      h("td", { class: "size" }, size(m.Size)),
      h("td", { class: "time" }, time(m.Created)));
  }

  function draw() {
    const keep = cursor.current()?.dataset.id;
    replace(body, page.messages.map(row));
    const total = page.messages_count;
    const shown = page.messages.length;
    replace(status, shown
      ? `${start + 1}–${start + shown} of ${total.toLocaleString()}${query ? ` matching (${page.total.toLocaleString()} in all)` : ""} · ${page.messages_unread.toLocaleString()} unread`
      : "");
    empty.hidden = shown > 0;
    replace(empty, query ? "No message matches." : "No messages yet: send one over SMTP and it shows here at once.");
    prev.hidden = start === 0;
    next.hidden = start + shown >= total;
    selectAll.checked = shown > 0 && page.messages.every((m) => selected.has(m.ID));
    if (keep) cursor.restore(keep);
  }

  async function load() {
    try {
      page = await api.listing(query, start, LIMIT);
      for (const id of [...selected]) if (!page.messages.some((m) => m.ID === id)) selected.delete(id);
      draw();
    } catch (error) {
      toast(`Cannot list messages: ${error.message}`, "error");
    }
  }
  const reload = debounce(load, 150);

  function selectPage(on) {
    for (const m of page?.messages || []) on ? selected.add(m.ID) : selected.delete(m.ID);
    draw();
  }

  async function markSelected(read) {
    if (!selected.size) return toast("Select messages first (x, or the boxes).");
    await run(() => api.setRead(read, { ids: [...selected] }));
  }

  async function deleteSelected() {
    if (!selected.size) return toast("Select messages first (x, or the boxes).");
    const n = selected.size;
    await run(() => api.remove([...selected]), `Deleted ${n} message${n > 1 ? "s" : ""}.`);
    selected.clear();
  }

  async function markAll() {
    await run(() => api.setRead(true, query ? { search: query } : {}));
  }

  async function deleteAll() {
    const what = query ? `every message matching ${query}` : "every message";
    if (!confirm(`Delete ${what}?`)) return;
    await run(() => (query ? api.removeMatching(query) : api.removeAll()), "Deleted.");
  }

  async function run(fn, done) {
    try {
      await fn();
      if (done) toast(done);
      await load();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  // Live: a new message is drawn at once on the first page of the plain
  // listing; a search or another page is reloaded (the server decides
  // what matches).
  const unsubscribe = [
    live.on("new", (m) => {
      if (!page || query || start > 0) return reload();
      if (page.messages.some((x) => x.ID === m.ID)) return;
      page.messages.unshift(m);
      if (page.messages.length > LIMIT) page.messages.pop();
      page.total++;
      page.unread++;
      page.messages_count++;
      page.messages_unread++;
      draw();
      body.rows[0]?.classList.add("arrived");
    }),
    live.on("deleted", reload),
    live.on("updated", reload),
    live.on("resync", reload),
  ];

  load();
  return {
    unmount: () => unsubscribe.forEach((u) => u()),
    keys(key) {
      const current = cursor.current();
      switch (key) {
        case "j": cursor.move(1); return true;
        case "k": cursor.move(-1); return true;
        case "Enter":
          if (!current) return false;
          location.hash = `#/message/${encodeURIComponent(current.dataset.id)}`;
          return true;
        case "x": {
          if (!current) return false;
          const box = current.querySelector("input[type=checkbox]");
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change"));
          return true;
        }
        case "Delete": case "#":
          if (!current) return false;
          run(() => api.remove([current.dataset.id]), "Deleted.");
          return true;
        case "/": input.focus(); input.select(); return true;
        default: return false;
      }
    },
  };
}
