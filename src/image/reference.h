/* reference.h - Docker image references: parsing and normalisation as distribution/reference
 * does it (ParseNormalizedNamed, TagNameOnly, FamiliarName/FamiliarString). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct berr;

#define REFERENCE_NAME_MAX 255 /* domain + '/' + path, Docker's NameTotalLengthMax */
#define REFERENCE_TAG_MAX 128
#define REFERENCE_DIGEST_MAX 160 /* "sha512:" + 128 hex, with room */
#define REFERENCE_STRING_MAX (REFERENCE_NAME_MAX + 1 + REFERENCE_TAG_MAX + 1 + REFERENCE_DIGEST_MAX + 1)

#define REFERENCE_DEFAULT_DOMAIN "docker.io"
#define REFERENCE_DEFAULT_TAG "latest"

/* A parsed, normalised reference. Plain value: no allocation, no free. Empty strings mean
 * "absent" for tag and digest. */
struct reference {
        char domain[REFERENCE_NAME_MAX + 1]; /* "docker.io", "host:5000", "[::1]:5000" */
        char path[REFERENCE_NAME_MAX + 1];   /* "library/busybox", "a/b" */
        char tag[REFERENCE_TAG_MAX + 1];     /* "latest" or "" */
        char digest[REFERENCE_DIGEST_MAX + 1]; /* "sha256:<64 hex>" or "" */
};

/* Docker's ParseNormalizedNamed: `busybox` -> docker.io/library/busybox, `foo/bar:1` ->
 * docker.io/foo/bar:1, `host:5000/a/b@sha256:...`. Does not add a default tag. Errors are
 * BERR_INVALID with Docker's wording ("invalid reference format", "invalid reference format:
 * repository name (library/Busybox) must be lowercase", ...). */
int reference_parse_normalized(const char *s, struct reference *ret, struct berr *err);

/* Docker's TagNameOnly: a reference with neither tag nor digest gets ":latest". */
void reference_default_tag(struct reference *ref);

/* Like reference_parse_normalized followed by reference_default_tag. */
int reference_parse_with_default_tag(const char *s, struct reference *ret, struct berr *err);

/* Validate a tag on its own (`docker tag x NAME:TAG`, `?tag=` query parameters). */
bool reference_tag_is_valid(const char *tag);

/* Validate a digest "algo:hex" as go-digest does. BERR_INVALID with its wording on error. */
int reference_digest_validate(const char *digest, struct berr *err);

/* True if @s is 64 lowercase hex digits (an image ID, which is never a repository name). */
bool reference_is_full_id(const char *s);

/* Formatting into a caller buffer of REFERENCE_STRING_MAX bytes; always succeeds. */
/* "docker.io/library/busybox" */
void reference_name(const struct reference *ref, char out[REFERENCE_STRING_MAX]);
/* "docker.io/library/busybox:latest@sha256:..." (the parts present) */
void reference_string(const struct reference *ref, char out[REFERENCE_STRING_MAX]);
/* "busybox", "foo/bar", "host:5000/a/b" */
void reference_familiar_name(const struct reference *ref, char out[REFERENCE_STRING_MAX]);
/* "busybox:latest", "foo/bar@sha256:..." */
void reference_familiar_string(const struct reference *ref, char out[REFERENCE_STRING_MAX]);
