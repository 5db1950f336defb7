#!/bin/sh
# torch2.sh - the second half of './quickstart.sh check': the whole test
# suite again on pip's torch 2.13 in a virtualenv, then the researcher's
# route, 'pip install <checkout>' into a new virtualenv, used as the seed
# document uses it.
#
#   AEGIS_TORCH2_VENV   the suite's venv (kept between runs; made from
#                       /usr/bin/python3, whose stdlib every user can read,
#                       so the escape corpus runs as nobody too)
#   AEGIS_TORCH2_SPEC   what to install there (default torch==2.13.0, the
#                       CPU build on this machine's disk)
#
# Run from the top of the source tree after the system build; exit 0 when
# both pass.  It prints one closing line like quickstart's.
set -eu

TORCH=${AEGIS_TORCH2_SPEC:-torch==2.13.0}
if [ "$(id -u)" -eq 0 ]; then
	CACHE=/opt/aegis-sandbox-ci
else
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/aegis-sandbox
fi
T2=${AEGIS_TORCH2_VENV:-$CACHE/venv-torch2}
TOP=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
mkdir -p "$CACHE"

# ---- the venv of the suite ---------------------------------------------------
if ! "$T2/bin/python" -W ignore -c 'import torch, numpy, pytest' 2>/dev/null; then
	echo "torch2: making $T2 ($TORCH, numpy, pytest)"
	rm -rf "$T2"
	/usr/bin/python3 -m venv "$T2"
	"$T2/bin/pip" install -q --disable-pip-version-check "$TORCH" numpy pytest
fi
# research code we did not write, and the search framework people run,
# installed from PyPI (tests/live/packages.sh, openevolve.sh, shinka.sh),
# the tracker people log runs to (mlflow.sh), and Kubernetes' schema for
# the launcher's manifest (launchers.sh)
if ! "$T2/bin/python" -W ignore -c 'import transformers, einops, openevolve, shinka, mlflow, kubernetes_validate' 2>/dev/null; then
	echo "torch2: installing transformers, einops, openevolve, shinka-evolve, mlflow-skinny and kubernetes-validate into $T2"
	"$T2/bin/pip" install -q --disable-pip-version-check transformers einops openevolve shinka-evolve mlflow-skinny \
		kubernetes-validate
fi
chmod -R a+rX "$T2"
echo "torch2: $("$T2/bin/python" -W ignore -c 'import torch, sys; print("torch", torch.__version__, "on Python", sys.version.split()[0])')"

# ---- the suite, built from the distribution's files -----------------------------
status=0
B=$TOP/build-torch2
rm -rf "$B"
mkdir -p "$B"
make -s distdir distdir="$B/src" >/dev/null
(
	cd "$B/src"
	./configure -q PYTHON="$T2/bin/python" >/dev/null
	make -s -j"$JOBS" >/dev/null 2>&1 || make -j1
	# the store, queue and review-site tests do not depend on torch: the
	# system suite runs them (they skip here, which keeps the check short)
	AEGIS_SUITE=torch2 make -j2 check
) || status=$?
npass=$(cat "$B"/src/tests/*/*.trs 2>/dev/null | grep -c '^:test-result: PASS' || true)
nfail=$(cat "$B"/src/tests/*/*.trs 2>/dev/null | grep -c -E '^:test-result: (FAIL|ERROR|XPASS)' || true)
if [ "$status" -ne 0 ] && [ "$nfail" -eq 0 ]; then
	nfail=1
fi
echo "torch2 suite: $npass passed, $nfail failed"

# ---- the researcher's route: a new venv, torch, then the checkout ----------------
V=$CACHE/venv-pip-route
rm -rf "$V"
# as the README says: 'python3 -m venv', whichever python3 comes first on
# PATH (here pyenv's, under root's home of mode 0700: job children reach
# its standard library only through the roots their mount namespace exposes)
python3 -m venv "$V"
BASE=$("$V/bin/python" -c 'import sys; print(sys.base_prefix)')
CLOSED=$(p=$BASE; while [ "$p" != / ]; do case $(stat -c %a "$p") in *[0246]) echo "$p" ;; esac; p=$(dirname "$p"); done | tail -1)
echo "pip route: the venv's base Python is $BASE${CLOSED:+, under $CLOSED, which others cannot search}"
cat >"$CACHE/stdlib_model.py" <<'MODEL'
import wave  # a module of the standard library no zygote preloads

import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.frames = wave.Wave_read.__name__

    def forward(self, x):
        return self.fc(x)
