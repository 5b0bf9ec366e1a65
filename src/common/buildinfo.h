/* buildinfo.h - the build's identity (version, commit, time), set by the Makefile; shared
 * by berthd and berth-shim, so it lives below both. */
#pragma once

extern const char berth_version[];
extern const char berth_git_commit[];
extern const char berth_build_time[];
