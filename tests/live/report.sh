# report.sh - "pool report --html": a static site a reviewer can use
# without reading JSON; every candidate- and caller-controlled string is
# text, never markup, in a real browser (Chromium, headless).
. "$TOP_SRCDIR/tests/live/lib.sh"
if [ "${AEGIS_SUITE:-}" = torch2 ]; then
	echo "SKIP: the store, queue and review site do not depend on torch (the system suite runs this)"
	exit 77
fi
DB=$TMP/pool.db
SITE=$TMP/site

run_model --db "$DB" --request-approval --arch-id gen0_seed "$EXAMPLES/seed_model.py"
run_model --db "$DB" --request-approval --parent 1 --generation 1 --max-attempts 3 --arch-id gen1_fixed --input tokens:2x20:1000 "$EXAMPLES/seed_broken.py"
expect "a fixed candidate for the report" "$(field '(r["status"], r["fixes_applied"])')" "('accepted', 1)"
run_model --db "$DB" --parent 1 --generation 1 --arch-id 'gen1_<script>document.body.setAttribute("data-pwned","1")</script>' --input float:2x100 "$MODELS/nan_output.py"
cat >"$TMP/hostile.py" <<'PYEOF'
# <script>document.body.setAttribute("data-pwned","2")</script> "><img src=x onerror="document.body.setAttribute('data-pwned','3')">
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        print("</pre><script>document.body.setAttribute('data-pwned','4')</script>\x1b[2J")
        return self.fc(x)
PYEOF
run_model --db "$DB" --parent 2 --generation 2 --arch-id "x'\"><svg onload=\"document.body.setAttribute('data-pwned','5')\">" --input float:2x100 "$TMP/hostile.py"
expect "the hostile candidate is accepted (its strings are only text)" "$(field 'r["status"]')" accepted
run_cmd "$AEGIS" pool annotate 4 --db "$DB" --metrics '{"accuracy": 0.91, "<b onmouseover=x>k</b>": "<i>v</i>"}'
run_cmd "$AEGIS" approvals request 4 --db "$DB" --title '<script>document.body.setAttribute("data-pwned","6")</script>' --description 'desc </p><script>document.body.setAttribute("data-pwned","7")</script>' --risk '{"level": "<img src=x onerror=\"document.body.setAttribute(&quot;data-pwned&quot;,&quot;8&quot;)\">"}'
expect "hostile approval request opened" "$RC" 0
reviewer alice
run_cmd "$AEGIS" approvals approve 1 --db "$DB" --reviewer alice --comment 'looks <b>fine</b>'
# the search loop writes an approval of its own, behind the program's back
sqlite3 "$DB" "UPDATE approval_requests SET state = 'approved' WHERE id = 2"

run_cmd "$AEGIS" pool report --html "$SITE" --db "$DB" --json
cp "$TMP/out" "$TMP/r.json"
expect "report: pages for every candidate and request" "$(field '(r["candidates"], r["approvals"])')" "(4, 3)"
expect "report: the pages are there" "$(cd "$SITE" && ls index.html index-accepted.html approvals.html lineage.html c/1.html c/4.html a/1.html a/3.html 2>&1 | wc -l)" 8
# the only script element on a page is ours
bad=0
for f in "$SITE"/*.html "$SITE"/c/*.html "$SITE"/a/*.html; do
	n=$(grep -o '<script' "$f" | wc -l)
	# ours: the sorter; the index's filters; compare's data block and drawer
	want=1
	case "$f" in */index*.html) want=2 ;; */compare.html) want=3 ;; esac
	[ "$n" -eq "$want" ] || { echo "    $f: $n script elements"; bad=1; }
	grep -q -E '<img|<svg onload|<b onmouseover|<i>' "$f" && { echo "    $f: raw markup"; bad=1; }
