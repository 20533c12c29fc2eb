#!/usr/bin/env python3
# Benchmark: mxclient vs swaks through a 25 ms-per-direction relay in front of the testbed's mx1,
# plus mxclient's cold-cache recursive DNS through a delaying DNS relay. Root, loopback only.
"""Usage (as root, from anywhere; not part of ctest):

    python3 bench/run.py [-n 10] [--delay-ms 25] [--mxclient build/mxclient]
                         [--testbed-dir build/bench-testbed] [--dns-runs 3] [--json OUT]

Starts the loopback testbed (tests/testbed/testbed.py start DIR; stopped again at exit), the
SMTP relay 127.0.27.1:25 -> mx1 127.0.25.1:25 and the DNS relay 127.0.53.9:53 -> nsd
127.0.53.1:53 (bench/relay.py), then:

  SMTP part  N deliveries of the same message to someone@bench.secure.example with
             mxclient (-q, DNS through the testbed's unbound: --resolver 127.0.53.2, so DNS costs
             no relay delay; mxbench has a TLSA record, so each delivery is DANE-verified) and
             N with swaks (--server 127.0.27.1 --tls --pipeline), reporting per delivery the
             relay's round-trip count, wall time, CPU time (user+sys from wait4) and peak RSS.
  DNS part   mxclient in recursive mode with root hints naming 127.0.53.9, then forwarding to
             127.0.53.9 with --resolver (cold cache: a new
             process each run), reporting DNS queries and sequential waves of queries (a query
             starts a new wave when it was sent after an answer that arrived since the current
             wave began), together with its wall time.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTBED = ROOT / "tests" / "testbed" / "testbed.py"
RELAY = HERE / "relay.py"

RCPT = "someone@bench.secure.example"
SENDER = "bench@client.example"
HELO = "client.example"
SMTP_RELAY = "127.0.27.1"
DNS_RELAY = "127.0.53.9"
RESOLVER = "127.0.53.2"


def message():
    """A typical notification mail: a few headers and about 2 KB of text."""
    body = "".join(f"Line {i:03d} of a typical notification message, nothing special here.\r\n"
                   for i in range(30))
    return ("From: Bench <bench@client.example>\r\n"
            "To: Someone <someone@bench.secure.example>\r\n"
            "Subject: benchmark message\r\n"
            "Message-ID: <bench@client.example>\r\n"
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" + body).encode()


class Children:
    """Background processes we started; stopped by pid at exit, never by name."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log):
        p = subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs.clear()


def measured_run(argv, stdin_path, out_path):
    """Runs argv with stdin from a file; returns (exit status, wall s, cpu s, maxrss KiB)."""
    with open(stdin_path, "rb") as fin, open(out_path, "ab") as fout:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    return p.returncode, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def read_jsonl(path, start=0):
    """New JSON lines of path from byte offset start; returns (objects, new offset)."""
    if not path.exists():
        return [], start
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    end = data.rfind(b"\n") + 1
    return [json.loads(x) for x in data[:end].splitlines() if x.strip()], start + end


