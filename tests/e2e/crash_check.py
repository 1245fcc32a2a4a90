#!/usr/bin/env python3
"""Helper of tests/e2e/t_crash_safety.sh (kill -9 durability test of cpmd).

  crash_check.py kill [condition] --pid PID [--delay-ms D] [--timeout S] [--freeze-pidfile F]...
      Wait for the condition, sleep D ms, then SIGKILL PID (cpmd). Conditions:
        --new-bytes DIR N     a file that was not in DIR at start holds >= N bytes
        --new-full DIR SIZE DIR2   a new file in DIR reached SIZE bytes, or a new
                              file appeared in DIR2 (the blob moved on: fsync/rename)
        --line FILE REGEX     FILE has a line matching REGEX
        --part-bytes DIR N    a hidden *.cpm-part file in DIR grew past N bytes
        --after-ms D          no condition: just D ms after start
      --freeze-pidfile F: SIGSTOP the process whose pid F holds when the condition
      is met (before the kill, so cpmd dies while that peer is stalled
      mid-transfer); SIGCONT after. Prints "armed" once it watches.
      If the condition is never met within --timeout, cpmd is killed anyway
      ("timeout"). --gone-pidfile F: the condition watches the transfer of the
      process whose pid F holds (written once it started); once that process has
      ended (exited, or a zombie not reaped yet) the condition cannot come any
      more: cpmd is killed at once ("missed") instead of at the timeout.
      Prints one line: the outcome and what was on disk at the kill.

  crash_check.py check [--logs DIR] LEDGER DATA_DIR RECV_DIR...
      The final assertions (see t_crash_safety.sh). Exit 1 with FAIL lines.
"""
import hashlib
import os
import re
import signal
import sqlite3
import sys
import time

STATE = {0: "RECEIVING", 1: "STORED", 2: "DELIVERING", 3: "DELIVERED", 4: "EXPIRED",
         5: "DECLINED", 6: "CANCELLED", 7: "FAILED"}


def files(d):
    out = {}
    try:
        with os.scandir(d) as it:
            for e in it:
                try:
                    if e.is_file(follow_symlinks=False):
                        out[e.name] = e.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    pass
    except FileNotFoundError:
        pass
    return out


def ended(pidfile):
    """The process whose pid the file holds has exited or is a zombie (False while the
    file does not hold a pid yet)."""
    try:
        with open(pidfile) as f:
            p = int(f.read().strip())
    except (OSError, ValueError):
        return False
    try:
        with open("/proc/%d/stat" % p) as f:
            st = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return st[st.rindex(")") + 2] in "ZX"


