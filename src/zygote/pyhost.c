/* pyhost.c - embedding CPython: start-up, the audit hook, job entry.
 *
 * Reference conventions: every PyObject * local is named py_*, starts NULL,
 * and is released in the one cleanup block of its function with
 * Py_XDECREF in reverse order of acquisition.  py_fail() is the single sink
 * that turns the pending Python exception into our error text. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/confine.h"
#include "common/json.h"
#include "zygote/pyhost.h"
#include "common/util.h"

/* ---- error sink ---------------------------------------------------------- */

/* Format the current Python exception (if any) into ERR after PREFIX and
 * clear it.  Always returns -1. */
static int py_fail(char *err, size_t errlen, const char *prefix)
{
	PyObject *py_type = NULL, *py_value = NULL, *py_tb = NULL, *py_str = NULL;
	const char *msg = NULL;

	PyErr_Fetch(&py_type, &py_value, &py_tb);
	PyErr_NormalizeException(&py_type, &py_value, &py_tb);
	if (py_value)
		py_str = PyObject_Str(py_value);
	if (py_str)
		msg = PyUnicode_AsUTF8(py_str);
	snprintf(err, errlen, "%s: %s%s%s", prefix, py_type ? ((PyTypeObject *)py_type)->tp_name : "error",
		 msg ? ": " : "", msg ? msg : "");
	PyErr_Clear();
	Py_XDECREF(py_str);
	Py_XDECREF(py_tb);
	Py_XDECREF(py_value);
	Py_XDECREF(py_type);
	return -1;
}

/* ---- the audit hook -------------------------------------------------------
 *
 * Added with PySys_AddAuditHook before the interpreter exists, so nothing
 * can run before it and nothing can remove it.  It does nothing until the
 * trusted build code calls _aegis_host.arm() just before the candidate's
 * module is executed; from then on the policy's deny_events apply.  The
 * hook is a tripwire that turns an attempt into a clear PermissionError and
 * a recorded violation; the kernel layers (confine.c) are the boundary.
 *
 * finding_events are what changes only the candidate's own process
 * (os.putenv, sys._getframe, sys.settrace, marshal.loads...): the build
 * child is the candidate, so they can only cost it its verdict.  They run,
 * and the first of each kind is kept for the verdict's warnings
 * (_aegis_host.findings()). */

#define MAX_FINDINGS 20

struct finding {
	char event[64];
	char args[160];
	int line;
};

static struct {
	bool armed;
	char **deny; /* patterns: exact, or "prefix.*" */
	size_t ndeny;
	char *workdir;   /* absolute */
	char **ro_roots; /* readable outside the workdir */
	size_t nro;
	char *candidate; /* co_filename of candidate code */
	char **finding;  /* patterns, as deny */
	size_t nfinding;
	struct finding found[MAX_FINDINGS];
	size_t nfound;
} audit;

/* Set while this thread is inside the hook.  Per thread: a flag shared by
 * all threads was an off switch (one thread parked in the hook, another
 * went unchecked).  Nothing the hook does can raise an audit event or run
 * Python code (it formats only exact str, bytes, int, float, bool, None),
 * so the guard is a belt, not a brace. */
static __thread bool in_hook;

static bool pattern_match(const char *pat, const char *event)
{
	size_t n = strlen(pat);

	if (n >= 2 && pat[n - 1] == '*' && pat[n - 2] == '.')
		return !strncmp(pat, event, n - 1);
	return !strcmp(pat, event);
}

static bool listed_in(char *const *list, size_t n, const char *event)
{
	for (size_t i = 0; i < n; i++)
		if (pattern_match(list[i], event))
			return true;
	return false;
}

/* Events the standard library itself raises on behalf of allowed work
 * (namedtuple's sys._getframe, the import system's marshal.loads): denied
 * only when the calling frame is candidate code. */
