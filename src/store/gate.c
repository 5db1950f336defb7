/* gate.c - signed approval decisions (gate.h).  The cryptography is
 * libsodium's (Ed25519 detached signatures, SHA-256, constant-time
 * compare, base64); this file only decides what is signed and who is
 * trusted. */
#include "config.h"

#include "store/gate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sbuf.h"
#include "common/sha256.h"
#include "common/util.h"

#define KEY_MAGIC "aegis-sandbox reviewer key v1"
#define PUB_PREFIX "ed25519:"
#define B64 sodium_base64_VARIANT_ORIGINAL
/* base64 of a 32-byte public key: 44 characters */
#define PUB_B64_LEN sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, B64)

struct gate_key {
	char *name;
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char pub[sizeof(PUB_PREFIX) + PUB_B64_LEN];
};

struct gate_trusted {
	char *name;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
};

struct gate_trust {
	char *source;
	struct gate_trusted *keys;
	size_t n;
};

static int sodium_ready(char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium cannot start");
		return -1;
	}
	return 0;
}

/* A reviewer's name goes into the signed text on one line: letters,
 * digits and . _ @ - only. */
static bool name_ok(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && !strchr("._@-", s[n]))
			return false;
	return n > 0 && n <= 64;
}

static char *config_path(const char *name)
{
	return util_xdg_path("XDG_CONFIG_HOME", ".config", name);
}

char *gate_default_key_path(void)
{
	const char *env = getenv("AEGIS_REVIEWER_KEY");

	return env && *env ? xstrdup(env) : config_path("reviewer.key");
}

static void pub_text(const unsigned char *pk, char *out, size_t outlen)
{
	char b[PUB_B64_LEN];

	sodium_bin2base64(b, sizeof(b), pk, crypto_sign_PUBLICKEYBYTES, B64);
	snprintf(out, outlen, PUB_PREFIX "%s", b);
}

/* "ed25519:BASE64" into PK; 0 or -1. */
static int pub_parse(const char *s, size_t len, unsigned char *pk)
{
	size_t n = 0, plen = strlen(PUB_PREFIX);

	if (len < plen || memcmp(s, PUB_PREFIX, plen))
		return -1;
	if (sodium_base642bin(pk, crypto_sign_PUBLICKEYBYTES, s + plen, len - plen, NULL, &n, NULL, B64) < 0 ||
	    n != crypto_sign_PUBLICKEYBYTES)
		return -1;
	return 0;
}

/* The secret key SK sealed with PASSPHRASE, as the key file's lines. */
static char *seal(const unsigned char *sk, const char *passphrase, char *err, size_t errlen)
{
	unsigned char salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES], k[crypto_secretbox_KEYBYTES];
	unsigned char box[crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES];
	char bs[sodium_base64_ENCODED_LEN(sizeof(salt), B64)], bn[sodium_base64_ENCODED_LEN(sizeof(nonce), B64)],
	    bb[sodium_base64_ENCODED_LEN(sizeof(box), B64)];

	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	if (crypto_pwhash(k, sizeof(k), passphrase, strlen(passphrase), salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			  crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		snprintf(err, errlen, "not enough memory to derive the key from the passphrase");
		return NULL;
	}
	crypto_secretbox_easy(box, sk, crypto_sign_SECRETKEYBYTES, nonce, k);
	sodium_memzero(k, sizeof(k));
	sodium_bin2base64(bs, sizeof(bs), salt, sizeof(salt), B64);
	sodium_bin2base64(bn, sizeof(bn), nonce, sizeof(nonce), B64);
	sodium_bin2base64(bb, sizeof(bb), box, sizeof(box), B64);
	return xasprintf("sealed argon2id13-interactive xsalsa20poly1305\nsalt %s\nnonce %s\nbox %s\n", bs, bn, bb);
}

/* Open a sealed key (seal()'s lines in TEXT) into SK; 0, or -1 when the
 * passphrase is wrong or the lines are damaged. */
