# OpenEvolve's evaluator: every program is judged by aegis-sandbox, in its
# sandbox, never in OpenEvolve's process (doc/examples/openevolve/README.md).
from aegis_sandbox.integrations.openevolve import evaluate, evaluate_stage1, evaluate_stage2  # noqa: F401
