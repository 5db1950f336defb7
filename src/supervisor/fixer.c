/* fixer.c - see fixer.h.
 *
 * The fixer command is the operator's own program: it runs with the
 * supervisor's privileges and environment (it may need an API key), in its
 * own process group, with stdin and stdout on pipes and stderr discarded.
 * Whatever it does, the run goes on: a fixer that hangs is killed at its
 * timeout, one that crashes or prints garbage is reported in attempts[]. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/fixer.h"
#include "common/sbuf.h"

static void child_exec(const struct strv *argv, int in_fd, int out_fd)
{
	int devnull = open("/dev/null", O_WRONLY);

	setpgid(0, 0);
	dup2(in_fd, 0);
	dup2(out_fd, 1);
	if (devnull >= 0)
		dup2(devnull, 2);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv->v[0], argv->v);
	_exit(127);
}

void fixer_run(const struct strv *argv, const struct json *input, double timeout_s, size_t max_code,
	       struct fixer_outcome *out)
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, status = 0;
	struct sbuf req = SBUF_INIT, got = SBUF_INIT;
	size_t sent = 0;
	double t0 = util_now(), deadline = t0 + timeout_s;
	bool timed_out = false, too_big = false;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (!argv->n) {
		out->error = xstrdup("no fixer command configured");
		return;
	}
	json_write(input, &req, -1);
	sbuf_addc(&req, '\n');
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0) {
		out->error = xasprintf("pipe: %s", strerror(errno));
		goto out_close;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		out->error = xasprintf("fork: %s", strerror(errno));
		goto out_close;
	}
	if (pid == 0)
		child_exec(argv, pin[0], pout[1]);
	close(pin[0]);
	close(pout[1]);
	pin[0] = pout[1] = -1;
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	fcntl(pout[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pfd[2] = {{pout[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
		double left = deadline - util_now();
		char buf[65536];
		ssize_t n;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (pin[1] < 0)
			pfd[1].fd = -1;
		if (poll(pfd, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		if (pin[1] >= 0 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(pin[1], req.buf + sent, req.len - sent);
			if (n > 0)
				sent += (size_t)n;
			if (n < 0 && errno != EAGAIN) {
				close(pin[1]);
				pin[1] = -1;
			} else if (sent == req.len) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(pout[0], buf, sizeof(buf));
			if (n == 0)
				break;
			if (n > 0) {
				if (got.len + (size_t)n > max_code + 65536) {
					too_big = true;
					break;
				}
				sbuf_add(&got, buf, (size_t)n);
			}
		}
	}
	kill(-pid, SIGKILL); /* the whole group: a fixer's helpers may not outlive it */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	out->time_s = util_now() - t0;
	if (timed_out) {
		out->error = xasprintf("the fixer command timed out after %g s", timeout_s);
		goto out_close;
	}
	if (too_big) {
		out->error = xasprintf("the fixer command printed more than %zu bytes", max_code);
		goto out_close;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
		out->error = xasprintf("the fixer command was killed by signal %d", WTERMSIG(status));
		goto out_close;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		out->error = xasprintf("the fixer command exited with status %d", WEXITSTATUS(status));
		goto out_close;
	}
	{
		const char *p = sbuf_str(&got);
		size_t skip = 0;

		while (skip < got.len && (p[skip] == ' ' || p[skip] == '\n' || p[skip] == '\t' || p[skip] == '\r'))
			skip++;
		if (skip == got.len) {
			out->error = xstrdup("the fixer command printed nothing");
			goto out_close;
		}
		if (!util_utf8_valid(p, got.len) || memchr(p, '\0', got.len)) {
			out->error = xstrdup("the fixer command printed something that is not UTF-8 text");
			goto out_close;
		}
		if (p[skip] == '{') {
			char err[256];
			struct json *j = json_parse(p, got.len, err, sizeof(err));
			struct json *code = json_get(j, "code");

			if (!j || !code || code->type != JSON_STRING) {
				out->error = xasprintf("the fixer command printed JSON without a \"code\" string%s%s",
						       j ? "" : ": ", j ? "" : err);
				json_free(j);
				goto out_close;
			}
			out->code = xstrndup(code->s, code->slen);
			out->code_len = code->slen;
			out->changes = json_take(j, "changes");
			if (out->changes && out->changes->type != JSON_ARRAY) {
				json_free(out->changes);
				out->changes = NULL;
			}
			json_free(j);
		} else {
			out->code = xstrndup(p, got.len);
			out->code_len = got.len;
		}
		if (out->code_len > max_code) {
			free(out->code);
			out->code = NULL;
			out->error = xasprintf("the fixed code is larger than %zu bytes", max_code);
		}
	}
out_close:
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
	}
	if (!out->changes)
		out->changes = json_array();
	sbuf_release(&req);
	sbuf_release(&got);
}

void fixer_outcome_release(struct fixer_outcome *o)
{
	free(o->code);
	json_free(o->changes);
	free(o->error);
	memset(o, 0, sizeof(*o));
}