static int unseal(const char *text, const char *passphrase, unsigned char *sk)
{
	unsigned char salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES], k[crypto_secretbox_KEYBYTES];
	unsigned char box[crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES];
	const char *fields[3] = {"\nsalt ", "\nnonce ", "\nbox "};
	unsigned char *outs[3] = {salt, nonce, box};
	size_t sizes[3] = {sizeof(salt), sizeof(nonce), sizeof(box)};
	int rc;

	for (int i = 0; i < 3; i++) {
		const char *f = strstr(text, fields[i]);
		size_t n = 0;

		if (!f)
			return -1;
		f += strlen(fields[i]);
		if (sodium_base642bin(outs[i], sizes[i], f, strcspn(f, "\n"), NULL, &n, NULL, B64) < 0 || n != sizes[i])
			return -1;
	}
	if (crypto_pwhash(k, sizeof(k), passphrase, strlen(passphrase), salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			  crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -1;
	rc = crypto_secretbox_open_easy(sk, box, sizeof(box), nonce, k);
	sodium_memzero(k, sizeof(k));
	return rc == 0 ? 0 : -1;
}

int gate_keygen(const char *key_path, const char *name, const char *passphrase, char *pub_line, size_t pub_len,
		char *err, size_t errlen)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char skb[sodium_base64_ENCODED_LEN(crypto_sign_SECRETKEYBYTES, B64)], pub[sizeof(PUB_PREFIX) + PUB_B64_LEN];
	char *text = NULL, *pubpath = NULL, *line = NULL, *sealed = NULL;
	int fd = -1, rc = -1, e;

	if (sodium_ready(err, errlen) < 0)
		return -1;
	if (!name_ok(name)) {
		snprintf(err, errlen, "reviewer name '%s': use 1-64 letters, digits, '.', '_', '@' or '-'", name);
		return -1;
	}
	if ((e = util_mkdir_parents(key_path)) < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", key_path, strerror(-e));
		return -1;
	}
	crypto_sign_keypair(pk, sk);
	pub_text(pk, pub, sizeof(pub));
	if (passphrase) {
		if (!(sealed = seal(sk, passphrase, err, errlen)))
			goto out;
		text = xasprintf(KEY_MAGIC "\nname %s\npublic %s\n%s", name, pub, sealed);
	} else {
		sodium_bin2base64(skb, sizeof(skb), sk, sizeof(sk), B64);
		text = xasprintf(KEY_MAGIC "\nname %s\npublic %s\nsecret %s\n", name, pub, skb);
	}
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s%s", key_path, strerror(errno),
			 errno == EEXIST ? " (a key is never overwritten: remove it first, or use --key FILE)" : "");
		goto out;
	}
	if ((e = util_write_all(fd, text, strlen(text))) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", key_path, strerror(e < 0 ? -e : errno));
		unlink(key_path);
		goto out;
	}
	line = xasprintf("%s %s\n", name, pub);
	pubpath = xasprintf("%s.pub", key_path);
	if ((e = util_write_file(pubpath, line, strlen(line), 0644)) < 0) {
		snprintf(err, errlen, "%s: %s", pubpath, strerror(-e));
		goto out;
	}
	snprintf(pub_line, pub_len, "%s %s", name, pub);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(skb, sizeof(skb));
	if (text)
		sodium_memzero(text, strlen(text));
	free(text);
	free(sealed);
	free(line);
	free(pubpath);
	return rc;
}

void gate_key_free(struct gate_key *k)
{
	if (!k)
		return;
	sodium_memzero(k->sk, sizeof(k->sk));
	free(k->name);
	free(k);
}

const char *gate_key_name(const struct gate_key *k) { return k->name; }
const char *gate_key_public(const struct gate_key *k) { return k->pub; }

