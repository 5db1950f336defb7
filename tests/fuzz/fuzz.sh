# fuzz.sh - every fuzz target, briefly, over its corpus (make check), or
# for AEGIS_FUZZ_SECONDS each (make fuzz).  A crash, a leak, undefined
# behaviour or a broken invariant fails it; the input that did is kept in
# the work directory and named in the log.
B=${TOP_BUILDDIR:-.}/tests/fuzz
S=${TOP_SRCDIR:-.}/tests/fuzz
SECS=${AEGIS_FUZZ_SECONDS:-4}
if [ "${AEGIS_SUITE:-}" = torch2 ]; then
	echo "SKIP: the fuzz targets do not depend on torch (the system suite runs them)"
	exit 77
fi
if [ ! -x "$B/fuzz_policy" ]; then
	echo "SKIP: the fuzz targets were not built (configure found no clang with libFuzzer)"
	exit 77
fi
W=$(mktemp -d /tmp/aegis-fuzz.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail=0
for t in policy:corpus:4096 report:report_corpus:65536 request:request_corpus:65536; do
	name=${t%%:*}
	rest=${t#*:}
	corpus=${rest%%:*}
	maxlen=${rest#*:}
	mkdir -p "$W/$name"
	if "$B/fuzz_$name" -max_total_time="$SECS" -max_len="$maxlen" -artifact_prefix="$W/$name/" \
		"$W/$name" "$S/$corpus" >"$W/$name.log" 2>&1; then
		echo "ok - fuzz_$name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$W/$name.log" ||
			grep -o '#[0-9]*.*DONE' "$W/$name.log" | tail -1) (${SECS} s)"
	else
		echo "FAIL - fuzz_$name"
		tail -30 "$W/$name.log" | sed 's/^/    /'
		[ -n "${AEGIS_FUZZ_KEEP:-}" ] && cp -r "$W/$name" "$AEGIS_FUZZ_KEEP/"
		fail=1
	fi
done
exit $fail
