#!/bin/sh
# quickstart.sh - set up aegis-sandbox on a fresh Debian 12 machine and run it.
#
#   ./quickstart.sh          install missing Debian packages, build, and run the
#                            seed's example model through the sandbox
#   ./quickstart.sh check    the same set-up, then the whole test suite
#
# Package installation is a fast no-op when everything is present.
set -eu

cd "$(dirname "$0")"
MODE=${1:-run}
case "$MODE" in
run | check) ;;
*)
	echo "usage: $0 [check]" >&2
	exit 2
	;;
esac

# Build and test dependencies, all from Debian's archive.  python3-torch is
# built for /usr/bin/python3, which is the interpreter we embed.
PACKAGES="build-essential autoconf automake pkg-config libtool
	python3 python3-dev libpython3-dev python3-venv python3-torch python3-numpy python3-pytest
	libseccomp-dev libyaml-dev libsqlite3-dev libpq-dev libsodium-dev libcmocka-dev sqlite3
	util-linux procps clang libclang-rt-14-dev"
# The review site's tests render its pages in a real browser, and draw the
# lineage with graphviz (and without it); the queue and pool tests start
# PostgreSQL servers of their own (as nobody, on private sockets), and the
# Slurm test a one-node Slurm of its own (munged, slurmctld, slurmd).
if [ "$MODE" = check ]; then
	PACKAGES="$PACKAGES chromium graphviz postgresql slurmctld slurmd slurm-client munge"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "quickstart: installing:$missing"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

JOBS=$(nproc 2>/dev/null || echo 2)
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
	# the system interpreter, whatever python3 comes first on PATH
	./configure PYTHON=/usr/bin/python3
fi
make -j"$JOBS"

if [ "$MODE" = check ]; then
	# the live tests run in parallel with each other; two at a time suit a
	# two-core machine
	status=0
	make -j2 check || status=$?
	# one closing line over every test program (unit binaries and live scripts)
	npass=$(cat tests/unit/*.trs tests/live/*.trs tests/python/*.trs 2>/dev/null | grep -c '^:test-result: PASS' || true)
	nfail=$(cat tests/unit/*.trs tests/live/*.trs tests/python/*.trs 2>/dev/null | grep -c -E '^:test-result: (FAIL|ERROR|XPASS)' || true)
	nskip=$(cat tests/unit/*.trs tests/live/*.trs tests/python/*.trs 2>/dev/null | grep -c '^:test-result: SKIP' || true)
	if [ "$status" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		nfail=1 # make check failed before or around the tests
	fi
	echo "system build (Debian's torch): $npass passed, $nfail failed, $nskip skipped"
	# the same suite on pip's torch 2.x in a virtualenv, and 'pip install'
	# of this checkout into a new one (AEGIS_SKIP_TORCH2=1 skips both)
	if [ "${AEGIS_SKIP_TORCH2:-0}" != 1 ]; then
		sh tests/pip/torch2.sh || status=$?
	fi
	exit "$status"
fi

echo
echo "== aegis-sandbox run doc/examples/seed_model.py"
set +e
src/aegis-sandbox run doc/examples/seed_model.py
rc=$?
set -e
echo "(exit code $rc: 0 accepted, 1 rejected, 3 violation, 4 timeout, 5 memory, 6 crash, 7 error)"
echo
echo "== and the seed's broken example"
src/aegis-sandbox run --input tokens:2x20:1000 doc/examples/seed_broken.py || true
exit $rc
