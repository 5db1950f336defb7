"""make bench: aegis-sandbox against the seed's subprocess executor and
against no sandbox at all, side by side in one run.

Every comparison is a ratio of medians measured in this run, with the
contenders alternated (round i starts with contender i mod n), so drift
on the machine hits all of them alike.  Prints one table and writes it,
with every sample, as JSON.  No assertion: a missed target is printed as
MISS and the run exits 1, so that "make bench" says so.

    bench.py --binary src/aegis-sandbox --pyhelpers pyhelpers --out bench.json
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tests/: proctree

import torch  # noqa: E402

import seed_executor as seed  # noqa: E402
from proctree import descendants  # noqa: E402

SEED_MODEL = os.path.join(TOP, "doc", "examples", "seed_model.py")
TRANSFORMER = os.path.join(HERE, "models", "small_transformer.py")
TOKENS = "tokens:2x20:1000"
RESNET = os.path.join(HERE, "models", "resnet18_cifar.py")
IMAGES = "float:2x3x32x32"


def parse_spec(spec):
    """An input spec (tokens:BxT:V or float:D1xD2...) as the job harness
    takes it from the C parser: {"kind", "shape", "vocab"}."""
    kind, _, rest = spec.partition(":")
    if kind == "tokens":
        shape, _, vocab = rest.rpartition(":")
        return {"kind": "tokens", "shape": [int(d) for d in shape.split("x")], "vocab": int(vocab)}
    return {"kind": "float", "shape": [int(d) for d in rest.split("x")]}


def spec_tensor(spec, seed_=0):
    """The baseline's test input for an input spec."""
    sp = parse_spec(spec)
    g = torch.Generator().manual_seed(seed_)
    if sp["kind"] == "tokens":
        return torch.randint(0, sp["vocab"], tuple(sp["shape"]), generator=g)
    return torch.randn(tuple(sp["shape"]), generator=g)


def input_of(path):
    with open(path) as f:
        m = re.search(r"^# input: (\S+)", f.read(), re.M)
    return m.group(1) if m else TOKENS


def summary(xs):
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4) if len(xs) >= 4 else [xs[0], statistics.median(xs), xs[-1]]
    return {"n": len(xs), "median": statistics.median(xs), "p25": q[0], "p75": q[2],
            "min": xs[0], "max": xs[-1]}


def paired(samples, num, den):
    """Median over rounds of NUM's time / DEN's time in the same round.
    Printed beside the ratio of medians (which decides MET or MISS): the
    two ran back to back, so drift over the run cancels in each pair."""
    return statistics.median(x / y for x, y in zip(samples[num], samples[den]))


def alternate(contenders, rounds):
    """Run each contender ROUNDS times, rotating who goes first."""
    names = list(contenders)
    samples = {n: [] for n in names}
    for i in range(rounds):
        for k in range(len(names)):
            n = names[(i + k) % len(names)]
            samples[n].append(contenders[n]())
    return samples


def machine(binary):
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "kernel": platform.release(), "cores": os.cpu_count(),
            "torch_threads_default": torch.get_num_threads()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 1048576, 1)
    except (OSError, AttributeError):
        pass
    info["cgroup"] = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"
    info["binary"] = binary
    try:
        # ELF e_type 3 (ET_DYN): position-independent, loaded at a random
        # address (the zygote reads candidate-made bytes: doc/security.md)
        with open(os.path.join(os.path.dirname(os.path.abspath(binary)), "aegis-zygote"), "rb") as f:
            info["zygote_pie"] = f.read(18)[16] == 3
    except (OSError, IndexError):
        pass
    return info


# ---- the contenders -------------------------------------------------------

