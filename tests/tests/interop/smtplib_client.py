"""Python's smtplib as an independent Sender-SMTP, for the interop tests.

Written to a temporary folder and run with the system python3 by
tests/tests/interop/receiver/smtplib.rs. For every message it sends it writes
OUT/sent-N.eml: the exact octets handed to smtplib for DATA (before
dot-stuffing), so the caller can compare them with what the receiver stored.
Exits non-zero (with the reason on stderr) on any unexpected reply.
"""

import argparse
import copy
import os
import smtplib
import ssl
import sys
from email.generator import BytesGenerator
from email.message import EmailMessage
from io import BytesIO

TRANSPARENCY = [
    "Lines that SMTP transparency (RFC 5321 4.5.2) must carry unchanged:",
    ".",
    "..",
    ".leading dot",
    " . space then dot",
    ".",
    "",
    "QUIT",
]


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["plain", "starttls", "ssl"], required=True)
    p.add_argument("--ca")
    p.add_argument("--user")
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--refused", action="append", default=[],
                   help="a recipient the server must refuse (sendmail's dict)")
    p.add_argument("--api", choices=["sendmail", "send_message"], required=True)
    p.add_argument("--message", help="raw message file for --api sendmail")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--out", required=True)
    return p.parse_args()


def build_message(args, n):
    """An EmailMessage as an application would build it: non-ASCII subject
    (RFC 2047 encoded by the email package), text with dot lines, an
    attachment, and a Bcc that send_message must not transmit."""
    msg = EmailMessage()
    msg["From"] = f"Python smtplib <{args.sender}>"
    msg["To"] = ", ".join(r for r in args.to if r not in args.refused)
    msg["Bcc"] = "hidden@example.test"
    msg["Subject"] = f"send_message #{n} Grüße"
    msg["Message-ID"] = f"<smtplib-{n}@interop.example.test>"
    msg.set_content("\n".join(TRANSPARENCY + [f"message {n}"]) + "\n")
    data = bytes((i * 7 + n) % 256 for i in range(20000))
    msg.add_attachment(data, maintype="application", subtype="octet-stream",
                       filename="data.bin")
    # A fixed boundary: the generator would otherwise pick a random one.
    msg.set_boundary(f"smtplib-boundary-{n}")
    return msg


def flatten_like_send_message(msg):
    """What smtplib.send_message transmits (Lib/smtplib.py): Bcc removed,
    flattened by BytesGenerator with CRLF."""
    msg_copy = copy.copy(msg)
    del msg_copy["Bcc"]
    del msg_copy["Resent-Bcc"]
    out = BytesIO()
    BytesGenerator(out).flatten(msg_copy, linesep="\r\n")
    return out.getvalue()


def connect(args):
    context = ssl.create_default_context(cafile=args.ca) if args.ca else None
    if args.mode == "ssl":
        server = smtplib.SMTP_SSL(args.host, args.port, context=context, timeout=30)
    else:
        server = smtplib.SMTP(args.host, args.port, timeout=30)
    server.ehlo("smtplib.client.test")
    if args.mode == "starttls":
        if not server.has_extn("starttls"):
            sys.exit("the server does not offer STARTTLS")
        code, reply = server.starttls(context=context)
        if code != 220:
            sys.exit(f"STARTTLS refused: {code} {reply!r}")
        server.ehlo("smtplib.client.test")
    if args.user:
        password = os.environ["SMTP_PASSWORD"]
        code, reply = server.login(args.user, password)
        if code != 235:
            sys.exit(f"login: {code} {reply!r}")
    return server


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    server = connect(args)
    for n in range(1, args.count + 1):
        if args.api == "sendmail":
            with open(args.message, "rb") as f:
                raw = f.read()
            refused = server.sendmail(args.sender, args.to, raw)
        else:
            msg = build_message(args, n)
            raw = flatten_like_send_message(msg)
            refused = server.send_message(msg, from_addr=args.sender, to_addrs=args.to)
        if sorted(refused) != sorted(args.refused):
            sys.exit(f"message {n}: refused {refused!r}, expected {args.refused!r}")
        with open(os.path.join(args.out, f"sent-{n}.eml"), "wb") as f:
            f.write(raw)
    code, _ = server.noop()
    if code != 250:
        sys.exit(f"NOOP: {code}")
    server.quit()
    print(f"sent {args.count} message(s)")


if __name__ == "__main__":
    main()
