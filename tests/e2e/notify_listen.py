#!/usr/bin/env python3
"""A stand-in for systemd's notify socket (sd_notify(3)): binds a unix datagram socket at
argv[1] and writes each message it receives to argv[2] as one line (fields joined by '|'),
prefixed with what a connect to each TCP port of argv[3:] ("HOST:PORT") gave at that moment
("listening" or "refused"), so a test can tell READY=1 came after the listeners were up."""
import socket
import sys

path, out, ports = sys.argv[1], sys.argv[2], sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    f.write("bound\n")
    while True:
        msg = s.recv(4096).decode("utf-8", "replace")
        seen = []
        for hp in ports:
            host, port = hp.rsplit(":", 1)
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(1)
            try:
                c.connect((host, int(port)))
                seen.append(hp + "=listening")
            except OSError:
                seen.append(hp + "=refused")
            finally:
                c.close()
        f.write(" ".join(seen) + " " + "|".join(msg.strip().split("\n")) + "\n")
