// The MIME tree (RFC 2045, RFC 2046): each part with its type, name and
// size; leaves that are not the text or HTML body can be downloaded, byte
// for byte as decoded; images get a thumbnail.

import * as api from "./api.js";
import { h, size } from "./dom.js";

function node(id, part) {
  const name = part.FileName || (part.ContentID ? `cid:${part.ContentID}` : "");
  const isImage = part.Download && part.ContentType.startsWith("image/");
  return h("li", { class: "mime-node" },
    h("div", { class: "mime-part" },
      h("code", { class: "mime-type" }, part.ContentType || "text/plain"),
      name ? h("span", { class: "mime-name" }, name) : null,
      h("span", { class: "mime-size" }, size(part.Size)),
      part.Attachment ? h("span", { class: "tag" }, "attachment") : null,
      part.Body ? h("span", { class: "tag" }, "body: see the Text and HTML tabs") : null,
      part.Download ? h("a", { class: "button small", href: api.partUrl(id, part.PartID), download: part.FileName || "",
        "aria-label": `Download part ${part.PartID}${name ? ` (${name})` : ""}` }, "Download") : null,
      h("span", { class: "mime-id", title: "part id" }, part.PartID)),
    isImage ? h("img", { class: "thumb", src: api.partUrl(id, part.PartID), alt: `image ${name}`, loading: "lazy" }) : null,
    part.Children?.length ? h("ul", {}, part.Children.map((c) => node(id, c))) : null);
}

/** The tree of message `id` (`/api/v1/message/{ID}/tree`). */
export function render(id, tree) {
  if (!tree) return h("p", { class: "empty" }, "This message has no MIME structure that could be read.");
  return h("ul", { class: "mime-tree", "aria-label": "MIME parts" }, node(id, tree));
}
