# lib.sh - what the search-framework tests share (sourced after
# tests/live/lib.sh).
#
#   need_module MODULE PACKAGE   finish the test unless $PY imports MODULE: a
#                                failure in the torch-2 suite, whose venv
#                                installs PACKAGE, a skip elsewhere
#   start_llm                    the scripted LLM (scripted_llm.py) on
#                                loopback, replying with the canned edits;
#                                its port in $PORT, its pid in $LLM

need_module() {
	"$PY" -W ignore -c "import $1" 2>/dev/null && return 0
	if [ "${AEGIS_SUITE:-}" = torch2 ]; then
		expect "$2 is installed in the torch-2 venv" no yes
	else
		echo "skip - $PY has no $1 (the torch-2 suite's venv has $2)"
	fi
	finish
	exit
}

start_llm() {
	sed "s|@CANARY@|$TMP/canary|" "$TOP_SRCDIR/tests/integrations/edits.json" >"$TMP/edits.json"
	"$PY" "$TOP_SRCDIR/tests/integrations/scripted_llm.py" "$TMP/port" "$TMP/edits.json" &
	LLM=$!
	for _ in $(seq 1 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
	PORT=$(cat "$TMP/port")
}