static bool event_candidate_only(const char *event)
{
	static const char *const list[] = {"sys._getframe",    "sys._current_frames",
					   "marshal.*",        "code.__new__",
					   "function.__new__", "gc.*",
					   "import",           NULL};

	for (const char *const *p = list; *p; p++)
		if (pattern_match(*p, event))
			return true;
	return false;
}

/* The innermost frame that belongs to candidate code, or NULL.  Borrowed. */
static PyFrameObject *candidate_frame(bool innermost_only)
{
	PyFrameObject *f = PyEval_GetFrame();

	while (f) {
		PyCodeObject *code = PyFrame_GetCode(f);
		const char *fn = PyUnicode_AsUTF8(code->co_filename);
		bool mine = fn && audit.candidate && !strcmp(fn, audit.candidate);

		Py_DECREF(code);
		if (mine)
			return f;
		if (innermost_only)
			return NULL;
		f = PyFrame_GetBack(f);
		if (f)
			Py_DECREF(f); /* borrowed is enough: the chain keeps it alive */
	}
	PyErr_Clear();
	return NULL;
}

static bool path_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return !strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0');
}

/* open(path, mode, flags), os.listdir(path), os.scandir(path): allowed inside the work directory, and for
 * reading under the read-only roots.  Paths with ".." are refused. */
static bool open_allowed(PyObject *args)
{
	PyObject *py_path, *py_mode, *py_flags;
	const char *path = NULL, *mode = NULL;
	long flags = 0;
	bool write;
	char buf[4096];

	if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 1)
		return false;
	py_path = PyTuple_GET_ITEM(args, 0);
	py_mode = PyTuple_GET_SIZE(args) > 1 ? PyTuple_GET_ITEM(args, 1) : Py_None;
	py_flags = PyTuple_GET_SIZE(args) > 2 ? PyTuple_GET_ITEM(args, 2) : Py_None;
	if (PyLong_Check(py_path))
		return true; /* an fd it already holds */
	if (PyUnicode_Check(py_path))
		path = PyUnicode_AsUTF8(py_path);
	else if (PyBytes_Check(py_path))
		path = PyBytes_AsString(py_path);
	if (!path) {
		PyErr_Clear();
		return false;
	}
	if (PyUnicode_Check(py_mode))
		mode = PyUnicode_AsUTF8(py_mode);
	if (PyLong_Check(py_flags))
		flags = PyLong_AsLong(py_flags);
	write = (mode && strpbrk(mode, "wax+")) || (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC));
	if (strstr(path, ".."))
		return false;
	if (path[0] != '/') {
		/* against the process's own directory: os.chdir is a finding, not
		 * a violation, so it need not be the work directory */
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return false;
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >= sizeof(buf))
			return false;
		path = buf;
	}
	if (audit.workdir && path_under(path, audit.workdir))
		return true;
	if (write)
		return false;
	/* the process reading about itself and the machine it runs on (psutil
	 * at import, cgroup-aware CPU counts, feature probes): its own
	 * business, not an attack; what the kernel lets it see is what it gets */
	{
		static const char *const own[] = {"/proc/self", "/proc/thread-self", "/proc/cpuinfo", "/proc/meminfo",
						  "/proc/stat", "/proc/loadavg", "/proc/uptime", "/proc/version",
						  "/sys/devices/system/cpu", "/sys/fs/cgroup", NULL};

		for (const char *const *o = own; *o; o++)
			if (path_under(path, *o))
				return true;
	}
	for (size_t i = 0; i < audit.nro; i++)
		if (path_under(path, audit.ro_roots[i]))
			return true;
	return false;
}

/* Append a printable summary of ARG to SB without running any Python:
 * exact built-in types only (a subclass could override __str__, __repr__,
 * __index__ or __len__), anything else as <type name>. */
