#!/usr/bin/env python3
# Scripted hostile SMTP server for mxclient's robustness tests: one named misbehaviour per run
# (malformed replies, drops at every stage, STARTTLS injection...). Python 3 stdlib only.
"""A deliberately misbehaving SMTP server on loopback.

Used by tests/integration/test_hostile.py in-process:

    certs = make_cert(tmpdir)                       # self-signed, made with the openssl CLI
    with HostileServer("dot_554", certs) as srv:    # listens on 127.0.26.1:25 (root needed)
        ... run mxclient ...
        srv.events                                  # what each connection saw, for assertions

or stand-alone (stops on SIGINT/SIGTERM):

    server.py --scenario NAME [--addr 127.0.26.1] [--port 25]
    server.py --list

Apart from the named misbehaviour the server speaks ordinary ESMTP (RFC 5321): it offers
STARTTLS (RFC 3207), 8BITMIME and SIZE, but not PIPELINING, so that every stage of a
transaction is a separate exchange and a drop "after X" is unambiguous. A "drop after X"
closes the socket right after sending the reply to X (for TLS without close_notify).
"""

import argparse
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

DEFAULT_ADDR = "127.0.26.1"
DEFAULT_PORT = 25
HOSTNAME = "mxh1.secure.example"

GREETING = f"220 {HOSTNAME} ESMTP hostile\r\n".encode()
FINAL_OK = b"250 2.0.0 Ok: queued as HOSTILE\r\n"


class Scenario:
    """What the server does differently from a well-behaved one.

    greeting     bytes sent on connect, or "drip" (an endless reply, one byte per drip_interval)
    replies      {verb: bytes} replacing the normal reply to EHLO, STARTTLS, MAIL, RCPT, DATA,
                 "DOT" (the final dot) or QUIT; the bytes go out in one write
    drop_after   close after the reply to this verb ("GREETING", "EHLO", "STARTTLS", "MAIL",
                 "RCPT", "DATA"); "CONNECT" closes before the greeting, "BODY" after the first
                 body_bytes of the message, "DOT" after the final dot without replying
    after_final  bytes sent in the same write as the reply to the final dot
    starttls     offer STARTTLS
    """

    def __init__(self, description, greeting=GREETING, replies=None, drop_after=None,
                 after_final=b"", starttls=True, body_bytes=64 * 1024, drip_interval=0.5):
        self.description = description
        self.greeting = greeting
        self.replies = replies or {}
        self.drop_after = drop_after
        self.after_final = after_final
        self.starttls = starttls
        self.body_bytes = body_bytes
        self.drip_interval = drip_interval


def _big_ehlo_reply():
    # 1100 lines of 64 bytes: about 70 KiB, over the 64 KiB a client should accept.
    line = b"250-" + b"X" * 58 + b"\r\n"
    return line * 1100 + b"250 SIZE 0\r\n"


SCENARIOS = {
    "normal": Scenario("a well-behaved server (accepts and discards)"),
    # Malformed replies (RFC 5321 section 4.2: a reply is a 3-digit code 2xx-5xx).
    "greeting_non_numeric": Scenario("greeting code is not numeric",
                                     greeting=b"2x0 mxh1 ESMTP\r\n"),
    "greeting_two_digit": Scenario("greeting code has two digits", greeting=b"22 mxh1 ESMTP\r\n"),
    "greeting_code_600": Scenario("greeting code 600", greeting=b"600 mxh1 ESMTP\r\n"),
    "ehlo_non_numeric": Scenario("EHLO reply code is not numeric",
                                 replies={"EHLO": b"250-mxh1\r\nabc STARTTLS\r\n"}),
    "mail_code_600": Scenario("MAIL answered with code 600",
                              replies={"MAIL": b"600 2.1.0 Ok\r\n"}),
    # RFC 5321 section 4.2.1: all lines of a multi-line reply carry the same code.
    "ehlo_inconsistent_multiline": Scenario("EHLO reply 250-a then 251 b",
                                            replies={"EHLO": b"250-a\r\n251 b\r\n"}),
    "ehlo_reply_over_64k": Scenario("EHLO reply of about 70 KiB",
                                    replies={"EHLO": _big_ehlo_reply()}),
    "greeting_silent": Scenario("no greeting at all (the client must time out)", greeting=b""),
    "greeting_drip": Scenario("greeting that never ends, one byte per 0.5 s", greeting="drip"),
    # Drops at every stage.
    "drop_before_greeting": Scenario("close right after accept", drop_after="CONNECT"),
    "drop_after_greeting": Scenario("close right after the greeting", drop_after="GREETING"),
    "drop_after_ehlo": Scenario("close after the EHLO reply", drop_after="EHLO"),
    "drop_after_starttls": Scenario("close after 220 to STARTTLS, before the handshake",
                                    drop_after="STARTTLS"),
    "drop_after_mail": Scenario("close after 250 to MAIL", drop_after="MAIL"),
    "drop_after_rcpt": Scenario("close after 250 to RCPT", drop_after="RCPT"),
    "drop_after_data": Scenario("close after 354 to DATA", drop_after="DATA"),
    "drop_during_body": Scenario("close after 64 KiB of the message", drop_after="BODY"),
    "drop_after_dot": Scenario("close after the final dot, before its reply", drop_after="DOT"),
    # After the message is accepted, nonsense must not change the outcome.
    "garbage_after_final": Scenario("garbage in the same write as the 250 to the dot",
                                    after_final=b"250 extra\r\n\x00\xff garbage \x1b[31m\r\n"
                                                b"999\r\nno code at all\r\n"),
    # CVE-2011-0411 class: plaintext pipelined behind the 220 must never be taken as a reply
    # received under TLS (RFC 3207 section 4.2 / RFC 7435).
    "starttls_injection": Scenario("'220 ready' and '250 injected' in one write, then TLS",
                                   replies={"STARTTLS": b"220 ready\r\n250 injected\r\n"}),
    "dot_451": Scenario("final dot answered 451", replies={"DOT": b"451 4.3.0 try later\r\n"}),
    "dot_554": Scenario("final dot answered 554",
                        replies={"DOT": b"554 5.7.1 rejected as spam\r\n"}),
    "greeting_554": Scenario("5xx greeting (RFC 5321 section 3.1)",
                             greeting=b"554 5.7.1 no SMTP service here\r\n"),
    "greeting_421": Scenario("421 greeting", greeting=b"421 4.3.2 too busy, try later\r\n"),
}


