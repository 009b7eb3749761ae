"""aiosmtpd on a loopback port chosen by the kernel, for the interop tests.

Started by crates/smtp-peers/src/python.rs with the interpreter of the venv that
.ci/install-peers makes. Prints `listening on HOST:PORT` once the socket is
bound, then serves until SIGTERM. Every accepted message is stored in a
Maildir (`STORE/new/N.eml`: the content exactly as received, after the SMTP
dot-unstuffing) with a sidecar (`STORE/meta/N.meta`, `key=value` lines: envelope, TLS,
AUTH) so the caller can check what the peer saw, not just what it replied.
"""

import argparse
import asyncio
import itertools
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--mode", choices=["plain", "starttls", "implicit"], default="plain")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--user", action="append", default=[], help="NAME:PASSWORD")
    p.add_argument("--store", required=True)
    return p.parse_args()


def write_meta(root, n, pairs):
    """The envelope as `key=value` lines (read by crates/smtp-peers/src/store.rs)."""
    with open(os.path.join(root, "meta", f"{n:06d}.meta"), "w") as f:
        for key, value in pairs:
            f.write(f"{key}={value}\n")


class Store:
    """Writes each message atomically (tmp/ then rename into new/)."""

    def __init__(self, root):
        self.root = root
        for sub in ("tmp", "new", "cur", "meta"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        name = f"{n:06d}.eml"
        transport = server.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport else None
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        meta = [("mail_from", envelope.mail_from)]
        meta += [("rcpt", r) for r in envelope.rcpt_tos]
        meta += [("mail_option", o) for o in envelope.mail_options]
        meta += [
            ("helo", session.host_name or "-"),
            ("tls", ssl_object.version() if ssl_object else "-"),
            ("login", login or "-"),
        ]
        write_meta(self.root, n, meta)
        tmp = os.path.join(self.root, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.root, "new", name))
        return "250 2.0.0 Message accepted for delivery"


def make_authenticator(users):
    table = {}
    for spec in users:
        name, _, password = spec.partition(":")
        table[name.encode()] = password.encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and table.get(auth_data.login) == auth_data.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticator


async def main():
    args = parse_args()
    context = None
    if args.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    store = Store(args.store)
    authenticator = make_authenticator(args.user) if args.user else None

    def factory():
        return SMTP(
            store,
            hostname="aiosmtpd.localhost",
            tls_context=context if args.mode == "starttls" else None,
            require_starttls=args.require_starttls,
            authenticator=authenticator,
            # aiosmtpd only counts STARTTLS as "TLS" for auth_require_tls: on an
            # implicit-TLS socket it would never offer AUTH. The socket itself
            # is TLS there, so the requirement is met by construction.
            auth_require_tls=args.mode != "implicit",
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory,
        host=args.host,
        port=args.port,
        ssl=context if args.mode == "implicit" else None,
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    await stop
    server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
