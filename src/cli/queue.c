/* queue.c - "submit" and "worker": a work queue in the pool, drained by
 * workers that a scheduler (Slurm, Kubernetes, systemd) starts.
 *
 * A worker claims the oldest queued candidate under a lease of the
 * database's clock, runs it on its warm zygote exactly as 'run' would, and
 * writes the verdict in the same transaction that marks the entry done,
 * only while it still holds the lease.  A thread renews the lease while
 * the job runs.  A worker that dies (SIGKILL, a lost node) stops renewing;
 * once its lease runs out another worker claims the entry and runs it
 * again, and if the first one comes back to finish, its verdict is not
 * written: one verdict per entry.  There is no scheduler of our own: a
 * worker needs the install and the database, nothing else. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/base.h"
#include "cli/queue.h"
#include "cli/serve.h"
#include "store/pool.h"
#include "supervisor/supervise.h"

/* ---- submit ---------------------------------------------------------------- */

static const char submit_usage[] = "Usage: aegis-sandbox submit --db DB [OPTIONS] MODEL.py|-...\n"
				   "\n"
				   "Queue candidates in the pool DB for 'aegis-sandbox worker'.  Each is run as\n"
				   "'run' would run it, by whichever worker claims it; its verdict lands in the\n"
				   "pool like any other.  Prints one queue id per file.\n"
				   "\n"
				   "      --db PATH          the pool (required)\n"
				   "  -i, --input SPEC       tokens:BxT:VOCAB, float:D1xD2... (default: the worker's\n"
				   "                         policy; without one, from the model's first layer)\n"
				   "  -c, --class NAME       model class\n"
				   "  -a, --arch-id ID       architecture id (default: the file's name)\n"
				   "      --parent ID        lineage: the pool id of the candidate this one came from\n"
				   "      --generation N     lineage: the generation number\n"
				   "      --no-train         skip the trainability check\n"
				   "      --train-steps N    optimizer steps for the trainability check\n"
				   "      --max-attempts N   build attempts in the debug loop\n"
				   "  -t, --timeout SECONDS  lower the worker policy's limit (never raise it)\n"
				   "  -m, --memory-mb N      likewise\n"
				   "      --request-approval open an approval request if accepted\n"
				   "  -j, --json             print the queue ids as JSON\n"
				   "  -h, --help             this help\n";

/* A file input (.npy, .pt) is a path on the submitting machine, which a
 * worker on another node does not have: its bytes go into the request
 * ("input_data", base64, and "input_file", its name), and the worker
 * writes them to a file of its own (worker_input()).  0, or -1 with the
 * message printed. */
#define EMBED_MAX (64u << 20)
static int embed_input(struct json *req)
{
	const char *spec = json_get_str(req, "input"), *name;
	size_t n = spec ? strlen(spec) : 0, len = 0;
	char *data = NULL, *b;
	int r;

	if (!spec || !((n > 3 && !strcmp(spec + n - 3, ".pt")) || (n > 4 && !strcmp(spec + n - 4, ".npy"))))
		return 0;
	r = util_read_file(spec, EMBED_MAX, &data, &len);
	if (r < 0) {
		usage_error("--input: cannot read %s: %s", spec,
			    r == -EFBIG ? "larger than 64 MiB (a queue entry carries its input)" : strerror(-r));
		return -1;
	}
	name = strrchr(spec, '/') ? strrchr(spec, '/') + 1 : spec;
	b = util_base64_encode(data, len);
	json_set(req, "input_data", json_str(b));
	json_set(req, "input_file", json_str(name));
	json_set(req, "input", json_str(name));
	free(b);
	free(data);
	return 0;
}

