"""Run the escape corpus (tests/escape/*.py) against the built binary and
judge every case from outside, by its effects.

Evidence set up before the run and checked after every case:
  canary directory   cases try to create files in it
  /tmp, /dev/shm     host-side canary paths that must not appear
  loopback listener  cases try to connect to it; it counts connections
  secret file        a token the cases try to read; it must not appear in
                     any output
  secret env var     the same token in the supervisor's environment
  sentinel process   cases try to kill it; it must stay alive
  decoy database     cases try to write it; its digest must not change
  decoy file         cases try to change its mode, owner and times; its
                     stat (mode, uid, gid, atime, mtime, ctime) must not
and the supervisor must answer every case with a valid verdict (never
"error") and the exit code of that verdict.

Mode "default": the default policy; each case's verdict must be in its
'# expect:' set, and where the case has a '# reason:' header, the verdict's
error message must contain it (the archive cases: refused for the reason
named, before any loader ran); where it has a '# finding:' header (an
audit event that changes only the candidate's own process, issue 28), an
accepted verdict's warnings must name that event.  '# timeout:' raises the job's limits
(3 s) for a case that needs the long run's budget.  Mode "kernel": the Python layer (static check and audit
hook) switched off; process, network, filesystem and native cases must
still be contained and must not be accepted.

Run inside a private pid namespace (see tests/live/escape.sh), so even a
sandbox failure cannot signal anything outside the test.
"""

import concurrent.futures
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading

EXIT = {"accepted": 0, "rejected": 1, "violation": 3, "timeout": 4, "memory": 5,
        "crash": 6, "error": 7}
KERNEL_CLASSES = {"process", "network", "filesystem", "native", "privilege"}


def parse_header(text):
    meta = {}
    for line in text.splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        meta[key.strip()] = value.strip()
    return meta


