"""Python's deprecated stdlib `smtpd` (3.11 and older) as a plain-text peer.

Started by crates/smtp-peers/src/python.rs. Binds HOST:0, prints `listening on
HOST:PORT`, serves until SIGTERM, and stores each message in STORE/new/N.eml
(the data as smtpd hands it over: unstuffed, lines joined with LF) with a
`key=value` sidecar in STORE/meta/N.meta (the envelope).
"""

import warnings

warnings.simplefilter("ignore", DeprecationWarning)

import asyncore  # noqa: E402  (deprecated with smtpd; both go in 3.12)
import os  # noqa: E402
import signal  # noqa: E402
import smtpd  # noqa: E402
import sys  # noqa: E402


class Channel(smtpd.SMTPChannel):
    """Remembers the HELO/EHLO argument per client for the sidecar."""

    def smtp_HELO(self, arg):
        super().smtp_HELO(arg)
        self.smtp_server.helo_of[self.peer] = self.seen_greeting or "-"

    def smtp_EHLO(self, arg):
        super().smtp_EHLO(arg)
        self.smtp_server.helo_of[self.peer] = self.seen_greeting or "-"


class StoringServer(smtpd.SMTPServer):
    channel_class = Channel

    def __init__(self, addr, store):
        super().__init__(addr, None, decode_data=False)
        self.store = store
        self.helo_of = {}
        self.count = 0
        for sub in ("tmp", "new", "cur", "meta"):
            os.makedirs(os.path.join(store, sub), exist_ok=True)

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.count += 1
        name = f"{self.count:06d}"
        lines = [f"mail_from={mailfrom}"]
        lines += [f"rcpt={r}" for r in rcpttos]
        lines += [f"mail_option={o}" for o in kwargs.get("mail_options", [])]
        lines += [f"helo={self.helo_of.get(peer, '-')}", "tls=-", "login=-"]
        with open(os.path.join(self.store, "meta", name + ".meta"), "w") as f:
            f.write("\n".join(lines) + "\n")
        tmp = os.path.join(self.store, "tmp", name + ".eml")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.store, "new", name + ".eml"))
        return None  # "250 OK"


def main():
    host, store = sys.argv[1], sys.argv[2]
    server = StoringServer((host, 0), store)
    bound = server.socket.getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncore.loop(timeout=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
