"""Reads a message from stdin with Python's email package (policy default) and prints
what it found, one `key=HEX` line per item, for the Rust tests to compare."""
import sys
from email import message_from_bytes, policy

msg = message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
out = []
def emit(key, value):
    if isinstance(value, str):
        value = value.encode("utf-8")
    out.append(f"{key}={value.hex()}")

emit("subject", str(msg["Subject"] or ""))
for addr in msg["From"].addresses:
    emit("from_name", addr.display_name)
    emit("from_addr", addr.addr_spec)
plain = msg.get_body(("plain",))
if plain is not None:
    emit("text", plain.get_content())
html = msg.get_body(("html",))
if html is not None:
    emit("html", html.get_content())
for part in msg.walk():
    if part.get_filename():
        emit("att_name", part.get_filename())
        emit("att_type", part.get_content_type())
        emit("att_bytes", part.get_payload(decode=True))
emit("defects", " ".join(type(d).__name__ for p in msg.walk() for d in p.defects))
print("\n".join(out))