struct gate_key *gate_key_load(const char *path, const char *passphrase, int *absent, int *sealed, char *err,
			       size_t errlen)
{
	char *def = NULL, *text = NULL, *name = NULL, *sec = NULL;
	struct gate_key *k = NULL;
	struct stat st;
	size_t len = 0, n = 0;
	int fd, e;

	*absent = *sealed = 0;
	if (sodium_ready(err, errlen) < 0)
		return NULL;
	if (!path)
		path = def = gate_default_key_path();
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		/* only the default's absence means "no key yet" */
		*absent = def && errno == ENOENT && !(getenv("AEGIS_REVIEWER_KEY") && *getenv("AEGIS_REVIEWER_KEY"));
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: a reviewer key must be a regular file only its owner can read (chmod 600)",
			 path);
		close(fd);
		goto out;
	}
	e = util_read_fd(fd, 4096, &text, &len);
	close(fd);
	if (e < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		goto out;
	}
	name = strstr(text, "\nname ");
	sec = strstr(text, "\nsecret ");
	if (strncmp(text, KEY_MAGIC "\n", strlen(KEY_MAGIC) + 1) || !name || (!sec && !strstr(text, "\nsealed "))) {
		snprintf(err, errlen, "%s: not an aegis-sandbox reviewer key", path);
		goto out;
	}
	name += 6;
	k = xcalloc(1, sizeof(*k));
	if (sec) {
		sec += 8;
		if (sodium_base642bin(k->sk, sizeof(k->sk), sec, strcspn(sec, "\n"), NULL, &n, NULL, B64) < 0 ||
		    n != sizeof(k->sk)) {
			snprintf(err, errlen, "%s: a damaged reviewer key", path);
			goto fail;
		}
	} else if (!passphrase || unseal(text, passphrase, k->sk) < 0) {
		/* sealed: only its passphrase opens it */
		*sealed = 1;
		snprintf(err, errlen, "%s: %s", path,
			 passphrase ? "wrong passphrase (or a damaged key)" : "the key is sealed with a passphrase");
		goto fail;
	}
	name[strcspn(name, "\n")] = '\0';
	if (!name_ok(name)) {
		snprintf(err, errlen, "%s: a damaged reviewer key", path);
		goto fail;
	}
	k->name = xstrdup(name);
	{
		unsigned char pk[crypto_sign_PUBLICKEYBYTES];

		crypto_sign_ed25519_sk_to_pk(pk, k->sk);
		pub_text(pk, k->pub, sizeof(k->pub));
	}
out:
	if (text) {
		sodium_memzero(text, len);
		free(text);
	}
	free(def);
	return k;
fail:
	gate_key_free(k);
	k = NULL;
	goto out;
}

void gate_trust_free(struct gate_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->keys[i].name);
	free(t->keys);
	free(t->source);
	free(t);
}

const char *gate_trust_source(const struct gate_trust *t) { return t->source; }

/* Parse the trust file TEXT (from PATH) into T: "NAME ed25519:KEY" lines,
 * '#' comments, blank lines. */
