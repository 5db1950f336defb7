# escape.sh - the escape corpus (tests/escape/), judged from outside by its
# effects, in a private pid namespace so that even a sandbox failure cannot
# signal anything outside this test.  Twice: with the default policy, and
# with the Python layer switched off (the kernel layers alone).
. "$TOP_SRCDIR/tests/live/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	NS="unshare --pid --fork --mount-proc"
else
	NS="unshare --user --map-root-user --pid --fork --mount-proc"
fi
for mode in default kernel; do
	$NS "$PY" "$TOP_SRCDIR/tests/escape_runner.py" "$AEGIS" "$TOP_SRCDIR/tests/escape" $mode >"$TMP/$mode.log" 2>&1
	rc=$?
	grep -E '^(FAIL|mode)' "$TMP/$mode.log"
	expect "escape corpus, $mode policy: no escape, no internal error" "$rc" 0
	expect "escape corpus, $mode policy: ran" "$(grep -c '^ok - ' "$TMP/$mode.log" | sed 's/^\([0-9]\{2,\}\)$/many/')" many
done
# and as an ordinary user: root makes the pid namespace, then becomes nobody
# inside it, so the supervisor really runs unprivileged (no cgroups, a user
# namespace of its own)
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 && command -v runuser >/dev/null; then
	mkdir -p "$TMP/u/bin"
	cp "$AEGIS" "$TMP/u/bin/aegis-sandbox"
	cp "$TOP_BUILDDIR/src/aegis-zygote" "$TMP/u/bin/aegis-zygote"
	cp -r "$AEGIS_PYHELPERS" "$TMP/u/pyhelpers"
	cp -r "$TOP_SRCDIR/tests/escape" "$TMP/u/escape"
	cp "$TOP_SRCDIR/tests/escape_runner.py" "$TMP/u/"
	chmod -R a+rX "$TMP/u"
	chmod 755 "$TMP"
	unshare --pid --fork --mount-proc runuser -u nobody -- env AEGIS_PYHELPERS="$TMP/u/pyhelpers" \
		"$PY" "$TMP/u/escape_runner.py" "$TMP/u/bin/aegis-sandbox" "$TMP/u/escape" default >"$TMP/nobody.log" 2>&1
	rc=$?
	grep -E '^(FAIL|mode)' "$TMP/nobody.log"
	expect "escape corpus as nobody: no escape, no internal error" "$rc" 0
	expect "escape corpus as nobody: ran" "$(grep -c '^ok - ' "$TMP/nobody.log" | sed 's/^\([0-9]\{2,\}\)$/many/')" many
fi
expect "at least 100 cases" "$(ls "$TOP_SRCDIR"/tests/escape/*.py | wc -l | awk '{print ($1 >= 100) ? "yes" : "no"}')" yes
finish
