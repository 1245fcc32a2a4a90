#!/usr/bin/env python3
"""Writes the man pages of cpmd whose lists come from the binary, so they never drift:
cpmd(8)'s OPTIONS from `cpmd --help`, cpmd.conf(5)'s KEYS from `cpmd --dump-config` (the
same option table, options.c). The rest of each page is man/<page>.in, @OPTIONS@ / @KEYS@ /
@VERSION@ replaced. The hand-written pages (cpm.1, cpmctl.1) are copied as they are.
Usage: gen-man.py CPMD SRC_MAN_DIR OUT_DIR   (OUT_DIR/man1, man5, man8 are created)"""
import os
import re
import shutil
import subprocess
import sys


def esc(text):
    """Plain text to roff: backslashes, and a '.' or "'" that would start a request."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(^|\n)([.'])", r"\1\\&\2", text)
    return text.replace("-", "\\-")


def run(cpmd, *args):
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)  # the defaults as documented, not as this shell has them
    return subprocess.run([cpmd, *args], env=env, check=True, capture_output=True, text=True).stdout


def options(cpmd):
    out = []
    for line in run(cpmd, "--help").splitlines():
        m = re.match(r"^  --([a-z0-9-]+)(?: (\S+))?\s+(.*)$", line)
        if not m:
            continue
        name, arg, text = m.groups()
        head = "\\fB\\-\\-%s\\fR" % esc(name)
        if arg:
            head += " \\fI%s\\fR" % esc(arg)
        out.append(".TP\n%s\n%s" % (head, esc(text)))
    return "\n".join(out)


def keys(cpmd):
    out = []
    comment = None
    for line in run(cpmd, "--dump-config").splitlines():
        m = re.match(r"^# (.+?): (.*) \[SIGHUP: (reloaded|needs a restart)\]$", line)
        if m:
            comment = m.groups()
            continue
        m = re.match(r"^(?:# )?([a-z0-9-]+) =(?: (.*))?$", line)
        if m and comment:
            key, value = m.group(1), (m.group(2) or "")
            arg, text, reload = comment
            value = value[1:-1] if value.startswith('"') and value.endswith('"') else value
            body = esc(text) + "\n.br\n"
            body += "" if value else "Not set by default. "
            body += "SIGHUP: applied." if reload == "reloaded" else "SIGHUP: needs a restart (logged, the old value kept)."
            out.append(".TP\n\\fB%s\\fR = \\fI%s\\fR\n%s" % (esc(key), esc(arg), body))
            comment = None
    return "\n".join(out)


def main():
    cpmd, src, dst = sys.argv[1:4]
    version = run(cpmd, "--version").split(" ", 1)[1].strip()
    gen = {"cpmd.8": options, "cpmd.conf.5": keys}
    for name in sorted(os.listdir(src)):
        base = name[:-3] if name.endswith(".in") else name
        section = base.rsplit(".", 1)[-1]
        if not section.isdigit():
            continue
        os.makedirs(os.path.join(dst, "man" + section), exist_ok=True)
        target = os.path.join(dst, "man" + section, base)
        if not name.endswith(".in"):
            shutil.copyfile(os.path.join(src, name), target)
            continue
        with open(os.path.join(src, name)) as f:
            text = f.read()
        text = text.replace("@VERSION@", esc(version))
        text = text.replace("@OPTIONS@", gen[base](cpmd)).replace("@KEYS@", gen[base](cpmd))
        with open(target + ".tmp", "w") as f:
            f.write(text)
        os.replace(target + ".tmp", target)


if __name__ == "__main__":
    main()
