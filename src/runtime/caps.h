/* caps.h - Linux capability names as Docker and the OCI spec spell them ("CAP_CHOWN"),
 * their numbers, and Docker's default set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Number for "CAP_CHOWN" or "chown" (case-insensitive, with or without "CAP_"); -1 if unknown. */
int caps_from_name(const char *name);
/* "CAP_CHOWN" for 0; NULL if unknown. */
const char *caps_to_name(int cap);
/* Highest capability number this table knows. */
int caps_last(void);

/* Docker's default capability set (14 names, as in the reference spec fixtures). */
extern const char *const caps_docker_default[];
extern const size_t caps_docker_default_count;
