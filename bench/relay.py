#!/usr/bin/env python3
# Benchmark relays: a delaying TCP relay for SMTP that counts round trips per connection, and a
# delaying DNS relay (UDP and TCP) that logs every query and answer. Loopback only, stdlib only.
"""Userspace latency injection (the kernel has no netem) for bench/run.py.

    relay.py smtp [--listen 127.0.27.1:25] [--upstream 127.0.25.1:25] [--delay-ms 25]
                  [--log FILE]
        Every chunk is forwarded D ms after it was read, in each direction, order kept.
        --trace FILE2 logs every chunk read (direction, size, first bytes) for debugging.
        One JSON line per connection goes to FILE when it closes:
          {"conn": n, "round_trips": r, "c2s_bursts": .., "s2c_bursts": .., "c2s_bytes": ..,
           "s2c_bytes": .., "seconds": ..}
        round_trips counts server-to-client bursts that follow client-to-server data: the times
        the client sent something and waited until the server's answer came (TLS handshake
        flights included). A last client burst that nothing answers (a TLS close_notify) costs
        no wait and is not counted. The TCP handshake (answered by the relay at once) and the
        wait for the greeting are not included: add 2 for the round trips a real network adds.

    relay.py dns [--listen 127.0.53.9:53] [--upstream 127.0.53.1:53] [--delay-ms 25]
                 [--log FILE] [--rewrite-glue FROM=TO]
        One JSON line per query ({"ev": "q", "t": .., "qname": .., "qtype": .., "proto": ..})
        and per answer delivered to the client ({"ev": "a", ...}). --rewrite-glue replaces the
        address FROM by TO in A records of the authority and additional sections (referral glue
        and the priming answer's addresses), so a recursive resolver whose root hints name this
        relay keeps talking through it; answer sections (signed data) are never touched.
"""

import argparse
import asyncio
import ipaddress
import json
import signal
import struct
import sys
import time


def host_port(text, default_port):
    host, _, port = text.rpartition(":")
    if not host:
        return text, default_port
    return host.strip("[]"), int(port)


class JsonLog:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None

    def write(self, obj):
        if self.f:
            self.f.write(json.dumps(obj, separators=(",", ":")) + "\n")


# ---------------------------------------------------------------------------------------------
# Delayed byte pipes


async def delayed_pipe(reader, writer, delay, on_chunk, on_eof):
    """Copies reader to writer, each chunk `delay` seconds after it was read (order kept)."""
    queue = asyncio.Queue()

    async def pump_out():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                try:
                    if writer.can_write_eof():
                        writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            try:
                await writer.drain()
            except OSError:
                return

    out = asyncio.create_task(pump_out())
    try:
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            now = time.monotonic()
            if not data:
                queue.put_nowait((now + delay, None))
                on_eof()
                break
            on_chunk(data, now)
            queue.put_nowait((now + delay, data))
    finally:
        await out


class SmtpRelay:
    def __init__(self, upstream, delay, log, trace):
        self.upstream, self.delay, self.log, self.trace = upstream, delay, log, trace
        self.count = 0

    async def handle(self, c_reader, c_writer):
        self.count += 1
        n = self.count
        t0 = time.monotonic()
        st = {"conn": n, "round_trips": 0, "c2s_bursts": 0, "s2c_bursts": 0, "c2s_bytes": 0,
              "s2c_bytes": 0}
        last = [None]

        def chunk(direction, data, now):
            self.trace.write({"conn": n, "t": round(now - t0, 4), "dir": direction,
                              "bytes": len(data), "head": data[:48].decode("latin-1")})
            st[f"{direction}_bytes"] += len(data)
            if last[0] != direction:
                st[f"{direction}_bursts"] += 1
                if direction == "s2c" and last[0] == "c2s":
                    st["round_trips"] += 1  # the client sent, waited, and an answer came
            last[0] = direction

        try:
            s_reader, s_writer = await asyncio.open_connection(*self.upstream)
        except OSError as e:
            print(f"relay: upstream {self.upstream}: {e}", file=sys.stderr)
            c_writer.close()
            return
        await asyncio.gather(
            delayed_pipe(c_reader, s_writer, self.delay, lambda d, t: chunk("c2s", d, t),
                         lambda: None),
            delayed_pipe(s_reader, c_writer, self.delay, lambda d, t: chunk("s2c", d, t),
                         lambda: None))
        for w in (c_writer, s_writer):
            w.close()
        st["seconds"] = round(time.monotonic() - t0, 4)
        self.log.write(st)


# ---------------------------------------------------------------------------------------------
# DNS


def skip_name(msg, pos):
    """Position after the (possibly compressed) domain name at pos."""
    while True:
        if pos >= len(msg):
            raise ValueError("name runs past the message")
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + n


def read_name(msg, pos):
    labels, hops = [], 0
    while True:
        n = msg[pos]
        if n == 0:
            break
        if n & 0xC0 == 0xC0:
            pos = ((n & 0x3F) << 8) | msg[pos + 1]
            hops += 1
            if hops > 20:
                raise ValueError("compression loop")
            continue
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels) + "."


def question(msg):
    try:
        qd = struct.unpack("!H", msg[4:6])[0]
        if qd < 1:
            return "?", 0
        name = read_name(msg, 12)
        end = skip_name(msg, 12)
        return name, struct.unpack("!H", msg[end:end + 2])[0]
    except (ValueError, IndexError, struct.error):
        return "?", 0


