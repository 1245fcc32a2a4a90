#!/usr/bin/env python3
"""bench/client_bench.py OLD_BUILD NEW_BUILD [ROUNDS] -- the clients' share of a big transfer (issue 12 §4).

One cpmd (OLD_BUILD's: the server is not what is measured here) relays one file (BIG_MIB, default
256 MiB, random bytes, 64 KiB chunks) from `cpm send` to `cpm receive` on loopback. In every round,
alternated in the same run on the same file:

  loop       pump -> sink: the same bytes over one TCP connection (bench/tools, the loopback limit)
  old        OLD_BUILD's cpm send -> cpmd -> OLD_BUILD's cpm receive
  new-cold   NEW_BUILD's clients, --no-resume (no hash cache: the file is read and hashed first)
  new        NEW_BUILD's clients, default state directory (the file's sha-1 from the hash cache
             after the first round)

PERF_RECV=FILE, PERF_SEND=FILE: the new receiver / sender runs under `perf record -g -o FILE` (its
CPU then includes perf's).

After each cpm case, the same `cpm send` to a device that answers 603 (`receive --answer decline`):
its wall time is the sender's work before the first MSRP byte (hash + SIP). For each: the wall time of the whole `cpm send` (hash + SIP + MSRP until "delivered"), MB/s of the
file over that time, and the CPU seconds (user+sys, from wait4) of cpm send and cpm receive. The
load average before and after is printed: the machine is shared.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST, DOMAIN = "127.0.0.1", "bench.test"


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def reap(p):
    """wait4 the child: (status, cpu seconds)."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_utime + ru.ru_stime


