"""Prints the envelope Python's smtplib.send_message derives for the message on stdin:
line 1 the reverse-path, then one recipient per line. No network: sendmail() is
replaced by a function that records its arguments."""
import smtplib
import sys
from email import message_from_bytes, policy


class Capture(smtplib.SMTP):
    def has_extn(self, opt):
        return True  # claim SMTPUTF8 so that international addresses are accepted

    def ehlo_or_helo_if_needed(self):
        pass

    def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):
        self.captured = (from_addr, to_addrs, msg)
        return {}


message = message_from_bytes(sys.stdin.buffer.read(), policy=policy.SMTP)
smtp = Capture()
smtp.send_message(message)
from_addr, to_addrs, flat = smtp.captured
header = flat.split(b"\r\n\r\n", 1)[0]
assert b"\nBcc:" not in header and b"\nResent-Bcc:" not in header
print(from_addr)
for address in to_addrs:
    print(address)
