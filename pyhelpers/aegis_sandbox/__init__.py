"""aegis_sandbox: the AEGIS code-execution API, backed by aegis-sandbox.

Drop-in for the names of the AEGIS design document (core.evolution.code_execution):

    from aegis_sandbox import SafeCodeExecutor, TrainingValidator, CodeDebugger
    executor = SafeCodeExecutor()
    result = executor.execute_model_code(code, torch.randn(2, 100), "test_1")

Candidate code never runs in this process: each executor keeps one warm
``aegis-sandbox serve --stdio`` child (started lazily, restarted if it dies,
closed at exit) and the model comes back as a TorchScript module loaded
only from the bytes the archive verifier passed (load_archive: their SHA-256
is checked in memory, then loaded from there); nothing else candidate-made
is unpickled or loaded here.  Every object of
one process shares one server; logging goes to the "aegis_sandbox" logger.
"""

from aegis_sandbox.executor import (  # noqa: F401
    ApprovalManager,
    ArchiveMismatch,
    ArchitectureValidator,
    CodeDebugger,
    CodePool,
    CodeValidator,
    Conflict,
    ExecutionResult,
    LLMCodeDebugger,
    NotFound,
    Refused,
    SafeCodeExecutor,
    SandboxError,
    TrainingValidator,
    default_db,
    load_archive,
    run_full_training,
    shutdown,
    submit,
)


def install_seed_shim():
    """Make 'from core.evolution.code_execution import SafeCodeExecutor'
    (the AEGIS document's import path) resolve to this package."""
    import sys
    import types
    this = sys.modules[__name__]
    for name in ("core", "core.evolution"):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = []
            sys.modules[name] = mod
    sys.modules["core.evolution.code_execution"] = this
    sys.modules["core.evolution"].code_execution = this
    sys.modules["core"].evolution = sys.modules["core.evolution"]


__all__ = ["install_seed_shim", "SafeCodeExecutor", "ExecutionResult", "CodeDebugger", "LLMCodeDebugger",
           "TrainingValidator", "ApprovalManager", "CodePool", "CodeValidator", "ArchitectureValidator",
           "SandboxError", "ArchiveMismatch", "Refused", "NotFound", "Conflict", "default_db", "load_archive", "run_full_training", "shutdown",
           "submit"]
