"""Builds a message with Python's email package, from fields given on stdin.

Input: lines `key=HEX` (the UTF-8 or raw bytes of each value, hex encoded).
Output: the message on stdout, serialised with policy SMTP (CRLF line ends).
Keys: variant, from_name, subject, text, html, att_name, att_bytes, img_bytes.
"""
import sys
from email import policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.headerregistry import Address
from email.utils import make_msgid, formatdate

fields = {}
for line in sys.stdin.read().splitlines():
    key, _, value = line.partition("=")
    fields[key] = bytes.fromhex(value)
text = lambda key: fields[key].decode("utf-8")
variant = text("variant")

def headers(msg):
    msg["From"] = Address(text("from_name"), "zoe", "example.org")
    msg["To"] = "Bob <bob@example.net>, carol@example.net"
    msg["Cc"] = '"Doe, John" <john@example.net>'
    msg["Subject"] = text("subject")
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="example.org")

if variant == "latin1":
    # The legacy API, and a body in ISO-8859-1 with quoted-printable.
    msg = MIMEMultipart("mixed", policy=policy.SMTP)
    headers(msg)
    msg.attach(MIMEText(text("text"), "plain", "iso-8859-1"))
    part = MIMEApplication(fields["att_bytes"], Name=None)
    part.add_header("Content-Disposition", "attachment", filename=text("att_name"))
    msg.attach(part)
else:
    msg = EmailMessage(policy=policy.SMTP)
    headers(msg)
    cte = {"8bit": "8bit", "base64": "base64", "qp": "quoted-printable"}.get(variant)
    if cte:
        msg.set_content(text("text"), cte=cte)
        msg.add_alternative(text("html"), subtype="html", cte=cte)
    else:
        msg.set_content(text("text"))
        msg.add_alternative(text("html"), subtype="html")
    if variant == "related":
        html_part = msg.get_payload()[1]
        html_part.add_related(fields["img_bytes"], "image", "png", cid="<logo@example.org>",
                              filename="logo.png")
    if variant == "nested":
        inner = EmailMessage(policy=policy.SMTP)
        inner["From"] = "inner@example.org"
        inner["Subject"] = "Inner message"
        inner.set_content("inner text\n")
        msg.add_attachment(inner)
    msg.add_attachment(fields["att_bytes"], maintype="application", subtype="octet-stream",
                       filename=text("att_name"))

sys.stdout.buffer.write(msg.as_bytes(policy=policy.SMTP))
