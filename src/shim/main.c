/* main.c - berth-shim: the per-container supervisor that berthd starts (DESIGN.md,
 * "Processes"). Containers are not implemented yet, so the shim only identifies itself
 * and refuses to run anything rather than pretending to. */
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"

int main(int argc, char **argv) {
        if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
                printf("berth-shim version %s, build %s\n", berth_version, berth_git_commit);
                return 0;
        }
        fprintf(stderr, "berth-shim: running containers is not supported yet by this build\n");
        return 2;
}
