# cpu.sh - a job child runs the kernels its CPU has.  torch 2.x detects the
# CPU's vector units (cpuinfo reads /proc/cpuinfo and /sys) on first use,
# which a confined child cannot read: it fell back to the scalar kernels
# and printed "Error in cpuinfo" on every result (issue 31).  The zygote
# detects once; its children inherit the answer.
. "$TOP_SRCDIR/tests/live/lib.sh"

want=$("$PY" -W ignore -c 'import torch; print(torch.backends.cpu.get_cpu_capability())' 2>/dev/null)
if [ -z "$want" ]; then
	echo "skip - this torch has no torch.backends.cpu.get_cpu_capability()"
	finish
	exit
fi
run_model --no-train --input float:2x100 "$MODELS/cpu_capability.py"
expect "the job child dispatches for the CPU's own capability ($want)" \
	"$(field '(r["status"], r["stdout"].strip())')" "('accepted', 'capability $want')"
expect "no cpuinfo error on the result's stderr" "$(field '"Error in cpuinfo" in r["stderr"]')" False
finish