static int trust_parse(struct gate_trust *t, const char *path, const char *text, char *err, size_t errlen)
{
	const char *p = text;

	for (int line = 1; *p; line++) {
		const char *end = p + strcspn(p, "\n"), *q = p, *name, *key;
		size_t nlen, klen;
		unsigned char pk[crypto_sign_PUBLICKEYBYTES];

		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q < end && *q != '#') {
			name = q;
			while (q < end && *q != ' ' && *q != '\t')
				q++;
			nlen = (size_t)(q - name);
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			key = q;
			while (q < end && *q != ' ' && *q != '\t' && *q != '\r')
				q++;
			klen = (size_t)(q - key);
			{
				char *nm = xstrndup(name, nlen);
				bool ok = name_ok(nm);

				if (!ok || !klen || pub_parse(key, klen, pk) < 0) {
					snprintf(err, errlen, "%s:%d:%d: %s", path, line,
						 (int)((ok ? key : name) - p) + 1,
						 !ok ? "expected a reviewer name (letters, digits, . _ @ -)"
						     : "expected the reviewer's public key, ed25519:BASE64 (the "
						       "line 'aegis-sandbox approvals keygen' printed)");
					free(nm);
					return -1;
				}
				t->keys = xreallocarray(t->keys, t->n + 1, sizeof(*t->keys));
				t->keys[t->n].name = nm;
				memcpy(t->keys[t->n].pk, pk, sizeof(pk));
				t->n++;
			}
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

struct gate_trust *gate_trust_load(const char *path, char *err, size_t errlen)
{
	struct gate_trust *t = xcalloc(1, sizeof(*t));
	char *cand[3] = {NULL, NULL, NULL}, *text = NULL;
	const char *env = getenv("AEGIS_REVIEWERS");
	struct stat st;
	size_t len;
	int fd = -1, e, named = path || (env && *env);

	if (sodium_ready(err, errlen) < 0)
		goto fail;
	if (path)
		cand[0] = xstrdup(path);
	else if (env && *env)
		cand[0] = xstrdup(env);
	else {
		cand[0] = config_path("reviewers");
		cand[1] = xstrdup("/etc/aegis-sandbox/reviewers");
	}
	for (int i = 0; cand[i]; i++) {
		fd = open(cand[i], O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			t->source = xstrdup(cand[i]);
			break;
		}
		if (errno != ENOENT || named) {
			snprintf(err, errlen, "the reviewers file %s: %s", cand[i], strerror(errno));
			goto fail;
		}
	}
	if (fd < 0)
		goto out; /* no file: nobody is trusted */
	/* the list of who may let archives out is as safe as its file */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 022)) {
		snprintf(err, errlen,
			 "the reviewers file %s: must be a regular file that only its owner can write (chmod 644)",
			 t->source);
		goto fail;
	}
	if ((e = util_read_fd(fd, 1 << 20, &text, &len)) < 0) {
		snprintf(err, errlen, "the reviewers file %s: %s", t->source, strerror(-e));
		goto fail;
	}
	if (trust_parse(t, t->source, text, err, errlen) < 0)
		goto fail;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	for (int i = 0; i < 3; i++)
		free(cand[i]);
	return t;
fail:
	gate_trust_free(t);
	t = NULL;
	goto out;
}

/* The canonical text a signature covers. */
static char *signed_text(const struct gate_decision *d)
{
	char csha[65];
	const char *c = d->comment ? d->comment : "";

	sha256_hex(c, strlen(c), csha);
	return xasprintf("aegis-sandbox approval decision v1\n"
			 "request %lld\ncandidate %lld\narchive-sha256 %s\ndecision %s\nreviewer %s\n"
			 "signed-at %s\ncomment-sha256 %s\n",
			 d->request_id, d->candidate_id, d->archive_sha256 && *d->archive_sha256 ? d->archive_sha256 : "-",
			 d->decision, d->reviewer, d->signed_at, csha);
}

static bool fields_ok(const struct gate_decision *d)
{
	return d->decision && (!strcmp(d->decision, "approved") || !strcmp(d->decision, "rejected")) &&
	       name_ok(d->reviewer) && d->signed_at && !strpbrk(d->signed_at, "\n\r") &&
	       (!d->archive_sha256 || !*d->archive_sha256 || sha256_is_hex(d->archive_sha256));
}

int gate_sign(const struct gate_key *k, const struct gate_decision *d, char *sig, size_t siglen, char *err,
	      size_t errlen)
{
	unsigned char s[crypto_sign_BYTES];
	char *text;

	if (!fields_ok(d) || strcmp(d->reviewer, k->name)) {
		snprintf(err, errlen, "the decision cannot be signed (reviewer '%s', key of '%s')",
			 d->reviewer ? d->reviewer : "", k->name);
		return -1;
	}
	if (siglen < sodium_base64_ENCODED_LEN(sizeof(s), B64)) {
		snprintf(err, errlen, "signature buffer too small");
		return -1;
	}
	text = signed_text(d);
	crypto_sign_detached(s, NULL, (const unsigned char *)text, strlen(text), k->sk);
	free(text);
	sodium_bin2base64(sig, siglen, s, sizeof(s), B64);
	return 0;
}