def main():
    old, new = (os.path.abspath(a) for a in sys.argv[1:3])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    size = int(os.environ.get("BIG_MIB", "256")) * 1048576
    t = tempfile.mkdtemp(prefix="cpm-client-bench.")
    procs = []
    try:
        for tool in ("pump", "sink"):
            subprocess.run(["cc", "-O2", "-o", f"{t}/{tool}", f"{SRC}/bench/tools/{tool}.c"], check=True)
        big = f"{t}/big.bin"
        with open(big, "wb") as f:
            for _ in range(size // 1048576):
                f.write(os.urandom(1048576))
        sha = subprocess.run(["openssl", "dgst", "-sha1", "-r", big], capture_output=True, text=True,
                             check=True).stdout.split()[0]
        time.sleep(2.5)  # the hash cache records only files whose ctime is 2 s old
        sip, msrp = free_port(), free_port()
        log = open(f"{t}/cpmd.log", "w+")
        cpmd = subprocess.Popen([f"{old}/cpmd", "--domain", DOMAIN, "--sip", f"{HOST}:{sip}", "--msrp",
                                 f"{HOST}:{msrp}", "--data-dir", f"{t}/data", "--max-file-size", str(2 * size),
                                 "--log-level", "info"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log)
        procs.append(cpmd)
        if not wait_for(lambda: "cpmd: ready" in open(f"{t}/cpmd.log").read(), 15):
            sys.exit("cpmd did not start")
        print(f"machine: {os.cpu_count()} CPUs, {platform_cpu()}, kernel {os.uname().release}")
        print(f"file: {size // 1048576} MiB, 64 KiB chunks; old={old} new={new}")
        print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")
        n = [0]
        res = {k: [] for k in ("loop", "old", "new-cold", "new")}
        prep = {k: [] for k in ("old", "new-cold", "new")}

        def base(user):
            return ["--server", f"{HOST}:{sip}", "--user", f"sip:{user}@{DOMAIN}", "--transport", "udp"]

        def xfer(kind, build, extra, decline=False):
            n[0] += 1
            user = f"bob{n[0]}"
            d = f"{t}/recv.{user}"
            os.mkdir(d)
            env = dict(os.environ, XDG_STATE_HOME=f"{t}/state.{kind}")
            before = open(f"{t}/cpmd.log").read().count(f"{user}@{DOMAIN}")
            rout = open(f"{t}/recv.{user}.out", "w+")
            # PERF_RECV=FILE: `perf record -g` of the new receiver (the last round's)
            prof = ["perf", "record", "-q", "-F", "1999", "-g", "-o", os.environ["PERF_RECV"]] \
                if os.environ.get("PERF_RECV") and kind == "new" else []
            opts = ["--answer", "decline", "--timeout", "60"] if decline else ["--count", "1", "--timeout", "300"]
            r = subprocess.Popen([*prof, f"{build}/cpm", *base(user), "--device", f"d{user}", "receive", "--dir", d,
                                  *opts], stdin=subprocess.DEVNULL, stdout=rout,
                                 stderr=subprocess.DEVNULL, env=env)
            procs.append(r)
            if not wait_for(lambda: open(f"{t}/cpmd.log").read().count(f"{user}@{DOMAIN}") > before, 15):
                sys.exit(f"receiver {user} did not register")
            time.sleep(0.2)
            t0 = time.monotonic()
            sprof = ["perf", "record", "-q", "-F", "1999", "-g", "-o", os.environ["PERF_SEND"]] \
                if os.environ.get("PERF_SEND") and kind == "new" else []
            s = subprocess.Popen([*sprof, f"{build}/cpm", *base(f"alice{n[0]}"), "send", f"sip:{user}@{DOMAIN}", big,
                                  "--chunk-size", "65536", *extra], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            procs.append(s)
            out = s.stdout.read().decode()
            rc, scpu = reap(s)
            wall = time.monotonic() - t0
            if decline:
                r.terminate()
                reap(r)
                if rc != 3 or not out.rstrip().endswith("declined"):
                    sys.exit(f"{kind} decline: send rc {rc} '{out.strip()[-80:]}'")
                shutil.rmtree(d)
                return wall, scpu, 0.0
            rrc, rcpu = reap(r)
            rout.seek(0)
            got = rout.read()
            if rc != 0 or not out.rstrip().endswith("delivered") or sha not in got or rrc != 0:
                sys.exit(f"{kind}: send rc {rc} '{out.strip()[-80:]}', receive rc {rrc} '{got.strip()[-120:]}'")
            shutil.rmtree(d)
            return wall, scpu, rcpu

        def loop():
            sp = free_port()
            ready = f"{t}/ready"
            if os.path.exists(ready):
                os.unlink(ready)
            k = subprocess.Popen([f"{t}/sink", str(sp), ready], stdout=subprocess.PIPE)
            procs.append(k)
            wait_for(lambda: os.path.exists(ready), 5)
            t0 = time.monotonic()
            p = subprocess.Popen([f"{t}/pump", HOST, str(sp), big], stdout=subprocess.DEVNULL)
            procs.append(p)
            _, pcpu = reap(p)
            wall = time.monotonic() - t0
            out = k.stdout.read().decode()
            _, kcpu = reap(k)
            if out.split()[1] != str(size):
                sys.exit(f"sink: {out}")
            return wall, pcpu, kcpu

        for i in range(rounds):
            order = [("loop", None, None), ("old", old, []), ("new-cold", new, ["--no-resume"]), ("new", new, [])]
            if i % 2:
                order.reverse()
            for kind, build, extra in order:
                r = loop() if kind == "loop" else xfer(kind, build, extra)
                res[kind].append(r)
                print(f"round {i + 1} {kind:8s} wall {r[0]:6.2f} s  {size / r[0] / 1e6:7.1f} MB/s  "
                      f"cpu send {r[1]:5.2f} s  recv {r[2]:5.2f} s", flush=True)
                if kind != "loop":
                    p = xfer(kind, build, extra, decline=True)
                    prep[kind].append(p)
                    print(f"round {i + 1} {kind:8s} to a declining device (hash + SIP): wall {p[0]:5.2f} s  "
                          f"cpu send {p[1]:5.2f} s", flush=True)
        print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")
        print("\nmedian over rounds (MB/s of the file over the sender's whole run; CPU s per GiB):")
        med = {}
        for kind, rs in res.items():
            w = sorted(x[0] for x in rs)[len(rs) // 2] if len(rs) % 2 else sum(sorted(x[0] for x in rs)[len(rs) // 2 - 1:len(rs) // 2 + 1]) / 2
            med[kind] = w
            gib = size / 1073741824
            sc = sorted(x[1] for x in rs)[len(rs) // 2] / gib
            rc = sorted(x[2] for x in rs)[len(rs) // 2] / gib
            print(f"  {kind:8s} {size / w / 1e6:7.1f} MB/s  x{med.get('loop', w) / w:4.2f} of loop  "
                  f"sender {sc:5.2f} CPU s/GiB  receiver {rc:5.2f} CPU s/GiB  (runs: "
                  + " ".join(f"{size / x[0] / 1e6:.0f}" for x in rs) + ")")
        print("\nmedian wall s of `cpm send` to a device that declines (the work before the first MSRP byte):")
        for kind, ps in prep.items():
            w = sorted(x[0] for x in ps)
            print(f"  {kind:8s} {w[len(w) // 2]:5.2f} s  (runs: " + " ".join(f"{x[0]:.2f}" for x in ps) + ")")
    finally:
        for p in procs:
            if p.returncode is None and p.poll() is None:
                p.terminate()
        time.sleep(0.2)
        for p in procs:
            if p.returncode is None and p.poll() is None:
                p.kill()
        shutil.rmtree(t, ignore_errors=True)


def platform_cpu():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip() + (" (sha_ni)" if "sha_ni" in open("/proc/cpuinfo").read() else "")
    return "?"


if __name__ == "__main__":
    main()