def make_cert(directory):
    """A self-signed certificate for the server, made with the openssl CLI (EC P-256)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "hostile.key", directory / "hostile.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={HOSTNAME}", "-days", "2",
                    "-addext", f"subjectAltName=DNS:{HOSTNAME}", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True, stdin=subprocess.DEVNULL,
                   timeout=30)
    return cert, key


class _Closed(Exception):
    """The peer closed, or the server is stopping."""


class _Conn:
    def __init__(self, server, sock, number):
        self.server, self.sock, self.number = server, sock, number
        self.buf = b""
        self.tls = False

    def event(self, what):
        self.server._event(self.number, what)

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.server._stopping.is_set():
            raise _Closed()
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionError, ssl.SSLError, OSError) as e:
            self.event(f"read error: {e}")
            raise _Closed() from e
        if not chunk:
            self.event("eof")
            raise _Closed()
        self.buf += chunk

    def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise _Closed()
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def read_message(self, limit=None):
        """Reads the message through CRLF.CRLF; with limit, stops after that many bytes."""
        total = 0
        while True:
            end = self.buf.find(b"\r\n.\r\n")
            if end >= 0:
                total += end + 5
                self.buf = self.buf[end + 5:]
                return total, True
            if limit is not None and total + len(self.buf) >= limit:
                return total + len(self.buf), False
            keep = self.buf[-4:]  # the terminator may straddle two reads
            total += len(self.buf) - len(keep)
            self.buf = keep
            self._fill()

    def drip(self, data, interval):
        """Sends data one byte at a time, forever (cycling), until stopped or the peer leaves."""
        i = 0
        while not self.server._stopping.wait(interval):
            try:
                self.sock.sendall(data[i % len(data):i % len(data) + 1])
            except OSError:
                self.event("drip: peer gone")
                return
            i += 1

    def close(self):
        # Abrupt on purpose: no QUIT reply, no TLS close_notify.
        try:
            self.sock.close()
        except OSError:
            pass


class HostileServer:
    """Serves one scenario on addr:port in background threads until stop()."""

    def __init__(self, scenario, cert=None, addr=DEFAULT_ADDR, port=DEFAULT_PORT):
        if isinstance(scenario, str):
            scenario = SCENARIOS[scenario]
        self.scenario = scenario
        self.addr, self.port = addr, port
        self.events = []  # (connection number, text) in order
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns = []
        self._threads = []
        self._tmp = None
        if cert is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="hostile-cert-")
            cert = make_cert(self._tmp.name)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        self._listener = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.scenario.drop_after == "BODY":
            # A small receive window (inherited by accepted sockets) keeps the client from
            # pushing a whole large message into kernel buffers before the drop: its write must
            # fail during the body, not after the final dot.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        s.bind((self.addr, self.port))
        s.listen(16)
        s.settimeout(0.1)  # so the accept loop notices stop()
        self._listener = s
        t = threading.Thread(target=self._accept_loop, name="hostile-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stopping.set()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv
            except OSError:
                pass
            c.close()
        for t in list(self._threads):
            t.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- inspection -------------------------------------------------------------------------

    def _event(self, number, what):
        with self._lock:
            self.events.append((number, what))

    def commands(self):
        """Every command line received, as text, over all connections."""
        with self._lock:
            return [w[4:] for _, w in self.events if w.startswith("cmd ")]

    def connections(self):
        with self._lock:
            return sum(1 for _, w in self.events if w == "connect")

    def transcript(self):
        with self._lock:
            return "\n".join(f"[{n}] {w}" for n, w in self.events)

    # -- serving ----------------------------------------------------------------------------

    def _accept_loop(self):
        number = 0
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            number += 1
            sock.settimeout(None)
            conn = _Conn(self, sock, number)
            with self._lock:
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), name=f"hostile-{number}",
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn):
        conn.event("connect")
        try:
            self._dialogue(conn)
        except _Closed:
            pass
        except (OSError, ssl.SSLError) as e:
            conn.event(f"error: {e}")
        finally:
            conn.close()
            conn.event("closed")

    def _reply(self, conn, verb, default):
        data = self.scenario.replies.get(verb, default)
        conn.send(data)
        if self.scenario.drop_after == verb:
            conn.event(f"drop after {verb}")
            raise _Closed()

    def _dialogue(self, conn):
        sc = self.scenario
        if sc.drop_after == "CONNECT":
            conn.event("drop before greeting")
            raise _Closed()
        if sc.greeting == "drip":
            conn.event("dripping greeting")
            conn.drip(b"220-still greeting you, one byte at a time\r\n", sc.drip_interval)
            raise _Closed()
        conn.send(sc.greeting)
        if sc.drop_after == "GREETING":
            conn.event("drop after GREETING")
            raise _Closed()
        while True:
            line = conn.readline()
            conn.event("cmd " + line.decode("latin-1"))
            verb = line.split(b" ", 1)[0].upper().decode("latin-1")
            if verb == "EHLO":
                caps = ["8BITMIME", "SIZE 0", "ENHANCEDSTATUSCODES"]
                if sc.starttls and not conn.tls:
                    caps.append("STARTTLS")
                lines = [HOSTNAME] + caps
                text = "".join(f"250-{x}\r\n" for x in lines[:-1]) + f"250 {lines[-1]}\r\n"
                self._reply(conn, "EHLO", text.encode())
            elif verb == "HELO":
                self._reply(conn, "EHLO", f"250 {HOSTNAME}\r\n".encode())
            elif verb == "STARTTLS" and sc.starttls and not conn.tls:
                self._reply(conn, "STARTTLS", b"220 2.0.0 Ready to start TLS\r\n")
                if conn.buf:
                    conn.event("client pipelined after STARTTLS")
                conn.buf = b""
                try:
                    conn.sock = self.ctx.wrap_socket(conn.sock, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    conn.event(f"tls handshake failed: {e}")
                    raise _Closed() from e
                conn.tls = True
                conn.event("tls established")
            elif verb == "MAIL":
                self._reply(conn, "MAIL", b"250 2.1.0 Ok\r\n")
            elif verb == "RCPT":
                self._reply(conn, "RCPT", b"250 2.1.5 Ok\r\n")
            elif verb == "DATA":
                self._reply(conn, "DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n")
                limit = sc.body_bytes if sc.drop_after == "BODY" else None
                size, complete = conn.read_message(limit)
                conn.event(f"message {size} bytes{'' if complete else ' (partial)'}")
                if not complete:
                    conn.event("drop during BODY")
                    raise _Closed()
                if sc.drop_after == "DOT":
                    conn.event("drop after DOT")
                    raise _Closed()
                conn.send(sc.replies.get("DOT", FINAL_OK) + sc.after_final)
            elif verb in ("RSET", "NOOP"):
                conn.send(b"250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                conn.send(sc.replies.get("QUIT", b"221 2.0.0 Bye\r\n"))
                raise _Closed()
            else:
                conn.send(b"502 5.5.2 Error: command not recognized\r\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="normal")
    ap.add_argument("--addr", default=DEFAULT_ADDR)
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = ap.parse_args(argv)
    if args.list:
        for name, sc in SCENARIOS.items():
            print(f"{name:30} {sc.description}")
        return 0
    if args.scenario not in SCENARIOS:
        print(f"unknown scenario {args.scenario!r}; see --list", file=sys.stderr)
        return 64
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    srv = HostileServer(args.scenario, addr=args.addr, port=args.port).start()
    print(f"hostile: {args.scenario} on {args.addr}:{args.port} (pid {os.getpid()})", flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        srv.stop()
        print(srv.transcript(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