int submit_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'D'},
	    {"input", required_argument, NULL, 'i'},
	    {"class", required_argument, NULL, 'c'},
	    {"arch-id", required_argument, NULL, 'a'},
	    {"parent", required_argument, NULL, 'P'},
	    {"generation", required_argument, NULL, 'G'},
	    {"no-train", no_argument, NULL, 'N'},
	    {"train-steps", required_argument, NULL, 'S'},
	    {"max-attempts", required_argument, NULL, 'A'},
	    {"timeout", required_argument, NULL, 't'},
	    {"memory-mb", required_argument, NULL, 'm'},
	    {"request-approval", no_argument, NULL, 'R'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct json *base = json_object(), *ids = json_array();
	const char *db = NULL, *arch = NULL;
	bool as_json = false;
	struct pool *pool = NULL;
	char err[1024];
	int c, rc = AEGIS_EXIT_USAGE;
	long l;
	double d;
	size_t n = 0, unread = 0;
	char **codes = NULL;
	size_t *lens = NULL;
	struct json **reqs = NULL;
	long long *qids = NULL;

	optind = 0;
	while ((c = getopt_long(argc, argv, "i:c:a:t:m:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'D': db = optarg; break;
		case 'i': json_set(base, "input", json_str(optarg)); break;
		case 'c': json_set(base, "class", json_str(optarg)); break;
		case 'a': arch = optarg; break;
		case 'P':
			if (!util_parse_long(optarg, &l) || l < 1) {
				usage_error("--parent: expected a candidate id, got '%s'", optarg);
				goto out;
			}
			json_set(base, "parent", json_num((double)l));
			break;
		case 'G':
			if (!util_parse_long(optarg, &l) || l < 0) {
				usage_error("--generation: expected an integer >= 0, got '%s'", optarg);
				goto out;
			}
			json_set(base, "generation", json_num((double)l));
			break;
		case 'N': json_set(base, "train", json_bool(false)); break;
		case 'S':
		case 'A':
			if (!util_parse_long(optarg, &l) || l < 1 || l > (c == 'A' ? 20 : 1000000)) {
				usage_error("--%s: expected an integer in [1, %d], got '%s'",
					    c == 'A' ? "max-attempts" : "train-steps", c == 'A' ? 20 : 1000000, optarg);
				goto out;
			}
			json_set(base, c == 'A' ? "max_attempts" : "train_steps", json_num((double)l));
			break;
		case 't':
			if (!util_parse_double(optarg, &d) || d <= 0) {
				usage_error("--timeout: expected seconds > 0, got '%s'", optarg);
				goto out;
			}
			json_set(base, "timeout", json_num(d));
			break;
		case 'm':
			if (!util_parse_long(optarg, &l) || l < 16) {
				usage_error("--memory-mb: expected MiB >= 16, got '%s'", optarg);
				goto out;
			}
			json_set(base, "memory_mb", json_num((double)l));
			break;
		case 'R': json_set(base, "request_approval", json_bool(true)); break;
		case 'j': as_json = true; break;
		case 'h':
			fputs(submit_usage, stdout);
			rc = 0;
			goto out;
		default: usage_error("bad option for 'submit'"); goto out;
		}
	}
	if (!db) {
		usage_error("submit: --db PATH is required (the pool the workers drain)");
		goto out;
	}
	if (optind >= argc) {
		usage_error("submit: expected at least one MODEL.py");
		goto out;
	}
	if (cli_check_db(db) != 0)
		goto out;
	if (embed_input(base) < 0)
		goto out;
	/* all or nothing: every file is read before the pool is opened, and
	 * queued in one transaction */
	n = (size_t)(argc - optind);
	codes = xcalloc(n, sizeof(*codes));
	lens = xcalloc(n, sizeof(*lens));
	reqs = xcalloc(n, sizeof(*reqs));
	qids = xcalloc(n, sizeof(*qids));
	for (size_t i = 0; i < n; i++) {
		const char *path = argv[optind + (int)i];
		int r = cli_read_source(path, 1u << 24, &codes[i], &lens[i]);

		if (r < 0) {
			fprintf(stderr, "%s: cannot read %s: %s\n", aegis_progname, path, strerror(-r));
			unread++;
			continue;
		}
		reqs[i] = json_dup(base);
		json_set(reqs[i], "name", json_str(strcmp(path, "-") ? path : "<stdin>"));
		if (arch) {
			json_set(reqs[i], "architecture_id", json_str(arch));
		} else {
			const char *base_name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
			size_t len = strlen(base_name);

			if (len > 3 && !strcmp(base_name + len - 3, ".py"))
				len -= 3;
			json_set(reqs[i], "architecture_id", json_strn(base_name, len));
		}
	}
	if (unread) {
		fprintf(stderr, "%s: submit: nothing queued (%zu of %zu files could not be read)\n", aegis_progname,
			unread, n);
		goto out;
	}
	pool = pool_open(db, err, sizeof(err));
	if (!pool) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		rc = AEGIS_EXIT_ERROR;
		goto out;
	}
	if (pool_enqueue_all(pool, n, codes, lens, reqs, qids, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: submit: nothing queued: %s\n", aegis_progname, err);
		rc = AEGIS_EXIT_ERROR;
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		const char *path = argv[optind + (int)i];

		if (as_json) {
			struct json *one = json_object();

			json_set(one, "queue_id", json_num((double)qids[i]));
			json_set(one, "file", json_str(path));
			json_append(ids, one);
		} else {
			printf("queued %lld: %s\n", qids[i], T(path));
		}
	}
	if (as_json)
		cli_print_json(ids);
out:
	pool_close(pool);
	for (size_t i = 0; i < n; i++) {
		free(codes[i]);
		json_free(reqs[i]);
	}
	free(codes);
	free(lens);
	free(reqs);
	free(qids);
	json_free(base);
	json_free(ids);
	return rc;
}

/* ---- worker ---------------------------------------------------------------- */

static const char worker_usage[] = "Usage: aegis-sandbox worker --db DB [OPTIONS]\n"
				   "\n"
				   "Drain the pool's queue: claim a candidate under a lease, run it on this\n"
				   "worker's warm zygote, write its verdict, repeat.  A worker that dies loses\n"
				   "nothing: its lease runs out and another worker runs the candidate again;\n"
				   "a verdict is written once.  SIGTERM finishes the job in hand, then exits.\n"
				   "\n"
				   "      --db PATH          the pool (required)\n"
				   "  -p, --policy FILE|NAME the policy every candidate runs under\n"
				   "      --jobs N           worker processes, each with its own zygote (default 1)\n"
				   "      --lease SECONDS    how long a claim holds without renewal (default 60;\n"
				   "                         renewed every third of it while the job runs)\n"
				   "      --drain            exit 0 once nothing is queued or running\n"
				   "      --poll SECONDS     how often an idle worker looks (default 1)\n"
				   "      --max-claims N     an entry claimed N times already (every worker that\n"
				   "                         took it was lost) is recorded as an error and not run\n"
				   "                         again (default 3)\n"
				   "      --request-approval open an approval request for every accepted one\n"
				   "  -h, --help             this help\n";

static volatile sig_atomic_t stopping;
/* worker --jobs N: the parent passes SIGTERM on to its worker processes */
static pid_t *kids;
static long nkids;

static void on_stop(int sig)
{
	int saved = errno;

	stopping = 1;
	for (long i = 0; i < nkids; i++)
		if (kids[i] > 0)
			kill(kids[i], sig);
	errno = saved;
}

struct worker_opts {
	const char *db;
	const struct policy *pol;
	double lease, poll;
	long max_claims;
	bool drain, request_approval;
};

/* The lease renewer: a thread with its own connection, renewing the job
 * in hand every third of the lease. */
struct renewer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const struct worker_opts *o;
	const char *owner;
	long long job; /* 0: none */
	bool quit, lost;
};

