/* policy.c - the policy schema table, and everything driven by it but the
 * YAML parser (policy/yaml.c): defaults, --set, dump, the key reference,
 * the digest, and the JSON codec that carries a policy to the zygote and
 * to job children (policy_encode / policy_decode).  No libyaml here: the
 * zygote links this file to read its job object. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/schema.h"
#include "common/sha256.h"
#include "common/util.h"

#define OFF(f) offsetof(struct policy, f)
#define TO_CONFINE POLICY_TO_CONFINE
#define TO_BUILD POLICY_TO_BUILD
#define TO_VALIDATE POLICY_TO_VALIDATE
#define TO_FIX POLICY_TO_FIX
#define TO_JOBS (POLICY_TO_BUILD | POLICY_TO_VALIDATE | POLICY_TO_FIX)
#define SEC(p, d)                                                                                                      \
	{                                                                                                              \
		p, K_SECTION, 0, NULL, 0, 0, NULL, C_NONE, d                                                           \
	}

/* clang-format off */
const struct key schema[] = {
	{ "version", K_INT, 0, "1", 1, 1, NULL, C_NONE,
	  "Schema version of the file. Must be 1. Required." },

	SEC("limits", "Hard limits the supervisor enforces on every job child."),
	{ "limits.wall_timeout_s", K_NUM, OFF(limits.wall_timeout_s), "120", 0.1, 86400, NULL, C_NONE,
	  "Wall-clock seconds one job child may run before the supervisor kills it (status timeout)." },
	{ "limits.cpu_time_s", K_NUM, OFF(limits.cpu_time_s), "120", 0.1, 86400, NULL, C_NONE,
	  "CPU seconds one job child may use (RLIMIT_CPU and the supervisor's accounting; status timeout).", TO_CONFINE },
	{ "limits.memory_mb", K_INT, OFF(limits.memory_mb), "4096", 16, 1048576, NULL, C_NONE,
	  "Memory one job child may use, in MiB (cgroup memory limit, else RLIMIT_DATA and an RSS watch; status memory).", TO_CONFINE },
	{ "limits.max_pids", K_INT, OFF(limits.max_pids), "64", 1, 100000, NULL, C_NONE,
	  "Processes and threads one job child may hold (cgroup pids controller).", TO_CONFINE },
	{ "limits.max_output_bytes", K_INT, OFF(limits.max_output_bytes), "1048576", 1024, 1073741824, NULL, C_NONE,
	  "Bytes of stdout and of stderr kept per job; the rest is dropped with a marker, and a child that floods past 64 times this is killed." },
	{ "limits.max_file_bytes", K_INT, OFF(limits.max_file_bytes), "268435456", 4096, 68719476736.0, NULL, C_NONE,
	  "Largest file a job child may write (RLIMIT_FSIZE); must hold the exported model.", TO_CONFINE },
	{ "limits.max_open_files", K_INT, OFF(limits.max_open_files), "256", 16, 65536, NULL, C_NONE,
	  "Open file descriptors per job child (RLIMIT_NOFILE).", TO_CONFINE },
	{ "limits.workdir_mb", K_INT, OFF(limits.workdir_mb), "1024", 1, 1048576, NULL, C_NONE,
	  "Size of a job's work directory, all files together (the archive included). As root it is a tmpfs of "
	  "this size, so it is memory, charged to the job that writes it; filling it is a 'memory' verdict "
	  "(DiskLimit). Unprivileged, only limits.max_file_bytes holds per file, and the total is checked "
	  "after the job.", TO_CONFINE },
	{ "limits.code_max_bytes", K_INT, OFF(limits.code_max_bytes), "1048576", 16, 67108864, NULL, C_NONE,
	  "Largest candidate source accepted, in bytes." },

	SEC("python", "The Python-level tripwires: import allowlist, audit hook and static check."),
	{ "python.allowed_imports", K_LIST, OFF(python.allowed_imports),
	  "torch|torch.nn|torch.nn.*|torch.nn.functional|torch.autograd|torch.fft|torch.linalg|torch.special|"
	  "math|typing|typing_extensions|dataclasses|functools|collections|collections.abc|itertools|numbers|"
	  "enum|abc|copy|operator|warnings|__future__|random|string|re|numpy",
	  0, 0, NULL, C_MODULE,
	  "Modules candidate code is expected to import. \"pkg.*\" allows every submodule of pkg; anything else is "
	  "exact. With python.static_check.action: warn (the default) an import outside the list is a warning: "
	  "importing is not an attack, what the module then does is judged by the audit hook and the kernel. "
	  "With reject it is a violation, statically and at run time.", TO_BUILD | TO_FIX },
	SEC("python.audit", "Runtime audit hook (PEP 578), armed just before candidate code runs."),
	{ "python.audit.enabled", K_BOOL, OFF(python.audit.enabled), "true", 0, 0, NULL, C_NONE,
	  "Install the audit-hook rules. The hook is a tripwire for clear errors; the kernel layer is the boundary.", TO_BUILD },
	{ "python.audit.deny_events", K_LIST, OFF(python.audit.deny_events),
	  "os.system|os.exec|os.posix_spawn|os.spawn|os.fork|os.forkpty|subprocess.Popen|pty.spawn|"
	  "socket.*|ctypes.*|os.kill|os.killpg|resource.prlimit|"
	  "os.chmod|os.chown|os.remove|os.rename|os.rmdir|os.mkdir|os.symlink|os.link|os.truncate|"
	  "shutil.*|builtins.input|open|os.listdir|os.scandir|"
	  "torch.ops.load_library|torch.classes.load_library|import",
	  0, 0, NULL, C_EVENT,
	  "Audit events denied once candidate code runs: what acts outside the candidate's process (processes, "
	  "signals, sockets, files), and ctypes, past which the hook cannot see what the code does. "
	  "\"x.*\" matches every event starting with \"x.\". "
	  "\"open\", \"os.listdir\" and \"os.scandir\" are denied only outside the work directory and the read-only "
	  "Python roots; \"import\" only outside allowed_imports.", TO_BUILD },
	{ "python.audit.finding_events", K_LIST, OFF(python.audit.finding_events),
	  "os.putenv|os.unsetenv|os.chdir|sys._getframe|sys._current_frames|sys.setrecursionlimit|sys.settrace|"
	  "sys.setprofile|sys.addaudithook|code.__new__|function.__new__|marshal.*|pickle.find_class|gc.get_objects|"
	  "gc.get_referrers|gc.get_referents|signal.pthread_kill|resource.setrlimit|mmap.__new__|compile|exec",
	  0, 0, NULL, C_EVENT,
	  "Audit events that change only the candidate's own process (its environment, directory, frames, tracing, "
	  "code objects): they run, and the first of each kind is a finding in the verdict's warnings, not a "
	  "violation. The build child is the candidate; the validate child never runs its Python. An event in both "
	  "lists is denied.", TO_BUILD },
	SEC("python.static_check", "AST rules checked before the candidate is compiled."),
	{ "python.static_check.enabled", K_BOOL, OFF(python.static_check.enabled), "true", 0, 0, NULL, C_NONE,
	  "Run the static check.", TO_BUILD },
	{ "python.static_check.action", K_ENUM, OFF(python.static_check.action), "warn", 0, 0, "warn|reject", C_NONE,
	  "What a static finding (and an import outside python.allowed_imports) is: warn reports it with its line "
	  "and column and lets the code run, so that what the code does decides (the audit hook, the kernel); "
	  "reject makes it a violation before any candidate code runs, for operators who want mention-level "
	  "refusal (policies/strict.yaml). max_nesting and max_ast_nodes always reject.", TO_BUILD },
	{ "python.static_check.banned_builtins", K_LIST, OFF(python.static_check.banned_builtins),
	  "eval|exec|compile|__import__|open|breakpoint|input|globals|locals|vars|delattr|exit|quit|help|"
	  "memoryview|__builtins__|__loader__|__spec__",
	  0, 0, NULL, C_IDENT,
	  "Builtins the static check reports. A call, with action reject, records a violation and raises "
	  "PermissionError; with warn (the default) it runs and is a finding in the verdict: eval, exec and compile "
	  "change only the candidate's process, and what the code then does is judged by the audit hook and the "
	  "kernel. A mention is a static finding (see action).", TO_BUILD },
	{ "python.static_check.banned_attributes", K_LIST, OFF(python.static_check.banned_attributes),
	  "f_back|f_globals|f_locals|f_builtins|f_code|gi_frame|gi_code|cr_frame|cr_code|ag_frame|ag_code|"
	  "tb_frame|tb_next|func_globals|co_code|mro",
	  0, 0, NULL, C_IDENT,
	  "Attribute names the static check reports (besides every dunder not in allowed_dunders).", TO_BUILD },
	{ "python.static_check.allowed_dunders", K_LIST, OFF(python.static_check.allowed_dunders),
	  "__init__|__name__|__class__|__call__|__len__|__getitem__|__setitem__|__iter__|__next__|"
	  "__enter__|__exit__|__repr__|__str__|__doc__|__module__|__qualname__|__post_init__|"
	  "__constants__|__version__|__annotations__|__setstate__|__add__|__mul__|__eq__|__hash__|__contains__",
	  0, 0, NULL, C_IDENT,
	  "Dunder attributes (x.__name__) the static check does not report; every other one is a finding.", TO_BUILD },
	{ "python.static_check.max_nesting", K_INT, OFF(python.static_check.max_nesting), "50", 1, 1000, NULL, C_NONE,
	  "Deepest statement/expression nesting allowed.", TO_BUILD },
	{ "python.static_check.max_ast_nodes", K_INT, OFF(python.static_check.max_ast_nodes), "200000", 10, 100000000, NULL, C_NONE,
	  "Most AST nodes allowed in one candidate.", TO_BUILD },

	SEC("sandbox", "Kernel-level confinement of job children."),
	{ "sandbox.seccomp", K_BOOL, OFF(sandbox.seccomp), "true", 0, 0, NULL, C_NONE,
	  "Load the seccomp allowlist (default deny) last in the confinement order.", TO_CONFINE },
	{ "sandbox.landlock", K_BOOL, OFF(sandbox.landlock), "true", 0, 0, NULL, C_NONE,
	  "Apply a Landlock ruleset: read-only Python/torch/pyhelpers, read-write work directory, no TCP, scoped signals.", TO_CONFINE },
	{ "sandbox.allow_unix_sockets", K_BOOL, OFF(sandbox.allow_unix_sockets), "false", 0, 0, NULL, C_NONE,
	  "Let job children create AF_UNIX sockets (seccomp).", TO_CONFINE },
	{ "sandbox.allow_rwx_memory", K_BOOL, OFF(sandbox.allow_rwx_memory), "true", 0, 0, NULL, C_NONE,
	  "Allow writable+executable memory (seccomp), which torch's oneDNN JIT needs for fast convolutions (about "
	  "10x on a CIFAR ResNet). The boundary does not rest on W^X: code a job generates runs under the same "
	  "seccomp, Landlock, namespaces and uid. Off (policies/strict.yaml): oneDNN is switched off in job "
	  "children and convolutions use ATen's own kernels.", TO_CONFINE | TO_JOBS },
	SEC("sandbox.namespaces", "Namespaces unshared by each job child (when the host allows)."),
	{ "sandbox.namespaces.net", K_BOOL, OFF(sandbox.namespaces.net), "true", 0, 0, NULL, C_NONE,
	  "A network namespace with no interfaces.", TO_CONFINE },
	{ "sandbox.namespaces.ipc", K_BOOL, OFF(sandbox.namespaces.ipc), "true", 0, 0, NULL, C_NONE,
	  "A private IPC namespace.", TO_CONFINE },
	{ "sandbox.namespaces.mount", K_BOOL, OFF(sandbox.namespaces.mount), "true", 0, 0, NULL, C_NONE,
	  "A private mount namespace with an empty /dev/shm and /tmp.", TO_CONFINE },
	{ "sandbox.namespaces.pid", K_BOOL, OFF(sandbox.namespaces.pid), "false", 0, 0, NULL, C_NONE,
	  "unshare(CLONE_NEWPID) for anything the child manages to start. Off by default: after it the kernel "
	  "refuses CLONE_THREAD, so torch's thread pools cannot start (use only with sandbox.threads: 1); "
	  "seccomp already forbids creating processes.", TO_CONFINE },
	{ "sandbox.namespaces.user", K_BOOL, OFF(sandbox.namespaces.user), "true", 0, 0, NULL, C_NONE,
	  "A user namespace, used only when running unprivileged (it lets the other namespaces be created).", TO_CONFINE },
	{ "sandbox.cgroups", K_ENUM, OFF(sandbox.cgroups), "auto", 0, 0, "auto|v1|v2|off", C_NONE,
	  "Which cgroup hierarchy enforces memory and pids: auto-detect, force one, or off (rlimits and RSS watch)." },
	{ "sandbox.environment", K_LIST, OFF(sandbox.environment),
	  "LANG=C.UTF-8|OMP_NUM_THREADS=1|MKL_NUM_THREADS=1|OPENBLAS_NUM_THREADS=1|PYTHONHASHSEED=0",
	  0, 0, NULL, C_ENVVAR,
	  "The whole environment of a job child (KEY=VALUE items); nothing else is inherited.", TO_CONFINE | TO_JOBS },
	{ "sandbox.threads", K_INT, OFF(sandbox.threads), "1", 1, 256, NULL, C_NONE,
	  "torch intra-op threads in a job child (the zygote itself always stays single-threaded).", TO_JOBS },
	{ "sandbox.workdir_base", K_STR, OFF(sandbox.workdir_base), "", 0, 0, NULL, C_NONE,
	  "Directory under which job work directories are made; empty means $TMPDIR or /tmp." },
	{ "sandbox.uid", K_INT, OFF(sandbox.uid), "65534", 1, 4294967294.0, NULL, C_NONE,
	  "When the supervisor runs as root: the uid job children run as, with no capabilities. Pick one that "
	  "owns no file on the host (65534 is nobody).", TO_CONFINE },
	{ "sandbox.gid", K_INT, OFF(sandbox.gid), "65534", 1, 4294967294.0, NULL, C_NONE,
	  "When the supervisor runs as root: the gid job children run as (no supplementary groups).", TO_CONFINE },

	SEC("validation", "What the validate child checks on the exported model."),
	{ "validation.input", K_STR, OFF(validation.input), "auto", 0, 0, NULL, C_NONE,
	  "Test input when the caller gives none: tokens:BxT:VOCAB, float:D1xD2..., a .pt/.npy tensor file, or auto: "
	  "from the model's first layer with parameters (Embedding: tokens:2x20:VOCAB; Linear: float:2xIN; "
	  "Conv1d/2d/3d: a batch of 2 with its channels; RNN/LSTM/GRU: 2x20xIN), else tokens:2x20:1000. A model "
	  "is never rewritten to fit an input it was not given." },
	{ "validation.export_failure", K_ENUM, OFF(validation.export_failure), "reject", 0, 0, "reject|in-process", C_NONE,
	  "When the model cannot be exported to TorchScript: reject, or validate in the build child (integrity in-process).", TO_BUILD },
	SEC("validation.architecture", "Architecture limits."),
	{ "validation.architecture.max_parameters", K_INT, OFF(validation.architecture.max_parameters), "100000000", 0, 1e15, NULL, C_NONE,
	  "Most parameters a model may have.", TO_VALIDATE | TO_BUILD },
	{ "validation.architecture.max_buffers", K_INT, OFF(validation.architecture.max_buffers), "100000000", 0, 1e15, NULL, C_NONE,
	  "Most buffer elements a model may have (running statistics, masks, and weights hidden from "
	  "parameters()); their bytes also count in the training memory estimate.", TO_VALIDATE | TO_BUILD },
	{ "validation.architecture.max_layers", K_INT, OFF(validation.architecture.max_layers), "1000", 1, 1e9, NULL, C_NONE,
	  "Most leaf modules a model may have.", TO_VALIDATE | TO_BUILD },
	{ "validation.architecture.max_depth", K_INT, OFF(validation.architecture.max_depth), "32", 1, 10000, NULL, C_NONE,
	  "Deepest module nesting allowed.", TO_VALIDATE | TO_BUILD },
	{ "validation.architecture.max_memory_mb", K_INT, OFF(validation.architecture.max_memory_mb), "4096", 1, 1048576, NULL, C_NONE,
	  "Most training memory (parameters + gradients + Adam state + activation peak), in MiB.", TO_VALIDATE | TO_BUILD },
	SEC("validation.training", "The trainability check."),
	{ "validation.training.enabled", K_BOOL, OFF(validation.training.enabled), "true", 0, 0, NULL, C_NONE,
	  "Run the trainability check (the CLI's --no-train turns it off).", TO_VALIDATE | TO_BUILD },
	{ "validation.training.steps", K_INT, OFF(validation.training.steps), "100", 1, 1000000, NULL, C_NONE,
	  "Optimizer steps.", TO_VALIDATE | TO_BUILD },
	{ "validation.training.learning_rate", K_NUM, OFF(validation.training.learning_rate), "0.001", 1e-9, 10, NULL, C_NONE,
	  "Adam learning rate.", TO_VALIDATE | TO_BUILD },
	{ "validation.training.batches", K_INT, OFF(validation.training.batches), "1", 1, 1000, NULL, C_NONE,
	  "Size of the fixed synthetic training set, in batches of the test input's shape (reused every epoch).", TO_VALIDATE | TO_BUILD },
	{ "validation.training.min_loss_drop", K_NUM, OFF(validation.training.min_loss_drop), "0.05", 0, 1, NULL, C_NONE,
	  "Fraction by which the loss must fall from the first to the last step (0 accepts a stable loss).", TO_VALIDATE | TO_BUILD },
	{ "validation.training.explode_factor", K_NUM, OFF(validation.training.explode_factor), "10", 1, 1e9, NULL, C_NONE,
	  "A loss above this multiple of the initial loss is an explosion.", TO_VALIDATE | TO_BUILD },
	SEC("validation.checks", "Extra integrity checks."),
	{ "validation.checks.causality", K_BOOL, OFF(validation.checks.causality), "true", 0, 0, NULL, C_NONE,
	  "For token models with per-position outputs: outputs at positions <= t must not change when later tokens do (failure rejects).", TO_VALIDATE | TO_BUILD },
	{ "validation.checks.gradient_coverage", K_BOOL, OFF(validation.checks.gradient_coverage), "true", 0, 0, NULL, C_NONE,
	  "List parameters that never receive a gradient (a flag, not a rejection).", TO_VALIDATE | TO_BUILD },
	{ "validation.checks.low_loss", K_BOOL, OFF(validation.checks.low_loss), "true", 0, 0, NULL, C_NONE,
	  "Reject a model whose initial loss on random targets is suspiciously low (label leakage).", TO_VALIDATE | TO_BUILD },
	{ "validation.checks.low_loss_fraction", K_NUM, OFF(validation.checks.low_loss_fraction), "0.25", 0, 1, NULL, C_NONE,
	  "Initial cross-entropy below this fraction of ln(vocab) is suspicious.", TO_VALIDATE | TO_BUILD },
	{ "validation.checks.probe_max_batch", K_INT, OFF(validation.checks.probe_max_batch), "6", 1, 4096, NULL, C_NONE,
	  "Largest batch size the probes draw (causality in the validate child, the archive-fidelity input in the build): each run draws its own shapes, the causality probe's larger than the test input (from the upper half of the range).", TO_VALIDATE | TO_BUILD },
	{ "validation.checks.probe_length_factor", K_NUM, OFF(validation.checks.probe_length_factor), "1.5", 1, 64, NULL, C_NONE,
	  "Longest sequence the causality probe draws, as a multiple of the test input's length (a model that reads the future only beyond the test length is caught there).", TO_VALIDATE | TO_BUILD },

	SEC("validation.reference", "Optional comparison with a reference model (an operator's TorchScript archive, e.g. the artifact of 'run --keep-workdir' on a baseline)."),
	{ "validation.reference.model", K_STR, OFF(validation.reference.model), "", 0, 0, NULL, C_NONE,
	  "Path of the reference TorchScript archive; empty means no comparison. It must take the same test input." },
	{ "validation.reference.max_time_ratio", K_NUM, OFF(validation.reference.max_time_ratio), "0", 0, 1e6, NULL, C_NONE,
	  "Fail when a training step takes more than this multiple of the reference's; 0 only reports the ratio.", TO_VALIDATE | TO_BUILD },
	{ "validation.reference.max_memory_ratio", K_NUM, OFF(validation.reference.max_memory_ratio), "0", 0, 1e6, NULL, C_NONE,
	  "Fail when the estimated training memory is more than this multiple of the reference's; 0 only reports.", TO_VALIDATE | TO_BUILD },

	SEC("debug", "The debug loop: after a build that fails with an exception, fix and try again."),
	{ "debug.max_attempts", K_INT, OFF(debug.max_attempts), "3", 1, 20, NULL, C_NONE,
	  "Build attempts in total, the first included." },
	{ "debug.builtin_fixers", K_BOOL, OFF(debug.builtin_fixers), "true", 0, 0, NULL, C_NONE,
	  "Use the rule-based and AST fixers between attempts." },
	{ "debug.rules", K_LIST, OFF(debug.rules),
	  "missing_import|in_features|token_embedding|super_init|forward_return", 0, 0, NULL, C_IDENT,
	  "Built-in fixers to use, tried in this order (see aegis-sandbox(1), DEBUG LOOP).", TO_FIX },
	{ "debug.fixer_command", K_LIST, OFF(debug.fixer_command), "", 0, 0, NULL, C_ARGV,
	  "argv of an operator's fixer program (e.g. an LLM client), run outside the sandbox; empty means none." },
	{ "debug.fixer_timeout_s", K_NUM, OFF(debug.fixer_timeout_s), "60", 0.1, 3600, NULL, C_NONE,
	  "Seconds the fixer command may take." },

	SEC("approval", "The human approval gate."),
	{ "approval.required", K_BOOL, OFF(approval.required), "false", 0, 0, NULL, C_NONE,
	  "Open a pending approval request for every accepted candidate." },

	SEC("storage", "Where results are kept."),
	{ "storage.db", K_STR, OFF(storage.db), "", 0, 0, NULL, C_NONE,
	  "SQLite database of the code pool; empty means no recording unless --db is given." },
};

