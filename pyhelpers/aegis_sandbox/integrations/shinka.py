"""ShinkaEvolve's evaluate.py, through aegis-sandbox.

ShinkaEvolve (PyPI ``shinka-evolve``) launches its evaluation program as
a local process or a Slurm job:

    python evaluate.py --program_path PROGRAM.py --results_dir DIR

and reads ``DIR/metrics.json`` (``combined_score``, ``public``,
``private``, ``text_feedback``) and ``DIR/correct.json`` (``correct``,
``error``).  An evaluate.py of two lines hands every program to the
sandbox:

    from aegis_sandbox.integrations.shinka import main
    main()

The program is built, run, exported, validated and trained in the
sandbox and recorded in the pool; ``correct`` is the verdict
``accepted``; ``combined_score`` is ``1 / (1 + held-out loss)`` when
accepted, else 0; ``public`` holds the sandbox's metrics, ``private`` the
verdict and its pool id; ``text_feedback`` is what the next prompt needs
(the verdict with its line, the failed checks, fixes, stderr's end).
Configured by the environment, as aegis_sandbox.integrations.openevolve
is (``AEGIS_INPUT``, ``AEGIS_POLICY``, ``AEGIS_SANDBOX_DB``,
``AEGIS_TRAIN_STEPS``, ``AEGIS_TIMEOUT``).
"""

import argparse
import json
import os
from typing import List, Optional

from aegis_sandbox.integrations.common import artifacts, judge, numbers, score


def evaluate(program_path: str, results_dir: str) -> bool:
    """Judge PROGRAM_PATH and write ShinkaEvolve's two files into
    RESULTS_DIR; whether the program was accepted."""
    # ShinkaEvolve names every program main.py, in gen_N/: the generation
    # names the candidate in the pool
    gen = os.path.basename(os.path.dirname(os.path.abspath(results_dir))) or "program"
    r = judge(program_path, train=True, record=True, prefix="shinka-", name=gen)
    notes = artifacts(r)
    metrics = {"combined_score": score(r), "public": numbers(r.metrics),
               "private": {"status": r.status, "stage": r.stage, "candidate_id": r.candidate_id},
               "text_feedback": "\n\n".join("%s:\n%s" % (k, v) for k, v in notes.items())}
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    with open(os.path.join(results_dir, "correct.json"), "w") as f:
        json.dump({"correct": r.success, "error": None if r.success else notes["verdict"]}, f, indent=2)
    return r.success


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="ShinkaEvolve's evaluate.py, through aegis-sandbox")
    p.add_argument("--program_path", required=True)
    p.add_argument("--results_dir", required=True)
    args, _ = p.parse_known_args(argv)  # ShinkaEvolve may pass its extra_cmd_args
    evaluate(args.program_path, args.results_dir)
    return 0  # a rejected program is a result, not a failed evaluation


if __name__ == "__main__":
    raise SystemExit(main())