class Ours:
    """The warm Python client (one 'serve --stdio' behind it)."""

    def __init__(self, train, jobs=1):
        from aegis_sandbox import SafeCodeExecutor
        t = time.perf_counter()
        self.ex = SafeCodeExecutor(train=train, jobs=jobs)
        self.ex.execute_model_code("import torch.nn as nn\nclass Model(nn.Module):\n"
                                   "    def __init__(self):\n        super().__init__()\n"
                                   "        self.fc = nn.Linear(4, 2)\n"
                                   "    def forward(self, x):\n        return self.fc(x)\n",
                                   "float:2x4", "warm-up")
        self.startup_s = time.perf_counter() - t
        self.last = None
        self.handoff = []
        self.probe = {}

    def run(self, code, spec):
        t = time.perf_counter()
        r = self.ex.execute_model_code(code, spec, "bench")
        if r.success:
            r.model  # noqa: B018 - the caller gets the model, as with the seed's
        self.last = r
        steps = (r.raw.get("timings") or {}).get("validate_steps") or {}
        if "verify_s" in steps:
            # the handoff's checks, as the validate child timed them: read,
            # hash and our reader; the graph walk (part of the load)
            self.handoff.append((steps["verify_s"], steps.get("graph_walk_s", 0.0)))
        for k in ("causality_shapes_s", "causality_trained_s", "long_run_s"):
            # issue 29's checks: drawn shapes, the trained weights, the long run
            self.probe.setdefault(k, []).append(steps.get(k, 0.0))
        return time.perf_counter() - t, r

    def close(self):
        self.ex.close()


def baseline_execute(ex, code, spec):
    t = time.perf_counter()
    r = ex.execute_model_code(code, spec_tensor(spec), "bench")
    return time.perf_counter() - t, r


def oneshot(binary, path, spec, train):
    t = time.perf_counter()
    args = [binary, "run", "--json", "--input", spec, path]
    if not train:
        args.insert(2, "--no-train")
    p = subprocess.run(args, capture_output=True, text=True)
    dt = time.perf_counter() - t
    return dt, json.loads(p.stdout) if p.stdout.strip() else {"status": "error"}


class Floor:
    """The same work as the sandbox's pipeline, in this process, with no
    sandbox at all: exec the code, build the model, one forward pass, then
    the very validate_model() the validate child runs, on the nn.Module
    itself (no fork, no TorchScript, no confinement).  Run with the
    policy's thread count, as the job children are."""

    def __init__(self, binary, pyhelpers, threads):
        sys.path.insert(0, pyhelpers)
        import yaml
        from aegis_job import inputs, validate
        self.inputs, self.validate = inputs, validate
        pol = yaml.safe_load(subprocess.run([binary, "policy", "show"], capture_output=True,
                                            text=True, check=True).stdout)
        v = pol["validation"]
        self.cfg = {"architecture": v["architecture"], "training": dict(v["training"]),
                    "checks": v["checks"], "export_failure": v.get("export_failure", "reject"),
                    "reference": {"model": None}}
        self.threads = threads

    def run(self, code, spec, train=True):
        import torch.nn as nn
        old = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            t = time.perf_counter()
            ns = {"__name__": "candidate"}
            exec(compile(code, "candidate.py", "exec"), ns)  # noqa: S102 - trusted bench models
            cls = ns.get("Model") or [v for v in ns.values() if isinstance(v, type)
                                      and issubclass(v, nn.Module)][-1]
            sp = parse_spec(spec)
            x = self.inputs.make(sp)
            self.inputs.seed(0)
            model = cls()
            self.inputs.seed(0)
            out = model(x)
            assert self.validate.all_finite(self.inputs.first_tensor(out))
            cfg = dict(self.cfg, training=dict(self.cfg["training"], enabled=train))
            ok, metrics, _, err = self.validate.validate_model(model, sp, cfg, x)
            return time.perf_counter() - t, ok
        finally:
            torch.set_num_threads(old)


# ---- peak memory ----------------------------------------------------------

def pss_rss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            text = f.read()
        pss = int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
        rss = int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))
        return pss, rss
    except (OSError, AttributeError):
        return 0, 0


class Sampler(threading.Thread):
    """Peak of the summed PSS (and RSS) of PIDS_FN() every few ms."""

    def __init__(self, pids_fn):
        super().__init__(daemon=True)
        self.pids_fn, self.stop, self.peak_pss, self.peak_rss = pids_fn, False, 0, 0

    def run(self):
        while not self.stop:
            pss = rss = 0
            for p in self.pids_fn():
                a, b = pss_rss(p)
                pss, rss = pss + a, rss + b
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            time.sleep(0.003)


