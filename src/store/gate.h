/* gate.h - signed approval decisions: who may let an archive out.
 *
 * A decision counts only when a reviewer signed it with a key the search
 * process does not hold.  Each reviewer has an Ed25519 key pair
 * (libsodium); a decision is signed over one canonical text: the request,
 * the candidate, the SHA-256 of the archive the reviewer let out, the
 * decision, the reviewer's name, the time and the digest of the comment.
 * The pool keeps the signature beside the row; the reviewers' public keys
 * live outside the pool, in a file the loop cannot write (the trust file:
 * --reviewers FILE, $AEGIS_REVIEWERS, ~/.config/aegis-sandbox/reviewers,
 * /etc/aegis-sandbox/reviewers, the first that is given or exists).
 * pool_export and every view check the signature against that file: a row
 * written with SQL, by a key nobody trusts or over other bytes is shown as
 * what it is and lets nothing out. */
#ifndef AEGIS_GATE_H
#define AEGIS_GATE_H

#include <stddef.h>

#include "common/json.h"

struct gate_key;   /* a reviewer's secret key and name */
struct gate_trust; /* the trust file: names and public keys */

/* Create a key pair for reviewer NAME: the secret key in KEY_PATH (mode
 * 0600, never over an existing file; sealed with PASSPHRASE when one is
 * given: Argon2id, then XSalsa20-Poly1305), the public line ("NAME
 * ed25519:...", what a trust file lists) in KEY_PATH.pub and in PUB_LINE.
 * 0 or -1. */
int gate_keygen(const char *key_path, const char *name, const char *passphrase, char *pub_line, size_t pub_len,
		char *err, size_t errlen);
/* The secret key at PATH (NULL: $AEGIS_REVIEWER_KEY, else
 * ~/.config/aegis-sandbox/reviewer.key), opened with PASSPHRASE when it is
 * sealed.  A key that others can read is refused, as ssh does.  NULL with
 * ERR; *ABSENT set when no file was named and the default does not exist;
 * *SEALED when the key is sealed and PASSPHRASE is NULL or wrong. */
/* Where a reviewer's key is when none is named: $AEGIS_REVIEWER_KEY,
 * else ~/.config/aegis-sandbox/reviewer.key.  The caller's. */
char *gate_default_key_path(void);
struct gate_key *gate_key_load(const char *path, const char *passphrase, int *absent, int *sealed, char *err,
			       size_t errlen);
void gate_key_free(struct gate_key *k);
const char *gate_key_name(const struct gate_key *k);
/* "ed25519:BASE64" of the public half. */
const char *gate_key_public(const struct gate_key *k);

/* The trust file (see above; PATH overrides the search).  A file others
 * can write is refused.  With no file at all, an empty trust (nothing
 * verifies) whose gate_trust_source() says so.  NULL with ERR
 * ("FILE:LINE:COL: ..." for a malformed line). */
struct gate_trust *gate_trust_load(const char *path, char *err, size_t errlen);
void gate_trust_free(struct gate_trust *t);
/* The file read, or NULL when there was none. */
const char *gate_trust_source(const struct gate_trust *t);

/* The fields a signature covers. */
struct gate_decision {
	long long request_id, candidate_id;
	const char *archive_sha256; /* hex; NULL or "" when the candidate has none */
	const char *decision;       /* "approved" or "rejected" */
	const char *reviewer;
	const char *signed_at; /* UTC, ISO 8601 */
	const char *comment;
};
/* Sign D with K: the signature in base64 into SIG (at least 96 bytes).
 * 0 or -1 (a field that cannot be signed: a reviewer name with spaces). */
int gate_sign(const struct gate_key *k, const struct gate_decision *d, char *sig, size_t siglen, char *err,
	      size_t errlen);

/* What a recorded decision's signature says. */
enum gate_state {
	GATE_SIGNED = 0,  /* a trusted reviewer signed these very fields */
	GATE_UNSIGNED,    /* no signature: written without a reviewer key (SQL, an old pool) */
	GATE_UNTRUSTED,   /* a valid signature by a key the trust file does not list */
	GATE_FORGED,      /* the signature does not match the fields (or the name is not the key's) */
};
const char *gate_state_name(enum gate_state s);
/* Check D's KEY ("ed25519:...") and SIG against T.  *WHO, when non-NULL,
 * is the trusted name for GATE_SIGNED. */
enum gate_state gate_check(const struct gate_trust *t, const struct gate_decision *d, const char *key,
			   const char *sig, const char **who);
/* Check the decision rows of approval document DOC (pool_approval_get)
 * for candidate CANDIDATE_ID whose archive is ARCHIVE_SHA256: each
 * decision gets "signature": state name, and "signed_by" when signed.
 * The document's "state" becomes what the signatures say: "approved" only
 * when an approval was signed by a trusted reviewer over these archive
 * bytes; "untrusted" when signed by a key the trust file does not list;
 * "forged" when the row says approved and no signature shows it; else the
 * recorded state, which stays in "recorded_state". */
void gate_annotate(const struct gate_trust *t, struct json *doc);

#endif
