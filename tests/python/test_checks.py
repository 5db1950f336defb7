"""Unit tests of the validate child's causality probe
(pyhelpers/aegis_job/validate.py): one cut per row of the batch, a moved
row confirmed with the whole batch cut at the same place."""

import math
import os
import random
import sys

import torch

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                                "pyhelpers"))

from aegis_job import validate  # noqa: E402

V, T = 50, 20


class Prefix(torch.nn.Module):
    """Causal by construction (a running sum over positions); LEAK_AT, when
    set, also reads the last token at that position; MIX mixes the
    sequences of the batch (not the future); CALLS counts forward passes."""

    def __init__(self, leak_at=None, mix=False):
        super().__init__()
        self.emb = torch.nn.Embedding(V, 8)
        self.leak_at, self.mix, self.calls = leak_at, mix, 0

    def forward(self, x):
        self.calls += 1
        h = self.emb(x).cumsum(1)
        if self.leak_at is not None:
            h[:, self.leak_at] = h[:, self.leak_at] + self.emb(x[:, -1])
        if self.mix:
            h = h + 0.1 * h.mean(0, keepdim=True)
        return h


def probe(model, batch, seed=1):
    torch.manual_seed(0)
    x = torch.randint(0, V, (batch, T))
    return validate.check_causality(model, x, V, rng=random.Random(seed))


def test_causal_model_passes_with_a_cut_per_row():
    m = Prefix()
    assert probe(m, 2) == ("pass", "outputs up to each of 4 split positions unchanged when later tokens change")
    assert m.calls == 3  # the unperturbed pass, then two passes for four cuts


def test_one_row_tests_three_cuts_in_three_passes():
    m = Prefix()
    assert probe(m, 1) == ("pass", "outputs up to each of 3 split positions unchanged when later tokens change")
    assert m.calls == 4


def test_a_wide_batch_takes_one_pass():
    m = Prefix()
    status, detail = probe(m, 4)
    assert (status, m.calls) == ("pass", 2)
    assert detail.startswith("outputs up to each of 4 split positions")


def test_leak_at_the_last_cut_fails_with_position_and_cut():
    status, detail = probe(Prefix(leak_at=T - 2), 2)
    assert status == "fail"
    assert detail.startswith("the output at position 18 changed by ")
    assert detail.endswith("when only tokens after position 18 changed: the model reads future tokens")


def test_leak_early_in_the_sequence_fails_at_a_later_cut():
    status, detail = probe(Prefix(leak_at=3), 2)
    assert status == "fail" and detail.startswith("the output at position 3 changed")


def test_mixing_the_batch_is_not_reading_the_future():
    m = Prefix(mix=True)
    assert probe(m, 2)[0] == "pass"
    assert m.calls > 3  # a row moved, and was cleared by the whole-batch cut


def test_nan_where_outputs_should_agree_is_a_leak():
    # every output NaN once the last token is not 1: NaN compares unequal
    # to anything, so a tolerance test written as diff > tol would pass it
    class NaNFuture(Prefix):
        def forward(self, x):
            h = super().forward(x)
            return torch.where(x[:, -1:, None] == 1, h, torch.full_like(h, float("nan")))

    torch.manual_seed(0)
    x = torch.randint(0, V, (2, T))
    x[:, -1] = 1
    status, detail = validate.check_causality(NaNFuture(), x, V, rng=random.Random(1))
    assert status == "fail"
    assert detail.startswith("the output at position 0 changed by inf when only tokens after position ")


def test_task_floor_is_the_best_causal_loss():
    """The learnable task's entropy (Task.floor) is what the best causal
    predictor, the chain's own transition probabilities, scores on its
    data; a predictor that reads the next token scores far below it."""
    spec = {"kind": "tokens", "shape": [2, 20], "vocab": 50}
    x = torch.zeros(2, 20, dtype=torch.long)
    task = validate.Task(spec, x, torch.zeros(2, 20, 50), "ce", 50)
    ent, noise = task.floor(4000 * 20)
    k = task.states.shape[0]
    tok = {int(t): i for i, t in enumerate(task.states)}
    xb, tb = task.batch(scale=2000)
    nll = []
    for row_x, row_t in zip(xb.tolist(), tb.tolist()):
        for a, b in zip(row_x, row_t):
            s = tok[a]
            p = 0.8 * (int(task.succ[s, 0]) == tok[b]) + 0.2 * (int(task.succ[s, 1]) == tok[b])
            nll.append(-math.log(p))
    best = sum(nll) / len(nll)
    assert abs(best - ent) < 6 * noise + 1e-9, (best, ent, noise)
    assert 0.0 <= ent <= 0.51 and k == 16
    leak = 0.0  # reading the target itself: a cross-entropy of zero
    assert leak < ent - max(0.05, 6 * noise) or ent < 0.05
