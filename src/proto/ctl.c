/* ctl.c - see ctl.h. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/ctl.h"

int ctl_send(int sock, const char *msg, size_t len, const int *fds, size_t nfds)
{
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh = {0};
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];

	if (nfds > 8)
		return -EINVAL;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	for (;;) {
		if (sendmsg(sock, &mh, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int ctl_recv(int sock, char *buf, size_t cap, size_t *len, int *fds, size_t *nfds)
{
	struct iovec iov = {buf, cap - 1};
	struct msghdr mh = {0};
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	ssize_t n;
	size_t want = nfds ? *nfds : 0;

	if (nfds)
		*nfds = 0;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *in = (int *)CMSG_DATA(cm);

			for (size_t i = 0; i < k; i++) {
				if (nfds && *nfds < want)
					fds[(*nfds)++] = in[i];
				else
					close(in[i]);
			}
		}
	}
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}