def two_at_once(fn, code, spec):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        rs = list(pool.map(lambda _: fn(code, spec), range(2)))
    return rs


# ---- throughput -----------------------------------------------------------

def corpus():
    """>= 40 candidates: good, broken (some fixable) and hostile-but-harmless
    (safe to run unconfined: the baseline runs them with no sandbox)."""
    items = []

    def add(kind, name, code, spec=TOKENS):
        items.append({"kind": kind, "name": name, "code": code, "input": spec})

    seed_src = open(SEED_MODEL).read()
    tr_src = open(TRANSFORMER).read()
    add("good", "seed_model", seed_src)
    add("good", "small_transformer", tr_src)
    for h in (128, 256, 384, 640, 896):
        add("good", "seed_h%d" % h, seed_src.replace("768", str(h)))
    for d, layers in ((64, 1), (64, 2), (96, 2), (128, 1)):
        add("good", "transformer_d%d_l%d" % (d, layers),
            tr_src.replace("d=128", "d=%d" % d).replace("layers=2", "layers=%d" % layers))
    legit = os.path.join(TOP, "tests", "models", "legit")
    for f in sorted(os.listdir(legit)):
        p = os.path.join(legit, f)
        if input_of(p).startswith("tokens:"):
            add("good", f[:-3], open(p).read(), input_of(p))
    # broken: missing imports (both debuggers fix it), a shape error (the
    # seed's example: only aegis-sandbox's debug loop fixes it), and plain
    # failures
    strip = re.compile(r"^(import|from) .*\n", re.M)
    add("broken", "seed_no_imports", "import torch.nn as nn\n" + strip.sub("", seed_src).replace(
        "import torch.nn as nn\n", ""))
    add("broken", "transformer_no_imports", strip.sub("", tr_src))
    add("broken", "seed_broken", open(os.path.join(TOP, "doc", "examples", "seed_broken.py")).read())
    models = os.path.join(TOP, "tests", "models")
    for f in ("syntax_error", "raises", "nan_output", "no_params", "needs_args", "empty", "two_classes"):
        add("broken", f, open(os.path.join(models, f + ".py")).read(), "float:2x100")
    # hostile, but harmless when unconfined
    for f in ("loop_forever", "sleep_forever", "memory_python", "memory_torch", "fake_success",
              "tamper_isfinite", "segfault", "exploding", "noncausal", "dead_linear"):
        spec = {"loop_forever": "float:2x4", "sleep_forever": "float:2x4", "memory_python": "float:2x4",
                "memory_torch": "float:2x4", "noncausal": "tokens:2x16:200"}.get(f, "float:2x100")
        add("hostile", f, open(os.path.join(models, f + ".py")).read(), spec)
    return items


def _baseline_worker(item, timeout, memory_gb, work):
    """One candidate through the seed's pipeline, in a pool worker (its
    files under WORK, which the benchmark removes)."""
    if not hasattr(_baseline_worker, "ex"):
        _baseline_worker.ex = seed.SafeCodeExecutor(timeout_seconds=timeout, max_memory_gb=memory_gb,
                                                     work_dir=tempfile.mkdtemp(dir=work))
    x = spec_tensor(item["input"])
    vocab, seq = 1000, 20
    if item["input"].startswith("tokens:"):
        vocab = int(item["input"].rsplit(":", 1)[1])
        seq = x.shape[1]
    try:
        status = seed.seed_pipeline(item["code"], x, item["name"], _baseline_worker.ex,
                                    seed.TrainingValidator(100), seed.import_fixer,
                                    vocab_size=vocab, seq_len=seq)
    except Exception as e:  # noqa: BLE001 - the seed's validator raising on a model
        status = "error:" + type(e).__name__
    return item["name"], status