static void *renew_main(void *arg)
{
	struct renewer *r = arg;
	char err[512];
	struct pool *pool = NULL;

	pthread_mutex_lock(&r->mu);
	while (!r->quit) {
		struct timespec until;
		long long job = r->job;

		if (job) {
			pthread_mutex_unlock(&r->mu);
			if (!pool)
				pool = pool_open(r->o->db, err, sizeof(err));
			if (pool) {
				int rc = pool_renew(pool, job, r->owner, r->o->lease, err, sizeof(err));

				if (rc < 0) {
					/* keep trying: the lease is longer than the gap */
					fprintf(stderr, "%s: worker: renewing the lease of entry %lld: %s\n",
						aegis_progname, job, err);
					pool_close(pool);
					pool = NULL;
				}
				pthread_mutex_lock(&r->mu);
				if (rc == 1 && r->job == job)
					r->lost = true;
				pthread_mutex_unlock(&r->mu);
			}
			pthread_mutex_lock(&r->mu);
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)(r->o->lease / 3.0);
		until.tv_nsec += (long)((r->o->lease / 3.0 - (double)(time_t)(r->o->lease / 3.0)) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!r->quit)
			pthread_cond_timedwait(&r->cv, &r->mu, &until);
	}
	pthread_mutex_unlock(&r->mu);
	pool_close(pool);
	return NULL;
}

