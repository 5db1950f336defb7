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
expect "request description has the name, class and parameter count" "$(field 'r[0]["description"].startswith("gen0_seed: class Model with 1674984 parameters")')" True
expect "risk assessment from the checks" "$(field '(r[1]["risk_assessment"]["trainable"], sorted(r[1]["risk_assessment"]["checks_not_passed"].keys()))')" "(True, ['causality', 'low_loss'])"

run_cmd "$AEGIS" pool export 3 --out "$TMP/m.pt" --db "$DB"
expect "export refused before approval" "$RC" 1
expect "export refusal message" "$(cat "$TMP/stderr")" "aegis-sandbox: candidate 3 has not been approved by a person: export refused (see 'aegis-sandbox approvals list')"
expect "nothing written" "$(test -e "$TMP/m.pt" && echo written || echo none)" none
run_cmd "$AEGIS" approvals approve 2 --db "$DB" --reviewer alice --comment "fine"
expect "no approval without a reviewer's key" "$RC $(grep -c "approvals approve: $TMP/config/aegis-sandbox/reviewer.key: No such file or directory" "$TMP/stderr")" "2 1"
reviewer alice
run_cmd "$AEGIS" approvals approve 2 --db "$DB" --reviewer bob --comment "fine"
expect "a key signs under its own name only" "$RC $(head -1 "$TMP/stderr")" "2 aegis-sandbox: --reviewer bob: the key is alice's (a key signs only under its own name)"
run_cmd "$AEGIS" approvals approve 2 --db "$DB" --reviewer alice --comment "fine"
expect "approve" "$RC $(grep -c "^request 2 approved by alice, signed with ed25519:" "$TMP/out")" "0 1"
run_cmd "$AEGIS" approvals approve 2 --db "$DB"
expect "no second decision: a conflict, exit 9" "$RC $(cat "$TMP/stderr")" "9 aegis-sandbox: approval request 2 is already approved; a decision is final"
run_cmd "$AEGIS" approvals approve 77 --db "$DB" --comment x
expect "no such request: exit 8" "$RC $(cat "$TMP/stderr")" "8 aegis-sandbox: there is no approval request 77"
run_cmd "$AEGIS" approvals reject 1 --db "$DB"
expect "reject needs a comment" "$RC" 2
run_cmd "$AEGIS" approvals reject 1 --db "$DB" --comment "too big for the budget"
expect "reject" "$RC" 0
run_cmd "$AEGIS" pool export 1 --out "$TMP/seed.pt" --db "$DB"
expect "no export of a rejected candidate" "$RC" 1
run_cmd "$AEGIS" pool export 3 --out "$TMP/m.pt" --db "$DB"
expect "export after approval" "$RC" 0
run_cmd "$AEGIS" approvals show 2 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "the decision names its signer and the archive it let out" "$(field '(r["state"], r["decisions"][0]["signature"], r["decisions"][0]["signed_by"], r["decisions"][0]["archive_sha256"] == r["artifact_sha256"])')" "('approved', 'signed', 'alice', True)"

