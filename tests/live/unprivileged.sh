# unprivileged.sh - the same binary as an ordinary user: no cgroup write
# access, so rlimits and the RSS watch; a user namespace for the others.
. "$TOP_SRCDIR/tests/live/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	AS=""
elif id nobody >/dev/null 2>&1 && command -v runuser >/dev/null; then
	AS="runuser -u nobody --"
else
	echo "no unprivileged user to test with"
	exit 77
fi
# The build tree may sit where nobody cannot reach it (CI clones under a
# private home); run a copy of what the test needs from our own directory.
chmod 755 "$TMP"
mkdir -p "$TMP/u/bin"
cp "$AEGIS" "$TMP/u/bin/aegis-sandbox"
cp "$TOP_BUILDDIR/src/aegis-zygote" "$TMP/u/bin/aegis-zygote"
cp -r "$AEGIS_PYHELPERS" "$TMP/u/pyhelpers"
cp -r "$MODELS" "$TMP/u/models"
cp -r "$EXAMPLES" "$TMP/u/examples"
chmod -R a+rX "$TMP/u"
UAEGIS=$TMP/u/bin/aegis-sandbox
UPY=$TMP/u/pyhelpers
MODELS=$TMP/u/models
EXAMPLES=$TMP/u/examples
if ! $AS test -x "$UAEGIS"; then
	echo "nobody cannot reach $TMP; skipping"
	exit 77
fi

urun() {
	$AS env TMPDIR="$TMPDIR" AEGIS_PYHELPERS="$UPY" "$UAEGIS" run --json "$@" >"$TMP/r.json" 2>"$TMP/stderr"
	RC=$?
}

urun --no-train --input tokens:2x20:1000 "$EXAMPLES/seed_model.py"
expect "unprivileged: seed model accepted" "$(field '(r["status"], r["metrics"]["parameters"])')" "('accepted', 1674984)"
expect "unprivileged: user namespace, seccomp, landlock, no cgroup" "$(field '(r["sandbox"]["namespaces"]["user"], r["sandbox"]["seccomp"], r["sandbox"]["landlock_abi"] > 0, r["sandbox"]["cgroup"])')" "(True, True, True, False)"
urun --max-attempts 1 --input tokens:2x20:1000 "$EXAMPLES/seed_broken.py"
expect "unprivileged: broken seed rejected" "$(field '(r["status"], r["error"]["line"])')" "('rejected', 14)"
urun --timeout 2 --input float:2x4 "$MODELS/loop_forever.py"
expect "unprivileged: timeout" "$(field 'r["status"]')" timeout
for m in memory_python memory_torch; do
	urun --memory-mb 256 --input float:2x4 "$MODELS/$m.py"
	expect "unprivileged: $m" "$(field 'r["status"]')" memory
done
urun --input float:2x100 "$MODELS/tamper_isfinite.py"
expect "unprivileged: tampering is a violation" "$(field 'r["status"]')" violation
printf 'import torch\nimport torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(100, 10)\n    def forward(self, x):\n        torch.os.fork()\n        return self.fc(x)\n' >"$TMP/fork.py"
chmod 644 "$TMP/fork.py"
urun --no-train --input float:2x100 --set python.audit.enabled=false "$TMP/fork.py"
expect "unprivileged: fork denied by seccomp" "$(field '(r["status"], r["violations"][0]["syscall"])')" "('violation', 'clone')"
expect "unprivileged: nothing left behind" "$(ls -A "$TMPDIR" | wc -l)" 0
finish
