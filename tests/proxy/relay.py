#!/usr/bin/python3
# Byte relays for the proxy tests: "stdio HOST PORT [RECORD]" joins stdin/stdout to a TCP
# connection (a proxy command); "listen LHOST LPORT HOST PORT RECORD" is a TCP forwarder.
"""Both modes append every octet the client sent to RECORD (when given), so a test can check
that nothing readable crossed the relay after STARTTLS. Loopback use only."""

import os
import selectors
import socket
import sys
import threading


def pump(pairs, record):
    """pairs: [(read_fd, write_fd, recorded)]; copies until every source reached EOF."""
    sel = selectors.DefaultSelector()
    for src, dst, rec in pairs:
        sel.register(src, selectors.EVENT_READ, (dst, rec))
    open_count = len(pairs)
    while open_count:
        for key, _ in sel.select():
            dst, rec = key.data
            try:
                data = os.read(key.fd, 65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fd)
                open_count -= 1
                try:
                    if isinstance(dst, socket.socket):
                        dst.shutdown(socket.SHUT_WR)
                    else:
                        os.close(dst)
                except OSError:
                    pass
                continue
            if rec and record:
                record.write(data)
                record.flush()
            view = memoryview(data)
            while view:
                try:
                    n = dst.send(view) if isinstance(dst, socket.socket) else os.write(dst, view)
                except OSError:
                    return
                view = view[n:]


def stdio(host, port, record_path=None):
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.settimeout(None)
    record = open(record_path, "ab") if record_path else None
    pump([(0, sock, True), (sock.fileno(), 1, False)], record)


def listen(lhost, lport, host, port, record_path):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((lhost, int(lport)))
    srv.listen(16)
    print("ready", flush=True)

    def serve(client):
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with open(record_path, "ab") as record:
            pump([(client.fileno(), upstream, True), (upstream.fileno(), client, False)], record)
        client.close()
        upstream.close()

    while True:
        client, _ = srv.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "stdio":
        stdio(*sys.argv[2:5])
    elif len(sys.argv) == 7 and sys.argv[1] == "listen":
        listen(*sys.argv[2:7])
    else:
        sys.exit(f"usage: {sys.argv[0]} stdio HOST PORT [RECORD] | "
                 "listen LHOST LPORT HOST PORT RECORD")