/* clang-format on */

const size_t schema_nkeys = sizeof(schema) / sizeof(schema[0]);
#define NKEYS schema_nkeys

const struct key *schema_find(const char *path)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(schema[i].path, path))
			return &schema[i];
	return NULL;
}

const char *schema_suggest(const char *path, char *buf, size_t len)
{
	char *paths[sizeof(schema) / sizeof(schema[0])];
	const char *best;

	for (size_t i = 0; i < NKEYS; i++)
		paths[i] = (char *)schema[i].path;
	best = util_closest(path, paths, NKEYS);
	if (!best)
		return "";
	snprintf(buf, len, " (did you mean '%s'?)", best);
	return buf;
}

void *schema_field(struct policy *p, const struct key *k)
{
	return (char *)p + k->off;
}

static const void *cfield(const struct policy *p, const struct key *k)
{
	return (const char *)p + k->off;
}

static bool choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);

	for (const char *c = choices; *c;) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);

		if (len == n && !strncmp(c, v, n))
			return true;
		if (!bar)
			break;
		c = bar + 1;
	}
	return false;
}

bool schema_check_item(enum kcheck check, const char *s)
{
	size_t n = strlen(s);

	switch (check) {
	case C_NONE:
	case C_ARGV: return n > 0;
	case C_IDENT:
		if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '_')
				return false;
		return true;
	case C_MODULE:
	case C_EVENT: {
		/* dotted identifiers, optionally ending in ".*" */
		bool start = true;

		if (!n)
			return false;
		for (size_t i = 0; i < n; i++) {
			char c = s[i];

			if (c == '*' && i == n - 1 && i > 0 && s[i - 1] == '.')
				return true;
			if (start) {
				if (!(isalpha((unsigned char)c) || c == '_'))
					return false;
				start = false;
			} else if (c == '.') {
				start = true;
			} else if (!isalnum((unsigned char)c) && c != '_') {
				return false;
			}
		}
		return !start;
	}
	case C_ENVVAR: {
		const char *eq = strchr(s, '=');

		if (!eq || eq == s)
			return false;
		for (const char *q = s; q < eq; q++)
			if (!isalnum((unsigned char)*q) && *q != '_')
				return false;
		return !isdigit((unsigned char)s[0]);
	}
	}
	return false;
}