static void renew_set(struct renewer *r, long long job)
{
	pthread_mutex_lock(&r->mu);
	r->job = job;
	r->lost = false;
	pthread_mutex_unlock(&r->mu);
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (!stopping && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Run the claimed JOB and write its verdict.  Prints one line per job. */
/* The verdict of a queue entry no worker lived to judge, LOST times. */
static struct json *lost_entry(const struct json *req, long long lost)
{
	const char *arch =
	    json_get_str(req, "architecture_id") ? json_get_str(req, "architecture_id") : json_get_str(req, "arch_id");
	char msg[300];
	struct json *res;

	snprintf(msg, sizeof(msg),
		 "%lld workers claimed this entry and were lost before they finished (killed, out of memory, "
		 "or their node went away); it is not run again",
		 lost);
	res = serve_error_result(req, "queue", "WorkerLost", msg);
	json_set(res, "architecture_id", arch ? json_str(arch) : json_null());
	return res;
}

/* An input the submitter embedded (embed_input()): written to a new
 * directory of this worker's, and REQ's "input" pointed at it.  Returns
 * the directory (the caller removes it), or NULL with ERR when there is
 * none to write (*ERR empty) or it cannot be. */
static char *worker_input(struct json *req, char *err, size_t errlen)
{
	const char *b = json_get_str(req, "input_data"), *name = json_get_str(req, "input_file");
	const char *t = getenv("TMPDIR");
	unsigned char *data = NULL;
	size_t len = 0, n;
	char *dir, *path;
	int rc;

	*err = '\0';
	if (!b)
		return NULL;
	n = name ? strlen(name) : 0;
	if (!name || strchr(name, '/') ||
	    !((n > 3 && !strcmp(name + n - 3, ".pt")) || (n > 4 && !strcmp(name + n - 4, ".npy")))) {
		snprintf(err, errlen, "the entry's input_file is not the name of a .pt or .npy file");
		return NULL;
	}
	if (util_base64_decode(b, strlen(b), &data, &len) < 0) {
		snprintf(err, errlen, "the entry's input_data is not base64");
		return NULL;
	}
	dir = xasprintf("%s/aegis-input-XXXXXX", t && *t == '/' ? t : "/tmp");
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "a directory for the entry's input: %s", strerror(errno));
		free(dir);
		free(data);
		return NULL;
	}
	path = xasprintf("%s/%s", dir, name);
	rc = util_write_file(path, data, len, 0600);
	free(data);
	if (rc < 0) {
		snprintf(err, errlen, "writing the entry's input: %s", strerror(-rc));
		util_rm_rf(dir);
		free(dir);
		free(path);
		return NULL;
	}
	json_set(req, "input", json_str(path));
	json_free(json_take(req, "input_data"));
	json_free(json_take(req, "input_file"));
	free(path);
	return dir;
}

static void run_job(struct supervisor *sup, struct pool *pool, const struct worker_opts *o, const char *owner,
		    struct renewer *rn, struct pool_job *job)
{
	struct json *req = json_dup(job->request), *res;
	char *stage_dir = pool_stage_dir(o->db), err[1024], *input_dir;
	struct request_run rr;
	long long cid = 0, aid = 0;
	int rc = -1;

