// Keyboard navigation: j/k move through a list, Enter opens, Delete
// deletes, x selects, / searches, u or Escape goes back. The current view
// gets each key first; typing in a field is never taken for a command.

let handler = null;

/** The current view's key handler: `fn(key, event)` returns true when it used the key. */
export function setHandler(fn) {
  handler = fn;
}

function typing(target) {
  return target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

export function install(fallback) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if ((handler && handler(key, event)) || fallback(key, event)) event.preventDefault();
  });
}

/**
 * A cursor over the rows of a list (`rows()` gives them in order): the
 * current row is marked (`aria-current`) and scrolled into view; its
 * first link takes the focus so that Enter and screen readers follow.
 */
export class Cursor {
  constructor(rows) {
    this.rows = rows;
    this.index = -1;
  }

  current() {
    return this.rows()[this.index] || null;
  }

  set(index, focus = true) {
    const rows = this.rows();
    if (!rows.length) {
      this.index = -1;
      return;
    }
    this.index = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => {
      if (i === this.index) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    const row = rows[this.index];
    row.scrollIntoView({ block: "nearest" });
    if (focus) row.querySelector("a")?.focus({ preventScroll: true });
  }

  move(delta) {
    this.set(this.index < 0 ? 0 : this.index + delta);
  }

  /** Keeps the cursor on the row with this id after the list was redrawn. */
  restore(id) {
    const rows = this.rows();
    const i = rows.findIndex((row) => row.dataset.id === id);
    if (i >= 0) this.set(i, false);
    else if (this.index >= 0) this.set(Math.min(this.index, rows.length - 1), false);
  }
}

/** The keys, for the help view. */
export const KEYS = [
  ["j / k", "next / previous message or session"],
  ["Enter", "open it"],
  ["x", "select the message under the cursor"],
  ["Delete", "delete the message under the cursor (or the open one)"],
  ["/", "search"],
  ["u or Escape", "back to the list"],
  ["g i / g s / g r", "inbox, sessions, rules"],
  ["← →", "switch tabs when a tab has the focus"],
];