const char *gate_state_name(enum gate_state s)
{
	static const char *const names[] = {"signed", "unsigned", "untrusted", "forged"};

	return s <= GATE_FORGED ? names[s] : "forged";
}

enum gate_state gate_check(const struct gate_trust *t, const struct gate_decision *d, const char *key,
			   const char *sig, const char **who)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], s[crypto_sign_BYTES];
	size_t n = 0;
	char *text;
	bool valid;

	if (who)
		*who = NULL;
	if ((!key || !*key) && (!sig || !*sig))
		return GATE_UNSIGNED;
	if (!key || !sig || pub_parse(key, strlen(key), pk) < 0 ||
	    sodium_base642bin(s, sizeof(s), sig, strlen(sig), NULL, &n, NULL, B64) < 0 || n != sizeof(s) ||
	    !fields_ok(d))
		return GATE_FORGED;
	text = signed_text(d);
	valid = crypto_sign_verify_detached(s, (const unsigned char *)text, strlen(text), pk) == 0;
	free(text);
	if (!valid)
		return GATE_FORGED;
	for (size_t i = 0; t && i < t->n; i++)
		if (sodium_memcmp(t->keys[i].pk, pk, sizeof(pk)) == 0) {
			/* a trusted key signs only under its own name */
			if (strcmp(t->keys[i].name, d->reviewer))
				return GATE_FORGED;
			if (who)
				*who = t->keys[i].name;
			return GATE_SIGNED;
		}
	return GATE_UNTRUSTED;
}

void gate_annotate(const struct gate_trust *t, struct json *doc)
{
	struct json *decs = json_get(doc, "decisions");
	const struct json *cand = json_get(doc, "candidate");
	const char *state = json_get_str(doc, "state"), *sha = json_get_str(doc, "artifact_sha256");
	double rid = 0, cid = 0;
	bool approved = false, forged = false, untrusted = false;

	if (!sha && cand)
		sha = json_get_str(cand, "artifact_sha256");
	json_get_num(doc, "id", &rid);
	json_get_num(doc, "candidate_id", &cid);
	for (size_t i = 0; decs && decs->type == JSON_ARRAY && i < decs->count; i++) {
		struct json *r = decs->items[i];
		struct gate_decision d = {
		    .request_id = (long long)rid,
		    .candidate_id = (long long)cid,
		    .archive_sha256 = json_get_str(r, "archive_sha256"),
		    .decision = json_get_str(r, "decision"),
		    .reviewer = json_get_str(r, "reviewer"),
		    .signed_at = json_get_str(r, "signed_at"),
		    .comment = json_get_str(r, "comment"),
		};
		const char *who = NULL;
		enum gate_state s = gate_check(t, &d, json_get_str(r, "key"), json_get_str(r, "signature"), &who);
		bool is_approval = d.decision && !strcmp(d.decision, "approved");

		/* a signature over other bytes lets none of these out */
		if (s == GATE_SIGNED && is_approval && (!sha || !d.archive_sha256 || strcmp(sha, d.archive_sha256)))
			s = GATE_FORGED;
		json_set(r, "signature", json_str(gate_state_name(s)));
		if (who)
			json_set(r, "signed_by", json_str(who));
		approved |= is_approval && s == GATE_SIGNED;
		untrusted |= is_approval && s == GATE_UNTRUSTED;
		forged |= is_approval && s != GATE_SIGNED && s != GATE_UNTRUSTED;
	}
	/* an approved state with no decision to show for it was written by
	 * hand */
	if (state && !strcmp(state, "approved") && !approved && !untrusted)
		forged = true;
	{
		const char *gate = approved ? "approved" : forged ? "forged" : untrusted ? "untrusted" : state ? state : "pending";

		/* every view reads "state": it says what the signatures say;
		 * what the row says stays beside it */
		json_set(doc, "recorded_state", json_str(state ? state : "pending"));
		json_set(doc, "state", json_str(gate));
	}
}