def throughput(binary, items, timeout, memory_mb, work):
    # baseline: a 2-worker process pool (spawned: a fork of this process,
    # which has run torch, would be unsafe), started inside the timing
    t = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        base = list(pool.map(_baseline_worker, items, [timeout] * len(items),
                             [memory_mb / 1024.0] * len(items), [work] * len(items)))
    base_s = time.perf_counter() - t
    # aegis-sandbox batch --jobs 2, one-shot (zygote start included)
    req = os.path.join(work, "corpus.jsonl")
    with open(req, "w") as f:
        for it in items:
            f.write(json.dumps({"id": it["name"], "code": it["code"], "input": it["input"],
                                "timeout": timeout, "memory_mb": memory_mb}) + "\n")
    t = time.perf_counter()
    p = subprocess.run([binary, "batch", "--jobs", "2", req], capture_output=True, text=True)
    ours_s = time.perf_counter() - t
    ours = [(r["request_id"], r["status"])
            for r in map(json.loads, (x for x in p.stdout.splitlines() if x.startswith("{")))]
    return base_s, base, ours_s, ours


def queue_throughput(binary, items, timeout, memory_mb, work, workers):
    """The same candidates through the pool's queue: submitted first
    (untimed), then drained by one 'worker --drain' process with WORKERS
    worker processes (zygote starts included).  (seconds, statuses)."""
    db = os.path.join(work, "queue-%d.db" % workers)
    for it in items:
        path = os.path.join(work, "q-%s.py" % it["name"])
        with open(path, "w") as f:
            f.write(it["code"])
        args = [binary, "submit", "--db", db, "--timeout", str(timeout), "--memory-mb", str(memory_mb),
                "--arch-id", it["name"], path]
        if it["input"]:
            args[4:4] = ["--input", it["input"]]
        subprocess.run(args, capture_output=True, check=True)
    t = time.perf_counter()
    p = subprocess.run([binary, "worker", "--db", db, "--jobs", str(workers), "--drain", "--poll", "0.1"],
                       capture_output=True, text=True)
    secs = time.perf_counter() - t
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    return secs, lines


# ---- the run --------------------------------------------------------------

def fmt_s(x):
    return "%.0f ms" % (x * 1000) if x < 10 else "%.1f s" % x


