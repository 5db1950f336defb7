#!/usr/bin/python3
"""A small architecture-evolution loop on top of aegis_sandbox.

    python3 doc/examples/evolve.py --generations 3 --population 4 --db evolve.db

Genomes are MLP shapes; mutations add a layer, widen one, swap the
activation, or (now and then) introduce the kind of shape bug an LLM writes,
which the sandbox's debug loop repairs.  Every candidate is executed and
trained in the sandbox, recorded in the pool with its lineage; the best one
gets an approval request, and a person decides with
'aegis-sandbox approvals approve ID'.
"""

import argparse
import copy
import random
import sys

from aegis_sandbox import ApprovalManager, SafeCodeExecutor

IN_FEATURES, CLASSES = 32, 10
ACTS = ["ReLU", "GELU", "Tanh", "SiLU"]


def render(g):
    dims = [IN_FEATURES] + g["widths"]
    lines = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        # a 'bug' gene writes a wrong in_features, as generated code often does
        lines.append("nn.Linear(%d, %d)" % (a + (7 if g.get("bug") == i else 0), b))
        lines.append("nn.%s()" % g["act"])
    lines.append("nn.Linear(%d, %d)" % (dims[-1], CLASSES))
    body = ",\n            ".join(lines)
    return ("import torch.nn as nn\n\n\nclass Model(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.net = nn.Sequential(\n            %s)\n\n"
            "    def forward(self, x):\n        return self.net(x)\n" % body)


def mutate(g, rng):
    g = copy.deepcopy(g)
    g.pop("bug", None)
    op = rng.choice(["add_layer", "widen", "swap_activation", "buggy_add_layer"])
    if op in ("add_layer", "buggy_add_layer"):
        pos = rng.randrange(len(g["widths"]) + 1)
        g["widths"].insert(pos, rng.choice([16, 32, 64]))
        if op == "buggy_add_layer" and len(g["widths"]) > 1:
            g["bug"] = min(pos, len(g["widths"]) - 1)
    elif op == "widen":
        i = rng.randrange(len(g["widths"]))
        g["widths"][i] = min(g["widths"][i] * 2, 256)
    else:
        g["act"] = rng.choice([a for a in ACTS if a != g["act"]])
    return g, op


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--db", default="evolve.db")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    # fix=True: the sandbox's debug loop may repair a mutant (each fix is in r.attempts)
    ex = SafeCodeExecutor(timeout_seconds=60, max_memory_gb=2.0, train=True, db=args.db, fix=True)
    # generation 0: the seed genome
    seed = {"widths": [64], "act": "ReLU"}
    r = ex.execute_model_code(render(seed), "float:8x%d" % IN_FEATURES, "gen0_seed",
                              generation=0, train_steps=args.steps)
    if not r.success:
        print("the seed genome failed: %s" % r.error_message, file=sys.stderr)
        return 1
    survivors = [(r.metrics["final_loss"], r.candidate_id, seed)]
    for gen in range(1, args.generations + 1):
        children = []
        for k in range(args.population):
            _, parent_id, parent = survivors[k % len(survivors)]
            child, op = mutate(parent, rng)
            arch = "gen%d_%s_%d" % (gen, op, k)
            r = ex.execute_model_code(render(child), "float:8x%d" % IN_FEATURES, arch,
                                      parent=parent_id, generation=gen, train_steps=args.steps)
            fixes = sum(len(a["fixes"]) for a in r.attempts)
            print("%-28s %-9s loss %-10s fixes %d  (pool id %s)" % (
                arch, r.status, "%.4g" % r.metrics["final_loss"] if r.success else "-", fixes,
                r.candidate_id))
            if r.success:
                children.append((r.metrics["final_loss"], r.candidate_id, child))
        survivors = sorted(survivors + children, key=lambda t: t[0])[:max(2, args.population // 2)]
    best_loss, best_id, best = survivors[0]
    rid = ApprovalManager(args.db).request_approval(
        title="Best of %d generations: %s" % (args.generations, best),
        description="final loss %.4g on the sandbox's training check" % best_loss,
        risk_assessment={"generations": args.generations, "population": args.population},
        candidate_id=best_id)
    print("best: candidate %s, final loss %.4g; approval request %s is pending "
          "(aegis-sandbox approvals show %s --db %s)" % (best_id, best_loss, rid, rid, args.db))
    ex.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
