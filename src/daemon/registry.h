/* registry.h - the daemon's registry operations: pull and push as background transfers
 * whose progress the caller reads as it comes, login, GET /distribution and the registry
 * part of `docker info`. Credentials arrive as the client sent them (the X-Registry-Auth
 * value, or the /auth body) and are decoded by the distribution module. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct berr;
struct daemon;
struct daemon_transfer;

/* Start pulling @from (tag from @tag, or every tag when neither gives one) in a thread of
 * its own, and wait for its first progress message or its end. An error before the first
 * message is returned here; later ones arrive in-band. On success *ret is read with
 * daemon_transfer_read until 0 and closed with daemon_transfer_close. */
int daemon_image_pull(struct daemon *d, const char *from, const char *tag, const char *platform, const char *auth_header,
                      struct daemon_transfer **ret, struct berr *err);
/* The same for pushing @name (tag from @tag or the name). */
int daemon_image_push(struct daemon *d, const char *name, const char *tag, const char *auth_header,
                      struct daemon_transfer **ret, struct berr *err);
/* Progress lines ("\r\n" terminated JSON), blocking until some arrive; 0 when the
 * transfer has ended and everything was read. */
ssize_t daemon_transfer_read(struct daemon_transfer *t, char *buf, size_t max);
/* The reader is gone: cancel the transfer if it still runs, and drop the reader's hold. */
void daemon_transfer_close(struct daemon_transfer *t);

/* POST /auth: check the credentials in @body against the registry. */
int daemon_registry_login(struct daemon *d, json_t *body, char **ret_identity_token, struct berr *err);
/* GET /distribution/{name}/json */
int daemon_distribution_inspect(struct daemon *d, const char *name, const char *auth_header, json_t **ret,
                                struct berr *err);
/* GET /images/search: the registry's v1 search, filtered; auth from @auth_header
 * (X-Registry-Auth). */
struct daemon_search_opts {
        const char *term;
        int limit;        /* 1..100, else dockerd's error */
        int is_official;  /* -1: no filter; 0, 1 */
        int is_automated; /* -1: no filter; 0, 1 */
        long stars;       /* at least */
};
int daemon_image_search(struct daemon *d, const struct daemon_search_opts *o, const char *auth_header, json_t **ret,
                        struct berr *err);
/* RegistryConfig of `docker info`. */
json_t *daemon_registry_info(struct daemon *d);
