#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crdt/hex.h"
#include "node/keys.h"
#include "node/log.h"

/*
 * key file, v1 (text):
 *   # qiao Ed25519 secret key seed; keep private (mode 0600)
 *   <64 hex digits: the 32-byte seed>
 * key.pub: <64 hex digits: the public key>
 */
#define KEY_HEADER "# qiao Ed25519 secret key seed; keep private (mode 0600)\n"

struct node_keys {
	uint8_t pk[QIAO_KEY_LEN];
	uint8_t *sk; /* sodium_malloc, QIAO_SK_LEN */
};

static int
path_of(char *buf, size_t len, const char *dir, const char *name)
{
	return snprintf(buf, len, "%s/%s", dir, name) < (int)len ? QIAO_OK
								 : QIAO_EINVAL;
}

static int
from_seed(node_keys **out, const uint8_t seed[crypto_sign_SEEDBYTES])
{
	node_keys *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return QIAO_ENOMEM;
	if ((k->sk = sodium_malloc(QIAO_SK_LEN)) == NULL) {
		free(k);
		return QIAO_ENOMEM;
	}
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	sodium_mprotect_readonly(k->sk);
	*out = k;
	return QIAO_OK;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return QIAO_EIO;
		p += n;
		len -= (size_t)n;
	}
	return QIAO_OK;
}

int
node_keys_create(node_keys **out, const char *dir)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	char text[sizeof(KEY_HEADER) + 2 * sizeof(seed) + 2];
	char path[4096], pub[2 * QIAO_KEY_LEN + 2];
	node_keys *k = NULL;
	int fd, rc;

	if (path_of(path, sizeof(path), dir, "key") != QIAO_OK)
		return QIAO_EINVAL;
	randombytes_buf(seed, sizeof(seed));
	if ((rc = from_seed(&k, seed)) != QIAO_OK)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		rc = errno == EEXIST ? QIAO_EEXIST : QIAO_EIO;
		if (rc == QIAO_EIO)
			node_log(NODE_LOG_ERR, "keys", "create %s: %s", path,
			    strerror(errno));
		goto out;
	}
	{
		char hex[2 * sizeof(seed) + 1];

		crdt_hex_encode(hex, seed, sizeof(seed));
		snprintf(text, sizeof(text), "%s%s\n", KEY_HEADER, hex);
		sodium_memzero(hex, sizeof(hex));
	}
	/* fchmod: the umask may have been stricter, never looser, but make
	 * the mode exactly what the loader demands. */
	rc = fchmod(fd, 0600) == 0 ? write_all(fd, text, strlen(text))
				   : QIAO_EIO;
	if (rc == QIAO_OK && fsync(fd) != 0)
		rc = QIAO_EIO;
	close(fd);
	sodium_memzero(text, sizeof(text));
	if (rc != QIAO_OK) {
		node_log(NODE_LOG_ERR, "keys", "write %s failed", path);
		unlink(path);
		goto out;
	}
	crdt_hex_encode(pub, k->pk, QIAO_KEY_LEN);
	pub[2 * QIAO_KEY_LEN] = '\n';
	pub[2 * QIAO_KEY_LEN + 1] = '\0';
	if (path_of(path, sizeof(path), dir, "key.pub") != QIAO_OK ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		 0644)) < 0) {
		rc = QIAO_EIO;
		goto out;
	}
	rc = write_all(fd, pub, strlen(pub));
	close(fd);
out:
	sodium_memzero(seed, sizeof(seed));
	if (rc != QIAO_OK) {
		node_keys_free(k);
		return rc;
	}
	*out = k;
	return QIAO_OK;
}

/* Reads a small text file whole; returns the bytes read or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t cap, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The first line that is not a comment, trimmed; NULL if none. */
static char *
first_line(char *text)
{
	for (char *line = strtok(text, "\n"); line != NULL;
	     line = strtok(NULL, "\n")) {
		size_t n;

		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '#' || *line == '\0')
			continue;
		n = strlen(line);
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\r'))
			line[--n] = '\0';
		return line;
	}
	return NULL;
}

int
node_keys_load(node_keys **out, const char *dir)
{
	char path[4096], text[512];
	uint8_t seed[crypto_sign_SEEDBYTES];
	struct stat st;
	char *hex;
	int rc;

	if (path_of(path, sizeof(path), dir, "key") != QIAO_OK)
		return QIAO_EINVAL;
	if (read_small(path, text, sizeof(text), &st) < 0)
		return errno == ENOENT ? QIAO_ENOTFOUND : QIAO_EIO;
	if ((st.st_mode & 077) != 0) {
		sodium_memzero(text, sizeof(text));
		node_log(NODE_LOG_ERR, "keys",
		    "%s has mode %04o: a secret key must be 0600 "
		    "(chmod 600 %s)", path, (unsigned)(st.st_mode & 07777),
		    path);
		return QIAO_EPERM;
	}
	hex = first_line(text);
	rc = hex != NULL ? crdt_hex_decode(seed, sizeof(seed), hex)
			 : QIAO_EINVAL;
	sodium_memzero(text, sizeof(text));
	if (rc != QIAO_OK)
		return QIAO_EMALFORMED;
	rc = from_seed(out, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int
node_keys_load_public(uint8_t pk[QIAO_KEY_LEN], const char *dir)
{
	char path[4096], text[256];
	struct stat st;
	char *hex;

	if (path_of(path, sizeof(path), dir, "key.pub") != QIAO_OK)
		return QIAO_EINVAL;
	if (read_small(path, text, sizeof(text), &st) < 0)
		return errno == ENOENT ? QIAO_ENOTFOUND : QIAO_EIO;
	if ((hex = first_line(text)) == NULL ||
	    crdt_hex_decode(pk, QIAO_KEY_LEN, hex) != QIAO_OK)
		return QIAO_EMALFORMED;
	return QIAO_OK;
}

void
node_keys_free(node_keys *k)
{
	if (k == NULL)
		return;
	sodium_free(k->sk); /* wipes before unmapping */
	free(k);
}

const uint8_t *
node_keys_public(const node_keys *k)
{
	return k->pk;
}

const uint8_t *
node_keys_secret(const node_keys *k)
{
	return k->sk;
}
