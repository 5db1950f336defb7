/* verdict.c - see verdict.h for the rule and the report protocol. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sandbox/confine.h"
#include "policy/policy.h"
#include "supervisor/supervise.h"
#include "common/util.h"
#include "pipeline/verdict.h"

const struct verdict_info verdict_table[VERDICT_COUNT] = {
    [VERDICT_ACCEPTED] = {"accepted", AEGIS_EXIT_ACCEPTED, true},
    [VERDICT_REJECTED] = {"rejected", AEGIS_EXIT_REJECTED, true},
    [VERDICT_VIOLATION] = {"violation", AEGIS_EXIT_VIOLATION, true},
    [VERDICT_TIMEOUT] = {"timeout", AEGIS_EXIT_TIMEOUT, true},
    [VERDICT_MEMORY] = {"memory", AEGIS_EXIT_MEMORY, true},
    [VERDICT_CRASH] = {"crash", AEGIS_EXIT_CRASH, true},
    [VERDICT_ERROR] = {"error", AEGIS_EXIT_ERROR, false},
};

const char *verdict_name(enum verdict v)
{
	return v < VERDICT_COUNT ? verdict_table[v].name : "error";
}

bool verdict_known(const char *name)
{
	for (int i = 0; i < VERDICT_COUNT; i++)
		if (name && !strcmp(name, verdict_table[i].name))
			return true;
	return false;
}

enum verdict verdict_from_name(const char *name)
{
	for (int i = 0; i < VERDICT_COUNT; i++)
		if (name && !strcmp(name, verdict_table[i].name))
			return (enum verdict)i;
	return VERDICT_ERROR;
}

int verdict_exit_code(enum verdict v)
{
	return v < VERDICT_COUNT ? verdict_table[v].exit_code : AEGIS_EXIT_ERROR;
}

struct json *verdict_error(const char *type, const char *message, long line)
{
	struct json *e = json_object();

	json_set(e, "type", json_str(type));
	json_set(e, "message", json_str(message));
	json_set(e, "line", line > 0 ? json_num((double)line) : json_null());
	return e;
}

void report_release(struct report *r)
{
	json_free(r->sandbox);
	json_free(r->violations);
	json_free(r->result);
	free(r->setup_error);
	free(r->harness_error);
	memset(r, 0, sizeof(*r));
}

/* Cut every string in V (an object, nested ones included) to 1,000 bytes:
 * a violation line is a claim the candidate may have written, and a
 * hundred of them must not make a result of megabytes. */
static void bound_strings(struct json *v, int depth)
{
	for (size_t i = 0; v && i < v->count; i++) {
		struct json *item = v->items[i];

		if (item->type == JSON_STRING && item->slen > 1000) {
			item->slen = 1000;
			while (item->slen && (item->s[item->slen] & 0xc0) == 0x80)
				item->slen--; /* not in the middle of a UTF-8 sequence */
			item->s[item->slen] = '\0';
		} else if (depth < 4) {
			bound_strings(item, depth + 1);
		}
	}
}

static void add_violation(struct report *r, struct json *v)
{
	bound_strings(v, 0);
	if (r->violations->count < VERDICT_MAX_VIOLATIONS) {
		json_append(r->violations, v);
	} else {
		r->violations_dropped++;
		json_free(v);
	}
}

/* Whether RESULT's object KEY has more keys than VERDICT_MAX_METRICS. */
static bool too_many(const struct json *result, const char *key)
{
	const struct json *o = json_get(result, key);

	return o && o->type == JSON_OBJECT && o->count > VERDICT_MAX_METRICS;
}

/* Record one deviation from the protocol as a violation of rule "report". */
static void tamper(struct report *r, size_t lineno, const char *what)
{
	struct json *v = json_object();
	char msg[160];

	snprintf(msg, sizeof(msg), "line %zu of the report channel: %s", lineno, what);
	json_set(v, "rule", json_str("report"));
	json_set(v, "event", json_str("tamper"));
	json_set(v, "args", json_str(""));
	json_set(v, "line", json_num(0));
	json_set(v, "message", json_str(msg));
	r->tampered++;
	add_violation(r, v);
}

/* A denied system call, named by the supervisor (never by the child). */
static struct json *seccomp_violation(const struct json *v)
{
	double nr = -1;
	struct json *viol = json_object();
	char *name;

