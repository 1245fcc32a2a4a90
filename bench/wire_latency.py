#!/usr/bin/env python3
"""wire_latency.py: REGISTER -> first delivery request latency on the wire, from a capture of
the device's UDP port (bench/sf_bench.sh part 3, bench/core_bench.sh part 3).

  wire_latency.py PCAP UA_PORT METHOD

Reads the capture with tshark; each REGISTER with a non-zero Expires starts a cycle, the next
METHOD (INVITE or MESSAGE) request ends it; frame timestamps, so both ends are the kernel's
view of the device's socket. Prints one line:
  on the wire (tshark): N pairs, reg->method ms p50 .. p90 .. p99 .. max ..
"""
import subprocess, sys


def pct(lat, q):
    # nearest rank, as sf_ua.py
    return lat[min(len(lat) - 1, max(0, int(round(q / 100.0 * len(lat) + 0.5)) - 1))] if lat else float("nan")


def main():
    pcap, port, method = sys.argv[1], sys.argv[2], sys.argv[3]
    out = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==%s,sip" % port, "-T", "fields", "-E", "separator=,",
                          "-e", "frame.time_epoch", "-e", "sip.Method", "-e", "sip.Expires"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    reg, lat = None, []
    for l in out.splitlines():
        f = l.split(",")
        if len(f) < 3:
            continue
        t, m, e = float(f[0]), f[1], f[2]
        if m == "REGISTER" and e and e != "0":
            reg = t
        elif m == method and reg is not None:
            lat.append((t - reg) * 1000)
            reg = None
    lat.sort()
    print(("on the wire (tshark): %d pairs, reg->" + method.lower() + " ms p50 %.3f p90 %.3f p99 %.3f max %.3f")
          % (len(lat), pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[-1] if lat else float("nan")))


if __name__ == "__main__":
    main()
