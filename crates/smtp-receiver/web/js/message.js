// One message: the envelope (what the client said in MAIL FROM and RCPT
// TO) apart from the headers (what the message says), because the
// difference is the lesson (Bcc recipients are only in the envelope); then
// tabs: HTML (sandboxed, remote images blocked until asked), text,
// headers, raw source, MIME tree, the SMTP conversation.

import * as api from "./api.js";
import * as conversation from "./conversation.js";
import { h, hidden, replace, size, time, toast } from "./dom.js";
import * as live from "./live.js";
import * as mime from "./mime.js";

const TABS = [
  ["html", "HTML"],
  ["text", "Text"],
  ["headers", "Headers"],
  ["raw", "Raw"],
  ["mime", "MIME"],
  ["conversation", "Conversation"],
];

/** A remote image or style the HTML would load: http(s) in src, background or url(). */
const REMOTE = /(?:src|background|srcset)\s*=\s*["']?\s*https?:|url\(\s*["']?\s*https?:/i;

const lower = (a) => (a || "").toLowerCase();

function envelope(m) {
  // The API lists as Bcc both a Bcc header (rarely sent) and the
  // recipients named in no header: either way, To and Cc do not show them.
  const inHeader = (field) => new Set((m[field] || []).map((a) => lower(a.Address)));
  const to = inHeader("To"), cc = inHeader("Cc");
  const rcpt = (m.Envelope?.To || []).map((r) => {
    const a = lower(r);
    const where = to.has(a) ? ["To", ""] : cc.has(a) ? ["Cc", ""] : ["Bcc: in no To or Cc header", "bcc"];
    return h("li", {}, h("code", {}, `<${r}>`), " ", h("span", { class: `tag ${where[1]}` }, where[0]));
  });
  const delivered = new Set((m.Envelope?.To || []).map(lower));
  const missing = [...(m.To || []), ...(m.Cc || [])].filter((a) => !delivered.has(lower(a.Address)));
  return h("section", { class: "card envelope", "aria-labelledby": "env-title" },
    h("h2", { id: "env-title" }, "Envelope ", h("small", {}, "what the client said over SMTP (RFC 5321 §3.3)")),
    h("dl", {},
      h("dt", {}, "MAIL FROM"), h("dd", {}, h("code", {}, `<${m.Envelope?.From || ""}>`),
        m.Envelope?.From === "" ? " (null reverse-path: a bounce)" : ""),
      h("dt", {}, "RCPT TO"), h("dd", {}, h("ul", { class: "rcpts" }, rcpt)),
      missing.length ? [h("dt", {}, "Not delivered here"), h("dd", {},
        missing.map((a) => h("span", { class: "tag", title: "In the To/Cc header but not a RCPT TO of this session" }, a.Address, " ")))] : null,
      m.Username ? [h("dt", {}, "AUTH user"), h("dd", {}, m.Username)] : null,
      h("dt", {}, "Received"), h("dd", {}, time(m.Created), ` · ${size(m.Size)}`)));
}

/** The header fields as written in the message (`/headers`): the API's
 *  Bcc list also holds envelope-only recipients, which no header names. */
function headerCard(fields) {
  const rows = ["From", "To", "Cc", "Bcc", "Reply-To", "Date", "Message-Id"]
    .filter((name) => fields[name]?.length)
    .map((name) => [name, fields[name].join(", ")]);
  return h("section", { class: "card header-card", "aria-labelledby": "hdr-title" },
    h("h2", { id: "hdr-title" }, "Headers ", h("small", {}, "what the message says (RFC 5322 §3.6)")),
    h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    fields.Bcc ? null : h("p", { class: "muted small-print" }, "No Bcc field: the message does not say who else got it."));
}

export function show(main, params, route) {
  const id = route.id;
  let tab = route.tab || null;
  let msg = null;
  let fields = {};
  const panel = h("div", { class: "panel", role: "tabpanel", id: "panel", tabindex: "0" });
  const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": "Views of the message" });
  const unsubscribe = [];

  function select(name, focus = false) {
    tab = name;
    history.replaceState(null, "", `#/message/${encodeURIComponent(id)}/${name}`);
    for (const b of tablist.children) {
      const on = b.dataset.tab === name;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    panel.setAttribute("aria-labelledby", `tab-${name}`);
    fill(name).catch((error) => replace(panel, h("p", { class: "error" }, error.message)));
  }

  async function fill(name) {
    replace(panel, h("p", { class: "loading" }, "Loading…"));
    switch (name) {
      case "html": return replace(panel, htmlBody(false));
      case "text": return replace(panel, msg.Text ? h("pre", { class: "text-body" }, msg.Text) : h("p", { class: "empty" }, "No text body."));
      case "headers": {
        const all = fields;
        return replace(panel, h("table", { class: "header-table" }, h("caption", { class: "vh" }, "Header fields"),
          h("tbody", {}, Object.entries(all).flatMap(([k, vs]) => vs.map((v) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))))));
      }
      case "raw": {
        const text = await api.raw(id);
        const cut = text.length > 2_000_000;
        return replace(panel, h("p", {}, h("a", { href: api.rawUrl(id), download: `${id}.eml` }, "Download the source (.eml)"),
          cut ? " — shown cut at 2 MB" : ""), h("pre", { class: "raw" }, cut ? text.slice(0, 2_000_000) : text));
      }
      case "mime": return replace(panel, mime.render(id, await api.tree(id)));
      case "conversation": return replace(panel, await conversationOf());
      default: return null;
    }
  }

  function htmlBody(remote) {
    if (!msg.HTML) return h("p", { class: "empty" }, "No HTML body: see the Text tab.");
    const frame = h("iframe", { class: "html-body", src: api.htmlUrl(id, remote), title: "The HTML body of the message",
      sandbox: "allow-popups allow-popups-to-escape-sandbox", referrerpolicy: "no-referrer" });
    const hasRemote = REMOTE.test(msg.HTML);
    const bar = hasRemote && !remote ? h("div", { class: "remote-bar", role: "note" },
      "Remote images are blocked: loading them tells the sender that the message was opened. ",
      h("button", { type: "button", onclick: () => replace(panel, htmlBody(true)) }, "Load remote images")) : null;
    return [bar, h("p", { class: "sandbox-note" },
      "Shown in a sandbox: no script runs, no form posts, and it cannot reach this page."), frame];
  }

  async function conversationOf() {
    if (!msg.SessionID) {
      return h("p", { class: "empty" }, "The conversation is recorded when the client disconnects; it appears here then.");
    }
    const s = await api.messageSession(id);
    return [h("p", {}, h("a", { href: `#/session/${encodeURIComponent(s.ID)}` }, `Session ${s.ID}`), " ", conversation.badge(s.Badge)),
      conversation.render(s)];
  }

  async function load() {
    try {
      [msg, fields] = await Promise.all([api.message(id), api.headers(id)]);
    } catch (error) {
      replace(main, h("p", { class: "error" }, error.status === 404 ? "This message is gone (deleted)." : error.message),
        h("p", {}, h("a", { href: "#/" }, "Back to the inbox")));
      return;
    }
    replace(tablist, TABS.map(([name, text]) => h("button", { type: "button", role: "tab", id: `tab-${name}`,
      "aria-controls": "panel", dataset: { tab: name }, onclick: () => select(name),
      onkeydown: (e) => {
        const i = TABS.findIndex(([n]) => n === name);
        const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (d) select(TABS[(i + d + TABS.length) % TABS.length][0], true);
      } }, text)));
    replace(main, h("article", { class: "message", "aria-labelledby": "msg-title" },
      h("p", { class: "crumbs" }, h("a", { href: "#/" }, "← Inbox")),
      h("header", { class: "msg-head" },
        h("h1", { id: "msg-title", tabindex: "-1" }, msg.Subject || "(no subject)"),
        h("div", { class: "actions" },
          h("button", { type: "button", onclick: markUnread }, "Mark unread"),
          h("a", { class: "button", href: api.rawUrl(id), download: `${id}.eml` }, "Download .eml"),
          h("button", { type: "button", class: "danger", onclick: remove }, "Delete", hidden(" this message")))),
      h("div", { class: "cards" }, envelope(msg), headerCard(fields)),
      tablist, panel));
    document.getElementById("msg-title")?.focus();
    select(tab && TABS.some(([n]) => n === tab) ? tab : msg.HTML ? "html" : "text");
  }

  async function markUnread() {
    try {
      await api.setRead(false, { ids: [id] });
      toast("Marked unread.");
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function remove() {
    try {
      await api.remove([id]);
      toast("Deleted.");
      location.hash = "#/";
    } catch (error) {
      toast(error.message, "error");
    }
  }

  // The session is recorded after the message: show it when it comes.
  unsubscribe.push(live.on("session", (s) => {
    if (msg && !msg.SessionID && (s.Messages || []).includes(id)) {
      msg.SessionID = s.ID;
      if (tab === "conversation") select("conversation");
    }
  }));
  unsubscribe.push(live.on("deleted", (d) => {
    if ((d.IDs || []).includes(id)) replace(panel, h("p", { class: "error" }, "This message was deleted."));
  }));

  load();
  return {
    unmount: () => unsubscribe.forEach((u) => u()),
    keys(key) {
      if (key === "Delete" || key === "#") {
        remove();
        return true;
      }
      return false;
    },
  };
}
