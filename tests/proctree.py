"""The descendants of a process, from /proc: for the tests and the
benchmark, which follow a supervisor's tree (the exec'd zygote's command
line does not carry the supervisor's, so pgrep -f cannot).

    python3 tests/proctree.py PID    prints PID and its descendants
"""

import os
import sys


def descendants(root):
    """Every live descendant of ROOT (not ROOT itself)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], list(kids.get(root, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


if __name__ == "__main__":
    root = int(sys.argv[1])
    for pid in [root] + sorted(descendants(root)):
        if os.path.exists("/proc/%d" % pid):
            print(pid)
