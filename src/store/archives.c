/* archives.c - the archives: files beside a SQLite database, rows of
 * their own table in a PostgreSQL one (which has no "beside"), both named
 * by their SHA-256; export through the approval gate; garbage collection. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/diff.h"
#include "common/sbuf.h"
#include "common/sha256.h"
#include "common/util.h"
#include "store/db.h"
#include "store/gate.h"
#include "store/pool.h"
#include "store/pool_base.h"

/* ---- archives ----------------------------------------------------------------- */

/* Where the archive with digest SHA lives, beside a SQLite pool (the
 * caller's). */
static char *archive_path(const struct pool *p, const char *sha)
{
	return xasprintf("%s/%.2s/%s.pt", p->archives, sha, sha);
}

/* Store DATA under its digest SHA, unless it is there already (the same
 * archive twice is kept once).  Beside SQLite: written to a temporary
 * name and renamed, so a reader never sees half an archive; not fsynced:
 * 'pool export' checks the digest of what it reads.  0 or -1 with ERR. */
static int archive_put(struct pool *p, const char *sha, const void *data, size_t len, char *err, size_t errlen)
{
	char *dst, *tmp = NULL;
	struct stat st;
	unsigned long long nonce = 0;
	int rc = -1;

	if (p->pg) {
		struct db_val v[2] = {DV_STR(sha), DV_BLOB(data, len)};

		return db_exec(p->db, "INSERT INTO archives (sha256, data) VALUES ($1, $2) ON CONFLICT DO NOTHING", v,
			       2, NULL, err, errlen);
	}
	dst = archive_path(p, sha);
	if (stat(dst, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
		rc = 0;
		goto out;
	}
	if (util_mkdir_parents(dst) < 0) {
		snprintf(err, errlen, "%s: cannot create the archive directory: %s", p->archives, strerror(errno));
		goto out;
	}
	(void)!getentropy(&nonce, sizeof(nonce));
	tmp = xasprintf("%s.tmp-%ld-%llx", dst, (long)getpid(), nonce);
	if (util_write_file(tmp, data, len, 0600) < 0 || rename(tmp, dst) < 0) {
		snprintf(err, errlen, "%s: cannot store the archive: %s", dst, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	free(dst);
	return rc;
}

/* Take the staged file STAGED (see pool_stage_dir) as the archive with
 * digest SHA: renamed into place beside SQLite (dropped when that archive
 * is there already), read into its table on PostgreSQL.  0 or -1 with
 * ERR. */
int pb_archive_adopt(struct pool *p, const char *sha, const char *staged, size_t len, char *err, size_t errlen)
{
	char *dst;
	struct stat st;
	int rc = -1;

	if (p->pg) {
		char *data = NULL;
		size_t n = 0;
		int e = util_read_file(staged, (size_t)1 << 31, &data, &n);

		if (e < 0) {
			snprintf(err, errlen, "%s: %s", staged, strerror(-e));
			return -1;
		}
		rc = archive_put(p, sha, data, n, err, errlen);
		free(data);
		if (rc == 0)
			unlink(staged);
		return rc;
	}
	dst = archive_path(p, sha);
	if (stat(dst, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
		unlink(staged);
		rc = 0;
	} else if (util_mkdir_parents(dst) < 0) {
		snprintf(err, errlen, "%s: cannot create the archive directory: %s", p->archives, strerror(errno));
	} else if (rename(staged, dst) < 0) {
		snprintf(err, errlen, "%s: cannot store the archive: %s", dst, strerror(errno));
	} else {
		rc = 0;
	}
	free(dst);
	return rc;
}

char *pool_stage_dir(const char *db_path)
{
	if (db_is_url(db_path)) {
		/* a server database has no "beside": stage on this machine */
		const char *t = getenv("TMPDIR");

		return xasprintf("%s/aegis-sandbox-stage-%ld", t && *t == '/' ? t : "/var/tmp", (long)getuid());
	}
	return xasprintf("%s-archives", db_path);
}

static int write_out(const char *out, const void *data, size_t len, bool force, char *err, size_t errlen)
{
	char *tmp;
	unsigned long long nonce = 0;
	int rc = 0;

	if (!strcmp(out, "-")) {
		if (util_write_all(STDOUT_FILENO, data, len) < 0) {
			snprintf(err, errlen, "cannot write to standard output: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!force && access(out, F_OK) == 0) {
		snprintf(err, errlen, "%s exists: give --force to overwrite it", out);
		return -1;
	}
	(void)!getentropy(&nonce, sizeof(nonce));
	tmp = xasprintf("%s.tmp-%ld-%llx", out, (long)getpid(), nonce);
	if (util_write_file(tmp, data, len, 0644) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", out, strerror(errno));
		rc = -1;
	} else if (force ? rename(tmp, out) < 0 : link(tmp, out) < 0) {
		/* without --force, link(2) refuses a file that appeared since */
		snprintf(err, errlen,
			 errno == EEXIST ? "%s exists: give --force to overwrite it" : "cannot write %s: %s", out,
			 strerror(errno));
		rc = -1;
	}
	unlink(tmp);
	free(tmp);
	return rc;
}

/* True when the verdict recorded in ROW ("result") says the archive
 * verifier passed the bytes named SHA (the row's archive digest): only
 * those leave the pool.  Rows recorded before the verifier existed, or
 * with the archive still in the row, have no such word. */
static bool archive_was_verified(const struct json *row, const char *sha)
{
	const char *text = json_get_str(row, "result");
	char perr[64];
	struct json *res = text && sha ? json_parse(text, strlen(text), perr, sizeof(perr)) : NULL;
	const struct json *a = res ? json_get(res, "archive") : NULL;
	const char *vsha = a && json_get_bool(a, "verified", false) ? json_get_str(a, "sha256") : NULL;
	bool ok = vsha && !strcmp(vsha, sha);

	json_free(res);
	return ok;
}

int pool_export(struct pool *p, long long id, const char *out, bool force, size_t *len, char *err, size_t errlen)
{
	struct db_val v = DV_INT(id);
	struct json *row = pb_query_one(p,
				     "SELECT c.status, c.artifact_sha256, c.artifact_pruned_at,"
				     " CASE WHEN c.artifact IS NULL THEN 0 ELSE 1 END AS in_row,"
				     " c.result FROM candidates c WHERE c.id = $1",
				     id, "candidate", err, errlen);
	char *data = NULL, got[65];
	const char *sha, *gate;
	struct sbuf why = SBUF_INIT;
	double in_row = 0;
	int rc = -1;

	*len = 0;
	if (!row)
		return -1;
	json_get_num(row, "in_row", &in_row);
	sha = json_get_str(row, "artifact_sha256");
	/* the approved requests, read through their signatures */
	if (!(gate = pb_candidate_gate(p, id, sha, &why, err, errlen)))
		goto out;
	if (!strcmp(gate, "none")) {
		snprintf(err, errlen,
			 "candidate %lld has not been approved by a person: export refused "
			 "(see 'aegis-sandbox approvals list')",
			 id);
		p->error = POOL_ERR_REFUSED;
		goto out;
	}
	if (strcmp(gate, "approved")) {
		snprintf(err, errlen,
			 "candidate %lld has no approval signed by a trusted reviewer over its archive: export "
			 "refused (%s; trusted reviewers from %s)",
			 id, sbuf_str(&why),
			 p->trust && gate_trust_source(p->trust) ? gate_trust_source(p->trust)
								 : "nowhere: no reviewers file");
		p->error = POOL_ERR_REFUSED;
		goto out;
	}
	if ((sha || in_row) && !archive_was_verified(row, sha)) {
		snprintf(err, errlen,
			 "candidate %lld's archive did not pass the archive verifier (a record from before it, or one "
			 "whose verdict names other bytes): export refused; run the candidate again to have it verified",
			 id);
		p->error = POOL_ERR_REFUSED;
		goto out;
	}
	if (sha) {
		/* named by its digest: what is read must still match */
		int e;

		if (!sha256_is_hex(sha)) {
			snprintf(err, errlen, "candidate %lld: the pool's archive name is not a digest", id);
			goto out;
		}
		if (p->pg) {
			struct db_val s = DV_STR(sha);

			e = db_query_blob(p->db, "SELECT data FROM archives WHERE sha256 = $1", &s, 1, &data, len, err,
					  errlen);
			if (e == 0)
				snprintf(err, errlen, "candidate %lld's archive %s is not in the pool", id, sha);
			if (e <= 0)
				goto out;
		} else {
			char *path = archive_path(p, sha);

			e = util_read_file(path, (size_t)1 << 40, &data, len);
			if (e < 0)
				snprintf(err, errlen, "candidate %lld's archive %s cannot be read: %s", id, path,
					 strerror(-e));
			free(path);
			if (e < 0)
				goto out;
		}
		sha256_hex(data, *len, got);
		if (strcmp(got, sha)) {
			snprintf(err, errlen,
				 "candidate %lld's archive is damaged: its SHA-256 is %s, the pool recorded %s", id,
				 got, sha);
			goto out;
		}
	} else if (in_row) {
		/* written before archives left the rows */
		if (db_query_blob(p->db, "SELECT artifact FROM candidates WHERE id = $1", &v, 1, &data, len, err,
				  errlen) <= 0)
			goto out;
	} else if (json_get_str(row, "artifact_pruned_at")) {
		snprintf(err, errlen, "candidate %lld's archive was pruned by 'pool gc' at %s", id,
			 json_get_str(row, "artifact_pruned_at"));
		p->error = POOL_ERR_NOT_FOUND;
		goto out;
	} else {
		snprintf(err, errlen, "candidate %lld has no exported model (status %s)", id,
			 json_get_str_or(row, "status", "?"));
		p->error = POOL_ERR_REFUSED;
		goto out;
	}
	rc = write_out(out, data, *len, force, err, errlen);
out:
	sbuf_release(&why);
	json_free(row);
	free(data);
	return rc;
}

/* ---- garbage collection ------------------------------------------------------ */

/* A candidate whose archive a person may still export: approved, or
 * with a request still pending. */
#define KEEP_ARCHIVE(T)                                                                                                \
	"EXISTS (SELECT 1 FROM approval_requests r WHERE r.candidate_id = " T ".id"                                    \
	" AND r.state IN ('approved', 'pending'))"

static long long file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* The database's size on disk (SQLite: the file and its log). */
static long long db_bytes(struct pool *p)
{
	if (p->pg) {
		char err[256];
		double n = 0;

		pb_query_num(p, "SELECT pg_database_size(current_database()) AS n", NULL, 0, "n", &n, err, sizeof(err));
		return (long long)n;
	}
	{
		char *wal = xasprintf("%s-wal", p->path);
		long long n = file_bytes(p->path) + file_bytes(wal);

		free(wal);
		return n;
	}
}

/* Step 1: archives still in rows (written before migration 3) leave them:
 * kept ones to the archive store, the others dropped. */
static int gc_rows_out(struct pool *p, bool dry_run, struct json *doc, char *err, size_t errlen)
{
	struct json *rows = db_query(
	    p->db,
	    "SELECT c.id, CASE WHEN " KEEP_ARCHIVE("c") " THEN 1 ELSE 0 END AS keep"
							" FROM candidates c WHERE c.artifact IS NOT NULL ORDER BY c.id",
	    NULL, 0, err, errlen);
	long long moved = 0, dropped = 0, bytes = 0;
	int rc = -1;

	if (!rows)
		return -1;
	for (size_t i = 0; i < rows->count; i++) {
		double id = 0, keep = 0;
		struct db_val v[3];
		char *blob = NULL, sha[65];
		size_t len = 0;

		json_get_num(rows->items[i], "id", &id);
		json_get_num(rows->items[i], "keep", &keep);
		v[0] = DV_INT((long long)id);
		if (db_query_blob(p->db, "SELECT artifact FROM candidates WHERE id = $1", v, 1, &blob, &len, err,
				  errlen) < 0)
			goto out;
		if (keep) {
			sha256_hex(blob, len, sha);
			if (!dry_run && archive_put(p, sha, blob, len, err, errlen) < 0) {
				free(blob);
				goto out;
			}
			moved++;
		} else {
			dropped++;
			bytes += (long long)len;
		}
		free(blob);
		if (dry_run)
			continue;
		v[1] = keep ? DV_STR(sha) : DV_NIL;
		v[2] = DV_INT((long long)len);
		{
			char *sql = keep ? xstrdup("UPDATE candidates SET artifact = NULL, artifact_sha256 = $2,"
						   " artifact_bytes = $3 WHERE id = $1")
					 : xasprintf("UPDATE candidates SET artifact = NULL, artifact_bytes = $3,"
						     " artifact_pruned_at = %s WHERE id = $1",
						     db_sql(p->db, SQL_NOW_TEXT));
			int e = db_exec(p->db, sql, v, 3, NULL, err, errlen);

			free(sql);
			if (e < 0)
				goto out;
		}
	}
	json_set(doc, "moved_out_of_rows", json_num((double)moved));
	json_set(doc, "pruned", json_num((double)dropped));
	json_set(doc, "pruned_bytes", json_num((double)bytes));
	rc = 0;
out:
	json_free(rows);
	return rc;
}

/* Step 2: archives of candidates nobody approved or will. */
static int gc_prune(struct pool *p, bool dry_run, double min_age_s, struct json *doc, char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT, cutoff = SBUF_INIT;
	struct db_val v = DV_REAL(min_age_s);
	struct json *rows;
	long long n = 0, bytes = 0;
	double x;

	/* created_at is text of one format in both databases: compare it with
	 * the cut-off written the same way */
	if (p->pg)
		sbuf_adds(&cutoff, "to_char((clock_timestamp() AT TIME ZONE 'UTC') - make_interval(secs => "
				   "CAST($1 AS DOUBLE PRECISION)), 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
	else
		sbuf_adds(&cutoff, "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $1 || ' seconds')");
	if (dry_run)
		sbuf_addf(
		    &sql,
		    "SELECT count(*) AS n, COALESCE(sum(artifact_bytes), 0) AS b FROM candidates"
		    " WHERE artifact_sha256 IS NOT NULL AND NOT " KEEP_ARCHIVE("candidates") " AND created_at <= %s",
		    sbuf_str(&cutoff));
	else
		sbuf_addf(&sql,
			  "UPDATE candidates SET artifact_sha256 = NULL, artifact_pruned_at = %s"
			  " WHERE artifact_sha256 IS NOT NULL AND NOT " KEEP_ARCHIVE(
			      "candidates") " AND created_at <= %s"
					    " RETURNING artifact_bytes AS b",
			  db_sql(p->db, SQL_NOW_TEXT), sbuf_str(&cutoff));
	rows = db_query(p->db, sbuf_str(&sql), &v, 1, err, errlen);
	sbuf_release(&sql);
	sbuf_release(&cutoff);
	if (!rows)
		return -1;
	for (size_t i = 0; i < rows->count; i++) {
		double b = 0, c = 0;

		json_get_num(rows->items[i], "b", &b);
		if (dry_run) {
			json_get_num(rows->items[i], "n", &c);
			n += (long long)c;
		} else {
			n++;
		}
		bytes += (long long)b;
	}
	json_free(rows);
	x = 0;
	json_get_num(doc, "pruned", &x);
	json_set(doc, "pruned", json_num(x + (double)n));
	x = 0;
	json_get_num(doc, "pruned_bytes", &x);
	json_set(doc, "pruned_bytes", json_num(x + (double)bytes));
	return 0;
}

/* Whether a row names SHA: 1, 0, or -1 with ERR. */
static int referenced(struct pool *p, const char *sha, char *err, size_t errlen)
{
	struct db_val v = DV_STR(sha);
	struct json *rows =
	    db_query(p->db, "SELECT 1 AS x FROM candidates WHERE artifact_sha256 = $1 LIMIT 1", &v, 1, err, errlen);
	int found = rows ? rows->count > 0 : -1;

	json_free(rows);
	return found;
}

/* Step 3, PostgreSQL: archives no row names. */
static int gc_table(struct pool *p, bool dry_run, struct json *doc, char *err, size_t errlen)
{
	static const char *const nb[] = {"n", "b"};
	double gone[2], kept[2];

	if (pb_query_nums(
		p,
		dry_run ? "SELECT count(*) AS n, COALESCE(sum(length(data)), 0) AS b FROM archives a WHERE NOT EXISTS"
			  " (SELECT 1 FROM candidates c WHERE c.artifact_sha256 = a.sha256)"
			: "WITH gone AS (DELETE FROM archives a WHERE NOT EXISTS (SELECT 1 FROM candidates c"
			  " WHERE c.artifact_sha256 = a.sha256) RETURNING length(data) AS len)"
			  " SELECT count(*) AS n, COALESCE(sum(len), 0) AS b FROM gone",
		NULL, 0, nb, gone, 2, err, errlen) < 0 ||
	    pb_query_nums(p, "SELECT count(*) AS n, COALESCE(sum(length(data)), 0) AS b FROM archives", NULL, 0, nb, kept,
		       2, err, errlen) < 0)
		return -1;
	json_set(doc, "files_removed", json_num(gone[0]));
	json_set(doc, "files_removed_bytes", json_num(gone[1]));
	json_set(doc, "archives_kept", json_num(dry_run ? kept[0] - gone[0] : kept[0]));
	json_set(doc, "archives_kept_bytes", json_num(dry_run ? kept[1] - gone[1] : kept[1]));
	return 0;
}

/* Step 3, SQLite: files no row names (pruned just now, or left by a crash
 * between file and row).  A file younger than GRACE_S may belong to a row
 * being written right now, and is left for the next run. */
#define GRACE_S 600
static int gc_files(struct pool *p, bool dry_run, struct json *doc, char *err, size_t errlen)
{
	long long removed = 0, bytes = 0, kept = 0, kept_bytes = 0;
	time_t now = time(NULL);
	DIR *top = opendir(p->archives);
	struct dirent *d;

	if (!top) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", p->archives, strerror(errno));
			return -1;
		}
	}
	while (top && (d = readdir(top))) {
		char *sub;
		DIR *dir;
		struct dirent *f;

		if (!strncmp(d->d_name, ".incoming-", 10)) {
			/* a copy for a row that was never written (a crash) */
			struct stat st;
			char *path = xasprintf("%s/%s", p->archives, d->d_name);

			if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime >= GRACE_S &&
			    (dry_run || unlink(path) == 0)) {
				removed++;
				bytes += (long long)st.st_size;
			}
			free(path);
			continue;
		}
		if (strlen(d->d_name) != 2 || !isxdigit((unsigned char)d->d_name[0]))
			continue;
		sub = xasprintf("%s/%s", p->archives, d->d_name);
		dir = opendir(sub);
		while (dir && (f = readdir(dir))) {
			char *path, sha[65];
			struct stat st;
			size_t n = strlen(f->d_name);
			bool tmp = strstr(f->d_name, ".pt.tmp-") != NULL;
			int ref;

			if (f->d_name[0] == '.')
				continue;
			path = xasprintf("%s/%s", sub, f->d_name);
			if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
				free(path);
				continue;
			}
			snprintf(sha, sizeof(sha), "%.64s", f->d_name);
			ref = !tmp && n == 67 && sha256_is_hex(sha) ? referenced(p, sha, err, errlen) : 0;
			if (ref < 0) {
				free(path);
				closedir(dir);
				free(sub);
				closedir(top);
				return -1;
			}
			if (ref || now - st.st_mtime < GRACE_S) {
				kept++;
				kept_bytes += (long long)st.st_size;
			} else if (dry_run || unlink(path) == 0) {
				removed++;
				bytes += (long long)st.st_size;
			}
			free(path);
		}
		if (dir) {
			closedir(dir);
			if (!dry_run)
				(void)rmdir(sub); /* only when empty */
		}
		free(sub);
	}
	if (top)
		closedir(top);
	json_set(doc, "files_removed", json_num((double)removed));
	json_set(doc, "files_removed_bytes", json_num((double)bytes));
	json_set(doc, "archives_kept", json_num((double)kept));
	json_set(doc, "archives_kept_bytes", json_num((double)kept_bytes));
	return 0;
}

struct json *pool_gc(struct pool *p, bool dry_run, double min_age_s, char *err, size_t errlen)
{
	struct json *doc = json_object();

	json_set(doc, "db", json_str(db_name(p->db)));
	json_set(doc, "archives", json_str(p->pg ? "the archives table" : p->archives));
	json_set(doc, "dry_run", json_bool(dry_run));
	json_set(doc, "db_bytes_before", json_num((double)db_bytes(p)));
	if (db_begin(p->db, err, errlen) < 0)
		goto fail;
	if (gc_rows_out(p, dry_run, doc, err, errlen) < 0 || gc_prune(p, dry_run, min_age_s, doc, err, errlen) < 0 ||
	    (p->pg && gc_table(p, dry_run, doc, err, errlen) < 0)) {
		db_rollback(p->db);
		goto fail;
	}
	if (db_commit(p->db, err, errlen) < 0)
		goto fail;
	if (!p->pg && gc_files(p, dry_run, doc, err, errlen) < 0)
		goto fail;
	/* give the space back to the file system */
	if (!dry_run && (db_exec(p->db, "VACUUM", NULL, 0, NULL, err, errlen) < 0 ||
			 (!p->pg && db_exec(p->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, 0, NULL, err, errlen) < 0)))
		goto fail;
	json_set(doc, "db_bytes_after", json_num((double)db_bytes(p)));
	return doc;
fail:
	json_free(doc);
	return NULL;
}
