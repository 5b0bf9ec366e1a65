/* dist_fetch.c - one HTTP(S) GET into a file, for what docker build downloads: a remote
 * build context and ADD's URLs. Bounded in bytes, cancellable, http and https only,
 * redirects followed (at most 10, as Go's client), the proxy given by the build's
 * arguments or else the daemon's environment, as dockerd's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fs.h"
#include "dist_curl.h"
#include "distribution/distribution.h"

struct fetch {
        const struct dist_fetch_opts *o;
        uint64_t bytes;
        bool too_large, write_failed;
};

static size_t on_data(char *p, size_t size, size_t n, void *opaque) {
        struct fetch *f = opaque;
        size_t len = size * n;
        if (f->bytes + len > f->o->max_bytes) {
                f->too_large = true;
                return 0;
        }
        if (fs_write_all(f->o->out_fd, p, len) < 0) {
                f->write_failed = true;
                return 0;
        }
        f->bytes += len;
        return len;
}

static int on_progress(void *opaque, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
        struct fetch *f = opaque;
        return f->o->cancelled && f->o->cancelled(f->o->opaque) ? 1 : 0;
}

int dist_fetch(const struct dist_fetch_opts *o, struct dist_fetch_result *ret, struct berr *err) {
        memset(ret, 0, sizeof(*ret));
        int r = dist_curl_load(err);
        if (r < 0)
                return r;
        CURL *h = curl_easy_init();
        if (!h)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "cannot start an HTTP request");
        struct fetch f = { .o = o };
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_URL, o->url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &f);
        curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "Go-http-client/1.1");
        if (o->proxy)
                curl_easy_setopt(h, CURLOPT_PROXY, o->proxy);
        if (o->no_proxy)
                curl_easy_setopt(h, CURLOPT_NOPROXY, o->no_proxy);
        CURLcode c = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (c == CURLE_OK && status >= 400)
                r = berr_set(err, BERR_INVALID, EIO, "failed to GET %s with status %ld", o->url, status);
        else if (f.too_large)
                r = berr_set(err, BERR_TOO_LARGE, EFBIG, "%s: larger than %llu bytes", o->url,
                             (unsigned long long) o->max_bytes);
        else if (f.write_failed)
                r = berr_set(err, BERR_INTERNAL, EIO, "%s: cannot store the download", o->url);
        else if (c == CURLE_ABORTED_BY_CALLBACK)
                r = berr_set(err, BERR_UNAVAILABLE, ECANCELED, "%s: cancelled", o->url);
        else if (c != CURLE_OK)
                r = berr_set(err, BERR_INVALID, EIO, "error downloading %s: %s", o->url,
                             errbuf[0] ? errbuf : curl_easy_strerror(c));
        if (r == 0) {
                const char *ct = NULL;
                curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
                snprintf(ret->content_type, sizeof(ret->content_type), "%s", ct ? ct : "");
                curl_off_t mtime = -1;
                curl_easy_getinfo(h, CURLINFO_FILETIME_T, &mtime);
                ret->last_modified = mtime;
                const char *eff = NULL;
                curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
                snprintf(ret->effective_url, sizeof(ret->effective_url), "%s", eff ? eff : o->url);
                ret->bytes = f.bytes;
        }
        curl_easy_cleanup(h);
        return r;
}