done
expect "report: no candidate string became markup" "$bad" 0
expect "report: hostile strings are shown as text" "$(grep -c '&lt;script&gt;document.body.setAttribute' "$SITE/index.html")" 1
expect "report: the rejected candidate's error" "$(grep -c 'NonFiniteOutput' "$SITE/c/3.html")" 1
expect "report: the debug loop's fix as a diff" "$(grep -c '<span class=add>+        self.embed = nn.Embedding(1000, 512)</span>' "$SITE/c/2.html")" 1
expect "report: the diff against the parent" "$(grep -c 'Against the parent, <a href="1.html">#1</a>' "$SITE/c/2.html")" 1
expect "report: the loss curve over the parent's" "$(grep -c 'stroke-dasharray' "$SITE/c/2.html")" 1
expect "report: the sandbox layers" "$(grep -c 'seccomp filter: on' "$SITE/c/1.html")" 1
expect "report: the commands that decide a pending request" "$(grep -c "aegis-sandbox approvals approve 3 --db &#39;$DB&#39;" "$SITE/a/3.html")" 1
expect "report: the decision trail" "$(grep -c 'looks &lt;b&gt;fine&lt;/b&gt;' "$SITE/a/1.html")" 1
expect "report: a signed decision says who signed it" "$(grep -c '<span class=signed>signed</span> by alice' "$SITE/a/1.html")" 1
expect "report: an approval nobody signed is shown forged" "$(grep -c '<span class=forged>forged</span>' "$SITE/index.html") $(grep -c '<span class=forged>forged</span>' "$SITE/a/2.html") $(grep -c 'The pool records this request as approved, but no reviewer' "$SITE/a/2.html")" "1 1 1"
expect "report: a terminal escape in output is not passed on" "$(grep -c "$(printf '\033')" "$SITE/c/4.html")" 0
expect "report: the caller's metrics are columns" "$(grep -c '<th>accuracy</th>' "$SITE/index.html")" 1
expect "report: lineage by dot, with links" "$(grep -c 'xlink:href="c/4.html"\|href="c/4.html"' "$SITE/lineage.html")" 1
expect "report: lineage nodes carry the name and the metric" "$(grep -c '>#1 gen0_seed<' "$SITE/lineage.html") $(grep -c '>heldout_loss [0-9.e+-]*<' "$SITE/lineage.html")" "1 2"
expect "report: a hostile name is cut to a label" "$(grep -c '>#4 x??&gt;\|>#4 x???' "$SITE/lineage.html")" 1
expect "report: status and approval come first" "$(grep -o '<th class=pick></th><th>id</th><th>status</th><th>approval</th>' "$SITE/index.html" | wc -l)" 1
# the table as data: CSV (a formula-looking text is defused) and JSON
"$AEGIS" pool annotate 2 --db "$DB" --metrics '{"note": "=HYPERLINK(\"x\")"}' >/dev/null
"$AEGIS" pool report --html "$SITE" --db "$DB" >/dev/null
expect "report: candidates.csv" "$(head -1 "$SITE/candidates.csv" | tr -d '\r') $(wc -l <"$SITE/candidates.csv") $(grep -c "\"'=HYPERLINK(\"\"x\"\")\"" "$SITE/candidates.csv")" \
	"id,status,approval,stage,architecture_id,generation,parent_id,fixes_applied,parameters,heldout_loss,final_loss,loss,torch,\"<b onmouseover=x>k</b>\",\"accuracy\",\"note\" 5 1"
expect "report: candidates.json" "$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print([(c["id"], c["status"], c["approval"]) for c in r])' "$SITE/candidates.json")" \
	"[(1, 'accepted', 'approved'), (2, 'accepted', 'forged'), (3, 'rejected', None), (4, 'accepted', 'pending')]"
expect "report: metric over generation, best and all" "$(grep -c '<polyline class=best' "$SITE/generations.html") $(grep -o '<circle class=cand' "$SITE/generations.html" | wc -l)" "4 9"
# the commands a page shows name the pool absolutely, wherever it ran
(cd "$TMP" && "$AEGIS" pool report --html site-rel --db pool.db >/dev/null)
expect "report: an absolute --db in the commands" "$(grep -c "approvals approve 3 --db &#39;$TMP/pool.db&#39;" "$TMP/site-rel/a/3.html")" 1