	json_get_num(v, "nr", &nr);
	name = confine_syscall_name(nr >= 0 && nr < 4096 ? (int)nr : -1);
	json_set(viol, "rule", json_str("seccomp"));
	json_set(viol, "event", json_str("syscall"));
	json_set(viol, "syscall", json_str(name));
	json_set(viol, "args", json_str(""));
	json_set(viol, "line", json_num(0));
	free(name);
	return viol;
}

/* One complete line (LEN bytes, no newline), the LINENO-th. */
static void parse_line(struct report *r, const char *p, size_t len, size_t lineno)
{
	struct json *j, *v;
	const char *key;

	j = json_parse(p, len, NULL, 0);
	if (!j || j->type != JSON_OBJECT || j->count != 1) {
		tamper(r, lineno, !j ? "not JSON" : "not an object with exactly one key");
		json_free(j);
		return;
	}
	key = j->keys[0];
	v = j->items[0];
	if (!strcmp(key, "sandbox") || !strcmp(key, "setup_error")) {
		bool setup = key[1] == 'e';

		if (lineno != 1) {
			tamper(r, lineno,
			       setup ? "a setup_error after confinement (only the C side, before any Python, "
				       "may report one)"
				     : "a second sandbox line");
		} else if (setup) {
			r->setup_error = xstrdup(v->type == JSON_STRING ? v->s : "(malformed)");
		} else {
			r->sandbox = json_take(j, "sandbox");
		}
	} else if (!strcmp(key, "violation")) {
		if (v->type == JSON_OBJECT)
			add_violation(r, json_take(j, "violation"));
		else
			tamper(r, lineno, "a violation that is not an object");
	} else if (!strcmp(key, "seccomp")) {
		add_violation(r, seccomp_violation(v));
	} else if (!strcmp(key, "result")) {
		if (r->result)
			tamper(r, lineno, "a second result line");
		else if (v->type != JSON_OBJECT)
			tamper(r, lineno, "a result that is not an object");
		else if (too_many(v, "metrics") || too_many(v, "checks"))
			tamper(r, lineno, "a result with more metrics or checks than the protocol allows");
		else
			r->result = json_take(j, "result");
	} else if (!strcmp(key, "archive")) {
		/* the build harness's {"archive": "ready"}: the supervisor may
		 * start validating (pipeline.c); once, and nothing else */
		if (r->archive_announced || v->type != JSON_STRING || strcmp(v->s, "ready"))
			tamper(r, lineno, "a second or malformed archive line");
		else
			r->archive_announced = true;
	} else if (!strcmp(key, "harness_error")) {
		if (r->harness_error || v->type != JSON_STRING)
			tamper(r, lineno, "a second or malformed harness_error");
		else
			r->harness_error = xstrdup(v->s);
	} else {
		tamper(r, lineno, "an unknown line kind");
	}
	json_free(j);
}

void report_parse(const struct sbuf *raw, bool exited_normally, size_t dropped, struct report *r)
{
	const char *p = sbuf_str(raw), *end = p + raw->len;
	size_t lineno = 0;

	memset(r, 0, sizeof(*r));
	r->violations = json_array();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		if (!nl) {
			/* a write cut off by a kill is not a claim; by exit it is */
			if (exited_normally)
				tamper(r, lineno, "an unterminated last line");
			break;
		}
		parse_line(r, p, len, lineno);
		p = nl + 1;
	}
	if (dropped)
		tamper(r, lineno + 1, "more report bytes than the protocol allows");
}

void report_parse_job(const struct job_outcome *o, struct report *r)
{
	report_parse(&o->report, o->exited && WIFEXITED(o->wstatus), o->report_dropped, r);
}

static bool is_memory_error(const struct json *err)
{
	const char *type = json_get_str(err, "type"), *msg = json_get_str(err, "message");

	if (type && !strcmp(type, "MemoryError"))
		return true;
	return msg && (strstr(msg, "DefaultCPUAllocator: can't allocate memory") ||
		       strstr(msg, "DefaultCPUAllocator: not enough memory"));
}

/* The message of a violation verdict, from the first violation. */
static void violation_message(const struct json *first, char *msg, size_t len)
{
	const char *rule = json_get_str(first, "rule"), *ev = json_get_str(first, "event");
	const char *sc = json_get_str(first, "syscall"), *m = json_get_str(first, "message");
	const char *args = json_get_str(first, "args");

	if (sc)
		snprintf(msg, len, "denied system call '%s' (seccomp)", sc);
	else if (m && *m)
		snprintf(msg, len, "%s: %s", rule ? rule : "policy", m);
	else
		snprintf(msg, len, "%s: %s%s%s", rule ? rule : "policy", ev ? ev : "", args && *args ? " " : "",
			 args ? args : "");
}