const char *schema_check_desc(enum kcheck c)
{
	switch (c) {
	case C_MODULE: return "a dotted module name, optionally ending in \".*\"";
	case C_EVENT: return "an audit event name, optionally ending in \".*\"";
	case C_ENVVAR: return "KEY=VALUE with KEY made of letters, digits and '_'";
	case C_IDENT: return "a Python identifier";
	case C_ARGV: return "a non-empty argument";
	default: return "a non-empty string";
	}
}

/* Set a scalar key from text.  MSG gets a reason on failure. */
int schema_set_scalar(struct policy *p, const struct key *k, const char *v, char *msg, size_t msglen)
{
	switch (k->type) {
	case K_BOOL: {
		bool *b = schema_field(p, k);

		if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) {
			*b = true;
		} else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) {
			*b = false;
		} else {
			snprintf(msg, msglen, "expected true or false, got '%s'", v);
			return -1;
		}
		return 0;
	}
	case K_INT: {
		long l;
		double d;

		if (!util_parse_long(v, &l)) {
			/* allow 1e6-style only when it is integral */
			if (!util_parse_double(v, &d) || d != floor(d) || fabs(d) > 9.2e18) {
				snprintf(msg, msglen, "expected an integer, got '%s'", v);
				return -1;
			}
			l = (long)d;
		}
		if ((double)l < k->min || (double)l > k->max) {
			snprintf(msg, msglen, "%ld is out of range [%.15g, %.15g]", l, k->min, k->max);
			return -1;
		}
		if (k->off)
			*(long *)schema_field(p, k) = l;
		return 0;
	}
	case K_NUM: {
		double d;

		if (!util_parse_double(v, &d)) {
			snprintf(msg, msglen, "expected a number, got '%s'", v);
			return -1;
		}
		if (d < k->min || d > k->max) {
			snprintf(msg, msglen, "%g is out of range [%g, %g]", d, k->min, k->max);
			return -1;
		}
		*(double *)schema_field(p, k) = d;
		return 0;
	}
	case K_ENUM:
		if (!choice_ok(k->choices, v)) {
			snprintf(msg, msglen, "expected one of %s, got '%s'", k->choices, v);
			return -1;
		}
		/* fall through */
	case K_STR: {
		char **s = schema_field(p, k);

		if (strlen(v) > 4096) {
			snprintf(msg, msglen, "value longer than 4096 bytes");
			return -1;
		}
		free(*s);
		*s = xstrdup(v);
		return 0;
	}
	default: snprintf(msg, msglen, "internal: not a scalar key"); return -1;
	}
}

