/* policy.h - the YAML policy file, parsed into a typed struct.
 *
 * Every key is described once, in the schema table of policy.c: its path,
 * type, default, range and one line of documentation.  Parsing, defaults,
 * "policy show" and the key reference are all driven by that table, so a
 * key cannot be parsed but not shown, or shown but not documented. */
#ifndef AEGIS_POLICY_H
#define AEGIS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"
#include "common/sbuf.h"
#include "common/util.h"

struct policy {
	char *source; /* the file it came from, or "<defaults>" */
	struct policy_limits {
		double wall_timeout_s;
		double cpu_time_s;
		long memory_mb;
		long max_pids;
		long max_output_bytes;
		long max_file_bytes;
		long max_open_files;
		long code_max_bytes;
		long workdir_mb;
	} limits;
	struct {
		struct strv allowed_imports;
		struct {
			bool enabled;
			struct strv deny_events;
			struct strv finding_events;
		} audit;
		struct {
			bool enabled;
			char *action; /* warn | reject */
			struct strv banned_builtins;
			struct strv banned_attributes;
			struct strv allowed_dunders;
			long max_nesting;
			long max_ast_nodes;
		} static_check;
	} python;
	struct {
		bool seccomp;
		bool landlock;
		bool allow_unix_sockets;
		bool allow_rwx_memory;
		struct {
			bool net, ipc, mount, pid, user;
		} namespaces;
		char *cgroups;           /* auto | v1 | v2 | off */
		struct strv environment; /* KEY=VALUE */
		long threads;
		char *workdir_base;
		long uid, gid; /* a job's credentials when the supervisor is root */
	} sandbox;
	struct {
		char *input;
		char *export_failure; /* reject | in-process */
		struct {
			long max_parameters;
			long max_buffers;
			long max_layers;
			long max_depth;
			long max_memory_mb;
		} architecture;
		struct {
			bool enabled;
			long steps;
			double learning_rate;
			long batches;
			double min_loss_drop;
			double explode_factor;
		} training;
		struct {
			bool causality;
			bool gradient_coverage;
			bool low_loss;
			double low_loss_fraction;
			long probe_max_batch;
			double probe_length_factor;
		} checks;
		struct {
			char *model;
			double max_time_ratio;
			double max_memory_ratio;
		} reference;
	} validation;
	struct {
		long max_attempts;
		bool builtin_fixers;
		struct strv rules;
		struct strv fixer_command;
		double fixer_timeout_s;
	} debug;
	struct {
		bool required;
	} approval;
	struct {
		char *db;
	} storage;
};

/* Fill P with the documented defaults.  P must be zeroed or released. */
void policy_init_defaults(struct policy *p);
/* Parse PATH over the defaults already in P.  Returns 0, or -1 with
 * "PATH:LINE:COL: message" in ERR (the policy is then unspecified and must
 * be released). */
int policy_load_file(struct policy *p, const char *path, char *err, size_t errlen);
/* The same for an in-memory document; NAME is used in messages. */
int policy_load_buffer(struct policy *p, const char *name, const char *buf, size_t len, char *err, size_t errlen);
/* Free everything P owns; P is left zeroed.  Accepts a zeroed P. */
void policy_release(struct policy *p);
/* Write P as a YAML document that policy_load_* accepts again; with
 * COMMENTS, each key is preceded by its documentation. */
void policy_dump(const struct policy *p, struct sbuf *out, bool comments);
/* Write the key reference (one entry per key) as man-page source. */
void policy_dump_reference(struct sbuf *out);
/* Set one key from a "path=value" string, as the CLI's --set does.
 * Returns 0 or -1 with a message in ERR. */
int policy_set(struct policy *p, const char *assignment, char *err, size_t errlen);
/* Who a key is sent to, the schema table's last column.  A policy leaves
 * the supervisor only through policy_encode(), and is read back only
 * through policy_decode(): adding a key a child uses is one schema row
 * (with its audience) plus the code that uses it. */
enum policy_to {
	POLICY_TO_CONFINE = 1u << 0,  /* the zygote, to confine a job child (proto/job.h) */
	POLICY_TO_BUILD = 1u << 1,    /* the build child's Python (request "policy") */
	POLICY_TO_VALIDATE = 1u << 2, /* the validate child's Python */
	POLICY_TO_FIX = 1u << 3,      /* the fix child's Python */
	POLICY_ALL_KEYS = 1u << 31,   /* every key ("policy show --json") */
};
/* The keys of P sent to any of TO, as nested objects by path
 * ({"sandbox":{"namespaces":{"net":true}}}).  The caller's. */
struct json *policy_encode(const struct policy *p, unsigned to);
/* Set P's keys from J, an object policy_encode(.., TO) wrote; keys it does
 * not hold keep the value already in P (call policy_init_defaults first).
 * Every value is checked as the YAML parser checks it; a key outside TO, an
 * unknown key or a wrong type is an error.  0, or -1 with a message. */
int policy_decode(struct policy *p, const struct json *j, unsigned to, char *err, size_t errlen);

/* A stable SHA-256 hex digest of the effective policy (65 bytes with NUL). */
void policy_digest(const struct policy *p, char out[65]);

#endif