bool judge_job(const struct policy *pol, const struct job_outcome *o, const struct report *r, enum verdict *v,
	       struct json **err)
{
	char msg[512];

	if (o->failure) {
		*v = VERDICT_ERROR;
		*err = verdict_error("SandboxError", o->failure, 0);
		return true;
	}
	/* only the first line can be a setup error, and a confinement that
	 * failed never ran Python: nothing of the candidate's can be here */
	if (r->setup_error) {
		snprintf(msg, sizeof(msg), "confinement failed: %s", r->setup_error);
		*v = VERDICT_ERROR;
		*err = verdict_error("SandboxError", msg, 0);
		return true;
	}
	if (r->violations->count) {
		const struct json *first = r->violations->items[0];
		double line = 0;

		json_get_num(first, "line", &line);
		violation_message(first, msg, sizeof(msg));
		*v = VERDICT_VIOLATION;
		*err = verdict_error("PolicyViolation", msg, line > 0 && line < 1e9 ? (long)line : 0);
		return true;
	}
	if (o->killed_wall) {
		snprintf(msg, sizeof(msg), "wall-clock limit of %g s exceeded", pol->limits.wall_timeout_s);
		*v = VERDICT_TIMEOUT;
		*err = verdict_error("Timeout", msg, 0);
		return true;
	}
	if (o->oom || o->killed_memory) {
		snprintf(msg, sizeof(msg), "memory limit of %ld MiB exceeded", pol->limits.memory_mb);
		*v = VERDICT_MEMORY;
		*err = verdict_error("MemoryLimit", msg, 0);
		return true;
	}
	if (o->disk_full) {
		/* the work directory is a tmpfs: memory, charged to the job */
		snprintf(msg, sizeof(msg), "work directory limit of %ld MiB exceeded (limits.workdir_mb)",
			 pol->limits.workdir_mb);
		*v = VERDICT_MEMORY;
		*err = verdict_error("DiskLimit", msg, 0);
		return true;
	}
	if (o->exited && WIFSIGNALED(o->wstatus) &&
	    (WTERMSIG(o->wstatus) == SIGXCPU ||
	     (WTERMSIG(o->wstatus) == SIGKILL && o->cpu_s >= pol->limits.cpu_time_s - 0.05))) {
		snprintf(msg, sizeof(msg), "CPU time limit of %g s exceeded", pol->limits.cpu_time_s);
		*v = VERDICT_TIMEOUT;
		*err = verdict_error("Timeout", msg, 0);
		return true;
	}
	if (o->killed_flood) {
		snprintf(msg, sizeof(msg), "output flood: more than %d times the %ld-byte cap", 64,
			 pol->limits.max_output_bytes);
		*v = VERDICT_REJECTED;
		*err = verdict_error("OutputFlood", msg, 0);
		return true;
	}
	if (o->exited && WIFSIGNALED(o->wstatus) && WTERMSIG(o->wstatus) == SIGSYS) {
		/* only seccomp sends SIGSYS; when the process had it blocked (glibc's
		 * posix_spawn blocks every signal around clone) the kernel kills it
		 * before our handler can name the call */
		*v = VERDICT_VIOLATION;
		*err = verdict_error("PolicyViolation",
				     "denied system call (killed by SIGSYS with the signal blocked, so unnamed)", 0);
		return true;
	}
	if (o->exited && WIFSIGNALED(o->wstatus)) {
		snprintf(msg, sizeof(msg), "killed by signal %d (%s)", WTERMSIG(o->wstatus),
			 strsignal(WTERMSIG(o->wstatus)));
		*v = VERDICT_CRASH;
		*err = verdict_error("Crash", msg, 0);
		return true;
	}
	if (o->exited && WIFEXITED(o->wstatus) && WEXITSTATUS(o->wstatus) == CONFINE_EXIT_SECCOMP) {
		*v = VERDICT_VIOLATION;
		*err = verdict_error("PolicyViolation", "denied system call", 0);
		return true;
	}
	if (r->result) {
		const struct json *e = json_get(r->result, "error");

		if (e && is_memory_error(e)) {
			*v = VERDICT_MEMORY;
			*err = json_dup(e);
			return true;
		}
	}
	return false;
}
