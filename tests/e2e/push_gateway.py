#!/usr/bin/env python3
"""A push gateway for the tests (docs/internals/push.md): records every POST's path and JSON
body as one line of argv[2] ("PATH BODY"), answers 500 to the first --fail-first POSTs, then
204. Listens on 127.0.0.1:argv[1]; writes "listening" to argv[2] first."""
import argparse
import http.server
import json

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("out")
ap.add_argument("--fail-first", type=int, default=0)
args = ap.parse_args()
seen = 0


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        try:
            json.loads(body)
            ok = self.headers.get("Content-Type", "") == "application/json"
        except ValueError:
            ok = False
        seen += 1
        code = 500 if seen <= args.fail_first else 204
        with open(args.out, "a") as f:
            f.write("%s %s %d %s\n" % (self.path, "json" if ok else "NOT-JSON", code, body))
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", args.port), H)
with open(args.out, "a") as f:
    f.write("listening\n")
srv.serve_forever()
