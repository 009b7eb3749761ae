// A recorded transcript (the API's `Lines`: Dir C/S/null, Text, Note,
// Cites, Findings) read as the steps of a sequence diagram: one step per
// command, one per reply (a multi-line reply is one reply, RFC 5321
// §4.2.1), the message content after 354 folded into one step that ends
// at <CRLF>.<CRLF> (RFC 5321 §4.5.2), BDAT chunks likewise (RFC 3030 §2),
// the TLS switch, notes, and runs of commands sent without waiting for a
// reply grouped as pipelined (RFC 2920 §3.1). Pure: no DOM.

const code = (text) => (/^\d{3}/.test(text) ? Number(text.slice(0, 3)) : null);

/** True when a reply line is not the last of its reply ("250-..."). */
const continues = (text) => /^\d{3}-/.test(text);

/**
 * The steps of `lines`. Each step: {kind, lines, ...}:
 * - `command` (client to server), `reply` (server to client, `code`),
 * - `data` (client to server: `content` lines, `end` the "." line or null
 *   when the session ended inside the data, `notes` the elision notes;
 *   `bdat` with `size` for a BDAT chunk),
 * - `tls`, `note`, and `pipeline` ({steps}) around pipelined commands.
 */
export function steps(lines) {
  const out = [];
  let data = null; // the content step being read
  let chunkLeft = 0; // BDAT: client lines after the command are its chunk
  let reply = null; // the reply being read (multi-line)
  lines.forEach((line, index) => {
    const l = { ...line, index };
    if (l.Dir == null) {
      if (/TLS started/.test(l.Text)) {
        data = null;
        reply = null;
        out.push({ kind: "tls", lines: [l] });
      } else if (data) {
        data.notes.push(l);
        data.lines.push(l);
      } else {
        out.push({ kind: "note", lines: [l] });
      }
      return;
    }
    if (l.Dir === "C") {
      reply = null;
      if (data && data.kind === "data") {
        data.lines.push(l);
        if (l.Text === ".") {
          data.end = l;
          data = null;
        } else {
          data.content.push(l);
        }
        return;
      }
      // A chunk runs until the server answers or the next BDAT (pipelined
      // chunks, RFC 3030 §4.2).
      if (data && data.kind === "bdat" && chunkLeft > 0 && !/^BDAT\s+\d+/i.test(l.Text)) {
        data.lines.push(l);
        data.content.push(l);
        chunkLeft--;
        return;
      }
      data = null;
      const bdat = /^BDAT\s+(\d+)/i.exec(l.Text);
      out.push({ kind: "command", lines: [l] });
      if (bdat) {
        data = { kind: "bdat", size: Number(bdat[1]), content: [], notes: [], lines: [], end: null };
        out.push(data);
        chunkLeft = Number.POSITIVE_INFINITY; // until the server answers
      }
      return;
    }
    // The server.
    if (data && data.kind === "bdat") data = null;
    if (reply) {
      reply.lines.push(l);
    } else {
      reply = { kind: "reply", lines: [l], code: code(l.Text) };
      out.push(reply);
    }
    if (!continues(l.Text)) {
      const done = reply;
      reply = null;
      if (done.code === 354) {
        data = { kind: "data", content: [], notes: [], lines: [], end: null };
        out.push(data);
      }
    }
  });
  return group(out.filter((s) => s.kind !== "bdat" || s.lines.length));
}

/** Runs of two or more commands with no reply between them: pipelined. */
function group(list) {
  const out = [];
  let run = [];
  const flush = () => {
    if (run.length > 1) out.push({ kind: "pipeline", steps: run, lines: run.flatMap((s) => s.lines) });
    else out.push(...run);
    run = [];
  };
  for (const step of list) {
    if (step.kind === "command") run.push(step);
    else {
      flush();
      out.push(step);
    }
  }
  flush();
  return out;
}

/** The distinct notes of a step's lines, each with its citations. */
export function notes(step) {
  const seen = new Set();
  const out = [];
  for (const l of step.lines) {
    if (!l.Note || seen.has(l.Note)) continue;
    seen.add(l.Note);
    out.push({ text: l.Note, cites: l.Cites || [] });
  }
  return out;
}

/** The judge's findings on a step's lines. */
export const findings = (step) => step.lines.flatMap((l) => l.Findings || []);

/** "violation" for MUST and hardening rules, "warning" for SHOULD and MAY. */
export const severity = (f) => (f.Level === "MUST" || f.Level === "hardening" ? "violation" : "warning");

/** The number of arrows a diagram of `list` draws. */
export function arrows(list) {
  return list.reduce((n, s) => n + (s.kind === "pipeline" ? s.steps.length
    : ["command", "reply", "data", "bdat"].includes(s.kind) ? 1 : 0), 0);
}