static void describe_arg(struct sbuf *sb, PyObject *arg, int depth)
{
	if (arg == Py_None) {
		sbuf_adds(sb, "None");
	} else if (PyBool_Check(arg)) {
		sbuf_adds(sb, arg == Py_True ? "True" : "False");
	} else if (PyUnicode_CheckExact(arg)) {
		Py_ssize_t n = 0;
		const char *u = PyUnicode_AsUTF8AndSize(arg, &n);

		if (!u) {
			PyErr_Clear();
			sbuf_adds(sb, "<str>");
			return;
		}
		sbuf_addc(sb, '\'');
		sbuf_add(sb, u, n > 200 ? 200 : (size_t)n);
		sbuf_adds(sb, n > 200 ? "...'" : "'");
	} else if (PyBytes_CheckExact(arg)) {
		Py_ssize_t n = PyBytes_GET_SIZE(arg);
		const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(arg);

		sbuf_adds(sb, "b'");
		for (Py_ssize_t i = 0; i < n && i < 200; i++) {
			if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\' && b[i] != '\'')
				sbuf_addc(sb, (char)b[i]);
			else
				sbuf_addf(sb, "\\x%02x", b[i]);
		}
		sbuf_adds(sb, n > 200 ? "...'" : "'");
	} else if (PyLong_CheckExact(arg)) {
		int overflow = 0;
		long long v = PyLong_AsLongLongAndOverflow(arg, &overflow);

		if (overflow || (v == -1 && PyErr_Occurred())) {
			PyErr_Clear();
			sbuf_adds(sb, "<int>");
		} else {
			sbuf_addf(sb, "%lld", v);
		}
	} else if (PyFloat_CheckExact(arg)) {
		sbuf_addf(sb, "%g", PyFloat_AS_DOUBLE(arg));
	} else if (PyTuple_CheckExact(arg) && depth < 2) {
		Py_ssize_t n = PyTuple_GET_SIZE(arg);

		sbuf_addc(sb, '(');
		for (Py_ssize_t i = 0; i < n && i < 8 && sb->len < 300; i++) {
			if (i)
				sbuf_adds(sb, ", ");
			describe_arg(sb, PyTuple_GET_ITEM(arg, i), depth + 1);
		}
		sbuf_adds(sb, n > 8 ? ", ...)" : n == 1 ? ",)" : ")");
	} else {
		/* the type's name is a C string: reading it runs nothing */
		sbuf_addf(sb, "<%.60s>", Py_TYPE(arg)->tp_name);
	}
}

/* Append one violation line to the report fd.  Written at once, so a
 * candidate that swallows the exception and exits early still has it on
 * record.  Runs no Python code (describe_arg). */
static void record_violation(const char *rule, const char *event, PyObject *args)
{
	struct sbuf sb = SBUF_INIT, desc = SBUF_INIT;
	PyFrameObject *f = candidate_frame(false);
	int line = f ? PyFrame_GetLineNumber(f) : 0;

	if (args)
		describe_arg(&desc, args, 0);
	sbuf_adds(&sb, "{\"violation\":{\"rule\":");
	json_write_string(&sb, rule, strlen(rule));
	sbuf_adds(&sb, ",\"event\":");
	json_write_string(&sb, event, strlen(event));
	sbuf_adds(&sb, ",\"args\":");
	json_write_string(&sb, sbuf_str(&desc), desc.len > 300 ? 300 : desc.len);
	sbuf_addf(&sb, ",\"line\":%d}}\n", line);
	(void)util_write_all(JOB_FD_REPORT, sb.buf, sb.len);
	sbuf_release(&desc);
	sbuf_release(&sb);
}

/* Keep the first finding of EVENT (a kind counts once). */
static void record_finding(const char *event, PyObject *args)
{
	struct sbuf desc = SBUF_INIT;
	PyFrameObject *f;
	struct finding *fd;

	for (size_t i = 0; i < audit.nfound; i++)
		if (!strcmp(audit.found[i].event, event))
			return;
	if (audit.nfound >= MAX_FINDINGS)
		return;
	fd = &audit.found[audit.nfound++];
	f = candidate_frame(false);
	fd->line = f ? PyFrame_GetLineNumber(f) : 0;
	snprintf(fd->event, sizeof(fd->event), "%s", event);
	if (args)
		describe_arg(&desc, args, 0);
	snprintf(fd->args, sizeof(fd->args), "%s", desc.len ? sbuf_str(&desc) : "");
	sbuf_release(&desc);
}

