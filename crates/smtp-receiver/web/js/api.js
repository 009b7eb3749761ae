// The HTTP API, as the page uses it: only public endpoints, so anything the
// page does a script can do (crates/smtp-receiver/src/inbox/api/mod.rs).

/** An API error: the status and the server's `{"Error": ...}` text. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const enc = encodeURIComponent;

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).Error || message;
    } catch {
      // Not JSON: the status line says enough.
    }
    throw new ApiError(response.status, message);
  }
  return response;
}

const json = async (path) => (await request("GET", path)).json();
const text = async (path) => (await request("GET", path)).text();

/** A page of the inbox, or of a search when `query` is set. */
export function listing(query, start, limit) {
  return query
    ? json(`/api/v1/search?query=${enc(query)}&start=${start}&limit=${limit}`)
    : json(`/api/v1/messages?start=${start}&limit=${limit}`);
}

export const message = (id) => json(`/api/v1/message/${enc(id)}`);
export const headers = (id) => json(`/api/v1/message/${enc(id)}/headers`);
export const raw = (id) => text(`/api/v1/message/${enc(id)}/raw`);
export const tree = (id) => json(`/api/v1/message/${enc(id)}/tree`);
export const messageSession = (id) => json(`/api/v1/message/${enc(id)}/session`);
export const session = (id) => json(`/api/v1/session/${enc(id)}`);

export const rawUrl = (id) => `/api/v1/message/${enc(id)}/raw`;
export const partUrl = (id, part) => `/api/v1/message/${enc(id)}/part/${enc(part)}`;
export const htmlUrl = (id, remote) => `/view/${enc(id)}.html?embed=1${remote ? "&remote=1" : ""}`;

/** Sessions, newest first, optionally of one outcome. */
export function sessions(outcome, start, limit) {
  const o = outcome ? `&outcome=${enc(outcome)}` : "";
  return json(`/api/v1/sessions?start=${start}&limit=${limit}${o}`);
}

/** Marks these messages (or, with `search`, those matching; neither: all) read or unread. */
export function setRead(read, { ids, search } = {}) {
  const body = { Read: read };
  if (ids) body.IDs = ids;
  if (search) body.Search = search;
  return request("PUT", "/api/v1/messages", body);
}

/** Deletes these messages; the API deletes everything when given no ids. */
export function remove(ids) {
  if (!ids.length) return Promise.resolve();
  return request("DELETE", "/api/v1/messages", { IDs: ids });
}

export const removeAll = () => request("DELETE", "/api/v1/messages");
export const removeMatching = (query) => request("DELETE", `/api/v1/search?query=${enc(query)}`);

export const rules = () => json("/api/v1/rules");
export const saveRules = async (lines) => (await request("PUT", "/api/v1/rules", { Rules: lines })).json();