static void set_list_default(struct policy *p, const struct key *k)
{
	struct strv *sv = schema_field(p, k);
	const char *c = k->def;

	strv_clear(sv);
	while (c && *c) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);
		char *item = xstrndup(c, len);

		strv_push(sv, item);
		free(item);
		if (!bar)
			break;
		c = bar + 1;
	}
}

void policy_init_defaults(struct policy *p)
{
	char msg[256];

	policy_release(p);
	p->source = xstrdup("<defaults>");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &schema[i];

		if (k->type == K_SECTION || k->off == 0)
			continue;
		if (k->type == K_LIST)
			set_list_default(p, k);
		else if (schema_set_scalar(p, k, k->def, msg, sizeof(msg)) < 0)
			die("internal: bad default for %s: %s", k->path, msg);
	}
}

void policy_release(struct policy *p)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &schema[i];

		if (k->off == 0)
			continue;
		if (k->type == K_LIST)
			strv_clear(schema_field(p, k));
		else if (k->type == K_STR || k->type == K_ENUM) {
			char **s = schema_field(p, k);

			free(*s);
			*s = NULL;
		}
	}
	free(p->source);
	memset(p, 0, sizeof(*p));
}

int policy_set(struct policy *p, const char *assignment, char *err, size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	char path[256], msg[384];
	const struct key *k;

	if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof(path)) {
		snprintf(err, errlen, "--set '%s': expected KEY=VALUE", assignment);
		return -1;
	}
	memcpy(path, assignment, (size_t)(eq - assignment));
	path[eq - assignment] = '\0';
	k = schema_find(path);
	if (!k || k->type == K_SECTION || k->off == 0) {
		char hint[300];

		snprintf(err, errlen, "--set: unknown key '%s'%s", path, schema_suggest(path, hint, sizeof(hint)));
		return -1;
	}
	if (k->type == K_LIST) {
		struct strv *sv = schema_field(p, k);
		const char *c = eq + 1;

		strv_clear(sv);
		while (*c) {
			const char *comma = strchr(c, ',');
			size_t len = comma ? (size_t)(comma - c) : strlen(c);
			char *item = xstrndup(c, len);

			if (!schema_check_item(k->check, item)) {
				snprintf(err, errlen, "--set %s: item '%s' is not %s", path, item,
					 schema_check_desc(k->check));
				free(item);
				return -1;
			}
			strv_push(sv, item);
			free(item);
			if (!comma)
				break;
			c = comma + 1;
		}
		return 0;
	}
	if (schema_set_scalar(p, k, eq + 1, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "--set %s: %s", path, msg);
		return -1;
	}
	return 0;
}

