# pgpool.sh - the pool on PostgreSQL (a server of the test's own, on a
# private socket): the same records, lineage, approval trail, export,
# gc and report as on SQLite (pool.sh, report.sh).
. "$TOP_SRCDIR/tests/live/lib.sh"
if [ "${AEGIS_SUITE:-}" = torch2 ]; then
	echo "SKIP: the store, queue and review site do not depend on torch (the system suite runs this)"
	exit 77
fi
. "$TOP_SRCDIR/tests/live/pglib.sh"
if ! pg_available; then
	expect "postgresql is installed (quickstart.sh installs it)" no yes
	finish
	exit
fi
pg_start || { expect "postgresql: the test server starts" no yes; finish; exit; }
DB=$(pg_newdb pool)

run_model --db "$DB" --request-approval --no-train --arch-id gen0_seed "$EXAMPLES/seed_model.py"
expect "a run recorded on postgresql" "$(field '(r["status"], r["candidate_id"], r["approval_id"])')" "('accepted', 1, 1)"
run_model --db "$DB" --request-approval --parent 1 --generation 1 --arch-id gen1_mlp --input float:2x100 "$MODELS/legit/prints.py"
expect "a child recorded" "$(field '(r["status"], r["candidate_id"], r["approval_id"])')" "('accepted', 2, 2)"
run_model --db "$DB" --parent 77 --no-train "$EXAMPLES/seed_model.py"
expect "an unknown parent: not recorded, exit 7" "$RC $(grep -c 'no candidate 77 to be the parent' "$TMP/stderr")" "7 1"
run_cmd "$AEGIS" pool list --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "pool list" "$(field '[(c["id"], c["status"], c["parent_id"], c["torch"] is not None) for c in r]')" '[[1, "accepted", null, true], [2, "accepted", 1, true]]'
run_cmd "$AEGIS" pool lineage 2 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "lineage" "$(field '([a["id"] for a in r["ancestors"]], r["candidate"]["id"])')" "([1], 2)"
run_cmd "$AEGIS" pool annotate 2 --db "$DB" --metrics '{"accuracy": 0.75}'
run_cmd "$AEGIS" pool annotate 2 --db "$DB" --metrics '{"speed": 3}'
run_cmd "$AEGIS" pool top --db "$DB" --metric accuracy --desc --json
cp "$TMP/out" "$TMP/r.json"
expect "annotate merges, top ranks by the caller's metric" "$(field '[(c["id"], c["value"], sorted(c["user_metrics"].items())) for c in r]')" '[[2, 0.75, [["accuracy", 0.75], ["speed", 3]]]]'
run_cmd "$AEGIS" pool top --db "$DB" --metric "x') OR 1=1 --"
expect "metric names are checked" "$RC" 2

run_cmd "$AEGIS" pool export 2 --out "$TMP/m.pt" --db "$DB"
expect "export refused before approval" "$RC" 1
reviewer alice
run_cmd "$AEGIS" approvals approve 2 --db "$DB" --reviewer alice --comment fine
expect "approve" "$RC" 0
run_cmd "$AEGIS" approvals reject 2 --db "$DB" --comment "changed my mind"
expect "a decision is final: a conflict, exit 9" "$RC $(cat "$TMP/stderr")" "9 aegis-sandbox: approval request 2 is already approved; a decision is final"
run_cmd "$AEGIS" approvals reject 1 --db "$DB" --comment "too big"
run_cmd "$AEGIS" pool export 2 --out "$TMP/m.pt" --db "$DB"
expect "export after approval" "$RC" 0
"$AEGIS" pool show 2 --db "$DB" --json >"$TMP/r.json"
load_verified "$TMP/m.pt" "$(field 'r["archive"]["sha256"]')" "print(tuple(m(torch.randn(3, 100)).shape))" >"$TMP/shape"
expect "the exported archive loads, as the verifier passed it" "$(cat "$TMP/shape")" "(3, 10)"
expect "the archive is a row of the archives table, named by its digest" \
	"$(pg_psql -d pool -c "SELECT count(*) FROM archives WHERE sha256 = '$(sha256sum "$TMP/m.pt" | cut -d' ' -f1)'")" 1