def trained_pair(warm, floor, code, spec):
    """The full pipeline with 100 training steps of CODE on SPEC, through the
    warm client and in the floor: two timed callables."""
    def ours():
        dt, r = warm.run(code, spec)
        assert r.success and r.metrics.get("training_steps") == 100, r.error_message
        return dt

    def bare():
        dt, ok = floor.run(code, spec)
        assert ok
        return dt
    return ours, bare


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--pyhelpers", required=True)
    ap.add_argument("--out", default="bench-results.json")
    ap.add_argument("--runs", type=int, default=15, help="rounds for execute-only latency")
    ap.add_argument("--train-runs", type=int, default=7, help="rounds for the full pipeline")
    ap.add_argument("--resnet-runs", type=int, default=3, help="rounds for the CIFAR ResNet-18")
    ap.add_argument("--skip-throughput", action="store_true")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    os.environ["AEGIS_SANDBOX"] = binary
    sys.path.insert(0, os.path.abspath(a.pyhelpers))
    work = tempfile.mkdtemp(prefix="aegis-bench-")
    res = {"machine": machine(binary), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    rows, targets, notes = [], [], []
    try:
        threads = int(re.search(r"^\s*threads:\s*(\d+)", subprocess.run(
            [binary, "policy", "show"], capture_output=True, text=True).stdout, re.M).group(1))
        res["machine"]["sandbox_threads"] = threads
        base_ex = seed.SafeCodeExecutor()

        # 1. execute-only latency
        print("execute-only latency, %d rounds per model ..." % a.runs, file=sys.stderr)
        warm = Ours(train=False)
        res["warm_client_startup_s"] = warm.startup_s
        res["execute_only"] = {}
        for label, path in (("seed model", SEED_MODEL), ("small transformer", TRANSFORMER)):
            code = open(path).read()
            status = {}

            def rec(name, fn):
                def go():
                    dt, r = fn()
                    st = getattr(r, "status", None) or (r.get("status") if isinstance(r, dict) else None)
                    if st is None:
                        st = "accepted" if r.success else "rejected"
                    status.setdefault(name, set()).add(st)
                    return dt
                return go

            s = alternate({
                "baseline": rec("baseline", lambda: baseline_execute(base_ex, code, TOKENS)),
                "one-shot run": rec("one-shot run", lambda: oneshot(binary, path, TOKENS, False)),
                "warm client": rec("warm client", lambda: warm.run(code, TOKENS)),
            }, a.runs)
            ent = {k: summary(v) for k, v in s.items()}
            ent["samples"] = s
            ent["status"] = {k: sorted(v) for k, v in status.items()}
            if warm.last is not None:
                ent["warm_phases"] = warm.last.raw.get("timings")
            if warm.handoff:
                v = sorted(x[0] for x in warm.handoff)[len(warm.handoff) // 2]
                g = sorted(x[1] for x in warm.handoff)[len(warm.handoff) // 2]
                ent["handoff_checks_s"] = {"reader": v, "graph_walk": g}
                notes.append("archive verifier, %s: reader (read, hash, zip, pickles, tensors, code) %.1f ms, "
                             "graph walk %.1f ms: %.0f%% of the warm client's %.0f ms"
                             % (label, v * 1e3, g * 1e3, 100 * (v + g) / ent["warm client"]["median"],
                                ent["warm client"]["median"] * 1e3))
                warm.handoff = []
            if warm.probe:
                med = {k: sorted(v)[len(v) // 2] for k, v in warm.probe.items()}
                ent["probe_checks_s"] = med
                notes.append("issue 29's checks, %s, no training: drawn-shape causality %.1f ms, long run %.1f ms"
                             % (label, med["causality_shapes_s"] * 1e3, med["long_run_s"] * 1e3))
                warm.probe = {}
            res["execute_only"][label] = ent
            b = ent["baseline"]["median"]
            for k in ("baseline", "one-shot run", "warm client"):
                m = ent[k]
                rows.append(("execute-only, " + label, k, m, b / m["median"]))
            rw = b / ent["warm client"]["median"]
            ro = b / ent["one-shot run"]["median"]
            ent["paired_ratio"] = {k: paired(s, "baseline", k) for k in ("one-shot run", "warm client")}
            if path == SEED_MODEL:
                # DESIGN.md's target is defined on the seed's model; the
                # transformer's ratio is reported in the table (see
                # doc/performance.md for why it is lower)
                targets.append(("warm execute-only >= 10x faster than baseline (seed model)", rw >= 10,
                                "%.1fx" % rw))
            targets.append(("one-shot run no slower than baseline (%s)" % label, ro >= 1.0,
                            "%.2fx (paired %.2fx)" % (ro, ent["paired_ratio"]["one-shot run"])))
        warm.close()

        # 2. full pipeline with 100 training steps
        print("full pipeline (100 training steps), %d rounds per model ..." % a.train_runs,
              file=sys.stderr)
        warm_t = Ours(train=True)
        floor = Floor(binary, os.path.abspath(a.pyhelpers), threads)
        validator = seed.TrainingValidator(100)
        res["full_pipeline"] = {}
        for label, path in (("seed model", SEED_MODEL), ("small transformer", TRANSFORMER)):
            code = open(path).read()

            def base_full():
                t = time.perf_counter()
                r = base_ex.execute_model_code(code, spec_tensor(TOKENS), "bench")
                ok, _ = validator.validate_training(r.model, 1000, 20)
                assert ok
                return time.perf_counter() - t

            ours_full, floor_full = trained_pair(warm_t, floor, code, TOKENS)
            s = alternate({"baseline": base_full, "warm client": ours_full,
                           "no sandbox (floor)": floor_full}, a.train_runs)
            ent = {k: summary(v) for k, v in s.items()}
            ent["samples"] = s
            ent["warm_phases"] = warm_t.last.raw.get("timings")
            if warm_t.probe:
                med = {k: sorted(v)[len(v) // 2] for k, v in warm_t.probe.items()}
                ent["probe_checks_s"] = med
                notes.append("issue 29's checks, %s, with training: drawn-shape causality %.1f ms, causality of the "
                             "trained weights %.1f ms, long run %.1f ms"
                             % (label, med["causality_shapes_s"] * 1e3, med["causality_trained_s"] * 1e3,
                                med["long_run_s"] * 1e3))
                warm_t.probe = {}
            res["full_pipeline"][label] = ent
            fl = ent["no sandbox (floor)"]["median"]
            for k in ("baseline", "warm client", "no sandbox (floor)"):
                rows.append(("full pipeline, " + label, k, ent[k], ent["baseline"]["median"] / ent[k]["median"]))
            over = ent["warm client"]["median"] / fl - 1
            ent["paired_over_floor"] = paired(s, "warm client", "no sandbox (floor)") - 1
            targets.append(("full pipeline within 10%% of no-sandbox floor (%s)" % label, over <= 0.10,
                            "%+.1f%% (paired %+.1f%%)" % (100 * over, 100 * ent["paired_over_floor"])))
        warm_t.close()

        # 2b. a real research model against plain PyTorch doing the same
        # steps: convolutions must keep oneDNN's JIT in the sandbox
        print("CIFAR ResNet-18, full pipeline, %d rounds ..." % a.resnet_runs, file=sys.stderr)
        warm_r = Ours(train=True)
        code = open(RESNET).read()

        ours_resnet, floor_resnet = trained_pair(warm_r, floor, code, IMAGES)
        s = alternate({"warm client": ours_resnet, "plain PyTorch (floor)": floor_resnet}, a.resnet_runs)
        ent = {k: summary(v) for k, v in s.items()}
        ent["samples"] = s
        res["resnet18"] = ent
        fl = ent["plain PyTorch (floor)"]["median"]
        for k in ("plain PyTorch (floor)", "warm client"):
            rows.append(("full pipeline, CIFAR ResNet-18", k, ent[k], fl / ent[k]["median"]))
        ratio = ent["warm client"]["median"] / fl
        targets.append(("CIFAR ResNet-18 within 1.5x of plain PyTorch", ratio <= 1.5,
                        "%.2fx (paired %.2fx)" % (ratio, paired(s, "warm client", "plain PyTorch (floor)"))))
        warm_r.close()

        # 3. peak memory of 2 concurrent jobs vs 2 baseline subprocesses
        print("peak memory ...", file=sys.stderr)
        code = open(SEED_MODEL).read()
        me = os.getpid()
        sm = Sampler(lambda: descendants(me))
        sm.start()
        for _ in range(3):
            two_at_once(lambda c, sp: baseline_execute(base_ex, c, sp), code, TOKENS)
        sm.stop = True
        sm.join()
        ours2 = Ours(train=False, jobs=2)
        so = Sampler(lambda: descendants(me))
        so.start()
        for _ in range(5):
            two_at_once(ours2.run, code, TOKENS)
        so.stop = True
        so.join()
        ours2.close()
        res["peak_memory"] = {"baseline_2_subprocesses": {"pss_mib": sm.peak_pss / 1024, "rss_mib": sm.peak_rss / 1024},
                              "ours_2_jobs": {"pss_mib": so.peak_pss / 1024, "rss_mib": so.peak_rss / 1024,
                                              "note": "every process of the warm server: front, workers, "
                                                      "zygote, job children"}}
        rows.append(("peak memory, 2 at once (PSS)", "baseline", {"median": sm.peak_pss / 1024}, 1.0))
        rows.append(("peak memory, 2 at once (PSS)", "warm client", {"median": so.peak_pss / 1024},
                     sm.peak_pss / max(so.peak_pss, 1)))
        targets.append(("2 concurrent jobs use less memory than 2 baseline subprocesses",
                        so.peak_pss < sm.peak_pss, "%.0f vs %.0f MiB PSS" % (so.peak_pss / 1024, sm.peak_pss / 1024)))
        base_ex.close()

        # 4. throughput on the mixed corpus, 2 at a time
        if not a.skip_throughput:
            items = corpus()
            print("throughput on %d candidates, 2 at a time ..." % len(items), file=sys.stderr)
            bs, bres, osec, ores = throughput(binary, items, 10, 2048, work)
            res["throughput"] = {"candidates": len(items),
                                 "kinds": {k: sum(1 for i in items if i["kind"] == k) for k in ("good", "broken", "hostile")},
                                 "baseline_s": bs, "ours_s": osec,
                                 "baseline_status": dict(bres), "ours_status": dict(ores)}
            rows.append(("throughput, %d candidates, 2 jobs" % len(items), "baseline pool", {"median": bs}, 1.0))
            rows.append(("throughput, %d candidates, 2 jobs" % len(items), "batch --jobs 2", {"median": osec}, bs / osec))
            targets.append(("batch --jobs 2 faster than a 2-worker baseline pool", osec < bs, "%.2fx" % (bs / osec)))
            # 5. the same candidates through the queue: 1 and 2 workers
            print("throughput through the queue, 1 and 2 workers ...", file=sys.stderr)
            q1, l1 = queue_throughput(binary, items, 10, 2048, work, 1)
            q2, l2 = queue_throughput(binary, items, 10, 2048, work, 2)
            n = len(items)
            res["queue"] = {"one_worker_s": q1, "two_workers_s": q2, "recorded_1": sum(1 for x in l1 if x.get("recorded")),
                            "recorded_2": sum(1 for x in l2 if x.get("recorded")),
                            "per_minute": {"baseline pool": 60 * n / bs, "batch --jobs 2": 60 * n / osec,
                                           "1 worker": 60 * n / q1, "2 workers": 60 * n / q2}}
            rows.append(("throughput, %d candidates, queue" % n, "1 worker", {"median": q1}, bs / q1))
            rows.append(("throughput, %d candidates, queue" % n, "2 workers", {"median": q2}, bs / q2))
            targets.append(("2 queue workers faster than a 2-worker baseline pool, every candidate once",
                            q2 < bs and res["queue"]["recorded_2"] == n,
                            "%.2fx, %.0f/min (batch %.0f/min, 1 worker %.0f/min)"
                            % (bs / q2, 60 * n / q2, 60 * n / osec, 60 * n / q1)))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    res["table"] = [{"comparison": c, "contender": k, "median": m.get("median"), "p25": m.get("p25"),
                     "p75": m.get("p75"), "speedup_vs_baseline": r} for c, k, m, r in rows]
    res["targets"] = [{"target": t, "met": ok, "value": v} for t, ok, v in targets]
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1, default=list)

    mi = res["machine"]
    print("\naegis-sandbox benchmark, %s: %s, %s cores, %s GiB, kernel %s, torch %s, cgroup %s, zygote %s"
          % (res["when"], mi.get("cpu", "?"), mi["cores"], mi.get("memory_gib", "?"), mi["kernel"],
             mi["torch"], mi["cgroup"], {True: "PIE", False: "not PIE"}.get(mi.get("zygote_pie"), "?")))
    print("%-42s %-20s %12s %19s %9s" % ("comparison", "contender", "median", "p25..p75", "vs base"))
    for c, k, m, r in rows:
        if c.startswith("peak memory"):
            print("%-42s %-20s %9.0f MiB %19s %8.1fx" % (c, k, m["median"], "", r))
        elif "p25" in m:
            print("%-42s %-20s %12s %19s %8.1fx" % (c, k, fmt_s(m["median"]),
                                                    "%s..%s" % (fmt_s(m["p25"]), fmt_s(m["p75"])), r))
        else:
            print("%-42s %-20s %12s %19s %8.1fx" % (c, k, fmt_s(m["median"]), "", r))
    print()
    for n in notes:
        print(n)
    for t, ok, v in targets:
        print("%-4s %-72s %s" % ("MET" if ok else "MISS", t, v))
    print("\nsamples and per-phase timings: %s" % a.out)
    return 0 if all(ok for _, ok, _ in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