/* ---- dump ---------------------------------------------------------------- */

static void yaml_quote(struct sbuf *out, const char *s)
{
	sbuf_addc(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_addf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			sbuf_addf(out, "\\x%02x", (unsigned char)*s);
		else
			sbuf_addc(out, *s);
	}
	sbuf_addc(out, '"');
}

static int depth_of(const char *path)
{
	int d = 0;

	for (; *path; path++)
		d += *path == '.';
	return d;
}

static const char *leaf_of(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot ? dot + 1 : path;
}

static void dump_value(const struct policy *p, const struct key *k, struct sbuf *out, int depth)
{
	switch (k->type) {
	case K_BOOL: sbuf_adds(out, *(const bool *)cfield(p, k) ? "true" : "false"); break;
	case K_INT: sbuf_addf(out, "%ld", k->off ? *(const long *)cfield(p, k) : 1L); break;
	case K_NUM: sbuf_addf(out, "%.17g", *(const double *)cfield(p, k)); break;
	case K_STR:
	case K_ENUM: {
		const char *s = *(char *const *)cfield(p, k);

		yaml_quote(out, s ? s : "");
		break;
	}
	case K_LIST: {
		const struct strv *sv = cfield(p, k);

		if (!sv->n) {
			sbuf_adds(out, "[]");
			break;
		}
		for (size_t i = 0; i < sv->n; i++) {
			sbuf_addf(out, "\n%*s- ", 2 * (depth + 1), "");
			yaml_quote(out, sv->v[i]);
		}
		break;
	}
	default: break;
	}
}

