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
	[ "$n" -eq 1 ] || { echo "    $f: $n script elements"; bad=1; }
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

# Chromium renders every page; no script but ours runs (ours marks the
# table it made sortable), and no hostile attribute lands on the body
if command -v chromium >/dev/null 2>&1; then
	for p in index.html index-rejected.html approvals.html lineage.html c/1.html c/2.html c/3.html c/4.html a/1.html a/3.html; do
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
