# ShinkaEvolve's evaluation program: every program is judged by
# aegis-sandbox, in its sandbox (doc/examples/shinka/README.md).  ShinkaEvolve
# runs it as 'python evaluate.py --program_path P --results_dir D', locally
# or as a Slurm job, and reads D/metrics.json and D/correct.json.
from aegis_sandbox.integrations.shinka import main

if __name__ == "__main__":
    raise SystemExit(main())
