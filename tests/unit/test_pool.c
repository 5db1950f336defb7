/* test_pool.c - the SQLite pool with real processes: four concurrent
 * writers lose nothing; a writer killed mid-batch leaves a consistent
 * database holding every committed row; the approval trail is append-only
 * and a decision is final. */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/gate.h"
#include "store/pool.h"
#include "common/sha256.h"
#include "common/util.h"

static char dir[] = "/tmp/aegis-pool-test-XXXXXX";

static struct json *result(const char *status, double loss)
{
	char doc[512];

	snprintf(doc, sizeof(doc),
		 "{\"architecture_id\":\"a\",\"status\":\"%s\",\"stage\":\"validate\",\"code_sha256\":\"x\","
		 "\"final_code\":\"print(1)\\n\",\"metrics\":{\"final_loss\":%g,\"parameters\":10},\"checks\":{},"
		 "\"policy_digest\":\"d\"}",
		 status, loss);
	return json_parse(doc, strlen(doc), NULL, 0);
}

static char *db_path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* pool_record with an archive, staged as the pipeline stages one: a file
 * in the database's archive directory, its digest computed here; the
 * verdict says the archive verifier passed those bytes unless VERIFIED is
 * false (a record from before the verifier) */
static long long record_archive_as(struct pool *p, const char *db, const struct json *r, const char *code,
				   long long parent, long gen, const void *data, size_t len, bool verified, char *err,
				   size_t errlen)
{
	static int n;
	char sha[65], *adir = pool_stage_dir(db), *staged = xasprintf("%s/.incoming-test-%d-%d", adir, getpid(), n++);
	struct json *res = json_dup(r), *a;
	long long id;

	mkdir(adir, 0700);
	assert_int_equal(util_write_file(staged, data, len, 0600), 0);
	sha256_hex(data, len, sha);
	if (verified) {
		a = json_set(res, "archive", json_object());
		json_set(a, "verified", json_bool(true));
		json_set(a, "sha256", json_str(sha));
	}
	id = pool_record(p, res, code, strlen(code), parent, gen, staged, len, sha, err, errlen);
	json_free(res);
	if (id > 0) /* the file is the pool's now */
		assert_int_equal(access(staged, F_OK), -1);
	else
		unlink(staged);
	free(staged);
	free(adir);
	return id;
}

static long long record_archive(struct pool *p, const char *db, const struct json *r, const char *code,
				long long parent, long gen, const void *data, size_t len, char *err, size_t errlen)
{
	return record_archive_as(p, db, r, code, parent, gen, data, len, true, err, errlen);
}

/* The bytes of a file (NUL-terminated), or NULL. */
static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;

	return util_read_file(path, 1 << 26, &buf, len) == 0 ? buf : NULL;
}

static long long count_rows(const char *path)
{
	char err[512];
	struct pool *p = pool_open(path, err, sizeof(err));
	struct json *rows;
	long long n;

	assert_non_null(p);
	rows = pool_list(p, NULL, -1, NULL, err, sizeof(err));
	assert_non_null(rows);
	n = (long long)rows->count;
	json_free(rows);
	pool_close(p);
	return n;
}

/* One reviewer, alice, whose key the pool trusts: decisions are signed
 * as the CLI signs them (pool_decide records; the gate checks). */
static struct gate_key *alice;
static struct gate_trust *trust;

static void trust_alice(struct pool *p)
{
	char err[512], line[256];

	if (!alice) {
		char *key = db_path("alice.key"), *rv = db_path("reviewers");
		int absent = 0, sealed = 0;

		assert_int_equal(gate_keygen(key, "alice", NULL, line, sizeof(line), err, sizeof(err)), 0);
		strcat(line, "\n");
		assert_int_equal(util_write_file(rv, line, strlen(line), 0644), 0);
		alice = gate_key_load(key, NULL, &absent, &sealed, err, sizeof(err));
		trust = gate_trust_load(rv, err, sizeof(err));
		assert_non_null(alice);
		assert_non_null(trust);
		free(key);
		free(rv);
	}
	pool_set_trust(p, trust);
}

/* Decide request RID: an approval signed by alice, a rejection unsigned
 * under WHO. */
