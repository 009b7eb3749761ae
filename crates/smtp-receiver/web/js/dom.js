// Building the page without ever parsing a string as HTML: every piece of
// received mail reaches the DOM through text nodes only. The page's CSP
// (Trusted Types with no policy) makes every HTML-parsing sink throw, so a
// mistake here fails loudly instead of running someone's script.

/** An element: h("a", {href: "#/", class: "x", onclick: f}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, numbers, arrays; null skipped). */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces the content of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Text for screen readers only. */
export const hidden = (text) => h("span", { class: "vh" }, text);

/** 1234567 -> "1.2 MB". */
export function size(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB"];
  let n = bytes / 1000;
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[u]}`;
}

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

/** A <time> element: the time today, else date and time; full on hover. */
export function time(rfc3339) {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return h("time", {}, rfc3339 || "");
  const today = new Date().toDateString() === d.toDateString();
  return h("time", { datetime: d.toISOString(), title: full.format(d) },
    today ? timeOnly.format(d) : dateAndTime.format(d));
}

/** "Alice <alice@example.com>" from a Mailpit address object. */
export function address(a) {
  if (!a || !a.Address) return a?.Name || "";
  return a.Name ? `${a.Name} <${a.Address}>` : a.Address;
}

/** Milliseconds as "1.2 s" / "340 ms". */
export function duration(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.max(0, Math.round(ms))} ms`;
}

/** A link to an RFC section, only for the https URLs the API gives. */
export function cite(c) {
  const label = `RFC ${c.RFC}${c.Section ? ` §${c.Section}` : ""}`;
  if (typeof c.URL !== "string" || !c.URL.startsWith("https://")) return h("span", { class: "cite" }, label);
  return h("a", { class: "cite", href: c.URL, target: "_blank", rel: "noopener noreferrer" }, label);
}

/** Calls `fn` at most once per `ms`, after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Shows a short message in the status area. */
export function toast(text, kind = "info") {
  const el = document.getElementById("toast");
  if (!el) return;
  replace(el, h("span", { class: `toast-${kind}` }, text));
  el.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("shown"), 4000);
}