MODEL
route=0
{
	# as the README says: torch, then the checkout; nothing else (no numpy)
	"$V/bin/pip" install -q --disable-pip-version-check "$TORCH" &&
		! "$V/bin/python" -c "import numpy" 2>/dev/null &&
		"$V/bin/pip" install -q --disable-pip-version-check "$TOP" &&
		echo "pip route: installed: $(command -v "$V/bin/aegis-sandbox") $("$V/bin/aegis-sandbox" --version | head -1)" &&
		ldd "$V/bin/aegis-sandbox" | grep -vq libpython &&
		"$V/bin/aegis-sandbox" run "$TOP/doc/examples/seed_model.py" &&
		"$V/bin/aegis-sandbox" run --no-train --input float:2x100 "$CACHE/stdlib_model.py" | head -1 | grep -q ': accepted' &&
		echo "pip route: a model that imports the standard library's wave: accepted" &&
		(
			# the installed client and program, nothing of the build tree
			cd "$CACHE"
			# the seed's step 8 is a person's: their key, in the reviewers file
			"$V/bin/aegis-sandbox" approvals keygen --reviewer researcher --key "$V/reviewer.key" >/dev/null &&
				cp "$V/reviewer.key.pub" "$V/reviewers" || exit 1
			env -u AEGIS_SANDBOX -u AEGIS_PYHELPERS -u PYTHONPATH AEGIS_SANDBOX_DB="$V/seed.db" \
				AEGIS_REVIEWER_KEY="$V/reviewer.key" AEGIS_REVIEWERS="$V/reviewers" \
				"$V/bin/python" -W ignore "$TOP/tests/seed/seed_doc.py" >"$V/seed.log" 2>&1 ||
				{ tail -30 "$V/seed.log"; exit 1; }
			tail -1 "$V/seed.log"
		) &&
		"$V/bin/pip" uninstall -q -y aegis-sandbox &&
		test ! -e "$V/bin/aegis-sandbox" && test ! -e "$V/libexec/aegis-sandbox" &&
		test -z "$(find "$V/share" "$V/lib" \( -path '*/share/aegis-sandbox/*' -o -path '*/aegis_sandbox*' \) -type f 2>/dev/null)" &&
		echo "pip route: uninstalled, no file left (pip leaves empty directories)"
} || route=1
if [ "$route" -eq 0 ]; then
	echo "pip route: 1 passed, 0 failed"
else
	echo "pip route: 0 passed, 1 failed"
	status=1
fi

# ---- build once, install on every node (issue 30) ------------------------------
# a wheel built in one venv, installed into another; the first is moved
# away while the second runs, so nothing of it can be reached: the program,
# its zygote, the helpers, the policies and the venv's torch are found from
# where the second venv put them
W=$CACHE/wheel-build
V2=$CACHE/venv-moved-to
rm -rf "$W" "$V2" "$V.away"
moved=0
{
	"$V/bin/pip" install -q --disable-pip-version-check "$TORCH" &&
		"$V/bin/pip" wheel -q --disable-pip-version-check --no-deps -w "$W" "$TOP" &&
		python3 -m venv "$V2" &&
		"$V2/bin/pip" install -q --disable-pip-version-check "$TORCH" "$W"/aegis_sandbox-*.whl &&
		mv "$V" "$V.away" &&
		"$V2/bin/aegis-sandbox" run --no-train "$TOP/doc/examples/seed_model.py" >"$W/run.out" 2>&1 &&
		grep -q ': accepted' "$W/run.out" &&
		echo "relocated wheel: run from the second venv: accepted" &&
		(
			cd "$CACHE"
			env -u AEGIS_SANDBOX -u AEGIS_PYHELPERS -u PYTHONPATH AEGIS_SANDBOX_DB="$W/pool.db" "$V2/bin/python" -W ignore -c '
import torch, aegis_sandbox
ex = aegis_sandbox.SafeCodeExecutor()
r = ex.execute_model_code(open("'"$TOP"'/doc/examples/seed_model.py").read(), "tokens:2x20:1000", "moved")
assert r.success and aegis_sandbox.executor.BINARY.startswith("'"$V2"'"), (r.status, r.error_message, aegis_sandbox.executor.BINARY)
print("relocated wheel: the client in the second venv: accepted, with its own program")'
		)
} || { moved=1; tail -20 "$W/run.out" 2>/dev/null; }
[ -d "$V.away" ] && mv "$V.away" "$V"
rm -rf "$W" "$V2"
if [ "$moved" -eq 0 ]; then
	echo "relocated wheel: 1 passed, 0 failed"
else
	echo "relocated wheel: 0 passed, 1 failed"
	status=1
fi

# ---- pip install -e (issue 30): the programs built, the checkout's Python ------
editable=0
{
	"$V/bin/pip" install -q --disable-pip-version-check -e "$TOP" &&
		(
			cd "$CACHE"
			env -u AEGIS_SANDBOX -u AEGIS_PYHELPERS -u PYTHONPATH AEGIS_SANDBOX_DB="$V/editable.db" "$V/bin/python" -W ignore -c '
import torch, aegis_sandbox
assert aegis_sandbox.__file__.startswith("'"$TOP"'/pyhelpers/"), aegis_sandbox.__file__
ex = aegis_sandbox.SafeCodeExecutor()
r = ex.execute_model_code(open("'"$TOP"'/doc/examples/seed_model.py").read(), "tokens:2x20:1000", "editable")
assert r.success and aegis_sandbox.executor.BINARY == "'"$V"'/bin/aegis-sandbox", (r.status, r.error_message)
print("pip install -e: the checkout'"'"'s client, the venv'"'"'s program: accepted")'
		) &&
		"$V/bin/pip" uninstall -q -y aegis-sandbox &&
		test ! -e "$V/bin/aegis-sandbox"
} || editable=1
if [ "$editable" -eq 0 ]; then
	echo "pip install -e: 1 passed, 0 failed"
else
	echo "pip install -e: 0 passed, 1 failed"
	status=1
fi
exit "$status"
