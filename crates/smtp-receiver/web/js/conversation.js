// A session drawn as a sequence diagram: the client's lane on the left,
// the server's on the right, one arrow per command and per reply, the TLS
// switch across both lanes, the message content folded into one arrow
// ending at <CRLF>.<CRLF>, pipelined commands bracketed; under each step
// the annotator's RFC note and the client judge's findings.

import { cite, duration, h, hidden } from "./dom.js";
import { arrows, findings, notes, severity, steps } from "./steps.js";

const BADGE_TEXT = {
  conforming: "conforming",
  warnings: "warnings",
  violations: "violations",
};

/** The per-session badge: conforming / warnings / violations. */
export function badge(name) {
  if (!name) return null;
  return h("span", { class: `badge badge-${name}`, title: `The client judge: ${BADGE_TEXT[name] || name}` },
    BADGE_TEXT[name] || name);
}

/** The outcome as a chip: delivered, refused 550, ... */
export function outcome(s) {
  return h("span", { class: `outcome outcome-${s.Outcome}` }, s.Outcome, s.Code ? ` ${s.Code}` : "");
}

function stepNotes(step) {
  const list = notes(step);
  const found = findings(step);
  if (!list.length && !found.length) return null;
  return h("div", { class: "step-notes" },
    list.map((n) => h("p", { class: "note" },
      // The note starts with its citation ("RFC 5321 §4.1.1.1: ..."): the
      // links say it, with the sections to follow.
      n.cites.length ? n.text.replace(/^RFC \d+[^:]*:\s*/, "") : n.text, " ",
      n.cites.map((c) => [cite(c), " "]))),
    found.length ? h("ul", { class: "findings", "aria-label": "The client judge's findings" },
      found.map((f) => h("li", { class: `finding finding-${severity(f)}` },
        h("span", { class: "level" }, f.Level), " ", f.Text, f.RFC ? h("span", { class: "cite" }, ` (${f.RFC})`) : null))) : null);
}

function stepClass(step, base) {
  const found = findings(step);
  const worst = found.some((f) => severity(f) === "violation") ? " has-violation"
    : found.length ? " has-warning" : "";
  return base + worst;
}

/** Text of an AUTH line with the redaction shown as a masked chip. */
function label(text) {
  const parts = text.split("<redacted>");
  if (parts.length === 1) return text;
  return parts.flatMap((p, i) => (i === 0 ? [p] : [h("span", { class: "masked", title: "AUTH secret, not recorded (RFC 4954 §4)" }, "••••••"), p]));
}

function arrow(dir, ...content) {
  const to = dir === "C" ? "to-server" : "to-client";
  return h("div", { class: `arrow ${to}` },
    hidden(dir === "C" ? "client to server: " : "server to client: "),
    h("div", { class: "label" }, content));
}

function drawStep(step, session) {
  switch (step.kind) {
    case "command":
      return h("li", { class: stepClass(step, "step command"), dataset: { line: step.lines[0].index } },
        arrow("C", h("code", {}, label(step.lines[0].Text))), stepNotes(step));
    case "reply":
      return h("li", { class: stepClass(step, `step reply code-${String(step.code)[0] || "x"}xx`) },
        arrow("S", step.lines.map((l) => h("code", { class: "reply-line" }, label(l.Text)))), stepNotes(step));
    case "data":
    case "bdat": {
      const body = step.lines.filter((l) => l !== step.end);
      const count = step.content.length;
      const what = step.kind === "data" ? "message content" : `BDAT chunk (${step.size} octets)`;
      return h("li", { class: stepClass(step, `step data ${step.kind}`) },
        arrow("C",
          h("details", { class: "content" },
            h("summary", {}, `${what}: ${count} line${count === 1 ? "" : "s"} shown`),
            h("pre", {}, body.map((l) => h("span", { class: l.Dir == null ? "elided" : "" }, l.Text, "\n")))),
          step.kind === "data" ? (step.end
            ? h("span", { class: "eod", title: "The end of the data: a line with only a dot (RFC 5321 §4.5.2)" }, "<CRLF>.<CRLF>")
            : h("span", { class: "eod missing" }, "no <CRLF>.<CRLF>: the data never ended")) : null),
        stepNotes(step));
    }
    case "tls": {
      const tls = session.TLS;
      return h("li", { class: "step tls" },
        h("div", { class: "tls-band", role: "separator" },
          h("span", { class: "icon icon-lock", "aria-hidden": "true" }), " ",
          "TLS handshake", tls ? ` — ${tls.Version} · ${tls.Cipher}` : ""),
        stepNotes(step));
    }
    case "pipeline":
      return h("li", { class: "pipeline" },
        h("span", { class: "pipe-tag" }, `pipelined: ${step.steps.length} commands sent without waiting (RFC 2920)`),
        h("ol", { class: "group" }, step.steps.map((s) => drawStep(s, session))));
    default:
      return h("li", { class: "step note-only" }, h("p", { class: "marker" }, step.lines[0].Text), stepNotes(step));
  }
}

/** The diagram of one session record (`/api/v1/session/{ID}`). */
export function render(session) {
  const list = steps(session.Lines || []);
  const all = (session.Lines || []).flatMap((l) => l.Findings || []);
  const violations = all.filter((f) => severity(f) === "violation").length;
  const facts = [
    ["Client", `${session.Peer}${session.Helo ? ` (HELO/EHLO ${session.Helo})` : ""}`],
    ["Server", `${session.Local} (${session.Listener})`],
    ["TLS", session.TLS ? `${session.TLS.Version}, ${session.TLS.Cipher}` : "none"],
    ["AUTH", session.Username || "none"],
    ["Outcome", outcome(session)],
    ["Duration", duration((session.Ended || 0) - (session.Started || 0))],
    ["Judge", [badge(session.Badge), all.length ? ` ${violations} violation(s), ${all.length - violations} warning(s)` : ""]],
    ["Messages", (session.Messages || []).length
      ? session.Messages.map((id) => [h("a", { href: `#/message/${encodeURIComponent(id)}` }, id), " "])
      : "none delivered"],
  ];
  return h("section", { class: "conversation", "aria-label": "SMTP conversation" },
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("p", { class: "legend" }, `${arrows(list)} arrows: commands →, replies ←. `,
      "Notes cite the RFC section of each step; findings are the client judge's."),
    h("div", { class: "lanes-head", "aria-hidden": "true" },
      h("span", { class: "lane-name" }, "Client", h("small", {}, session.Peer)),
      h("span", { class: "lane-name" }, "Server", h("small", {}, session.Local))),
    h("ol", { class: "seq" }, list.map((s) => drawStep(s, session))));
}
