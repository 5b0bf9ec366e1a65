/* id.h - random identifiers: 64-hex container/exec/network IDs and RFC 4122 UUIDs. */
#pragma once

#include <stddef.h>

struct berr;

#define ID_HEX_LEN 64

/* Fill @out (at least 65 bytes) with 64 random lowercase hex digits. Like Docker, an ID
 * that is all digits is re-rolled so it cannot be mistaken for a number. */
int id_random_hex(char out[ID_HEX_LEN + 1], struct berr *err);

/* Fill @out (at least 37 bytes) with a random version-4 UUID. */
int id_random_uuid(char out[37], struct berr *err);

/* True if @s is exactly 64 lowercase hex digits. */
int id_is_full_hex(const char *s);
