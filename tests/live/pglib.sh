# pglib.sh - a PostgreSQL server of the tests' own, from Debian's packages,
# on a private Unix socket (no TCP), started by the test that needs it and
# stopped when it ends.  PostgreSQL refuses to run as root: as root, the
# server runs as nobody.
#   pg_start         start it; sets PGDIR and PGSOCK; stopped at exit (with
#                    lib.sh's $TMP removed, as lib.sh's own trap does)
#   pg_newdb NAME    create a database; prints its postgresql:// URL
#   pg_down, pg_up   stop and start it again (clients lose their connection)
#   pg_psql ARGS     psql on it
#   pg_stop          stop it and remove its files
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

pg_available() {
	[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]
}

pg_run() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env "$@"
	else
		"$@"
	fi
}

pg_start() {
	PGDIR=$(mktemp -d /tmp/aegis-pg.XXXXXX) || return 1
	chmod 755 "$PGDIR"
	[ "$(id -u)" = 0 ] && chown nobody "$PGDIR"
	PGSOCK=$PGDIR
	pg_run "$PGBIN/initdb" -D "$PGDIR/data" -U aegis --auth=trust -E UTF8 --no-sync >"$PGDIR/initdb.log" 2>&1 ||
		{ cat "$PGDIR/initdb.log" >&2; return 1; }
	pg_up || return 1
	trap 'pg_stop; rm -rf "$TMP"' EXIT
}

pg_up() {
	pg_run "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
		-o "-k $PGSOCK -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null 2>&1 || { cat "$PGDIR/server.log" >&2; return 1; }
}

# pg_down: the server goes away (its clients' connections break)
pg_down() {
	pg_run "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1
}

pg_psql() {
	"$PGBIN/psql" -h "$PGSOCK" -U aegis -X -q -t -A "$@"
}

pg_newdb() {
	"$PGBIN/createdb" -h "$PGSOCK" -U aegis "$1" >/dev/null 2>&1 ||
		pg_run "$PGBIN/createdb" -h "$PGSOCK" -U aegis "$1" || return 1
	echo "postgresql:///$1?host=$PGSOCK&user=aegis"
}

pg_stop() {
	[ -n "$PGDIR" ] || return 0
	pg_run "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PGDIR"
	PGDIR=
}