/* Write DOC as '#' comment lines of at most ~76 columns at indent D. */
static void dump_comment(struct sbuf *out, int d, const char *doc)
{
	const char *w = doc;

	while (*w) {
		int col = 2 * d + 2;
		const char *line = w, *brk = NULL;

		while (*w && (col < 78 || !brk)) {
			if (*w == ' ')
				brk = w;
			w++;
			col++;
		}
		if (!*w)
			brk = w;
		sbuf_addf(out, "%*s# %.*s\n", 2 * d, "", (int)(brk - line), line);
		w = *brk ? brk + 1 : brk;
	}
}

void policy_dump(const struct policy *p, struct sbuf *out, bool comments)
{
	if (comments)
		sbuf_adds(out, "# aegis-sandbox policy.  Every key is optional except 'version'; a key left\n"
			       "# out keeps the default shown here.  Reference: aegis-sandbox-policy(5).\n");
	else
		sbuf_addf(out, "# effective policy (source: %s)\n", p->source ? p->source : "<defaults>");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &schema[i];
		int d = depth_of(k->path);

		if (comments) {
			if (k->type == K_SECTION && d == 0)
				sbuf_addc(out, '\n');
			dump_comment(out, d, k->doc);
		}

		sbuf_addf(out, "%*s%s:", 2 * d, "", leaf_of(k->path));
		if (k->type != K_SECTION) {
			if (k->type != K_LIST || !((const struct strv *)cfield(p, k))->n)
				sbuf_addc(out, ' ');
			dump_value(p, k, out, d);
		}
		sbuf_addc(out, '\n');
	}
}

