/* buildinfo.c - the build's identity; only this file is rebuilt for a new timestamp. */
#include "buildinfo.h"

#ifndef BERTH_GIT_COMMIT
#define BERTH_GIT_COMMIT "unknown"
#endif
#ifndef BERTH_BUILD_TIME
#define BERTH_BUILD_TIME ""
#endif

const char berth_version[] = BERTH_VERSION;
const char berth_git_commit[] = BERTH_GIT_COMMIT;
const char berth_build_time[] = BERTH_BUILD_TIME;