def cmd_kill(argv):
    pid = None
    gone = None
    delay_ms = 0.0
    timeout = 30.0
    cond = None
    freeze = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--pid":
            pid = int(argv[i + 1]); i += 2
        elif a == "--delay-ms":
            delay_ms = float(argv[i + 1]); i += 2
        elif a == "--timeout":
            timeout = float(argv[i + 1]); i += 2
        elif a == "--gone-pidfile":
            gone = argv[i + 1]; i += 2
        elif a == "--freeze-pidfile":
            freeze.append(argv[i + 1]); i += 2
        elif a == "--new-bytes":
            cond = ("new-bytes", argv[i + 1], int(argv[i + 2])); i += 3
        elif a == "--new-full":
            cond = ("new-full", argv[i + 1], int(argv[i + 2]), argv[i + 3]); i += 4
        elif a == "--line":
            cond = ("line", argv[i + 1], re.compile(argv[i + 2])); i += 3
        elif a == "--part-bytes":
            cond = ("part-bytes", argv[i + 1], int(argv[i + 2])); i += 3
        elif a == "--after-ms":
            cond = ("after-ms", float(argv[i + 1])); i += 2
        else:
            print("usage: unknown argument %r" % a, file=sys.stderr)
            return 2
    if pid is None or cond is None:
        print("usage: kill needs --pid and a condition", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    snap = {}
    snap2 = {}
    if cond[0] in ("new-bytes", "new-full", "part-bytes"):
        snap = files(cond[1])
    if cond[0] == "new-full":
        snap2 = files(cond[3])
    fpos = 0
    buf = ""
    print("armed", flush=True)

    def met():
        nonlocal fpos, buf
        k = cond[0]
        if k == "after-ms":
            return (time.monotonic() - t0) * 1000 >= cond[1], ""
        if k == "new-bytes":
            for n, s in files(cond[1]).items():
                if n not in snap and s >= cond[2]:
                    return True, "%s=%d" % (n, s)
            return False, ""
        if k == "new-full":
            for n, s in files(cond[1]).items():
                if n not in snap and s >= cond[2]:
                    return True, "tmp %s full" % n
            for n in files(cond[3]):
                if n not in snap2:
                    return True, "final %s appeared" % n
            return False, ""
        if k == "part-bytes":
            for n, s in files(cond[1]).items():
                if n.startswith(".") and n.endswith(".cpm-part") and s >= cond[2] and s > snap.get(n, -1):
                    return True, "%s=%d" % (n, s)
            return False, ""
        if k == "line":
            try:
                with open(cond[1], "r", errors="replace") as f:
                    f.seek(fpos)
                    chunk = f.read()
                    fpos = f.tell()
            except FileNotFoundError:
                chunk = ""
            buf += chunk
            for line in buf.split("\n"):
                if cond[2].search(line):
                    return True, line.strip()[:80]
            buf = buf.rsplit("\n", 1)[-1]
            return False, ""
        return False, ""

    outcome = "timeout"
    detail = ""
    next_gone = 0.0
    while time.monotonic() - t0 < timeout:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("cpmd-gone")
            return 0
        ok, detail = met()
        if ok:
            outcome = "met"
            break
        if gone and time.monotonic() >= next_gone:
            next_gone = time.monotonic() + 0.01
            if ended(gone):
                # what the process did before it ended is on disk now: look once more
                ok, detail = met()
                outcome = "met" if ok else "missed"
                break
        time.sleep(0.0003)
    frozen = []
    for pf in freeze:
        try:
            with open(pf) as f:
                p = int(f.read().strip())
            os.kill(p, signal.SIGSTOP)
            frozen.append(p)
        except (OSError, ValueError):
            pass
    t_met = time.monotonic()
    if outcome == "met" and delay_ms > 0:
        # busy-ish wait for sub-millisecond accuracy
        end = t_met + delay_ms / 1000.0
        while time.monotonic() < end:
            time.sleep(0.0002)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        print("cpmd-gone")
        return 0
    at = (time.monotonic() - t0) * 1000
    # what was on disk right after the kill
    snapshot = ""
    if cond[0] in ("new-bytes", "new-full", "part-bytes"):
        now = files(cond[1])
        new = {n: s for n, s in now.items() if n not in snap or (cond[0] == "part-bytes" and s != snap[n])}
        snapshot = " dir:" + ",".join("%s=%d" % (n[:12], s) for n, s in sorted(new.items())[:4])
    time.sleep(0.02)
    for p in frozen:
        try:
            os.kill(p, signal.SIGCONT)
        except ProcessLookupError:
            pass
    print("%s at=%.1fms delay=%gms%s %s%s" % (outcome, at, delay_ms, " frozen" if frozen else "", detail, snapshot))
    return 0


def open_ro(db):
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)


def sha1_file(p):
    h = hashlib.sha1()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def item_story(logdir, item):
    """Which cpmd run (log) started a delivery of ITEM and which one finished it."""
    if not logdir or not item:
        return ""
    out = []
    def key(n):
        m = re.match(r"cpmd\.r(\d+)\.(\d+)\.log$", n)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    logs = sorted((n for n in os.listdir(logdir) if re.match(r"cpmd\..*log$", n)), key=key)
    for n in logs:
        acc = fin = 0
        with open(os.path.join(logdir, n), errors="replace") as f:
            for line in f:
                if item in line:
                    if "accepted item" in line or "pulls item" in line:
                        acc += 1
                    elif "delivered (push)" in line or "delivered (pull)" in line:
                        fin += 1
        if acc or fin:
            out.append("%s: %d accepted, %d finished%s" % (n, acc, fin, "" if fin else " (killed before finishing)"))
    return " [" + "; ".join(out) + "]"