	json_set(req, "code", json_strn(job->code, job->code_len));
	json_free(json_take(req, "path"));         /* the code is the queue's, never a file of the node's */
	json_free(json_take(req, "artifact_out")); /* the archive goes to the pool */
	renew_set(rn, job->id);
	if (!(input_dir = worker_input(req, err, sizeof(err))) && *err) {
		rr = (struct request_run){0};
		res = serve_error_result(req, "request", "RequestError", err);
	} else if (job->claims > o->max_claims) {
		/* Every worker that claimed it before was lost before it
		 * finished: killed, out of memory, its node gone.  A job child
		 * cannot do that to its worker, but a node can die of the
		 * load one candidate puts on it; running it again would take
		 * down one worker after another. */
		rr = (struct request_run){0};
		res = lost_entry(req, job->claims - 1);
	} else {
		res = serve_run_request(sup, o->pol, req, stage_dir, &rr);
	}
	if (rr.code) {
		struct pool_verdict v = {
		    .result = res,
		    .code = rr.code,
		    .code_len = rr.code_len,
		    .parent = rr.parent,
		    .generation = rr.generation,
		    .artifact = rr.cand.staged,
		    .artifact_len = rr.cand.staged_len,
		    .artifact_sha256 = rr.cand.staged_sha256,
		};
		char *title = NULL, *desc = NULL;
		struct json *risk = NULL;

		if ((o->request_approval || rr.want_approval) && !strcmp(json_get_str(res, "status"), "accepted")) {
			cli_approval_of(res, &title, &desc, &risk);
			v.approval_title = title;
			v.approval_description = desc;
			v.approval_risk = risk;
		}
		/* a moment's trouble with the database is retried while the
		 * lease holds; after that, the entry is another worker's */
		for (int tries = 0; tries < 5; tries++) {
			rc = pool_complete(pool, job->id, owner, &v, &cid, &aid, err, sizeof(err));
			if (rc >= 0)
				break;
			fprintf(stderr, "%s: worker: recording entry %lld: %s\n", aegis_progname, job->id, err);
			sleep_s(o->lease / 10.0);
		}
		if (rc == 1)
			rr.cand.staged = (free(rr.cand.staged), NULL); /* the pool's now */
		free(title);
		free(desc);
		json_free(risk);
	} else {
		/* a request the worker cannot run (no code): its error is the verdict */
		struct pool_verdict v = {.result = res, .code = job->code, .code_len = job->code_len};

		rc = pool_complete(pool, job->id, owner, &v, &cid, &aid, err, sizeof(err));
	}
	renew_set(rn, 0);
	{
		struct json *line = json_object();

		json_set(line, "queue_id", json_num((double)job->id));
		json_set(line, "claims", json_num((double)job->claims));
		json_set(line, "status", json_str(json_get_str(res, "status") ? json_get_str(res, "status") : "error"));
		json_set(line, "recorded", json_bool(rc == 1));
		if (rc == 1)
			json_set(line, "candidate_id", json_num((double)cid));
		if (aid > 0)
			json_set(line, "approval_id", json_num((double)aid));
		if (rc == 0)
			json_set(line, "note", json_str("the lease was lost: another worker's verdict stands"));
		if (rc < 0)
			json_set(line, "note", json_str(err));
		{
			struct sbuf sb = SBUF_INIT;

			json_write(line, &sb, -1);
			printf("%s\n", sbuf_str(&sb));
			fflush(stdout);
			sbuf_release(&sb);
		}
		json_free(line);
	}
	serve_request_release(&rr);
	json_free(res);
	json_free(req);
	free(stage_dir);
	if (input_dir)
		util_rm_rf(input_dir);
	free(input_dir);
}