# The gate holds against whatever can write the pool, the search loop
# included: on a copy, each forgery it could write is shown as what it is
# and exports nothing.
F=$TMP/f.db
cp "$DB" "$F"
cp -r "$DB-archives" "$F-archives"
for i in 3 4 5 6; do "$AEGIS" approvals request 1 --db "$F" --json >/dev/null; done
sqlite3 "$F" "INSERT INTO approval_decisions (request_id, decision, reviewer, comment) VALUES (3, 'approved', 'alice', 'ok')" 2>"$TMP/sql.err"
expect "an unsigned approval is not even written" "$(grep -c 'an approval must be signed by a reviewer key' "$TMP/sql.err") $(sqlite3 "$F" 'SELECT count(*) FROM approval_decisions WHERE request_id = 3')" "1 0"
sqlite3 "$F" "UPDATE approval_requests SET state = 'approved' WHERE id = 3"
run_cmd "$AEGIS" approvals show 3 --db "$F" --json
cp "$TMP/out" "$TMP/r.json"
expect "a request set to approved by SQL is forged" "$(field '(r["state"], r["recorded_state"], r["decisions"])')" "('forged', 'approved', [])"
run_cmd "$AEGIS" pool export 1 --out "$TMP/f.pt" --db "$F"
expect "and exports nothing" "$RC $(cat "$TMP/stderr") $(test -e "$TMP/f.pt" && echo written || echo none)" "1 aegis-sandbox: candidate 1 has no approval signed by a trusted reviewer over its archive: export refused (request 3 is forged; trusted reviewers from $TMP/reviewers) none"
# the trigger is the loop's to drop: the reader still catches the row
sqlite3 "$F" "DROP TRIGGER approval_decisions_signed; UPDATE approval_requests SET state = 'approved' WHERE id = 4; INSERT INTO approval_decisions (request_id, decision, reviewer, comment) VALUES (4, 'approved', 'alice', 'ok')"
# alice's signature of request 2, copied onto request 5 (a replay)
sqlite3 "$F" "UPDATE approval_requests SET state = 'approved' WHERE id = 5; INSERT INTO approval_decisions (request_id, decision, reviewer, comment, archive_sha256, signed_at, key, signature) SELECT 5, decision, reviewer, comment, archive_sha256, signed_at, key, signature FROM approval_decisions WHERE request_id = 2"
# the loop's own key, which no reviewers file lists
"$AEGIS" approvals keygen --reviewer mallory --key "$TMP/keys/mallory.key" >/dev/null
run_cmd "$AEGIS" approvals approve 6 --db "$F" --key "$TMP/keys/mallory.key" --comment mine
expect "the loop's key signs" "$RC $(grep -c '^note: the reviewers file .* does not list this key' "$TMP/out")" "0 1"
run_cmd "$AEGIS" approvals list --db "$F" --json
cp "$TMP/out" "$TMP/r.json"
expect "every forgery, as what it is" "$(field '[(a["id"], a["state"], [d["signature"] for d in a["decisions"]]) for a in r]')" '[[1, "rejected", ["signed"]], [2, "approved", ["signed"]], [3, "forged", []], [4, "forged", ["unsigned"]], [5, "forged", ["forged"]], [6, "untrusted", ["untrusted"]]]'
run_cmd "$AEGIS" pool list --db "$F" --json
cp "$TMP/out" "$TMP/r.json"
expect "pool list shows candidate 1 forged, the signed one approved" "$(field '[(c["id"], c["approval"]) for c in r]')" '[[1, "forged"], [2, null], [3, "approved"]]'
run_cmd "$AEGIS" pool top --db "$F" --metric parameters --json
cp "$TMP/out" "$TMP/r.json"
expect "pool top too" "$(field '[(c["id"], c["approval"]) for c in r]')" '[[3, "approved"], [1, "forged"]]'
run_cmd "$AEGIS" approvals show 5 --db "$F"
expect "approvals show says forged" "$(grep -c '^    FORGED: the signature does not match this decision' "$TMP/out") $(grep -c '^  the pool records this request as approved; no trusted reviewer signed it: export refuses it' "$TMP/out")" "1 1"
run_cmd "$AEGIS" pool export 1 --out "$TMP/f.pt" --db "$F"
expect "none of them exports" "$RC $(grep -c "request 4 is forged (approved by 'alice': unsigned); request 5 is forged (approved by 'alice': forged); request 6 is untrusted (approved by 'mallory': untrusted)" "$TMP/stderr")" "1 1"
# alice's approval of candidate 3, with other archive bytes behind it
sqlite3 "$F" "UPDATE candidates SET artifact_sha256 = (SELECT artifact_sha256 FROM candidates WHERE id = 1) WHERE id = 3"
run_cmd "$AEGIS" pool export 3 --out "$TMP/f.pt" --db "$F"
expect "a signature over other bytes lets nothing out" "$RC $(grep -c "request 2 is forged (approved by 'alice': forged)" "$TMP/stderr")" "1 1"
# whose signatures count is as safe as the file that says so
cp "$TMP/reviewers" "$TMP/rv-open"
chmod 666 "$TMP/rv-open"
run_cmd "$AEGIS" pool export 3 --out "$TMP/f.pt" --db "$DB" --reviewers "$TMP/rv-open"
expect "a reviewers file others can write is refused" "$RC $(cat "$TMP/stderr")" "2 aegis-sandbox: the reviewers file $TMP/rv-open: must be a regular file that only its owner can write (chmod 644)"
printf '# the reviewers\nbob ed25519:notakey\n' >"$TMP/rv-bad"
run_cmd "$AEGIS" pool list --db "$DB" --reviewers "$TMP/rv-bad"
expect "a malformed reviewers file: FILE:LINE:COL" "$RC $(cat "$TMP/stderr")" "2 aegis-sandbox: $TMP/rv-bad:2:5: expected the reviewer's public key, ed25519:BASE64 (the line 'aegis-sandbox approvals keygen' printed)"
chmod 644 "$TMP/keys/mallory.key"
run_cmd "$AEGIS" approvals reject 1 --db "$F" --key "$TMP/keys/mallory.key" --comment no
expect "a key others can read is refused" "$RC $(grep -c 'a reviewer key must be a regular file only its owner can read' "$TMP/stderr")" "2 1"
run_cmd "$AEGIS" approvals keygen --reviewer alice --key "$TMP/keys/alice.key"
expect "a key is never overwritten" "$RC $(grep -c 'File exists (a key is never overwritten' "$TMP/stderr")" "2 1"
# a key sealed with a passphrase: a loop that can read the file (the same
# account) cannot sign with it; the reviewer, who knows the passphrase, can
printf 'correct horse battery staple\n' >"$TMP/pass"
printf 'wrong\n' >"$TMP/wrong"
run_cmd "$AEGIS" approvals keygen --reviewer carol --key "$TMP/keys/carol.key" --passphrase-file "$TMP/pass"
expect "a sealed key holds no secret in the clear" "$RC $(grep -c '^secret ' "$TMP/keys/carol.key") $(grep -c '^sealed argon2id13' "$TMP/keys/carol.key")" "0 0 1"
cat "$TMP/keys/carol.key.pub" >>"$TMP/reviewers"
"$AEGIS" approvals request 3 --db "$F" --json >/dev/null
R=$(sqlite3 "$F" 'SELECT max(id) FROM approval_requests')
run_cmd setsid "$AEGIS" approvals approve "$R" --db "$F" --key "$TMP/keys/carol.key" --comment mine </dev/null
expect "without its passphrase (and no terminal): refused" "$RC $(head -1 "$TMP/stderr")" "2 aegis-sandbox: approvals approve: $TMP/keys/carol.key: the key is sealed with a passphrase: run this at a terminal, or give --passphrase-file FILE"
run_cmd "$AEGIS" approvals approve "$R" --db "$F" --key "$TMP/keys/carol.key" --passphrase-file "$TMP/wrong" --comment mine
expect "with a wrong one: refused" "$RC $(grep -c 'wrong passphrase' "$TMP/stderr")" "2 1"
run_cmd "$AEGIS" approvals approve "$R" --db "$F" --key "$TMP/keys/carol.key" --passphrase-file "$TMP/pass" --comment "read it"
expect "with it: signed" "$RC $(grep -c "^request $R approved by carol, signed with ed25519:" "$TMP/out")" "0 1"
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
expect "unknown id: exit 8" "$RC $(cat "$TMP/stderr")" "8 aegis-sandbox: there is no candidate 99"
run_cmd "$AEGIS" pool export 99 --out "$TMP/x.pt" --db "$DB"
expect "export of an unknown id: exit 8" "$RC" 8
run_model --db "$DB" --no-train --parent 77 "$EXAMPLES/seed_model.py"
expect "unknown parent: verdict stands, not recorded, exit 7" "$(field 'r["status"]') $RC $(grep -c 'no candidate 77 to be the parent' "$TMP/stderr")" "accepted 7 1"

run_cmd "$AEGIS" approvals request 2 --db "$DB"
expect "no request for a rejected candidate: refused, exit 1" "$RC $(cat "$TMP/stderr")" "1 aegis-sandbox: candidate 2 is rejected: only accepted candidates can be approved"
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
