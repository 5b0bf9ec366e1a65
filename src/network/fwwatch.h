/* fwwatch.h - the watcher that puts berth's nftables table back (internal to src/network/). */
#pragma once

struct berr;
struct fw_watch;

/* Watch nftables notifications; call @reapply(@arg), on the watcher's thread, after another
 * process deleted anything of table @table (debounced). */
int fw_watch_start(const char *table, void (*reapply)(void *arg), void *arg, struct fw_watch **ret, struct berr *err);
/* Stop and free (NULL is fine). No call of reapply runs once this returns. */
void fw_watch_stop(struct fw_watch *w);
