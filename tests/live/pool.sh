# pool.sh - recording, lineage, the approval gate, export (issue "Done when").
. "$TOP_SRCDIR/tests/live/lib.sh"
DB=$TMP/pool.db

run_model --db "$DB" --request-approval --no-train --arch-id gen0_seed "$EXAMPLES/seed_model.py"
expect "accepted run recorded" "$(field '(r["status"], r["candidate_id"], r["approval_id"])')" "('accepted', 1, 1)"
run_model --db "$DB" --request-approval --no-train --max-attempts 1 --parent 1 --generation 1 --arch-id gen1_broken --input tokens:2x20:1000 "$EXAMPLES/seed_broken.py"
expect "rejected run recorded too, no approval request" "$(field '(r["status"], r["candidate_id"], "approval_id" in r)')" "('rejected', 2, False)"
run_model --db "$DB" --request-approval --parent 1 --generation 1 --arch-id gen1_mlp --input float:2x100 "$MODELS/legit/prints.py"
expect "third run recorded" "$(field '(r["status"], r["candidate_id"], r["approval_id"])')" "('accepted', 3, 2)"

run_cmd "$AEGIS" pool list --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "three rows in pool list" "$(field '[(c["id"], c["status"], c["generation"], c["parent_id"]) for c in r]')" '[[1, "accepted", 0, null], [2, "rejected", 1, 1], [3, "accepted", 1, 1]]'
run_cmd "$AEGIS" pool list --db "$DB" --json --status accepted --generation 1
cp "$TMP/out" "$TMP/r.json"
expect "list filters" "$(field '[c["id"] for c in r]')" "[3]"
run_cmd "$AEGIS" approvals list --db "$DB" --json --state pending
cp "$TMP/out" "$TMP/r.json"
expect "accepted ones pending approval" "$(field '[(a["candidate_id"], a["state"]) for a in r]')" '[[1, "pending"], [3, "pending"]]'
expect "request description has the parameter count" "$(field 'r[0]["description"].startswith("Model Model with 1674984 parameters")')" True
expect "risk assessment from the checks" "$(field '(r[1]["risk_assessment"]["trainable"], sorted(r[1]["risk_assessment"]["checks_not_passed"].keys()))')" "(True, ['causality', 'low_loss'])"

