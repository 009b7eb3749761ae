// The reply rules (fault injection; Mailpit's chaos triggers are rules
// too), seen and edited as text, one rule a line (src/rules/mod.rs).

import * as api from "./api.js";
import { h, replace, toast } from "./dom.js";

const EXAMPLES = [
  "rcpt:*@bounce.test=550 5.1.1 no such user",
  "mail:*@slow.test=delay 10s",
  "data:*=451 4.3.0 try later",
  "auth:*=535 5.7.8",
  "connect:*=drop",
  "rcpt:*@flaky.test=30% 451 4.3.0 try again",
];

export function show(main) {
  const area = h("textarea", { id: "rules", rows: "10", spellcheck: "false", "aria-describedby": "rules-help" });
  const error = h("p", { class: "error", role: "alert" });
  const save = async (e) => {
    e.preventDefault();
    const lines = area.value.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    try {
      const saved = await api.saveRules(lines);
      area.value = saved.Rules.join("\n");
      replace(error);
      toast(`Saved ${saved.Rules.length} rule${saved.Rules.length === 1 ? "" : "s"}.`);
    } catch (err) {
      replace(error, err.message);
    }
  };
  replace(main, h("section", { class: "rules", "aria-labelledby": "rules-title" },
    h("h1", { id: "rules-title", tabindex: "-1" }, "Reply rules"),
    h("p", { id: "rules-help" }, "Answer a stage of the conversation differently, to test how your application copes: ",
      h("code", {}, "STAGE:PATTERN=[PERCENT% ]ACTION"), ", one a line. Stages: connect (client IP), ehlo, auth (user), ",
      "mail, rcpt (address), data. Actions: a reply (4xx or 5xx), ", h("code", {}, "drop"), ", ",
      h("code", {}, "delay 10s"), ". The first matching rule of a stage applies."),
    h("form", { onsubmit: save },
      h("label", { for: "rules" }, "Rules"), area, error,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Save rules"))),
    h("details", {}, h("summary", {}, "Examples"), h("pre", {}, EXAMPLES.join("\n")))));
  // Editable once the rules in force are in: typing before they arrive
  // would be overwritten by them.
  area.disabled = true;
  api.rules()
    .then((r) => (area.value = r.Rules.join("\n")))
    .catch((err) => replace(error, err.message))
    .finally(() => (area.disabled = false));
  return { unmount() {}, keys: () => false };
}