def cmd_check(argv):
    logdir = None
    allow_redelivery = False
    while argv and argv[0].startswith("--"):
        if argv[0] == "--logs":
            logdir = argv[1]
            argv = argv[2:]
        elif argv[0] == "--allow-redelivery":
            allow_redelivery = True
            argv = argv[1:]
        else:
            print("check: unknown option %s" % argv[0], file=sys.stderr)
            return 2
    ledger, data, recv_dirs = argv[0], argv[1], argv[2:]
    fails = []
    warns = []
    # ledger: n name size sha1 phase point result item
    rows = []
    with open(ledger) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 7:
                rows.append(p)
    by_sha = {r[3]: r for r in rows}
    if len(by_sha) != len(rows):
        fails.append("ledger: two transfers share one content (test bug)")
    got = {}
    for d in recv_dirs:
        for n, s in files(d).items():
            if n.startswith("."):
                continue  # a kept partial (.NAME.cpm-part, .meta)
            h = sha1_file(os.path.join(d, n))
            got.setdefault(h, []).append((os.path.join(d, n), s))
    acked = [r for r in rows if r[6] in ("stored", "delivered")]
    unacked = [r for r in rows if r[6] not in ("stored", "delivered")]
    n_once = n_unacked_arrived = 0
    for r in rows:
        copies = got.get(r[3], [])
        if r in acked:
            if len(copies) == 0:
                fails.append("transfer %s (%s, %s bytes, phase %s, kill %s): sender was told '%s' but bob never got it"
                             % (r[0], r[1], r[2], r[4], r[5], r[6]))
            elif len(copies) > 1:
                story = item_story(logdir, r[7] if len(r) > 7 else "")
                (warns if allow_redelivery and story.count("accepted") >= 2 else fails).append("transfer %s (%s, %s bytes, phase %s, kill %s, item %s): sender told '%s', bob got it %d"
                             " times: %s%s"
                             % (r[0], r[1], r[2], r[4], r[5], r[7] if len(r) > 7 else "?", r[6], len(copies),
                                " ".join(os.path.basename(c[0]) for c in copies), story))
            else:
                n_once += 1
        else:
            if len(copies) > 1:
                fails.append("transfer %s (%s, %s bytes, phase %s, kill %s): not acknowledged ('%s') but bob got it %d times: %s"
                             % (r[0], r[1], r[2], r[4], r[5], r[6], len(copies),
                                " ".join(os.path.basename(c[0]) for c in copies)))
            elif copies:
                n_unacked_arrived += 1
    for h, copies in got.items():
        if h not in by_sha:
            fails.append("bob holds content sent by nobody (corrupted?): %s"
                         % " ".join("%s(%d bytes)" % (os.path.basename(c[0]), c[1]) for c in copies))
    # the store and the blob directory
    db = os.path.join(data, "cpmd.db")
    con = open_ro(db)
    items = con.execute("SELECT id, state, fname, fsize, bytes_received FROM item").fetchall()
    parts = con.execute("SELECT item_id, fname, bytes FROM partial").fetchall()
    dlvs = con.execute("SELECT item_id, instance, bytes_acked, state FROM delivery").fetchall()
    con.close()
    item_ids = {i[0]: i for i in items}
    part_ids = {p[0] for p in parts}
    acked_items = {r[7] for r in acked if len(r) > 7 and r[7]}
    names_acked = {r[1] for r in acked}
    for i in items:
        if i[1] != 0:
            fails.append("item row left after everything was delivered: %s state %s (%s, %d bytes)"
                         % (i[0], STATE.get(i[1], i[1]), i[2], i[3]))
        elif i[0] in acked_items or i[2] in names_acked:
            fails.append("item row of an acknowledged transfer left: %s RECEIVING (%s)" % (i[0], i[2]))
    for p in parts:
        if p[0] in acked_items or p[1] in names_acked:
            fails.append("partial row of an acknowledged transfer left: %s (%s, %d bytes)" % p)
    for d in dlvs:
        if d[0] not in item_ids:
            fails.append("delivery row of a finished item left: %s device %s (%d bytes acked)" % d[:3])
        else:
            fails.append("delivery row left: %s device %s (%d bytes acked, state %d)" % d)
    blobs = files(os.path.join(data, "blobs"))
    for n in blobs:
        fails.append("orphan blob in blobs/: %s (%d bytes; item %s)"
                     % (n, blobs[n], STATE.get(item_ids[n][1]) if n in item_ids else "none"))
    tmp = files(os.path.join(data, "blobs", "tmp"))
    for n in tmp:
        if n not in item_ids and n not in part_ids:
            fails.append("orphan partial in blobs/tmp/: %s (%d bytes, no item or partial row)" % (n, tmp[n]))
    receiving = [i for i in items if i[1] == 0]
    print("check: %d transfers, %d acknowledged (%d delivered exactly once), %d not acknowledged (%d of them arrived"
          " anyway); store: %d item rows (%d RECEIVING leftovers of killed uploads), %d partial rows, %d delivery"
          " rows; blobs/: %d, blobs/tmp/: %d" % (len(rows), len(acked), n_once, len(unacked), n_unacked_arrived,
                                               len(items), len(receiving), len(parts), len(dlvs), len(blobs),
                                               len(tmp)))
    for w in warns:
        print("WARN (re-delivery after a crash, allowed by --allow-redelivery): " + w)
    for f in fails:
        print("FAIL: " + f)
    return 1 if fails else 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    c, a = sys.argv[1], sys.argv[2:]
    if c == "kill":
        return cmd_kill(a)
    if c == "check":
        return cmd_check(a)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