void policy_dump_reference(struct sbuf *out)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &schema[i];

		if (k->type == K_SECTION) {
			sbuf_addf(out, ".SS %s\n%s\n", k->path, k->doc);
			continue;
		}
		sbuf_addf(out, ".TP\n.B %s\n(%s", k->path,
			  k->type == K_BOOL   ? "boolean"
			  : k->type == K_INT  ? "integer"
			  : k->type == K_NUM  ? "number"
			  : k->type == K_STR  ? "string"
			  : k->type == K_ENUM ? "one of"
					      : "list");
		if (k->type == K_ENUM)
			sbuf_addf(out, " %s", k->choices);
		if (k->type == K_INT || k->type == K_NUM)
			sbuf_addf(out, ", %.15g to %.15g", k->min, k->max);
		if (k->type == K_LIST) {
			sbuf_adds(out, "; default:");
			if (!k->def || !*k->def)
				sbuf_adds(out, " empty");
			for (const char *c = k->def; c && *c; c++)
				sbuf_adds(out, *c == '|' ? ", " : (char[]){*c, '\0'});
			sbuf_adds(out, ")\n");
		} else {
			sbuf_addf(out, "; default: %s)\n", *k->def ? k->def : "empty");
		}
		for (const char *c = k->doc; *c; c++) {
			if (*c == '\\')
				sbuf_adds(out, "\\e");
			else
				sbuf_addc(out, *c);
		}
		sbuf_addc(out, '\n');
	}
}