class Listener(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.sock.getsockname()[1]))
        self.port = self.sock.getsockname()[1]
        self.hits = 0

    def run(self):
        threading.Thread(target=self._udp, daemon=True).start()
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            c.close()

    def _udp(self):
        while True:
            try:
                self.udp.recvfrom(65536)
            except OSError:
                return
            self.hits += 1


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    aegis, corpus, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    jobs = int(os.environ.get("ESCAPE_JOBS", "2"))
    only = os.environ.get("ESCAPE_ONLY")
    base = tempfile.mkdtemp(prefix="aegis-escape.")
    os.chmod(base, 0o755)
    canary = os.path.join(base, "canary")
    os.mkdir(canary, 0o777)
    os.chmod(canary, 0o777)
    token = "AEGIS-SECRET-" + secrets.token_hex(16)
    secret_file = os.path.join(base, "secret.txt")
    with open(secret_file, "w") as f:
        f.write(token + "\n")
    os.chmod(secret_file, 0o644)  # readable by anyone: only the sandbox stands in the way
    db = os.path.join(base, "pool.db")
    with open(db, "wb") as f:
        f.write(b"SQLite format 3\x00decoy")
    os.chmod(db, 0o666)
    db_sha = sha(db)
    decoy = os.path.join(base, "decoy.txt")
    with open(decoy, "w") as f:
        f.write("decoy\n")
    os.chmod(decoy, 0o644)
    os.utime(decoy, ns=(2_000_000_000 * 10**9, 1_000_000_000 * 10**9))  # atime > mtime: relatime keeps it

    def decoy_stat():
        st = os.lstat(decoy)
        return (oct(st.st_mode), st.st_uid, st.st_gid, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns)
    decoy_before = decoy_stat()
    listener = Listener()
    listener.start()
    sentinel = subprocess.Popen(["sleep", "100000"])
    work = os.path.join(base, "work")
    os.mkdir(work)
    os.chmod(work, 0o1777)
    env = dict(os.environ, AEGIS_TEST_SECRET=token, TMPDIR=work)
    host_canaries = ["/tmp/aegis-escape-canary", "/dev/shm/aegis-escape-canary"]
    for p in host_canaries:
        if os.path.exists(p):
            os.unlink(p)

    cases = sorted(f for f in os.listdir(corpus) if f.endswith(".py"))
    if only:
        cases = [c for c in cases if only in c]
    subst = {"@CANARY@": canary, "@SECRET_FILE@": secret_file, "@PORT@": str(listener.port),
             "@SENTINEL@": str(sentinel.pid), "@DB@": db, "@DECOY@": decoy}
    lock = threading.Lock()
    failures = []
    results = {}

    def run_case(name):
        text = open(os.path.join(corpus, name)).read()
        meta = parse_header(text)
        if mode == "kernel" and (meta["threat"] not in KERNEL_CLASSES
                                 or meta.get("layer") == "python"):
            return None
        if meta.get("include"):
            # shared machinery of several cases (tests/escape/include/),
            # appended: each case still runs as one file
            text += "\n\n" + open(os.path.join(corpus, "include", meta["include"] + ".py")).read()
        for k, v in subst.items():
            text = text.replace(k, v)
        src = os.path.join(base, name)
        with open(src, "w") as f:
            f.write(text)
        os.chmod(src, 0o644)
        args = [aegis, "run", "--json", "--no-train", "--timeout", meta.get("timeout", "3"), "--memory-mb", "512",
                "--input", meta.get("input", "float:2x100"), src]
        if meta["threat"] == "reward":
            args.remove("--no-train")
        if mode == "kernel":
            args += ["--set", "python.audit.enabled=false",
                     "--set", "python.static_check.enabled=false"]
        case_work = os.path.join(work, name[:-3])
        os.mkdir(case_work)
        os.chmod(case_work, 0o1777)
        p = subprocess.run(args, capture_output=True, env=dict(env, TMPDIR=case_work), timeout=120)
        out = p.stdout.decode("utf-8", "replace")
        problems = []
        try:
            r = json.loads(out)
            status = r["status"]
        except (ValueError, KeyError) as e:
            problems.append("no valid verdict (%s): %r" % (e, (out + p.stderr.decode())[-300:]))
            status = None
            r = {}
        if status is not None:
            if status == "error":
                problems.append("internal error: %s" % (r.get("error"),))
            if p.returncode != EXIT.get(status):
                problems.append("exit code %d for status %s" % (p.returncode, status))
            if mode == "default":
                allowed = meta["expect"].split("|")
                if status not in allowed:
                    problems.append("status %s, expected %s (%s)" % (
                        status, meta["expect"], (r.get("error") or {}).get("message", "")[:200]))
                elif meta.get("reason") and meta["reason"] not in (r.get("error") or {}).get("message", ""):
                    problems.append("rejected, but not for the reason %r: %s" % (
                        meta["reason"], (r.get("error") or {}).get("message", "")[:300]))
                elif meta.get("finding") and status == "accepted" and not any(
                        w.get("event") == meta["finding"] for w in r.get("warnings") or []):
                    problems.append("accepted without the finding %r in its warnings" % meta["finding"])
            elif status == "accepted":
                problems.append("accepted with the Python layer off")
        if token in out or token in p.stderr.decode("utf-8", "replace"):
            problems.append("the secret token leaked into the output")
        with lock:
            left = os.listdir(canary)
            if left:
                problems.append("canary files created: %s" % left)
                for f in left:
                    path = os.path.join(canary, f)
                    if os.path.isdir(path):
                        os.rmdir(path)
                    else:
                        os.unlink(path)
            for hp in host_canaries:
                if os.path.exists(hp):
                    problems.append("host canary %s created" % hp)
                    os.unlink(hp)
            if listener.hits:
                problems.append("loopback listener received %d connection(s)" % listener.hits)
                listener.hits = 0
            if sentinel.poll() is not None:
                problems.append("the sentinel process was killed")
            if sha(db) != db_sha:
                problems.append("the decoy database was modified")
            if decoy_stat() != decoy_before:
                problems.append("the decoy file's stat changed: %s -> %s" % (decoy_before, decoy_stat()))
            if os.listdir(case_work):
                problems.append("work directory left behind: %s" % os.listdir(case_work))
            results[name] = status
            if problems:
                failures.append((name, problems))
                print("FAIL - %s [%s]: %s" % (name, meta["threat"], "; ".join(problems)), flush=True)
            else:
                print("ok - %s [%s] -> %s" % (name, meta["threat"], status), flush=True)
        return status

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        list(ex.map(run_case, cases))
    sentinel.kill()
    ran = len(results)
    by_status = {}
    for s in results.values():
        by_status[s] = by_status.get(s, 0) + 1
    print("mode %s: %d cases, verdicts %s" % (mode, ran, json.dumps(by_status, sort_keys=True)))
    print("%d passed, %d failed" % (ran - len(failures), len(failures)))
    subprocess.run(["rm", "-rf", base])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