static int audit_hook(const char *event, PyObject *args, void *userdata)
{
	bool deny;

	(void)userdata;
	if (!audit.armed || in_hook)
		return 0;
	if (!listed_in(audit.deny, audit.ndeny, event)) {
		if (listed_in(audit.finding, audit.nfinding, event) &&
		    candidate_frame(event_candidate_only(event)) != NULL) {
			in_hook = true;
			record_finding(event, args);
			in_hook = false;
		}
		return 0;
	}
	in_hook = true;
	if (!strcmp(event, "open") || !strcmp(event, "os.listdir") || !strcmp(event, "os.scandir"))
		deny = !open_allowed(args);
	else if (!strcmp(event, "import"))
		deny = false; /* enforced by the candidate's guarded __import__ */
	else if (event_candidate_only(event))
		deny = candidate_frame(true) != NULL;
	else
		deny = true;
	if (deny)
		record_violation("audit", event, args);
	in_hook = false;
	if (!deny)
		return 0;
	PyErr_Format(PyExc_PermissionError, "aegis-sandbox: '%s' is denied by the policy", event);
	return -1;
}

/* ---- the _aegis_host built-in module ---------------------------------- */

static char **strlist_from(PyObject *py_list, size_t *n)
{
	Py_ssize_t len;
	char **out;

	*n = 0;
	if (!PyList_Check(py_list))
		return NULL;
	len = PyList_GET_SIZE(py_list);
	out = xcalloc((size_t)len + 1, sizeof(char *));
	for (Py_ssize_t i = 0; i < len; i++) {
		const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(py_list, i));

		if (!s) {
			PyErr_Clear();
			continue;
		}
		out[(*n)++] = xstrdup(s);
	}
	return out;
}

/* arm(deny_events, workdir, ro_roots, candidate_filename, finding_events): one way only. */
static PyObject *host_arm(PyObject *self, PyObject *args)
{
	PyObject *py_deny, *py_ro, *py_finding;
	const char *workdir, *candidate;

	(void)self;
	if (audit.armed) {
		PyErr_SetString(PyExc_RuntimeError, "already armed");
		return NULL;
	}
	if (!PyArg_ParseTuple(args, "O!sO!sO!", &PyList_Type, &py_deny, &workdir, &PyList_Type, &py_ro, &candidate,
			      &PyList_Type, &py_finding))
		return NULL;
	audit.deny = strlist_from(py_deny, &audit.ndeny);
	audit.finding = strlist_from(py_finding, &audit.nfinding);
	audit.ro_roots = strlist_from(py_ro, &audit.nro);
	audit.workdir = xstrdup(workdir);
	audit.candidate = xstrdup(candidate);
	audit.armed = true;
	Py_RETURN_NONE;
}

static PyObject *host_armed(PyObject *self, PyObject *args)
{
	(void)self;
	(void)args;
	return PyBool_FromLong(audit.armed);
}

/* violation(rule, detail): record a violation found by Python-level guards. */
static PyObject *host_violation(PyObject *self, PyObject *args)
{
	const char *rule, *detail;
	PyObject *py_detail = NULL;

	(void)self;
	if (!PyArg_ParseTuple(args, "ss", &rule, &detail))
		return NULL;
	py_detail = PyUnicode_FromString(detail);
	in_hook = true;
	record_violation(rule, rule, py_detail);
	in_hook = false;
	Py_XDECREF(py_detail);
	Py_RETURN_NONE;
}