# the trail is append-only, even behind the program's back
pg_psql -d pool -c "UPDATE approval_decisions SET decision = 'rejected'" >/dev/null 2>"$TMP/psql.err"
expect "decisions cannot be changed" "$(grep -c 'append-only' "$TMP/psql.err")" 1
pg_psql -d pool -c "DELETE FROM approval_decisions" >/dev/null 2>"$TMP/psql.err"
expect "decisions cannot be deleted" "$(grep -c 'append-only' "$TMP/psql.err")" 1
pg_psql -d pool -c "UPDATE approval_requests SET state = 'rejected' WHERE id = 2" >/dev/null 2>"$TMP/psql.err"
expect "a decided request stays decided" "$(grep -c 'already decided' "$TMP/psql.err")" 1
pg_psql -d pool -c "INSERT INTO approval_decisions (request_id, decision, reviewer, comment) VALUES (1, 'approved', 'alice', 'x')" >/dev/null 2>"$TMP/psql.err"
expect "an unsigned approval is not even written" "$(grep -c 'approval_decisions_signed' "$TMP/psql.err")" 1

# The gate's database roles: the pool's owner (aegis) gives the search
# loop a submitter role and the reviewer a role that can decide.  The
# loop records, requests and exports; it cannot decide, not even by SQL;
# a decision it writes as the owner would is still caught by the reader.
pg_psql -d postgres -c "CREATE ROLE loop LOGIN; CREATE ROLE alice_db LOGIN" >/dev/null
GDB=$(pg_newdb gated)
LOOP=$(echo "$GDB" | sed 's/user=aegis/user=loop/')
ALICE=$(echo "$GDB" | sed 's/user=aegis/user=alice_db/')
run_cmd "$AEGIS" pool list --db "$GDB"
run_cmd "$AEGIS" pool grant --db "$GDB" --submitter loop --reviewer alice_db
expect "pool grant" "$RC $(cat "$TMP/out")" "0 loop may queue, record and request; alice_db may also decide; neither may change a decision"
run_model --db "$LOOP" --request-approval --no-train "$EXAMPLES/seed_model.py"
expect "the loop records and requests" "$RC $(field '(r["status"], r["candidate_id"], r["approval_id"])')" "0 ('accepted', 1, 1)"
"$AEGIS" approvals keygen --reviewer loop --key "$TMP/keys/loop.key" >/dev/null
run_cmd "$AEGIS" approvals approve 1 --db "$LOOP" --key "$TMP/keys/loop.key" --comment mine
expect "the loop cannot decide: refused, exit 1" "$RC $(grep -c 'permission denied for table approval_requests' "$TMP/stderr")" "1 1"
"$PGBIN/psql" -h "$PGSOCK" -U loop -d gated -X -q -c "INSERT INTO approval_decisions (request_id, decision, reviewer, comment, key, signature) VALUES (1, 'approved', 'alice', 'x', 'k', 's')" >/dev/null 2>"$TMP/psql.err"
expect "nor write a decision by SQL" "$(grep -c 'permission denied for table approval_decisions' "$TMP/psql.err")" 1
"$PGBIN/psql" -h "$PGSOCK" -U loop -d gated -X -q -c "UPDATE approval_requests SET state = 'approved'" >/dev/null 2>"$TMP/psql.err"
expect "nor move a request" "$(grep -c 'permission denied for table approval_requests' "$TMP/psql.err")" 1
run_cmd "$AEGIS" pool export 1 --out "$TMP/g.pt" --db "$LOOP"
expect "nothing exports" "$RC $(grep -c 'has not been approved by a person' "$TMP/stderr")" "1 1"
run_cmd "$AEGIS" approvals approve 1 --db "$ALICE" --comment "read it"
expect "the reviewer decides, signed" "$RC $(grep -c '^request 1 approved by alice, signed with ed25519:' "$TMP/out")" "0 1"
run_cmd "$AEGIS" pool export 1 --out "$TMP/g.pt" --db "$LOOP"
expect "the signed approval exports, for the loop too" "$RC" 0
# the owner (not the loop) could still write a row; the reader says what it is
run_model --db "$GDB" --request-approval --no-train "$EXAMPLES/seed_model.py"
pg_psql -d gated -c "INSERT INTO approval_decisions (request_id, decision, reviewer, comment, archive_sha256, signed_at, key, signature) SELECT 2, decision, reviewer, comment, archive_sha256, signed_at, key, signature FROM approval_decisions WHERE request_id = 1; UPDATE approval_requests SET state = 'approved' WHERE id = 2" >/dev/null
run_cmd "$AEGIS" approvals list --db "$LOOP" --json
cp "$TMP/out" "$TMP/r.json"
expect "a replayed signature is shown forged on postgresql" "$(field '[(a["id"], a["state"], [d["signature"] for d in a["decisions"]]) for a in r]')" '[[1, "approved", ["signed"]], [2, "forged", ["forged"]]]'
run_cmd "$AEGIS" pool export 2 --out "$TMP/g2.pt" --db "$LOOP"
expect "and exports nothing" "$RC $(grep -c 'no approval signed by a trusted reviewer' "$TMP/stderr")" "1 1"
# a damaged archive is refused
pg_psql -d pool -c "UPDATE archives SET data = overlay(data placing 'X'::bytea from 100)" >/dev/null
run_cmd "$AEGIS" pool export 2 --out "$TMP/bad.pt" --db "$DB"
expect "a damaged archive is refused" "$RC $(grep -c "archive is damaged" "$TMP/stderr")" "7 1"
run_cmd "$AEGIS" approvals show 2 --db "$DB"
expect "approvals show" "$(grep -c '^verdict     accepted at validate' "$TMP/out") $(grep -c 'approved by alice: fine' "$TMP/out")" "1 1"
run_cmd "$AEGIS" pool report --html "$TMP/site" --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "report from postgresql" "$(field '(r["candidates"], r["approvals"])') $(grep -c 'Against the parent' "$TMP/site/c/2.html")" "(2, 2) 1"
# gc: candidate 1's request was rejected: its archive goes
run_cmd "$AEGIS" pool gc --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "gc prunes the unapproved archive, keeps the approved one" "$(field '(r["pruned"], r["files_removed"], r["archives_kept"])')" "(1, 1, 1)"
run_cmd "$AEGIS" pool show 1 --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "the pruned row stays" "$(field '(r["status"], r["has_artifact"], r["artifact_pruned_at"] is not None)')" "('accepted', False, True)"
# the Python client on a PostgreSQL pool: the model comes back (there is
# no archive file beside a server), the row is there
AEGIS_SANDBOX=$AEGIS "$PY" - "$DB" "$TOP_SRCDIR" >"$TMP/client.out" 2>&1 <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[2] + "/pyhelpers")
import torch
from aegis_sandbox import SafeCodeExecutor, CodePool
ex = SafeCodeExecutor(db=sys.argv[1])
r = ex.execute_model_code(open(sys.argv[2] + "/doc/examples/seed_model.py").read(), "tokens:2x20:1000", "from-client")
print(r.success, r.candidate_id, tuple(r.model(torch.randint(0, 1000, (3, 20))).shape))
print("from-client" in [c["architecture_id"] for c in CodePool(sys.argv[1]).get_top_k(k=10, metric="parameters")])
ex.close()
PYEOF
expect "the Python client on postgresql" "$(cat "$TMP/client.out")" "True 3 (3, 1000)
True"
# a URL with no server behind it: an error, said once
run_cmd "$AEGIS" pool list --db "postgresql:///nosuch?host=$TMP/nosock&user=aegis"
expect "no server: exit 7, one line" "$RC $(grep -c . "$TMP/stderr") $(grep -c 'cannot connect' "$TMP/stderr")" "7 1 1"
# a password in the URL is not printed
run_cmd "$AEGIS" pool list --db "postgresql://aegis:s3cret@/nosuch?host=$TMP/nosock"
expect "the password is not shown" "$(grep -c s3cret "$TMP/stderr")" 0
finish