run_cmd "$AEGIS" pool export 3 --out "$TMP/m.pt" --db "$DB"
expect "export refused before approval" "$RC" 1
expect "export refusal message" "$(cat "$TMP/stderr")" "aegis-sandbox: candidate 3 has not been approved by a person: export refused (see 'aegis-sandbox approvals list')"
expect "nothing written" "$(test -e "$TMP/m.pt" && echo written || echo none)" none
run_cmd "$AEGIS" approvals approve 2 --db "$DB" --reviewer alice --comment "fine"
expect "approve" "$RC" 0
run_cmd "$AEGIS" approvals approve 2 --db "$DB"
expect "no second decision" "$(cat "$TMP/stderr")" "aegis-sandbox: approval request 2 is already approved; a decision is final"
run_cmd "$AEGIS" approvals reject 1 --db "$DB"
expect "reject needs a comment" "$RC" 2
run_cmd "$AEGIS" approvals reject 1 --db "$DB" --comment "too big for the budget"
expect "reject" "$RC" 0
run_cmd "$AEGIS" pool export 1 --out "$TMP/seed.pt" --db "$DB"
expect "no export of a rejected candidate" "$RC" 1
run_cmd "$AEGIS" pool export 3 --out "$TMP/m.pt" --db "$DB"
expect "export after approval" "$RC" 0
"$AEGIS" pool show 3 --db "$DB" --json >"$TMP/r.json"
expect "the pool says what the verifier passed" "$(field '(r["archive"]["verified"], r["archive"]["sha256"] == r["artifact_sha256"], "aten::linear" in r["archive"]["operators"])')" "(True, True, True)"
load_verified "$TMP/m.pt" "$(field 'r["archive"]["sha256"]')" "print(tuple(m(torch.randn(3, 100)).shape))" >"$TMP/shape"
expect "the exported archive loads, as the verifier passed it" "$(cat "$TMP/shape")" "(3, 10)"
expect "pool show names the verifier's word" "$("$AEGIS" pool show 3 --db "$DB" | grep -c "^  archive      verified (aegis-archive/1): sha256 $(field 'r["archive"]["sha256"][:16]')\.\.\., ")" 1
load_verified "$TMP/m.pt" "$(printf '%064d' 0)" "print('loaded')" >"$TMP/shape" 2>&1
expect "bytes that are not the verified ones are not loaded" "$(grep -c "ArchiveMismatch: .*m.pt: its SHA-256 is .*, the verifier passed 0\{64\}: not loaded" "$TMP/shape")" 1
# a record whose verdict does not say the verifier passed these bytes (a
# pool written before the verifier, or a forged row) is not exported
cp "$DB" "$TMP/old.db"
cp -r "$DB-archives" "$TMP/old.db-archives"
sqlite3 "$TMP/old.db" "UPDATE candidates SET result = json_remove(result, '\$.archive') WHERE id = 3"
run_cmd "$AEGIS" pool export 3 --out "$TMP/old.pt" --db "$TMP/old.db"
expect "no export of an archive the verifier did not pass" "$RC $(cat "$TMP/stderr")" "1 aegis-sandbox: candidate 3's archive did not pass the archive verifier (a record from before it, or one whose verdict names other bytes): export refused; run the candidate again to have it verified"
sqlite3 "$TMP/old.db" "UPDATE candidates SET result = json_set(result, '\$.archive', json_object('verified', json('true'), 'sha256', '$(printf '%064d' 0)')) WHERE id = 3"
run_cmd "$AEGIS" pool export 3 --out "$TMP/old.pt" --db "$TMP/old.db"
expect "nor of one whose verified digest names other bytes" "$RC $(test -e "$TMP/old.pt" && echo written || echo none)" "1 none"
run_cmd "$AEGIS" pool export 3 --out "$TMP/m.pt" --db "$DB"
expect "an existing file is not overwritten" "$RC $(cat "$TMP/stderr")" "2 aegis-sandbox: $TMP/m.pt exists: give --force to overwrite it"
run_cmd "$AEGIS" pool export 3 --out "$TMP/m.pt" --db "$DB" --force
expect "--force overwrites" "$RC" 0
"$AEGIS" pool export 3 --out - --db "$DB" >"$TMP/stdout.pt" 2>"$TMP/stderr"
expect "--out - writes the archive to standard output" "$(cmp "$TMP/stdout.pt" "$TMP/m.pt" && echo same)" same
# the archive is a file named by its digest beside the database, not a
# value in the row
sha=$(sha256sum "$TMP/m.pt" | cut -d' ' -f1)
expect "the archive lives in DB-archives/, named by its SHA-256" \
	"$(cmp "$DB-archives/$(echo "$sha" | cut -c1-2)/$sha.pt" "$TMP/m.pt" && echo same)" same
run_cmd "$AEGIS" pool show 3 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "the row names the archive" "$(field '(r["has_artifact"], r["artifact_sha256"], r["artifact_bytes"])')" "(True, '$sha', $(stat -c %s "$TMP/m.pt"))"
expect "no archive bytes in the database" "$(sqlite3 "$DB" 'SELECT count(*) FROM candidates WHERE artifact IS NOT NULL' 2>/dev/null || "$PY" -c "import sqlite3; print(sqlite3.connect('$DB').execute('SELECT count(*) FROM candidates WHERE artifact IS NOT NULL').fetchone()[0])")" 0
# a damaged archive is refused at export, not handed out
cp "$DB-archives/$(echo "$sha" | cut -c1-2)/$sha.pt" "$TMP/keep.pt"
printf 'X' | dd of="$DB-archives/$(echo "$sha" | cut -c1-2)/$sha.pt" bs=1 seek=100 conv=notrunc 2>/dev/null
run_cmd "$AEGIS" pool export 3 --out "$TMP/damaged.pt" --db "$DB"
expect "a damaged archive is refused" "$RC $(grep -c "candidate 3's archive is damaged: its SHA-256 is" "$TMP/stderr") $([ -e "$TMP/damaged.pt" ] && echo written || echo none)" "7 1 none"
cp "$TMP/keep.pt" "$DB-archives/$(echo "$sha" | cut -c1-2)/$sha.pt"

