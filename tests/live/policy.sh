# policy.sh - policy files through the binary.
. "$TOP_SRCDIR/tests/live/lib.sh"

for f in default strict research; do
	run_cmd "$AEGIS" policy check "$TOP_SRCDIR/policies/$f.yaml"
	expect "policies/$f.yaml is valid" "$RC" 0
	"$AEGIS" policy show "$TOP_SRCDIR/policies/$f.yaml" >"$TMP/shown.yaml"
	run_cmd "$AEGIS" policy check "$TMP/shown.yaml"
	expect "policy show of $f.yaml is accepted again" "$RC" 0
done
printf 'version: 1\nlimits:\n  memory_mb: lots\n' >"$TMP/bad.yaml"
run_cmd "$AEGIS" policy check "$TMP/bad.yaml"
expect "malformed policy exits 2" "$RC" 2
expect "malformed policy message" "$(cat "$TMP/stderr")" "$TMP/bad.yaml:3:14: key 'limits.memory_mb': expected an integer, got 'lots'"
run_cmd "$AEGIS" run --policy "$TMP/bad.yaml" "$EXAMPLES/seed_model.py"
expect "run with a malformed policy exits 2" "$RC" 2
expect "run with a malformed policy names the place" "$(head -1 "$TMP/stderr")" "$TMP/bad.yaml:3:14: key 'limits.memory_mb': expected an integer, got 'lots'"
# the strict policy really is stricter: numpy is not importable there
printf 'import numpy\nimport torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 2)\n    def forward(self, x):\n        return self.fc(x)\n' >"$TMP/np.py"
run_cmd "$AEGIS" check --policy "$TOP_SRCDIR/policies/strict.yaml" "$TMP/np.py"
expect "strict policy refuses numpy" "$RC" 3
run_cmd "$AEGIS" check --policy "$TOP_SRCDIR/policies/research.yaml" "$TMP/np.py"
expect "research policy allows numpy" "$RC" 0
# the key reference in aegis-sandbox-policy(5) is the schema's own text
"$AEGIS" policy reference >"$TMP/ref"
sed -n '/^\.SH KEYS$/,/^\.SH FILES$/p' "$TOP_SRCDIR/doc/aegis-sandbox-policy.5" | sed '1d;$d' >"$TMP/man-keys"
expect "man page holds the current key reference" "$(cmp -s "$TMP/ref" "$TMP/man-keys" && echo same)" same
"$AEGIS" policy show --commented >"$TMP/commented.yaml"
expect "policies/default.yaml is the commented defaults" "$(cmp -s "$TMP/commented.yaml" "$TOP_SRCDIR/policies/default.yaml" && echo same)" same
finish