static int worker_loop(const struct worker_opts *o)
{
	struct supervisor sup;
	struct renewer rn = {.o = o};
	struct pool *pool = NULL;
	char owner[160], host[64] = "?", err[1024];
	unsigned long long nonce = 0;
	int rc = 0;
	double backoff = 0.2;

	gethostname(host, sizeof(host) - 1);
	(void)!getrandom(&nonce, sizeof(nonce), 0);
	snprintf(owner, sizeof(owner), "%s:%ld:%08llx", host, (long)getpid(), nonce & 0xffffffffull);
	rn.owner = owner;
	if (supervise_start(&sup, o->pol, cli_pyhelpers_dir(), err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		return AEGIS_EXIT_ERROR;
	}
	pthread_mutex_init(&rn.mu, NULL);
	pthread_cond_init(&rn.cv, NULL);
	if (pthread_create(&rn.thread, NULL, renew_main, &rn) != 0) {
		fprintf(stderr, "%s: worker: cannot start the lease renewer\n", aegis_progname);
		supervise_stop(&sup);
		return AEGIS_EXIT_ERROR;
	}
	while (!stopping) {
		struct pool_job job;
		int c;

		if (!pool && !(pool = pool_open(o->db, err, sizeof(err)))) {
			/* the database is away: wait for it, as long as it takes */
			fprintf(stderr, "%s: worker: %s (retrying)\n", aegis_progname, err);
			sleep_s(backoff);
			backoff = backoff * 2 > 10 ? 10 : backoff * 2;
			continue;
		}
		c = pool_claim(pool, owner, o->lease, &job, err, sizeof(err));
		if (c < 0) {
			fprintf(stderr, "%s: worker: %s (retrying)\n", aegis_progname, err);
			pool_close(pool);
			pool = NULL;
			sleep_s(backoff);
			backoff = backoff * 2 > 10 ? 10 : backoff * 2;
			continue;
		}
		backoff = 0.2;
		if (c == POOL_CLAIM_EMPTY && o->drain)
			break;
		if (c != POOL_CLAIM_JOB) {
			/* nothing to claim; a running entry's lease may yet run out */
			sleep_s(c == POOL_CLAIM_WAIT && o->poll > 0.5 ? 0.5 : o->poll);
			continue;
		}
		run_job(&sup, pool, o, owner, &rn, &job);
		pool_job_release(&job);
	}
	pthread_mutex_lock(&rn.mu);
	rn.quit = true;
	pthread_cond_signal(&rn.cv);
	pthread_mutex_unlock(&rn.mu);
	pthread_join(rn.thread, NULL);
	pthread_cond_destroy(&rn.cv);
	pthread_mutex_destroy(&rn.mu);
	pool_close(pool);
	supervise_stop(&sup);
	return rc;
}

int worker_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'D'},
	    {"policy", required_argument, NULL, 'p'},
	    {"jobs", required_argument, NULL, 'J'},
	    {"lease", required_argument, NULL, 'L'},
	    {"drain", no_argument, NULL, 'd'},
	    {"poll", required_argument, NULL, 'P'},
	    {"max-claims", required_argument, NULL, 'M'},
	    {"request-approval", no_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct worker_opts o = {.lease = 60, .poll = 1, .max_claims = 3};
	const char *policy_path = NULL;
	struct policy pol = {0};
	struct sigaction sa = {.sa_handler = on_stop};
	long jobs = 1;
	int c, rc = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "p:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'D': o.db = optarg; break;
		case 'p': policy_path = optarg; break;
		case 'j':
			/* one meaning per short option across commands (issue 30) */
			return usage_error("%s: -j is --json in aegis-sandbox; the number of jobs is --jobs N", "worker");
		case 'J':
			if (!util_parse_long(optarg, &jobs) || jobs < 1 || jobs > 256)
				return usage_error("--jobs: expected an integer in [1, 256], got '%s'", optarg);
			break;
		case 'L':
			if (!util_parse_double(optarg, &o.lease) || o.lease < 1 || o.lease > 86400)
				return usage_error("--lease: expected seconds in [1, 86400], got '%s'", optarg);
			break;
		case 'P':
			if (!util_parse_double(optarg, &o.poll) || o.poll < 0.05 || o.poll > 3600)
				return usage_error("--poll: expected seconds in [0.05, 3600], got '%s'", optarg);
			break;
		case 'M':
			if (!util_parse_long(optarg, &o.max_claims) || o.max_claims < 1 || o.max_claims > 1000000)
				return usage_error("--max-claims: expected an integer in [1, 1000000], got '%s'",
						   optarg);
			break;
		case 'd': o.drain = true; break;
		case 'R': o.request_approval = true; break;
		case 'h': fputs(worker_usage, stdout); return 0;
		default: return usage_error("bad option for 'worker'");
		}
	}
	if (!o.db)
		return usage_error("worker: --db PATH is required (the pool whose queue it drains)");
	if (optind != argc)
		return usage_error("worker: unexpected argument '%s'", argv[optind]);
	if (cli_check_db(o.db) != 0)
		return AEGIS_EXIT_USAGE;
	if (cli_load_policy(&pol, policy_path) < 0)
		return AEGIS_EXIT_USAGE;
	o.pol = &pol;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (jobs == 1) {
		rc = worker_loop(&o);
	} else {
		/* one process per job, each with its own zygote; a SIGTERM to
		 * this one is passed on, and each finishes its job */
		sigset_t block, old;

		kids = xcalloc((size_t)jobs, sizeof(pid_t));
		sigemptyset(&block);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGINT);
		for (long i = 0; i < jobs; i++) {
			pid_t pid;

			sigprocmask(SIG_BLOCK, &block, &old);
			pid = fork();
			if (pid == 0) {
				free(kids);
				kids = NULL;
				nkids = 0;
				sigprocmask(SIG_SETMASK, &old, NULL);
				_exit(worker_loop(&o));
			}
			if (pid > 0)
				kids[nkids++] = pid;
			sigprocmask(SIG_SETMASK, &old, NULL);
			if (pid < 0) {
				fprintf(stderr, "%s: worker: fork: %s\n", aegis_progname, strerror(errno));
				rc = AEGIS_EXIT_ERROR;
				on_stop(SIGTERM);
				break;
			}
		}
		for (long i = 0; i < nkids; i++) {
			int st = 0;

			while (waitpid(kids[i], &st, 0) < 0 && errno == EINTR)
				;
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				rc = AEGIS_EXIT_ERROR;
		}
		nkids = 0;
		free(kids);
		kids = NULL;
	}
	policy_release(&pol);
	return rc;
}
