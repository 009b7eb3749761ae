"""Python's smtplib as a load generator over implicit TLS (SMTP_SSL), for
`cargo xtask bench`: COUNT messages of SIZE octets over SESSIONS threads,
each with its own connection; prints the same summary line as
`smtp-send --count`:

    bulk messages=N accepted=N failed=0 sessions=S size=B seconds=T msgs_per_s=R mb_per_s=M
"""

import argparse
import smtplib
import ssl
import sys
import threading
import time


def message(size: int) -> bytes:
    head = (
        b"From: <bench@example.test>\r\n"
        b"To: <bench@example.test>\r\n"
        b"Subject: smtplib bulk message\r\n"
        b"Message-ID: <smtplib-bench@example.test>\r\n"
        b"\r\n"
    )
    line = bytes(ord("a") + i % 26 for i in range(76))
    out = bytearray(head)
    while len(out) < size:
        left = size - len(out)
        n = min(max(left - 2, 0), 76)
        if left - (n + 2) in (1, 2):
            n -= 2
        out += line[:n] + b"\r\n"
    return bytes(out)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument("--size", type=int, default=1024)
    a = p.parse_args()

    body = message(a.size)
    context = ssl.create_default_context(cafile=a.cafile)
    lock = threading.Lock()
    state = {"next": 0, "accepted": 0, "errors": []}

    def take() -> bool:
        with lock:
            if state["next"] >= a.count:
                return False
            state["next"] += 1
            return True

    def session() -> None:
        try:
            with smtplib.SMTP_SSL(a.host, a.port, context=context, timeout=120) as s:
                s.ehlo("bench.example.test")
                while take():
                    refused = s.sendmail("bench@example.test", ["bench@example.test"], body)
                    if not refused:
                        with lock:
                            state["accepted"] += 1
        except Exception as e:  # reported, and the exit status says so
            with lock:
                state["errors"].append(repr(e))

    sessions = max(1, min(a.sessions, a.count))
    started = time.perf_counter()
    threads = [threading.Thread(target=session) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    accepted = state["accepted"]
    print(
        f"bulk messages={a.count} accepted={accepted} failed={a.count - accepted} "
        f"sessions={sessions} size={len(body)} seconds={seconds:.6f} "
        f"msgs_per_s={accepted / seconds:.1f} mb_per_s={accepted * len(body) / seconds / 1e6:.1f}",
        flush=True,
    )
    for e in state["errors"][:3]:
        print("error:", e, file=sys.stderr)
    return 0 if accepted == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