static int decide(struct pool *p, long long rid, const char *decision, const char *who, const char *comment,
		  char *err, size_t errlen)
{
	struct json *a = pool_approval_get(p, rid, err, errlen);
	double cid = 0;
	char sig[128];
	int rc;

	if (!a || strcmp(decision, "approved")) {
		json_free(a);
		return pool_decide(p, rid, decision, who, comment, NULL, err, errlen);
	}
	json_get_num(a, "candidate_id", &cid);
	{
		struct gate_decision d = {rid, (long long)cid, json_get_str(a, "artifact_sha256"), decision,
					  "alice", "2026-12-08T00:00:00.000Z", comment};
		struct pool_signature ps = {d.archive_sha256, d.signed_at, gate_key_public(alice), sig};

		assert_int_equal(gate_sign(alice, &d, sig, sizeof(sig), err, errlen), 0);
		rc = pool_decide(p, rid, decision, "alice", comment, &ps, err, errlen);
	}
	json_free(a);
	return rc;
}

static void test_concurrent_writers(void **state)
{
	char *path = db_path("concurrent.db");
	pid_t pids[4];

	(void)state;
	for (int w = 0; w < 4; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			char err[512];
			struct pool *p = pool_open(path, err, sizeof(err));
			struct json *r = result("accepted", 1.0 + w);

			if (!p) {
				fprintf(stderr, "writer %d: %s\n", w, err);
				_exit(10);
			}
			for (int i = 0; i < 200; i++) {
				if (pool_record(p, r, "print(1)\n", 9, 0, w, NULL, 0, NULL, err, sizeof(err)) < 0) {
					fprintf(stderr, "writer %d: %s\n", w, err);
					_exit(11);
				}
			}
			json_free(r);
			pool_close(p);
			_exit(0);
		}
	}
	for (int w = 0; w < 4; w++) {
		int st;

		assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(count_rows(path), 800);
	free(path);
}

static void test_killed_writer(void **state)
{
	char *path = db_path("killed.db"), err[512];
	int fds[2];
	pid_t pid;
	long long ids[100000];
	size_t n = 0;
	sqlite3 *db;
	sqlite3_stmt *st;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pool *p = pool_open(path, err, sizeof(err));
		struct json *r = result("rejected", 2.0);
		char big[65536];

		close(fds[0]);
		memset(big, 'x', sizeof(big));
		for (;;) {
			/* a big artifact makes each write long, so the kill lands mid-write */
			long long id;

			/* a new archive every time: the first 8 bytes count */
			memcpy(big, &n, sizeof(n));
			n++;
			id = record_archive(p, path, r, "print(1)\n", 0, 0, big, sizeof(big), err, sizeof(err));

			if (id < 0)
				_exit(1);
			if (write(fds[1], &id, sizeof(id)) != sizeof(id))
				_exit(2);
		}
	}
	close(fds[1]);
	usleep(400 * 1000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	while (n < 100000 && read(fds[0], &ids[n], sizeof(ids[0])) == sizeof(ids[0]))
		n++;
	close(fds[0]);
	assert_true(n > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	/* every id the writer saw committed is there */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM candidates WHERE id = ?", -1, &st, NULL),
			 SQLITE_OK);
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_true(count_rows(path) >= (long long)n);
	free(path);
}