/* findings(): [(event, args, line)] of the finding events seen, first of each kind. */
static PyObject *host_findings(PyObject *self, PyObject *args)
{
	PyObject *list = PyList_New(0);

	(void)self;
	(void)args;
	for (size_t i = 0; list && i < audit.nfound; i++) {
		PyObject *t = Py_BuildValue("(ssi)", audit.found[i].event, audit.found[i].args, audit.found[i].line);

		if (!t || PyList_Append(list, t) < 0) {
			Py_XDECREF(t);
			Py_DECREF(list);
			return NULL;
		}
		Py_DECREF(t);
	}
	return list;
}

static PyMethodDef host_methods[] = {
    {"findings", host_findings, METH_NOARGS, "The finding events seen: [(event, args, line)]."},
    {"arm", host_arm, METH_VARARGS, "Arm the audit hook (irreversible)."},
    {"armed", host_armed, METH_NOARGS, "Whether the audit hook is armed."},
    {"violation", host_violation, METH_VARARGS, "Record a violation on the report fd."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef host_module = {
    PyModuleDef_HEAD_INIT, "_aegis_host", "aegis-sandbox host hooks (C).", -1, host_methods, NULL, NULL, NULL, NULL,
};

static PyObject *host_init(void)
{
	PyObject *m = PyModule_Create(&host_module);

	if (m) {
		PyModule_AddIntConstant(m, "REPORT_FD", JOB_FD_REPORT);
		PyModule_AddIntConstant(m, "SECCOMP_EXIT", CONFINE_EXIT_SECCOMP);
	}
	return m;
}

/* ---- start-up --------------------------------------------------------- */

static int status_fail(PyStatus st, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s%s%s", what, st.func ? st.func : "", st.func ? ": " : "",
		 st.err_msg ? st.err_msg : "failed");
	return -1;
}

static int append_path(PyConfig *cfg, const char *path, char *err, size_t errlen)
{
	wchar_t *w = Py_DecodeLocale(path, NULL);
	PyStatus st;

	if (!w) {
		snprintf(err, errlen, "cannot decode path %s", path);
		return -1;
	}
	st = PyWideStringList_Append(&cfg->module_search_paths, w);
	PyMem_RawFree(w);
	if (PyStatus_Exception(st))
		return status_fail(st, err, errlen, "module search path");
	return 0;
}

int pyhost_init(const char *pyhelpers_dir, char *err, size_t errlen)
{
	PyConfig cfg;
	PyStatus st;
	int rc = -1;

	if (PySys_AddAuditHook(audit_hook, NULL) < 0) {
		snprintf(err, errlen, "PySys_AddAuditHook failed");
		return -1;
	}
	if (PyImport_AppendInittab("_aegis_host", host_init) < 0) {
		snprintf(err, errlen, "PyImport_AppendInittab failed");
		return -1;
	}
	PyConfig_InitIsolatedConfig(&cfg);
	cfg.install_signal_handlers = 0;
	cfg.write_bytecode = 0;
	cfg.site_import = 0;
	cfg.user_site_directory = 0;
	cfg.buffered_stdio = 1;
	cfg.module_search_paths_set = 1;
	st = PyConfig_SetBytesString(&cfg, &cfg.program_name, util_relocate(AEGIS_PYTHON_EXE));
	if (PyStatus_Exception(st)) {
		status_fail(st, err, errlen, "program name");
		goto out_clear;
	}
	st = PyConfig_SetBytesString(&cfg, &cfg.home, AEGIS_PYTHON_PREFIX);
	if (PyStatus_Exception(st)) {
		status_fail(st, err, errlen, "home");
		goto out_clear;
	}
	st = PyConfig_SetBytesString(&cfg, &cfg.stdio_encoding, "utf-8");
	if (PyStatus_Exception(st)) {
		status_fail(st, err, errlen, "stdio encoding");
		goto out_clear;
	}
	st = PyConfig_SetBytesString(&cfg, &cfg.stdio_errors, "backslashreplace");
	if (PyStatus_Exception(st)) {
		status_fail(st, err, errlen, "stdio errors");
		goto out_clear;
	}
	if (append_path(&cfg, pyhelpers_dir, err, errlen) < 0 ||
	    append_path(&cfg, AEGIS_PYTHON_STDLIB, err, errlen) < 0 ||
	    append_path(&cfg, AEGIS_PYTHON_DYNLOAD, err, errlen) < 0 ||
	    append_path(&cfg, util_relocate(AEGIS_TORCH_DIR), err, errlen) < 0)
		goto out_clear;
	st = Py_InitializeFromConfig(&cfg);
	if (PyStatus_Exception(st)) {
		status_fail(st, err, errlen, "Py_InitializeFromConfig");
		goto out_clear;
	}
	rc = 0;
out_clear:
	PyConfig_Clear(&cfg);
	return rc;
}

int pyhost_warm(char *runtime, size_t runtime_len, char *err, size_t errlen)
{
	PyObject *py_mod = NULL, *py_res = NULL;
	int rc = -1;

	py_mod = PyImport_ImportModule("aegis_job.zygote");
	if (!py_mod) {
		py_fail(err, errlen, "importing aegis_job.zygote");
		goto out;
	}
	py_res = PyObject_CallMethod(py_mod, "warm", NULL);
	if (!py_res) {
		py_fail(err, errlen, "warming the zygote");
		goto out;
	}
	if (!PyUnicode_Check(py_res)) {
		snprintf(err, errlen, "warming the zygote: warm() returned no runtime description");
		goto out;
	}
	snprintf(runtime, runtime_len, "%s", PyUnicode_AsUTF8(py_res) ? PyUnicode_AsUTF8(py_res) : "{}");
	rc = 0;
out:
	Py_XDECREF(py_res);
	Py_XDECREF(py_mod);
	return rc;
}

int pyhost_thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void pyhost_before_fork(void)
{
	PyOS_BeforeFork();
}

void pyhost_after_fork_parent(void)
{
	PyOS_AfterFork_Parent();
}

void pyhost_after_fork_child(void)
{
	PyOS_AfterFork_Child();
}

int pyhost_run_job(const char *request, size_t len)
{
	PyObject *py_mod = NULL, *py_req = NULL, *py_res = NULL;
	char err[1024];
	int rc = 1;

	py_mod = PyImport_ImportModule("aegis_job");
	if (!py_mod) {
		py_fail(err, sizeof(err), "importing aegis_job");
		goto out_report;
	}
	py_req = PyUnicode_DecodeUTF8(request, (Py_ssize_t)len, "strict");
	if (!py_req) {
		py_fail(err, sizeof(err), "decoding the job request");
		goto out_report;
	}
	py_res = PyObject_CallMethod(py_mod, "run", "O", py_req);
	if (!py_res) {
		py_fail(err, sizeof(err), "aegis_job.run");
		goto out_report;
	}
	rc = PyLong_Check(py_res) ? (int)PyLong_AsLong(py_res) : 1;
	goto out;
out_report : {
	/* the helpers could not even report: say why, as a harness error */
	struct sbuf sb = SBUF_INIT;

	sbuf_adds(&sb, "{\"harness_error\":");
	json_write_string(&sb, err, strlen(err));
	sbuf_adds(&sb, "}\n");
	(void)util_write_all(JOB_FD_REPORT, sb.buf, sb.len);
	sbuf_release(&sb);
	rc = 1;
}
out:
	/* flush what the candidate printed; no finalization, no atexit */
	{
		PyObject *py_sys_out = PySys_GetObject("stdout"), *py_sys_err = PySys_GetObject("stderr");
		PyObject *py_r;

		if (py_sys_out && (py_r = PyObject_CallMethod(py_sys_out, "flush", NULL)))
			Py_DECREF(py_r);
		PyErr_Clear();
		if (py_sys_err && (py_r = PyObject_CallMethod(py_sys_err, "flush", NULL)))
			Py_DECREF(py_r);
		PyErr_Clear();
	}
	Py_XDECREF(py_res);
	Py_XDECREF(py_req);
	Py_XDECREF(py_mod);
	return rc;
}