/* ---- the JSON codec ------------------------------------------------------- */

static struct json *value_json(const struct policy *p, const struct key *k)
{
	switch (k->type) {
	case K_BOOL: return json_bool(*(const bool *)cfield(p, k));
	case K_INT: return json_num((double)*(const long *)cfield(p, k));
	case K_NUM: return json_num(*(const double *)cfield(p, k));
	case K_STR:
	case K_ENUM: {
		const char *v = *(char *const *)cfield(p, k);

		return json_str(v ? v : "");
	}
	case K_LIST: {
		const struct strv *sv = cfield(p, k);
		struct json *a = json_array();

		for (size_t i = 0; i < sv->n; i++)
			json_append(a, json_str(sv->v[i]));
		return a;
	}
	default: return json_null();
	}
}

struct json *policy_encode(const struct policy *p, unsigned to)
{
	struct json *root = json_object();

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &schema[i];
		struct json *obj = root;
		const char *seg = k->path, *dot;

		if (!(k->to & to) && !(to & POLICY_ALL_KEYS))
			continue;
		if (k->type == K_SECTION || !k->off)
			continue;
		while ((dot = strchr(seg, '.'))) {
			char name[64];
			struct json *sub;

			snprintf(name, sizeof(name), "%.*s", (int)(dot - seg), seg);
			sub = json_get(obj, name);
			obj = sub ? sub : json_set(obj, name, json_object());
			seg = dot + 1;
		}
		json_set(obj, seg, value_json(p, k));
	}
	return root;
}

/* Set key K from the JSON value V, with the YAML parser's checks. */
static int decode_value(struct policy *p, const struct key *k, const struct json *v, char *msg, size_t msglen)
{
	char num[64];

	switch (k->type) {
	case K_BOOL:
		if (v->type != JSON_BOOL)
			break;
		*(bool *)schema_field(p, k) = v->b;
		return 0;
	case K_INT:
	case K_NUM:
		if (v->type != JSON_NUMBER)
			break;
		snprintf(num, sizeof(num), "%.17g", v->n);
		return schema_set_scalar(p, k, num, msg, msglen);
	case K_STR:
	case K_ENUM:
		if (v->type != JSON_STRING || strlen(v->s) != v->slen)
			break;
		return schema_set_scalar(p, k, v->s, msg, msglen);
	case K_LIST: {
		struct strv *sv = schema_field(p, k);

		if (v->type != JSON_ARRAY)
			break;
		for (size_t i = 0; i < v->count; i++) {
			const struct json *it = v->items[i];

			if (it->type != JSON_STRING || strlen(it->s) != it->slen ||
			    !schema_check_item(k->check, it->s)) {
				snprintf(msg, msglen, "item %zu is not %s", i + 1, schema_check_desc(k->check));
				return -1;
			}
		}
		strv_clear(sv);
		for (size_t i = 0; i < v->count; i++)
			strv_push(sv, v->items[i]->s);
		return 0;
	}
	default: break;
	}
	snprintf(msg, msglen, "wrong type");
	return -1;
}

static int decode_object(struct policy *p, const struct json *obj, const char *prefix, unsigned to, char *err,
			 size_t errlen)
{
	if (!obj || obj->type != JSON_OBJECT) {
		snprintf(err, errlen, "policy %s: not an object", *prefix ? prefix : "document");
		return -1;
	}
	for (size_t i = 0; i < obj->count; i++) {
		char path[256], msg[256];
		const struct key *k;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", obj->keys[i]);
		k = schema_find(path);
		if (!k || (k->type != K_SECTION && ((!(k->to & to) && !(to & POLICY_ALL_KEYS)) || !k->off))) {
			snprintf(err, errlen, "policy key %s: not expected here", path);
			return -1;
		}
		if (k->type == K_SECTION) {
			if (decode_object(p, obj->items[i], path, to, err, errlen) < 0)
				return -1;
		} else if (decode_value(p, k, obj->items[i], msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "policy key %s: %s", path, msg);
			return -1;
		}
	}
	return 0;
}

int policy_decode(struct policy *p, const struct json *j, unsigned to, char *err, size_t errlen)
{
	return decode_object(p, j, "", to, err, errlen);
}

void policy_digest(const struct policy *p, char out[65])
{
	struct sbuf sb = SBUF_INIT;
	struct policy copy = *p;

	copy.source = NULL; /* the digest is about content, not where it came from */
	policy_dump(&copy, &sb, false);
	sha256_hex(sb.buf, sb.len, out);
	sbuf_release(&sb);
}