static void test_approval_state_machine(void **state)
{
	char *path = db_path("approvals.db"), err[512];
	struct pool *p = pool_open(path, err, sizeof(err));
	struct json *r = result("accepted", 0.5), *risk = json_object(), *a;
	long long c1, c2, r1, r2;
	char *data, *out = db_path("exported.pt");
	size_t len;

	(void)state;
	assert_non_null(p);
	trust_alice(p);
	c1 = record_archive(p, path, r, "a", 0, 0, "ARCHIVE", 7, err, sizeof(err));
	c2 = record_archive(p, path, r, "b", c1, 1, "ARCHIVE2", 8, err, sizeof(err));
	assert_true(c1 > 0 && c2 > c1);
	assert_int_equal(pool_record(p, r, "c", 1, 999, 1, NULL, 0, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "there is no candidate 999 to be the parent"));
	r1 = pool_request_approval(p, c1, "t1", "d1", risk, risk, err, sizeof(err));
	r2 = pool_request_approval(p, c2, "t2", "d2", risk, risk, err, sizeof(err));
	assert_true(r1 > 0 && r2 > r1);
	/* no export before approval */
	assert_int_equal(pool_export(p, c1, out, false, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has not been approved by a person"));
	assert_int_equal(access(out, F_OK), -1);
	/* approve once; no second decision either way */
	assert_int_equal(decide(p, r1, "approved", "alice", "", err, sizeof(err)), 0);
	assert_int_equal(decide(p, r1, "approved", "bob", "", err, sizeof(err)), -1);
	assert_string_equal(err, "approval request 1 is already approved; a decision is final");
	assert_int_equal(decide(p, r1, "rejected", "bob", "no", err, sizeof(err)), -1);
	/* reject once */
	assert_int_equal(decide(p, r2, "rejected", "carol", "too big", err, sizeof(err)), 0);
	assert_int_equal(decide(p, r2, "approved", "carol", "", err, sizeof(err)), -1);
	assert_int_equal(decide(p, 77, "approved", "carol", "", err, sizeof(err)), -1);
	assert_string_equal(err, "there is no approval request 77");
	/* export after approval; not for the rejected one */
	assert_int_equal(pool_export(p, c1, out, false, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 7);
	data = slurp(out, &len);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "ARCHIVE", 7);
	free(data);
	/* an existing file is kept unless forced */
	assert_int_equal(pool_export(p, c1, out, false, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists: give --force to overwrite it"));
	assert_int_equal(pool_export(p, c1, out, true, &len, err, sizeof(err)), 0);
	assert_int_equal(pool_export(p, c2, out, true, &len, err, sizeof(err)), -1);
	{
		/* approved, but its verdict does not say the archive verifier
		 * passed these bytes (a record from before the verifier) */
		long long c3 = record_archive_as(p, path, r, "c", 0, 0, "ARCHIVE3", 8, false, err, sizeof(err));
		long long r3 = pool_request_approval(p, c3, "t3", "d3", risk, risk, err, sizeof(err));
		char *out3 = db_path("unverified.pt");

		assert_int_equal(decide(p, r3, "approved", "alice", "", err, sizeof(err)), 0);
		assert_int_equal(pool_export(p, c3, out3, false, &len, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "did not pass the archive verifier"));
		assert_int_equal(access(out3, F_OK), -1);
		free(out3);
	}
	/* the trail */
	a = pool_approval_get(p, r2, err, sizeof(err));
	assert_non_null(a);
	assert_string_equal(json_get_str(a, "state"), "rejected");
	assert_int_equal(json_get(a, "decisions")->count, 1);
	assert_string_equal(json_get_str(json_get(a, "decisions")->items[0], "reviewer"), "carol");
	assert_string_equal(json_get_str(a, "diff_against_parent"),
			    ""); /* the same code: no difference */
	json_free(a);
	/* lineage and top */
	a = pool_lineage(p, c2, err, sizeof(err));
	assert_int_equal(json_get(a, "ancestors")->count, 1);
	json_free(a);
	a = pool_top(p, 10, "final_loss; DROP TABLE candidates", false, NULL, err, sizeof(err));
	assert_null(a);
	{
		/* the one recorder: row, archive and request, all or none */
		struct pool_verdict v = {.result = r, .code = "d", .code_len = 1, .parent = 999,
					 .approval_title = "t", .approval_description = "d", .approval_risk = risk};
		long long cid = -5, aid = -5;
		size_t n_before;
		struct json *all = pool_approvals(p, NULL, err, sizeof(err));

		assert_non_null(all);
		n_before = all->count;
		json_free(all);
		assert_int_equal(pool_record_verdict(p, &v, &cid, &aid, err, sizeof(err)), -1);
		assert_true(cid == 0 && aid == 0);
		all = pool_approvals(p, NULL, err, sizeof(err));
		assert_int_equal(all->count, n_before);
		json_free(all);
		v.parent = c1;
		assert_int_equal(pool_record_verdict(p, &v, &cid, &aid, err, sizeof(err)), 0);
		assert_true(cid > c2 && aid > r2);
	}
	pool_close(p);
	/* decisions are append-only, even behind the program's back */
	{
		sqlite3 *db;
		char *msg = NULL;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_not_equal(
		    sqlite3_exec(db, "UPDATE approval_decisions SET decision = 'approved'", NULL, NULL, &msg),
		    SQLITE_OK);
		assert_non_null(strstr(msg, "append-only"));
		sqlite3_free(msg);
		assert_int_not_equal(sqlite3_exec(db, "DELETE FROM approval_decisions", NULL, NULL, &msg), SQLITE_OK);
		sqlite3_free(msg);
		assert_int_not_equal(
		    sqlite3_exec(db, "UPDATE approval_requests SET state = 'approved' WHERE id = 2", NULL, NULL, &msg),
		    SQLITE_OK);
		assert_non_null(strstr(msg, "already decided"));
		sqlite3_free(msg);
		sqlite3_close(db);
	}
	json_free(r);
	json_free(risk);
	free(path);
	free(out);
}

/* Archives live in files named by their digest, beside the database: the
 * same bytes once; a damaged file is refused at export; 'gc' keeps what a
 * person approved or may still approve, prunes the rest (the rows stay),
 * moves archives out of rows written before, removes files no row names
 * (old enough), and the database shrinks. */
static void test_archives_and_gc(void **state)
{
	char *path = db_path("gc.db"), *adir = db_path("gc.db-archives"), err[512];
	struct pool *p = pool_open(path, err, sizeof(err));
	struct json *r = result("accepted", 0.5), *risk = json_object(), *doc, *row;
	long long ids[20], approved_req, pending_req, legacy = 0;
	char blob[100000], sha[65], *file, *out = db_path("gc-out.pt");
	size_t len;
	double v;

	(void)state;
	assert_non_null(p);
	trust_alice(p);
	for (int i = 0; i < 20; i++) {
		memset(blob, 'a' + i, sizeof(blob));
		ids[i] = record_archive(p, path, r, "x", 0, 0, blob, sizeof(blob), err, sizeof(err));
		assert_true(ids[i] > 0);
	}
	/* the same archive again: one file */
	ids[19] = record_archive(p, path, r, "y", 0, 0, blob, sizeof(blob), err, sizeof(err));
	sha256_hex(blob, sizeof(blob), sha);
	file = xasprintf("%s/%.2s/%s.pt", adir, sha, sha);
	assert_int_equal(access(file, F_OK), 0);
	row = pool_get(p, ids[19], false, err, sizeof(err));
	assert_string_equal(json_get_str(row, "artifact_sha256"), sha);
	assert_true(json_get(row, "artifact_bytes")->n == sizeof(blob));
	assert_true(json_get_bool(row, "has_artifact", false));
	json_free(row);
	/* an archive in its row, as pools before migration 3 kept them */
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(
		    sqlite3_prepare_v2(db,
				       "INSERT INTO candidates (architecture_id, code_sha256, code, final_code,"
				       " status, stage, metrics, checks, result, policy_digest, artifact)"
				       " VALUES ('old', 'x', 'x', 'x', 'accepted', 'validate', '{}', '{}',"
				       " '{}', 'd', ?)",
				       -1, &st, NULL),
		    SQLITE_OK);
		memset(blob, 'L', sizeof(blob));
		sqlite3_bind_blob(st, 1, blob, sizeof(blob), SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		legacy = sqlite3_last_insert_rowid(db);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	approved_req = pool_request_approval(p, ids[0], "t", "d", risk, risk, err, sizeof(err));
	pending_req = pool_request_approval(p, legacy, "t", "d", risk, risk, err, sizeof(err));
	assert_true(approved_req > 0 && pending_req > 0);
	assert_int_equal(decide(p, approved_req, "approved", "alice", "", err, sizeof(err)), 0);
	/* rejected: pruned like one never requested */
	assert_int_equal(decide(p, pool_request_approval(p, ids[1], "t", "d", risk, risk, err, sizeof(err)),
				     "rejected", "bob", "no", err, sizeof(err)),
			 0);
	/* a dry run changes nothing */
	doc = pool_gc(p, true, 0, err, sizeof(err));
	assert_non_null(doc);
	assert_true(json_get_num(doc, "pruned", &v) && v == 20); /* 21 rows name a file; one approved */
	json_free(doc);
	assert_int_equal(access(file, F_OK), 0);
	/* min-age: nothing is old enough */
	doc = pool_gc(p, false, 3600, err, sizeof(err));
	assert_true(json_get_num(doc, "pruned", &v) && v == 0);
	assert_true(json_get_num(doc, "moved_out_of_rows", &v) && v == 1);
	json_free(doc);
	doc = pool_gc(p, false, 0, err, sizeof(err));
	assert_non_null(doc);
	assert_true(json_get_num(doc, "pruned", &v) && v == 20);
	assert_true(json_get_num(doc, "pruned_bytes", &v) && v == 20.0 * sizeof(blob));
	/* the files pruned now are younger than the grace period: kept for
	 * now, gone once no row names them and they are old */
	json_free(doc);
	{
		char *cmd = xasprintf("find %s -name '*.pt' -exec touch -d '2 hours ago' {} +", adir);

		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	doc = pool_gc(p, false, 0, err, sizeof(err));
	assert_true(json_get_num(doc, "files_removed", &v) && v == 19);
	assert_true(json_get_num(doc, "archives_kept", &v) && v == 2); /* approved + pending (legacy) */
	json_free(doc);
	assert_int_equal(access(file, F_OK), -1);
	/* the rows stay, and say what happened */
	row = pool_get(p, ids[5], false, err, sizeof(err));
	assert_string_equal(json_get_str(row, "status"), "accepted");
	assert_false(json_get_bool(row, "has_artifact", true));
	assert_non_null(json_get_str(row, "artifact_pruned_at"));
	json_free(row);
	/* the approved one exports; the legacy one now lives in a file */
	assert_int_equal(pool_export(p, ids[0], out, false, &len, err, sizeof(err)), 0);
	assert_int_equal(len, sizeof(blob));
	row = pool_get(p, legacy, false, err, sizeof(err));
	assert_non_null(json_get_str(row, "artifact_sha256"));
	json_free(row);
	/* a damaged archive is refused, not exported */
	{
		char *victim;
		FILE *f;

		memset(blob, 'a', sizeof(blob));
		sha256_hex(blob, sizeof(blob), sha);
		victim = xasprintf("%s/%.2s/%s.pt", adir, sha, sha);
		f = fopen(victim, "r+");
		assert_non_null(f);
		fputc('Z', f);
		fclose(f);
		free(victim);
	}
	assert_int_equal(pool_export(p, ids[0], out, true, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "archive is damaged: its SHA-256 is"));
	json_free(r);
	json_free(risk);
	pool_close(p);
	free(file);
	free(out);
	free(adir);
	free(path);
}

static void test_top_order(void **state)
{
	char *path = db_path("top.db"), err[512];
	struct pool *p = pool_open(path, err, sizeof(err));
	double losses[] = {3.0, 1.0, 2.0};
	struct json *top;

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct json *r = result("accepted", losses[i]);

		pool_record(p, r, "x", 1, 0, 0, NULL, 0, NULL, err, sizeof(err));
		json_free(r);
	}
	{
		struct json *r = result("rejected", 0.1); /* never ranked */

		pool_record(p, r, "x", 1, 0, 0, NULL, 0, NULL, err, sizeof(err));
		json_free(r);
	}
	top = pool_top(p, 2, "final_loss", false, NULL, err, sizeof(err));
	assert_int_equal(top->count, 2);
	assert_true(json_get(top->items[0], "id")->n == 2 && json_get(top->items[1], "id")->n == 3);
	json_free(top);
	top = pool_top(p, 10, "final_loss", true, NULL, err, sizeof(err));
	assert_int_equal(top->count, 3);
	assert_true(json_get(top->items[0], "id")->n == 1);
	json_free(top);
	/* a cross-entropy and a mean squared error do not rank together */
	{
		static const char doc[] = "{\"architecture_id\":\"m\",\"status\":\"accepted\",\"stage\":\"validate\","
					  "\"code_sha256\":\"y\",\"final_code\":\"x\",\"metrics\":{\"final_loss\":0.01,"
					  "\"loss\":\"mse\"},\"checks\":{},\"policy_digest\":\"d\"}";
		static const char ce[] = "{\"architecture_id\":\"c\",\"status\":\"accepted\",\"stage\":\"validate\","
					 "\"code_sha256\":\"z\",\"final_code\":\"x\",\"metrics\":{\"final_loss\":2.5,"
					 "\"loss\":\"cross_entropy\"},\"checks\":{},\"policy_digest\":\"d\"}";
		struct json *r = json_parse(doc, strlen(doc), NULL, 0), *c = json_parse(ce, strlen(ce), NULL, 0);

		pool_record(p = pool_open(path, err, sizeof(err)), r, "x", 1, 0, 0, NULL, 0, NULL, err, sizeof(err));
		pool_record(p, c, "x", 1, 0, 0, NULL, 0, NULL, err, sizeof(err));
		assert_null(pool_top(p, 10, "final_loss", false, NULL, err, sizeof(err)));
		assert_non_null(strstr(err, "different losses"));
		top = pool_top(p, 10, "final_loss", false, "mse", err, sizeof(err));
		assert_int_equal(top->count, 1);
		assert_string_equal(json_get_str(top->items[0], "architecture_id"), "m");
		json_free(top);
		top = pool_top(p, 10, "final_loss", false, "cross_entropy", err, sizeof(err));
		assert_int_equal(top->count, 1);
		json_free(top);
		json_free(r);
		json_free(c);
		pool_close(p);
	}
	free(path);
}

/* The caller's labels: its own metrics (merged, ranked by top before the
 * sandbox's of the same name), generation, architecture id; the verdict
 * and the sandbox's metrics never change.  The caller's risk assessment
 * is kept as given, the sandbox's beside it. */
static void test_annotate(void **state)
{
	char *path = db_path("annotate.db"), err[512];
	struct pool *p = pool_open(path, err, sizeof(err));
	struct json *m1 = json_parse("{\"accuracy\":0.5}", 16, NULL, 0), *m2, *top, *row, *risk, *sb;
	long long c[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct json *r = result(i == 2 ? "rejected" : "accepted", 1.0 + i);

		c[i] = pool_record(p, r, "x", 1, 0, 0, NULL, 0, NULL, err, sizeof(err));
		json_free(r);
	}
	assert_int_equal(pool_annotate(p, c[0], m1, 4, "arch-a", err, sizeof(err)), 0);
	m2 = json_parse("{\"accuracy\":0.9,\"final_loss\":0.25}", 34, NULL, 0);
	assert_int_equal(pool_annotate(p, c[1], m2, -1, NULL, err, sizeof(err)), 0);
	assert_int_equal(pool_annotate(p, c[2], m2, -1, NULL, err, sizeof(err)), 0);
	assert_int_equal(pool_annotate(p, 99, m2, -1, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "there is no candidate 99");
	/* accuracy: the caller's only; rejected ones never ranked */
	top = pool_top(p, 10, "accuracy", true, NULL, err, sizeof(err));
	assert_int_equal(top->count, 2);
	assert_true(json_get(top->items[0], "id")->n == c[1] && json_get(top->items[0], "value")->n == 0.9);
	json_free(top);
	/* final_loss: the caller's 0.25 for c[1], the sandbox's 1.0 for c[0] */
	top = pool_top(p, 10, "final_loss", false, NULL, err, sizeof(err));
	assert_true(json_get(top->items[0], "id")->n == c[1] && json_get(top->items[0], "value")->n == 0.25);
	json_free(top);
	row = pool_get(p, c[0], false, err, sizeof(err));
	assert_string_equal(json_get_str(row, "architecture_id"), "arch-a");
	assert_true(json_get(row, "generation")->n == 4);
	assert_true(json_get(json_get(row, "user_metrics"), "accuracy")->n == 0.5);
	assert_true(json_get(json_get(row, "metrics"), "final_loss")->n == 1.0); /* the sandbox's, kept */
	assert_string_equal(json_get_str(row, "status"), "accepted");
	json_free(row);
	/* by source */
	top = pool_list(p, NULL, -1, "x", err, sizeof(err));
	assert_int_equal(top->count, 3);
	json_free(top);
	top = pool_list(p, NULL, -1, "y", err, sizeof(err));
	assert_int_equal(top->count, 0);
	json_free(top);
	risk = json_parse("{\"trainable\":true}", 18, NULL, 0);
	sb = json_parse("{\"checks_not_passed\":{}}", 24, NULL, 0);
	{
		long long r = pool_request_approval(p, c[0], "t", "d", risk, sb, err, sizeof(err));
		struct json *a = pool_approval_get(p, r, err, sizeof(err));

		assert_true(json_get_bool(json_get(a, "risk_assessment"), "trainable", false));
		assert_non_null(json_get(json_get(a, "sandbox_assessment"), "checks_not_passed"));
		json_free(a);
	}
	json_free(risk);
	json_free(sb);
	json_free(m1);
	json_free(m2);
	pool_close(p);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_concurrent_writers),
	    cmocka_unit_test(test_killed_writer),
	    cmocka_unit_test(test_approval_state_machine),
	    cmocka_unit_test(test_archives_and_gc),
	    cmocka_unit_test(test_top_order),
	    cmocka_unit_test(test_annotate),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	util_rm_rf(dir);
	return rc;
}
