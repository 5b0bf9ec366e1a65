/* signals.h - signal names as Docker accepts them ("SIGTERM", "TERM", "15"). */
#pragma once

/* Returns the signal number, or -1 if @s names none. */
int signal_parse(const char *s);
