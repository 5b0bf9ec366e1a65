/* fwwatch.h - the watcher that puts berth's nftables table back (internal to src/network/). */
#pragma once

struct berr;
struct fw_watch;

#include <stdbool.h>

/* Watch nftables notifications; call @reapply(@arg, false), on the watcher's thread, after
 * another process deleted anything of table @table or made a drop-policy base chain, and
 * @reapply(@arg, true) after it deleted another table (which matters only if a warning
 * named it); debounced. */
int fw_watch_start(const char *table, void (*reapply)(void *arg, bool only_if_warned), void *arg, struct fw_watch **ret,
                   struct berr *err);
/* Note that the calling thread is about to change the ruleset: its transaction is
 * berth's own even when the watcher reads the notification after the thread has exited
 * (threads of API connections are short-lived, and /proc/self/task forgets them). */
void fw_watch_note_own_thread(void);

/* Stop and free (NULL is fine). No call of reapply runs once this returns. */
void fw_watch_stop(struct fw_watch *w);
