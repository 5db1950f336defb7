# confinement.sh - the layers are really applied, and denials are named.
. "$TOP_SRCDIR/tests/live/lib.sh"

run_model --no-train --input float:2x100 "$MODELS/mlp.py"
expect "seccomp applied" "$(field 'r["sandbox"]["seccomp"]')" True
expect "landlock applied at the kernel's ABI" "$(field 'r["sandbox"]["landlock_abi"] >= 1')" True
expect "no_new_privs" "$(field 'r["sandbox"]["no_new_privs"]')" True
expect "net, ipc, mount namespaces" "$(field '[k for k, v in r["sandbox"]["namespaces"].items() if v and k != "user"]')" '["net", "ipc", "mount"]'

# a denied syscall is named in the verdict (the Python layer off, so the
# kernel is what stops it)
printf 'import torch\nimport torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(100, 10)\n    def forward(self, x):\n        torch.distributed.TCPStore("127.0.0.1", 1, 2, False)\n        return self.fc(x)\n' >"$TMP/sock.py"
run_model --no-train --input float:2x100 --set python.audit.enabled=false "$TMP/sock.py"
expect "socket() denied by name" "$(field '(r["status"], r["violations"][0]["rule"], r["violations"][0]["syscall"])')" "('violation', 'seccomp', 'socket')"
# an audit event is named with its arguments and line
printf 'import torch\nimport torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(100, 10)\n    def forward(self, x):\n        torch.os.system("true")\n        return self.fc(x)\n' >"$TMP/sys.py"
run_model --no-train --input float:2x100 "$TMP/sys.py"
expect "audit event denied by name" "$(field '(r["violations"][0]["rule"], r["violations"][0]["event"], r["violations"][0]["args"], r["violations"][0]["line"])')" "('audit', 'os.system', \"(b'true',)\", 8)"

# the filter itself: architecture check, clone3 -> ENOSYS, clone threads-only
"$AEGIS" policy seccomp >"$TMP/filter.pfc"
expect "filter kills foreign architectures" "$(grep -c 'action KILL_PROCESS' "$TMP/filter.pfc" | sed 's/^[1-9][0-9]*$/yes/')" yes
expect "clone3 answers ENOSYS" "$(grep -A2 'syscall "clone3"' "$TMP/filter.pfc" | grep -c 'ERRNO(38)')" 1
expect "no execve in the allowlist" "$(grep -c 'syscall "execve"' "$TMP/filter.pfc")" 0

# environment: nothing of the supervisor's reaches the job
printf 'import torch\nimport torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(100, 10)\n        print(sorted(torch.os.environ))\n    def forward(self, x):\n        return self.fc(x)\n' >"$TMP/env.py"
AEGIS_SECRET_TOKEN=hunter2 "$AEGIS" run --json --no-train --input float:2x100 "$TMP/env.py" >"$TMP/r.json"
expect "only the policy's environment" "$(field 'r["stdout"].strip()')" "['LANG', 'MKL_NUM_THREADS', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'PYTHONHASHSEED']"
expect "secret not in any output" "$(grep -c hunter2 "$TMP/r.json")" 0
finish
