"""The load of `cargo xtask cluster`: CLIENTS smtplib clients, each from
its own loopback address (127.0.0.11, .12, ...), send COUNT numbered
messages through the balancer, one session per client, reconnecting when a
session breaks. A message whose attempt broke without a reply is "in
doubt" and sent again (as an MTA would: RFC 5321 §6.1 prefers a duplicate
to a loss). With --kill-pid, that process is killed (SIGKILL) once
--kill-at messages are acknowledged.

Prints one JSON object: acked (message numbers that got a 250), in_doubt
(numbers sent again after an attempt without a reply), refused, seconds,
killed_at, errors.
"""

import argparse
import json
import os
import signal
import smtplib
import threading
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--kill-pid", type=int)
    p.add_argument("--kill-at", type=int, default=0)
    a = p.parse_args()

    lock = threading.Lock()
    state = {"next": 0, "acked": [], "in_doubt": set(), "refused": [], "errors": [], "killed_at": None}

    def take():
        with lock:
            if state["next"] >= a.count:
                return None
            state["next"] += 1
            return state["next"] - 1

    def acked(n: int) -> None:
        with lock:
            state["acked"].append(n)
            if a.kill_pid and state["killed_at"] is None and len(state["acked"]) >= a.kill_at:
                state["killed_at"] = len(state["acked"])
                os.kill(a.kill_pid, signal.SIGKILL)

    def message(n: int, source: str) -> bytes:
        return (
            f"From: <client{n % a.clients}@client.example>\r\n"
            f"To: <inbox@example.test>\r\n"
            f"Subject: cluster message {n}\r\n"
            f"Message-ID: <cluster-{n}@client.example>\r\n"
            f"X-Sent-From: {source}\r\n"
            f"\r\n"
            f"message {n}\r\n"
            f"..a line that starts with a dot\r\n"
        ).encode()

    def client(i: int) -> None:
        source = f"127.0.0.{11 + i}"
        session = None
        n = take()
        tries = 0
        while n is not None:
            try:
                if session is None:
                    session = smtplib.SMTP("127.0.0.1", a.port, local_hostname=f"client{i}.example",
                                           source_address=(source, 0), timeout=30)
                refused = session.sendmail(f"client{i}@client.example", ["inbox@example.test"],
                                           message(n, source))
                if refused:
                    with lock:
                        state["refused"].append(n)
                else:
                    acked(n)
                n, tries = take(), 0
            except smtplib.SMTPResponseException as e:
                # A reply: 4yz is retried, 5yz is final.
                if 400 <= e.smtp_code < 500 and tries < 20:
                    tries += 1
                    time.sleep(0.05 * tries)
                    continue
                with lock:
                    state["refused"].append(n)
                    state["errors"].append(f"{n}: {e.smtp_code} {e.smtp_error!r}")
                n, tries = take(), 0
            except (OSError, smtplib.SMTPException) as e:
                # No reply: the message may or may not have been taken.
                session = None
                with lock:
                    state["in_doubt"].add(n)
                if tries >= 20:
                    with lock:
                        state["errors"].append(f"{n}: gave up: {e!r}")
                    n, tries = take(), 0
                else:
                    tries += 1
                    time.sleep(0.05 * tries)
        if session is not None:
            try:
                session.quit()
            except (OSError, smtplib.SMTPException):
                pass

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    print(json.dumps({
        "acked": sorted(state["acked"]),
        "in_doubt": sorted(state["in_doubt"]),
        "refused": sorted(state["refused"]),
        "seconds": seconds,
        "killed_at": state["killed_at"],
        "errors": state["errors"][:20],
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
