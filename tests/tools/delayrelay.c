/*
 * delayrelay LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS
 *
 * A TCP relay that delays every chunk it carries by a fixed time, both
 * ways: what it reads from one side at time t is written to the other at
 * t + DELAY_MS, in order. The network-fault test (tests/it_netns.sh) puts
 * it between two namespaces for 800 ms of latency, since this kernel has
 * no netem. A helper, never run as a suite.
 *
 * One thread, poll(2). Each accepted connection gets its own connection
 * to the target. A side's end of stream is passed on (shutdown SHUT_WR)
 * once everything read before it has been written; an error on either
 * side closes both. A direction holding more than 8 MiB stops reading
 * until it drains (TCP's own flow control then slows the sender).
 * Runs until killed; exit 2 on usage, 1 if it cannot listen.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAIRS_MAX 64
#define CHUNK 16384
#define HOLD_MAX (8u << 20)

struct chunk {
	uint64_t due;
	size_t len, off;
	struct chunk *next;
	uint8_t data[];
};

/* One direction: read from `from`, write to `to`. */
struct dir {
	int from, to;
	struct chunk *head, *tail;
	size_t held;
	bool eof;      /* `from` ended */
	uint64_t eof_due; /* the end goes on then, delayed like data */
	bool hup;      /* `from` is closed both ways: poll it no more */
	bool shut;     /* the end was passed on */
};

struct pair {
	bool used;
	bool dead;       /* an error on either side: close both */
	struct dir d[2]; /* client -> target, target -> client */
};

static struct pair pairs[PAIRS_MAX];
static uint64_t delay_ms;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
tcp_socket(const char *host, const char *port, bool listening)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int fd, one = 1;

	if (listening)
		hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0 && listening) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		    listen(fd, 64) != 0) {
			close(fd);
			fd = -1;
		}
	} else if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void
dir_free(struct dir *d)
{
	while (d->head != NULL) {
		struct chunk *c = d->head;

		d->head = c->next;
		free(c);
	}
	d->tail = NULL;
	d->held = 0;
}

static void
pair_close(struct pair *p)
{
	close(p->d[0].from);
	close(p->d[0].to);
	dir_free(&p->d[0]);
	dir_free(&p->d[1]);
	memset(p, 0, sizeof(*p));
}

/* Reads what `from` has; false when the pair must close. */
static bool
dir_read(struct dir *d)
{
	struct chunk *c = malloc(sizeof(*c) + CHUNK);
	ssize_t n;

	if (c == NULL)
		return false;
	n = read(d->from, c->data, CHUNK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
		free(c);
		return true;
	}
	if (n <= 0) {
		free(c);
		if (n < 0)
			return false;
		d->eof = true;
		d->eof_due = now_ms() + delay_ms;
		return true;
	}
	c->due = now_ms() + delay_ms;
	c->len = (size_t)n;
	c->off = 0;
	c->next = NULL;
	if (d->tail != NULL)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->held += (size_t)n;
	return true;
}

/* Writes what is due; false when the pair must close. */
static bool
dir_write(struct dir *d, uint64_t now)
{
	while (d->head != NULL && d->head->due <= now) {
		struct chunk *c = d->head;
		ssize_t n = send(d->to, c->data + c->off, c->len - c->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0)
			return false;
		c->off += (size_t)n;
		d->held -= (size_t)n;
		if (c->off < c->len)
			return true;
		d->head = c->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(c);
	}
	if (d->eof && d->head == NULL && !d->shut && now >= d->eof_due) {
		shutdown(d->to, SHUT_WR);
		d->shut = true;
	}
	return true;
}

int
main(int argc, char **argv)
{
	int lfd;

	if (argc != 6) {
		fprintf(stderr, "usage: delayrelay LISTEN_HOST LISTEN_PORT "
				"TARGET_HOST TARGET_PORT DELAY_MS\n");
		return 2;
	}
	delay_ms = strtoull(argv[5], NULL, 10);
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = tcp_socket(argv[1], argv[2], true)) < 0) {
		fprintf(stderr, "delayrelay: cannot listen on %s:%s: %s\n",
		    argv[1], argv[2], strerror(errno));
		return 1;
	}
	for (;;) {
		struct pollfd fds[1 + 2 * PAIRS_MAX];
		struct dir *of[1 + 2 * PAIRS_MAX];
		struct pair *owner[1 + 2 * PAIRS_MAX];
		uint64_t now = now_ms(), next = now + 1000;
		nfds_t n = 0;
		int timeout;

		fds[n].fd = lfd;
		fds[n].events = POLLIN;
		owner[n] = NULL;
		of[n++] = NULL;
		for (int i = 0; i < PAIRS_MAX; i++) {
			if (!pairs[i].used)
				continue;
			for (int k = 0; k < 2; k++) {
				struct dir *d = &pairs[i].d[k];
				struct dir *back = &pairs[i].d[1 - k];

				fds[n].fd = d->hup ? -1 : d->from;
				fds[n].events = 0;
				/* `from` reads for d and writes for back */
				if (!d->eof && d->held < HOLD_MAX)
					fds[n].events |= POLLIN;
				/* Due now: wait until `from` can take it.
				 * Due later: wake up then. */
				if (back->head != NULL &&
				    back->head->due <= now)
					fds[n].events |= POLLOUT;
				else if (back->head != NULL &&
				    back->head->due < next)
					next = back->head->due;
				if (d->eof && !d->shut && d->eof_due < next)
					next = d->eof_due;
				owner[n] = &pairs[i];
				of[n++] = d;
			}
		}
		timeout = next > now ? (int)(next - now) : 0;
		if (poll(fds, n, timeout) < 0 && errno != EINTR)
			return 1;
		if (fds[0].revents & POLLIN) {
			int c = accept(lfd, NULL, NULL), t = -1, i;

			for (i = 0; c >= 0 && i < PAIRS_MAX; i++)
				if (!pairs[i].used)
					break;
			if (c >= 0 && i < PAIRS_MAX &&
			    (t = tcp_socket(argv[3], argv[4], false)) >= 0) {
				pairs[i].used = true;
				pairs[i].d[0].from = c;
				pairs[i].d[0].to = t;
				pairs[i].d[1].from = t;
				pairs[i].d[1].to = c;
			} else if (c >= 0) {
				close(c); /* full, or the target is down */
			}
		}
		now = now_ms();
		for (nfds_t j = 1; j < n; j++) {
			struct dir *d = of[j];

			if ((fds[j].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !d->eof && !dir_read(d))
				owner[j]->dead = true;
			/* Hung up after its end: what it sent still goes on;
			 * a write to it fails and closes the pair. */
			if ((fds[j].revents & (POLLHUP | POLLERR)) && d->eof)
				d->hup = true;
		}
		for (int i = 0; i < PAIRS_MAX; i++) {
			struct pair *p = &pairs[i];

			if (!p->used)
				continue;
			if (!p->dead && (!dir_write(&p->d[0], now) ||
					    !dir_write(&p->d[1], now)))
				p->dead = true;
			/* Closed for good: an error, or both ends ended and
			 * everything before them passed on. */
			if (p->dead || (p->d[0].shut && p->d[1].shut))
				pair_close(p);
		}
	}
}