def rewrite_glue(msg, old, new, everywhere):
    """Replaces A rdata old by new in the authority and additional sections (everywhere: in the
    answer section too)."""
    try:
        qd, an, ns, ar = struct.unpack("!4H", msg[4:12])
        out = bytearray(msg)
        pos = 12
        for _ in range(qd):
            pos = skip_name(msg, pos) + 4
        for i in range(an + ns + ar):
            pos = skip_name(msg, pos)
            rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
            pos += 10
            if (everywhere or i >= an) and rtype == 1 and rdlen == 4 and msg[pos:pos + 4] == old:
                out[pos:pos + 4] = new
            pos += rdlen
        return bytes(out)
    except (ValueError, IndexError, struct.error):
        return msg


QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 15: "MX", 16: "TXT", 28: "AAAA", 43: "DS",
          48: "DNSKEY", 52: "TLSA", 64: "SVCB", 65: "HTTPS"}


class DnsRelay:
    def __init__(self, listen, upstream, delay, log, rewrite, everywhere):
        self.listen, self.upstream, self.delay, self.log = listen, upstream, delay, log
        self.rewrite = rewrite  # (old bytes, new bytes) or None
        self.everywhere = everywhere

    def note(self, ev, msg, proto):
        name, qtype = question(msg)
        self.log.write({"ev": ev, "t": round(time.monotonic(), 6), "wall": round(time.time(), 6),
                        "qname": name, "qtype": QTYPES.get(qtype, str(qtype)), "proto": proto,
                        "id": struct.unpack("!H", msg[:2])[0] if len(msg) >= 2 else -1})

    def answer(self, msg):
        return rewrite_glue(msg, *self.rewrite, self.everywhere) if self.rewrite else msg

    async def start(self):
        loop = asyncio.get_running_loop()
        relay = self

        class Listener(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, client):
                relay.note("q", data, "udp")
                loop.call_later(relay.delay, lambda: asyncio.ensure_future(
                    relay.forward_udp(data, client, self.transport)))

        await loop.create_datagram_endpoint(Listener, local_addr=self.listen)
        await asyncio.start_server(self.handle_tcp, *self.listen)

    async def forward_udp(self, data, client, listener):
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        class Upstream(asyncio.DatagramProtocol):
            def datagram_received(self, reply, _addr):
                if not done.done():
                    done.set_result(reply)

        transport, _ = await loop.create_datagram_endpoint(Upstream, remote_addr=self.upstream)
        try:
            transport.sendto(data)
            reply = await asyncio.wait_for(done, 5)
        except asyncio.TimeoutError:
            return
        finally:
            transport.close()
        await asyncio.sleep(self.delay)
        listener.sendto(self.answer(reply), client)
        self.note("a", reply, "udp")

    async def handle_tcp(self, c_reader, c_writer):
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            c_writer.close()
            return

        async def pipe(reader, writer, is_query):
            try:
                while True:
                    head = await reader.readexactly(2)
                    body = await reader.readexactly(struct.unpack("!H", head)[0])
                    if is_query:
                        self.note("q", body, "tcp")
                    await asyncio.sleep(self.delay)
                    if not is_query:
                        body = self.answer(body)
                    writer.write(struct.pack("!H", len(body)) + body)
                    await writer.drain()
                    if not is_query:
                        self.note("a", body, "tcp")
            except (asyncio.IncompleteReadError, OSError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(c_reader, s_writer, True), pipe(s_reader, c_writer, False))


async def main_async(args):
    log = JsonLog(args.log)
    delay = args.delay_ms / 1000.0
    if args.mode == "smtp":
        listen = host_port(args.listen or "127.0.27.1:25", 25)
        upstream = host_port(args.upstream or "127.0.25.1:25", 25)
        relay = SmtpRelay(upstream, delay, log, JsonLog(args.trace))
        srv = await asyncio.start_server(relay.handle, *listen, reuse_address=True)
        print(f"relay: smtp {listen[0]}:{listen[1]} -> {upstream[0]}:{upstream[1]}, "
              f"{args.delay_ms} ms each way", flush=True)
    else:
        listen = host_port(args.listen or "127.0.53.9:53", 53)
        upstream = host_port(args.upstream or "127.0.53.1:53", 53)
        rewrite = None
        if args.rewrite_glue:
            old, new = args.rewrite_glue.split("=")
            rewrite = (ipaddress.IPv4Address(old).packed, ipaddress.IPv4Address(new).packed)
        await DnsRelay(listen, upstream, delay, log, rewrite, args.rewrite_answers).start()
        print(f"relay: dns {listen[0]}:{listen[1]} -> {upstream[0]}:{upstream[1]}, "
              f"{args.delay_ms} ms each way", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["smtp", "dns"])
    ap.add_argument("--listen")
    ap.add_argument("--upstream")
    ap.add_argument("--delay-ms", type=float, default=25.0)
    ap.add_argument("--log", help="JSON lines file (appended)")
    ap.add_argument("--trace", help="smtp mode: one JSON line per chunk read (debugging)")
    ap.add_argument("--rewrite-glue", metavar="FROM=TO", help="dns mode only")
    ap.add_argument("--rewrite-answers", action="store_true",
                    help="with --rewrite-glue, also rewrite answer sections")
    args = ap.parse_args(argv)
    for a in (args.listen, args.upstream):
        if a and not host_port(a, 0)[0].startswith(("127.", "::1")):
            ap.error("loopback addresses only")
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
