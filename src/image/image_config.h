/* image_config.h - the Go types of Docker's container Config and image config, for
 * checking the JSON that clients and image archives send (see common/json_check.h). */
#pragma once

#include <jansson.h>

#include "common/json_check.h"

struct berr;

/* container.Config: the fields a container's Config and an image's "config" share.
 * Embed it (a field with a NULL name) where Go embeds *container.Config. */
extern const struct json_type image_container_config_type;

/* Check an image config's field types (image.Image as dockerd decodes it), so that no
 * image whose config would break `docker images` or `docker inspect` is ever recorded. */
int image_config_check(json_t *config, struct berr *err);
