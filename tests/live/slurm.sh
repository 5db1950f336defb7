# slurm.sh - the Slurm recipe on the real engine (issue 30): Debian's
# munged, slurmctld and slurmd started in the foreground with a one-node
# configuration of the test's own (private munge socket, free ports, state
# in $TMP); doc/launchers/slurm-workers.sbatch submitted as written with
# sbatch, as a two-task array; task 0 is sent SIGTERM by
# 'scancel --signal=TERM --batch' while it judges a candidate (the
# early-signal path: it finishes that candidate and exits), task 1 drains
# the rest; every candidate has exactly one verdict.
. "$TOP_SRCDIR/tests/live/lib.sh"
if [ "${AEGIS_SUITE:-}" = torch2 ]; then
	echo "SKIP: the launcher does not depend on torch (the system suite runs this)"
	exit 77
fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
	expect "slurm and munge are installed (quickstart.sh installs them)" no yes
	finish
	exit
fi
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the test's Slurm runs as root (SlurmUser=root)"
	exit 77
fi
D=$TMP/slurm
mkdir -p "$D/state" "$D/spool" "$D/munge"
chmod 700 "$D/munge"
head -c 1024 /dev/urandom >"$D/munge/munge.key"
chmod 400 "$D/munge/munge.key"
daemons=""
stop_daemons() {
	for p in $daemons; do kill "$p" 2>/dev/null; done
	for p in $daemons; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
}
trap 'stop_daemons; rm -rf "$TMP"' EXIT
munged --force --foreground --socket="$D/munge/munge.sock" --key-file="$D/munge/munge.key" \
	--pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/seed" \
	</dev/null >"$D/munged.out" 2>&1 &
daemons="$daemons $!"
port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
H=$(hostname -s)
cat >"$D/slurm.conf" <<EOF
ClusterName=aegistest
SlurmctldHost=$H
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(port)
SlurmdPort=$(port)
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$H CPUs=2 RealMemory=16000 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$D/slurm.conf"
for _ in $(seq 1 50); do [ -S "$D/munge/munge.sock" ] && break; sleep 0.1; done
slurmctld -D -i </dev/null >"$D/slurmctld.out" 2>&1 &
daemons="$daemons $!"
sleep 1
slurmd -D </dev/null >"$D/slurmd.out" 2>&1 &
daemons="$daemons $!"
up=no
for _ in $(seq 1 100); do
	[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && { up=yes; break; }
	sleep 0.2
done
expect "munged, slurmctld and slurmd up: one idle node" "$up" yes
[ "$up" = yes ] || { tail -5 "$D/slurmctld.log" "$D/slurmd.log" | sed 's/^/    /'; finish; exit; }

# six candidates; the first takes a while to build, so that task 0 is
# judging it when the signal comes
cd "$TMP" || exit 1
cat >slow.py <<'PY'
import time
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        time.sleep(6)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x)
PY
for i in 1 2 3 4 5; do
	sed "s/nn.Linear(8, 4)/nn.Linear(8, $i)/; /time.sleep/d" slow.py >"good$i.py"
done
"$AEGIS" submit --db "$TMP/q.db" --no-train --input float:2x8 slow.py good1.py good2.py good3.py good4.py good5.py >/dev/null
JOB=$(AEGIS_DB="$TMP/q.db" AEGIS="$AEGIS" sbatch --parsable --array=0-1 -o "$TMP/task-%a.out" \
	"$TOP_SRCDIR/doc/launchers/slurm-workers.sbatch")
expect "sbatch takes the script as written" "$(echo "$JOB" | grep -c '^[0-9][0-9]*$')" 1
# task 0 judging the slow candidate, then the early SIGTERM
running=no
for _ in $(seq 1 300); do
	"$AEGIS" pool queue --db "$TMP/q.db" --json >"$TMP/qs.json" 2>/dev/null
	[ "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["running"])' "$TMP/qs.json" 2>/dev/null)" = 1 ] &&
		{ running=yes; break; }
	sleep 0.2
done
expect "task 0 is judging a candidate" "$running" yes
scancel --signal=TERM --batch "${JOB}_0"
for _ in $(seq 1 600); do
	[ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] && break
	sleep 0.5
done
expect "the array finished" "$(squeue -h -j "$JOB" 2>/dev/null | wc -l)" 0
n0=$(grep -c '"recorded":true' "$TMP/task-0.out")
n1=$(grep -c '"recorded":true' "$TMP/task-1.out")
expect "task 0 finished the candidate in hand after SIGTERM (queue entry 1, the slow one), and stopped" "$n0 $(grep -c '"queue_id":1,' "$TMP/task-0.out")" "1 1"
expect "task 1 drained the rest" "$n1" 5
"$AEGIS" pool list --db "$TMP/q.db" --json >"$TMP/r.json"
expect "one verdict per candidate" "$(field 'sorted((c["architecture_id"], c["status"]) for c in r)')" \
	'[["good1", "accepted"], ["good2", "accepted"], ["good3", "accepted"], ["good4", "accepted"], ["good5", "accepted"], ["slow", "accepted"]]'
"$AEGIS" pool queue --db "$TMP/q.db" --json >"$TMP/r.json"
expect "the queue drained" "$(field '(r["queued"], r["running"], r["done"])')" "(0, 0, 6)"
cd / || exit 1
finish