def wait_for_conn(path, offset, timeout=5.0):
    """The relay writes a connection's line when both directions closed: wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        objs, new = read_jsonl(path, offset)
        if objs or time.monotonic() > deadline:
            return objs, new
        time.sleep(0.02)


def dns_waves(events, listing=None):
    """(queries, sequential waves) from relay events sorted by time; with listing (a list),
    appends (wave, qname, qtype) for every query."""
    queries = waves = 0
    answered_in_wave = True
    for e in sorted(events, key=lambda e: e["t"]):
        if e["ev"] == "q":
            queries += 1
            if answered_in_wave:
                waves += 1
                answered_in_wave = False
            if listing is not None:
                listing.append((waves, e["qname"], e["qtype"]))
        elif e["ev"] == "a":
            answered_in_wave = True
    return queries, waves


def fmt_row(cells, widths):
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10, help="deliveries per client (default 10)")
    ap.add_argument("--delay-ms", type=float, default=25.0, help="per direction (default 25)")
    ap.add_argument("--mxclient", default=str(ROOT / "build" / "mxclient"))
    ap.add_argument("--swaks", default="swaks")
    ap.add_argument("--testbed-dir", default=str(ROOT / "build" / "bench-testbed"))
    ap.add_argument("--dns-runs", type=int, default=3)
    ap.add_argument("--json", help="also write all measurements to this file")
    args = ap.parse_args(argv)

    if os.geteuid() != 0:
        print("bench: must run as root (the testbed binds ports 25 and 53)", file=sys.stderr)
        return 77
    mxclient = Path(args.mxclient).resolve()
    if not os.access(mxclient, os.X_OK):
        print(f"bench: {mxclient} is not executable; build it first "
              f"(cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build)",
              file=sys.stderr)
        return 1

    support = subprocess.run([args.swaks, "--support"], capture_output=True, text=True)
    if "TLS supported" not in support.stdout + support.stderr:
        print("bench: swaks has no TLS support (Debian: apt-get install libnet-ssleay-perl)",
              file=sys.stderr)
        return 1

    tb = Path(args.testbed_dir).resolve()
    work = tb.parent / (tb.name + "-run")
    work.mkdir(parents=True, exist_ok=True)
    children = Children()
    testbed_started = False

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        print(f"bench: starting the testbed in {tb}", flush=True)
        subprocess.run([sys.executable, str(TESTBED), "start", str(tb)], check=True,
                       stdout=subprocess.DEVNULL)
        testbed_started = True
        env = json.loads((tb / "env.json").read_text())
        root_key = env["dns"]["root_key"]

        smtp_log, dns_log = work / "smtp-relay.jsonl", work / "dns-relay.jsonl"
        for f in (smtp_log, dns_log):
            f.unlink(missing_ok=True)
        delay = str(args.delay_ms)
        children.start([sys.executable, str(RELAY), "smtp", "--listen", f"{SMTP_RELAY}:25",
                        "--upstream", "127.0.25.1:25", "--delay-ms", delay, "--log",
                        str(smtp_log)], work / "smtp-relay.out")
        children.start([sys.executable, str(RELAY), "dns", "--listen", f"{DNS_RELAY}:53",
                        "--upstream", "127.0.53.1:53", "--delay-ms", delay, "--log", str(dns_log),
                        "--rewrite-glue", f"127.0.53.1={DNS_RELAY}", "--rewrite-answers"],
                       work / "dns-relay.out")
        time.sleep(0.5)
        for p in children.procs:
            if p.poll() is not None:
                raise SystemExit(f"bench: a relay did not start; see {work}/*-relay.out")

        msg_file = work / "message.eml"
        msg_file.write_bytes(message())
        hints = work / "root.hints"
        # The relay as the only root server; its glue rewriting keeps the recursion on it.
        hints.write_text(f".  3600000 IN NS ns.\nns. 3600000 IN A {DNS_RELAY}\n")
        out = work / "clients.out"
        out.unlink(missing_ok=True)

        mx_argv = [str(mxclient), "-q", "--helo", HELO, "--trust-anchor", root_key,
                   "--resolver", RESOLVER, "-f", SENDER, RCPT]
        sw_argv = [args.swaks, "--server", SMTP_RELAY, "--port", "25", "--tls", "--pipeline",
                   "--helo", HELO, "--from", SENDER, "--to", RCPT, "--data", "-",
                   "--silent", "2"]
        maildir = Path(env["mail_dir"]) / "bench.secure.example" / "someone" / "new"
        before = len(list(maildir.iterdir())) if maildir.is_dir() else 0

        results = {"mxclient": [], "swaks": []}
        offset = 0
        # Warm-up (not reported): first-run page-cache and resolver-cache effects.
        for name, argv_ in (("mxclient", mx_argv), ("swaks", sw_argv)):
            rc, *_ = measured_run(argv_, msg_file, out)
            if rc != 0:
                raise SystemExit(f"bench: warm-up {name} delivery failed ({rc}); see {out}")
            _, offset = wait_for_conn(smtp_log, offset)
        for i in range(args.n):
            for name, argv_ in (("mxclient", mx_argv), ("swaks", sw_argv)):
                rc, wall, cpu, rss = measured_run(argv_, msg_file, out)
                conns, offset = wait_for_conn(smtp_log, offset)
                rts = sum(c["round_trips"] for c in conns)
                results[name].append({"exit": rc, "round_trips": rts, "connections": len(conns),
                                      "wall_ms": wall * 1000, "cpu_ms": cpu * 1000,
                                      "maxrss_kib": rss})
                if rc != 0:
                    print(f"bench: {name} delivery {i + 1} exited {rc}; see {out}",
                          file=sys.stderr)
        time.sleep(1.0)
        after = len(list(maildir.iterdir())) if maildir.is_dir() else 0

        dns_results = {"recursive": [], "forwarding": []}
        dns_offset = read_jsonl(dns_log)[1]
        modes = {"recursive": ["--root-hints", str(hints)],
                 # nsd behind the relay holds every zone, so it answers like a forwarder
                 # whose cache is cold: each run pays for the whole chain of trust.
                 "forwarding": ["--resolver", DNS_RELAY]}
        for mode, i in [(m, i) for m in modes for i in range(args.dns_runs)]:
            dns_argv = [str(mxclient), "-q", "--helo", HELO, "--trust-anchor", root_key,
                        *modes[mode], "-f", SENDER, RCPT]
            rc, wall, cpu, rss = measured_run(dns_argv, msg_file, out)
            conns, offset = wait_for_conn(smtp_log, offset)
            time.sleep(0.2)  # late answers (none expected: the client has exited)
            events, dns_offset = read_jsonl(dns_log, dns_offset)
            listing = []
            q, w = dns_waves(events, listing)
            by_type = {}
            for e in events:
                if e["ev"] == "q":
                    by_type[e["qtype"]] = by_type.get(e["qtype"], 0) + 1
            dns_results[mode].append({"exit": rc, "queries": q, "waves": w, "wall_ms": wall * 1000,
                                "cpu_ms": cpu * 1000, "maxrss_kib": rss,
                                "smtp_round_trips": sum(c["round_trips"] for c in conns),
                                "tcp_queries": sum(1 for e in events
                                                   if e["ev"] == "q" and e["proto"] == "tcp"),
                                "by_type": by_type, "queries_by_wave": listing})

        report(args, results, dns_results, after - before)
        if args.json:
            Path(args.json).write_text(json.dumps({"delay_ms": args.delay_ms, "smtp": results,
                                                   "dns": dns_results}, indent=2) + "\n")
        return 0
    finally:
        children.stop_all()
        if testbed_started or (tb / "pids.json").exists():
            subprocess.run([sys.executable, str(TESTBED), "stop", str(tb)],
                           stdout=subprocess.DEVNULL)


def report(args, results, dns_results, stored):
    d = args.delay_ms
    print(f"\nSMTP: {args.n} deliveries each to {RCPT} through {SMTP_RELAY} "
          f"({d:g} ms each way, so one round trip >= {2 * d:g} ms)")
    print("round trips = server bursts answering client data, i.e. completed waits (TCP "
          "handshake and greeting wait not included: add 2 for a real network)\n")
    widths = [9, 3, 5, 11, 7, 8, 5]
    print(fmt_row(["client", "#", "exit", "round trips", "wall ms", "cpu ms", "RSS MB"], widths))
    for name in ("mxclient", "swaks"):
        for i, r in enumerate(results[name], 1):
            print(fmt_row([name, i, r["exit"], r["round_trips"], f"{r['wall_ms']:.1f}",
                           f"{r['cpu_ms']:.1f}", f"{r['maxrss_kib'] / 1024:.1f}"], widths))
    print()

    def med(name, key):
        return statistics.median(r[key] for r in results[name])

    widths = [12, 10, 10, 16]
    print(fmt_row(["median", "mxclient", "swaks", "mxclient/swaks"], widths))
    for key, label, scale in (("round_trips", "round trips", 1), ("wall_ms", "wall ms", 1),
                              ("cpu_ms", "cpu ms", 1), ("maxrss_kib", "RSS MB", 1 / 1024)):
        m, s = med("mxclient", key), med("swaks", key)
        ratio = f"{m / s:.2f}" if s else "-"
        print(fmt_row([label, f"{m * scale:.1f}", f"{s * scale:.1f}", ratio], widths))
    print(f"\nmessages stored by Postfix for {RCPT} in this run: {stored} "
          f"(expected {2 * args.n + 2} with the 2 warm-up deliveries)")

    titles = {"recursive": f"mxclient --root-hints (root = relay {DNS_RELAY}, {d:g} ms each way; "
                           "QNAME minimisation adds a query per label)",
              "forwarding": f"mxclient --resolver {DNS_RELAY} (a forwarder with a cold cache, "
                            f"{d:g} ms each way)"}
    for mode, rows in dns_results.items():
        print(f"\nDNS: {titles[mode]}, one delivery per run")
        widths = [3, 5, 8, 6, 7, 8, 7, 12]
        print(fmt_row(["run", "exit", "queries", "(tcp)", "waves", "wall ms", "cpu ms",
                       "smtp rtrips"], widths))
        for i, r in enumerate(rows, 1):
            print(fmt_row([i, r["exit"], r["queries"], r["tcp_queries"], r["waves"],
                           f"{r['wall_ms']:.1f}", f"{r['cpu_ms']:.1f}", r["smtp_round_trips"]],
                          widths))
        if rows:
            types = rows[0]["by_type"]
            print("queries by type (run 1): " +
                  ", ".join(f"{k} {v}" for k, v in sorted(types.items())))
            print("queries of run 1 by wave:")
            waves = {}
            for wave, name, qtype in rows[0]["queries_by_wave"]:
                waves.setdefault(wave, []).append(f"{name} {qtype}")
            for wave, qs in waves.items():
                print(f"  {wave:3d}: " + ", ".join(qs))


if __name__ == "__main__":
    sys.exit(main())