# the terminal view: one screen a person reads, not JSON
run_cmd "$AEGIS" approvals show 1 --db "$DB"
expect "approvals show fits on one screen for the seed model" "$([ "$(wc -l <"$TMP/out")" -le 30 ] && echo fits || wc -l <"$TMP/out")" fits
expect "approvals show: a summary, no raw JSON" "$(grep -c '^verdict     accepted at validate, integrity artifact' "$TMP/out") $(grep -c '[{}]' "$TMP/out")" "1 0"
expect "approvals show: checks counted, the ones not passed named" "$(grep -c '^checks      [0-9]* of [0-9]* passed' "$TMP/out") $(grep -c '^  skipped  causality: ' "$TMP/out")" "1 1"
expect "approvals show: the decision, and no way to decide again" "$(grep -c 'rejected by .*: too big for the budget' "$TMP/out") $(grep -c '^decide:' "$TMP/out")" "1 0"
run_cmd "$AEGIS" approvals list --db "$DB"
expect "approvals list has a header" "$(head -1 "$TMP/out" | tr -s ' ')" " id state candidate requested title"
run_cmd "$AEGIS" approvals show 2 --db "$DB"
expect "approvals show: the diff against the parent, as hunks" "$(grep -c '^changes against the parent, candidate 1:' "$TMP/out") $(grep -c '^  @@ -' "$TMP/out")" "1 1"
expect "approvals show: the loss as a sparkline" "$(grep -c '^  loss curve ' "$TMP/out")" 1
run_cmd "$AEGIS" approvals show 2 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "trail: reviewer and comment" "$(field '[(d["decision"], d["reviewer"], d["comment"]) for d in r["decisions"]]')" '[["approved", "alice", "fine"]]'
expect "diff against the parent" "$(field 'r["diff_against_parent"].splitlines()[:2]')" '["--- candidate-1.py", "+++ candidate-3.py"]'
run_cmd "$AEGIS" pool lineage 3 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "lineage" "$(field '([a["id"] for a in r["ancestors"]], r["candidate"]["id"], r["descendants"])')" "([1], 3, [])"
run_cmd "$AEGIS" pool lineage 1 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "descendants" "$(field '[d["id"] for d in r["descendants"]]')" "[2, 3]"
run_cmd "$AEGIS" pool top --db "$DB" --json --metric parameters --desc --k 1
cp "$TMP/out" "$TMP/r.json"
expect "top by a metric" "$(field '[c["id"] for c in r]')" "[1]"
run_cmd "$AEGIS" pool top --db "$DB" --metric "x') OR 1=1 --"
expect "metric names are checked" "$RC" 2
run_cmd "$AEGIS" pool top --db "$DB" --metric paramters
expect "a metric no candidate has: exit 2, the closest name (issue 30)" "$RC $(head -1 "$TMP/stderr" | cut -c1-103)" \
	"2 aegis-sandbox: metric 'paramters': no accepted candidate has it (did you mean 'parameters'?); they have"
run_cmd "$AEGIS" pool show 3 --db "$DB"
expect "show has a sparkline" "$(grep -c 'loss curve' "$TMP/out")" 1
run_cmd "$AEGIS" pool show 99 --db "$DB"
expect "unknown id" "$(cat "$TMP/stderr")" "aegis-sandbox: there is no candidate 99"
run_model --db "$DB" --no-train --parent 77 "$EXAMPLES/seed_model.py"
expect "unknown parent: verdict stands, not recorded, exit 7" "$(field 'r["status"]') $RC $(grep -c 'no candidate 77 to be the parent' "$TMP/stderr")" "accepted 7 1"

run_cmd "$AEGIS" approvals request 2 --db "$DB"
expect "no request for a rejected candidate" "$(cat "$TMP/stderr")" "aegis-sandbox: candidate 2 is rejected: only accepted candidates can be approved"
run_cmd "$AEGIS" approvals request 3 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "a second request for an accepted candidate" "$(field '(r["id"], r["candidate_id"], r["state"])')" "(3, 3, 'pending')"
run_cmd "$AEGIS" approvals show 3 --db "$DB"
expect "approvals show: how to decide a pending request" "$(grep -c "^decide:  aegis-sandbox approvals approve 3 --db '$DB' --comment" "$TMP/out")" 1