# Chromium renders every page; no script but ours runs (ours marks the
# table it made sortable), and no hostile attribute lands on the body
if command -v chromium >/dev/null 2>&1; then
	for p in index.html index-rejected.html approvals.html lineage.html generations.html "compare.html#ids=1,2,3,4" c/1.html c/2.html c/3.html c/4.html a/1.html a/3.html; do
		timeout 120 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" \
			--dump-dom "file://$SITE/$p" >"$TMP/dom.html" 2>/dev/null
		expect "chromium renders $p, only our script ran" \
			"$(grep -c '<body data-js="1"' "$TMP/dom.html") $(grep -c 'data-pwned="' "$TMP/dom.html")" "1 0"
	done
	timeout 120 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" \
		--window-size=1280,1600 --screenshot="$TMP/c2.png" "file://$SITE/c/2.html" >/dev/null 2>&1
	expect "chromium draws the candidate page" "$([ -s "$TMP/c2.png" ] && echo drawn)" drawn
	timeout 120 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" \
		--dump-dom "file://$SITE/index.html" >"$TMP/dom.html" 2>/dev/null
	expect "chromium: our script made the table sortable" "$(grep -c 'data-sortable="1"' "$TMP/dom.html")" 1
	# the filters, from the URL: status, then a range of generations
	timeout 120 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" \
		--dump-dom "file://$SITE/index.html#status=accepted&gen=1..2" >"$TMP/dom.html" 2>/dev/null
	expect "chromium: filter by status and a generation range" "$(grep -o '<tr hidden=""' "$TMP/dom.html" | wc -l) $(grep -o '<span id="shown">[0-9]*' "$TMP/dom.html")" '2 <span id="shown">2'
	timeout 120 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" \
		--dump-dom "file://$SITE/index.html#held_out_loss=%3C100" >"$TMP/dom.html" 2>/dev/null
	expect "chromium: filter by a metric's range" "$(grep -o '<span id="shown">[0-9]*' "$TMP/dom.html")" '<span id="shown">2'
	# compare: metrics side by side, the code diff, the curves overlaid;
	# the hostile name is text
	timeout 120 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" \
		--dump-dom "file://$SITE/compare.html#ids=1,2,4" >"$TMP/dom.html" 2>/dev/null
	expect "chromium: compare three candidates" "$(grep -o '<h2>Code: #1 → #[24]</h2>' "$TMP/dom.html" | wc -l) $(grep -o '<polyline' "$TMP/dom.html" | wc -l) $(grep -c '<th>heldout_loss</th>' "$TMP/dom.html") $(grep -c '<span class="add">+# The seed document' "$TMP/dom.html") $(grep -c '>#4 x.*&lt;svg onload=' "$TMP/dom.html")" "2 3 1 1 1"
	# screenshots a person looks at (kept when AEGIS_SCREENSHOTS names a directory)
	for p in "index.html#status=accepted" "compare.html#ids=1,2,4" generations.html lineage.html a/2.html; do
		f=$(echo "$p" | sed 's/[#\/=,&]/_/g').png
		timeout 120 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" \
			--window-size=1400,1000 --screenshot="$TMP/$f" "file://$SITE/$p" >/dev/null 2>&1
		expect "chromium draws $p" "$([ -s "$TMP/$f" ] && echo drawn)" drawn
		[ -n "${AEGIS_SCREENSHOTS:-}" ] && mkdir -p "$AEGIS_SCREENSHOTS" && cp "$TMP/$f" "$AEGIS_SCREENSHOTS/"
	done
else
	expect "chromium is installed (quickstart.sh installs it)" no yes
fi

# without dot: our own layout, with the same links
AEGIS_NO_DOT=1 "$AEGIS" pool report --html "$TMP/site2" --db "$DB" >/dev/null 2>&1
expect "report: lineage by our own layout" "$(grep -c "own layout" "$TMP/site2/lineage.html") $(grep -o 'href="c/[0-9]*.html"><rect' "$TMP/site2/lineage.html" | wc -l)" "1 4"
# --since: the candidates from that id on
run_cmd "$AEGIS" pool report --html "$TMP/site3" --db "$DB" --since 3 --json
cp "$TMP/out" "$TMP/r.json"
expect "report --since 3" "$(field 'r["candidates"]') $(ls "$TMP/site3/c" | tr '\n' ' ')" "2 3.html 4.html "
# an earlier report is rewritten; someone else's directory is not touched
run_cmd "$AEGIS" pool report --html "$SITE" --db "$DB"
expect "report: rewritten in place" "$RC" 0
mkdir "$TMP/mine" && echo precious >"$TMP/mine/notes.txt"
run_cmd "$AEGIS" pool report --html "$TMP/mine" --db "$DB"
expect "report: refuses a directory that is not a report" "$RC $(cat "$TMP/mine/notes.txt") $(ls "$TMP/mine" | wc -l)" "2 precious 1"
finish