# the database is out of the sandbox's reach: a candidate cannot touch it
printf 'import torch\nimport torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(100, 10)\n    def forward(self, x):\n        fd = torch.os.open("%s", torch.os.O_WRONLY)\n        torch.os.write(fd, b"junk")\n        return self.fc(x)\n' "$DB" >"$TMP/evil.py"
before=$(sha256sum "$DB" | cut -d' ' -f1)
run_model --no-train --db "$DB" --set python.audit.enabled=false --input float:2x100 "$TMP/evil.py"
expect "candidate cannot write the pool" "$(field 'r["status"]')" rejected
run_cmd "$AEGIS" pool list --db "$DB" --json
expect "pool intact and still answering" "$(grep -c '"id"' "$TMP/out")" 4
# gc: twenty more candidates, none approved; their archives go, the rows
# stay, the approved one's archive stays, and the pool is small again
for i in $(seq 1 20); do
	printf '{"id": "c%d", "path": "%s", "train": false, "architecture_id": "many-%d"}\n' "$i" "$EXAMPLES/seed_model.py" "$i"
done >"$TMP/many.jsonl"
"$AEGIS" batch --jobs 2 --db "$DB" "$TMP/many.jsonl" >"$TMP/many.out" 2>"$TMP/stderr"
expect "twenty more candidates recorded" "$(grep -c '"status":"accepted"' "$TMP/many.out")" 20
big=$(du -sk "$DB-archives" | cut -f1)
expect "twenty archives on disk (more than 100 MB)" "$([ "$big" -gt 100000 ] && echo yes || echo "no: ${big} KiB")" yes
run_cmd "$AEGIS" pool gc --db "$DB" --dry-run --json
cp "$TMP/out" "$TMP/r.json"
expect "gc --dry-run counts, changes nothing" "$(field 'r["pruned"]') $(du -sk "$DB-archives" | cut -f1)" "21 $big"
run_cmd "$AEGIS" pool gc --db "$DB"
expect "gc: human summary" "$(head -1 "$TMP/out")" "pruned 21 archive(s) of candidates without an approved or pending request"
# the files pruned just now are inside gc's grace period (a row may be
# being written for them); once they are older, the next gc removes them
find "$DB-archives" -name '*.pt' -exec touch -d '2 hours ago' {} +
run_cmd "$AEGIS" pool gc --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "gc removes the files no row names" "$(field '(r["files_removed"], r["archives_kept"])')" "(21, 1)"
small=$(( $(du -sk "$DB-archives" | cut -f1) + $(du -sk "$DB" | cut -f1) ))
expect "the pool is small after gc (one archive kept)" "$([ "$small" -lt 10000 ] && echo yes || echo "no: ${small} KiB")" yes
run_cmd "$AEGIS" pool export 3 --out "$TMP/after-gc.pt" --db "$DB"
expect "the approved archive still exports" "$(cmp "$TMP/after-gc.pt" "$TMP/m.pt" && echo same)" same
run_cmd "$AEGIS" pool show 5 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "a pruned row keeps its verdict and says when" "$(field '(r["status"], r["has_artifact"], r["artifact_pruned_at"] is not None)')" "('accepted', False, True)"
run_cmd "$AEGIS" pool list --db "$DB" --json
expect "every row still listed" "$(grep -c '"id"' "$TMP/out")" 24

# a read of a database that is not there (a typo) is an error, and
# creates nothing
run_cmd "$AEGIS" pool list --db "$TMP/typo/pool.db"
expect "a missing pool: usage error" "$RC" 2
expect "a missing pool: nothing created" "$([ -e "$TMP/typo" ] && echo made || echo none)" none
run_cmd "$AEGIS" approvals show 1 --db "$TMP/typo.db"
expect "a missing pool for approvals: usage error, nothing created" "$RC $([ -e "$TMP/typo.db" ] && echo made || echo none)" "2 none"
finish
