# berth build. `make` builds build/berthd and build/berth-shim; `make run` and `make test`
# install the Debian packages first (packages.txt). See README.md.

VERSION := 0.1.0
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_TIME := $(shell date -u +%Y-%m-%dT%H:%M:%S.000000000+00:00)

# libarchive and libcurl are loaded on first use (src/image/archive_lazy.c,
# src/distribution/dist_curl.c): linked at start they cost berthd ~4.5 MB of idle RSS.
PKGS := libmicrohttpd gnutls nettle jansson libcrypto libssl libseccomp libcap libnl-route-3.0 ldns zlib
# libnftables is opened for each firewall batch and closed after it (src/network/firewall.c);
# libsystemd (sd-bus) by the firewalld thread, only where a system bus answers (firewalld.c).
LAZY_PKGS := libarchive libcurl libnftables libsystemd
CC ?= cc
CFLAGS_BASE := -std=gnu11 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
	-D_GNU_SOURCE -Isrc $(shell pkg-config --cflags $(PKGS) $(LAZY_PKGS) 2>/dev/null) \
	-DBERTH_VERSION=\"$(VERSION)\"
CFLAGS ?= -O2
LDLIBS := -Wl,--as-needed $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
# Unit tests build archives of their own with libarchive.
TEST_LDLIBS := -Wl,--as-needed $(shell pkg-config --libs $(PKGS) libarchive 2>/dev/null) -lpthread

SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Every .c under src/ except the programs' main files goes into the library.
LIB_SRCS := $(filter-out src/daemon/main.c src/shim/main.c src/shim/dns_main.c src/init/main.c,$(sort $(wildcard src/*/*.c)))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

OBJ := build/obj
SAN := build/san
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(SAN)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)
SAN_UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/unit-san/%)

PYTHON := /usr/bin/python3

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with Debian's clang against a library of
# their own compiled with coverage and sanitizers. `make fuzz FUZZ_SECONDS=N` runs each.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ := build/fuzz
FUZZ_CC := clang
FUZZ_FLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	-Wno-unknown-warning-option -Wno-unused-variable
FUZZ_OBJS := $(LIB_SRCS:%.c=$(FUZZ)/obj/%.o)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ)/bin/%)
FUZZ_SECONDS ?= 60

.PHONY: all deps run test check-layers unit unit-san e2e e2e-san fuzz fuzz-build bench load soak clean install uninstall torture torture-short
all: build/berthd build/berth-shim build/berth-dns build/berth-init build/berthd.8

deps:
	@./scripts/install-deps.sh

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) -MMD -MP -c $< -o $@

$(SAN)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-SAN  $<"
	@$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -MMD -MP -c $< -o $@

# Only the build-time stamp differs per build; keep it out of the library objects.
$(OBJ)/src/common/buildinfo.o $(SAN)/src/common/buildinfo.o $(FUZZ)/obj/src/common/buildinfo.o: CFLAGS_BASE += -DBERTH_BUILD_TIME=\"$(BUILD_TIME)\" -DBERTH_GIT_COMMIT=\"$(GIT_COMMIT)\"

# Rebuild the build identity when the commit changes.
build/gitcommit: FORCE
	@mkdir -p build
	@echo $(GIT_COMMIT) | cmp -s - $@ || echo $(GIT_COMMIT) > $@
$(OBJ)/src/common/buildinfo.o $(SAN)/src/common/buildinfo.o $(FUZZ)/obj/src/common/buildinfo.o: build/gitcommit
.PHONY: FORCE

build/libberth.a: $(LIB_OBJS)
	@mkdir -p build
	rm -f $@ && ar rcs $@ $^

$(FUZZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	@$(FUZZ_CC) $(CFLAGS_BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ)/libberth.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ)/bin/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ)/libberth.a
	@mkdir -p $(FUZZ)/bin
	@echo "  LD-FUZZ $@"
	@$(FUZZ_CC) $(CFLAGS_BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ)/libberth.a $(TEST_LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@./tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

build/libberth-san.a: $(SAN_OBJS)
	@mkdir -p build
	rm -f $@ && ar rcs $@ $^

build/berthd: $(OBJ)/src/daemon/main.o build/libberth.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# berthd under AddressSanitizer and UBSan, beside copies of the shim and init (berthd finds
# them next to itself), for `make e2e-san`.
build/san-bin/berthd: $(SAN)/src/daemon/main.o build/libberth-san.a build/berth-shim build/berth-dns build/berth-init
	@mkdir -p build/san-bin
	$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -o $@ $(SAN)/src/daemon/main.o build/libberth-san.a $(LDLIBS)
	cp build/berth-shim build/berth-dns build/berth-init build/san-bin/

build/berth-shim: $(OBJ)/src/shim/main.o build/libberth.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The shim's helper that answers names while berthd is down (src/shim/dns_main.c): the
# shim itself links no ldns (and so no OpenSSL).
build/berth-dns: $(OBJ)/src/shim/dns_main.o build/libberth.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Mounted into containers whose images may have no libc: static, and nothing of libberth.
build/berth-init: $(OBJ)/src/init/main.o
	$(CC) $(CFLAGS) -static -o $@ $^

build/unit/%: tests/unit/%.c build/libberth.a
	@mkdir -p build/unit
	@echo "  LD      $@"
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) -Itests/unit -o $@ $^ $(TEST_LDLIBS) -lcmocka

build/unit-san/%: tests/unit/%.c build/libberth-san.a
	@mkdir -p build/unit-san
	@echo "  LD-SAN  $@"
	@$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -Itests/unit -o $@ $^ $(TEST_LDLIBS) -lcmocka

# berthd(8) from docs/berthd.8.in and the option tables themselves: it cannot drift.
build/gen-man: scripts/gen-man.c build/libberth.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/berthd.8: build/gen-man docs/berthd.8.in
	@echo "  GEN     $@"
	@./build/gen-man docs/berthd.8.in > $@.tmp && mv $@.tmp $@

# `make install` (PREFIX, DESTDIR): the programs (berthd finds berth-shim and berth-init
# next to itself), systemd's berth.service and berth.socket (socket activation through
# -H fd://, the socket in group docker), /etc/berth/daemon.json (kept if it exists; "{}":
# JSON has no comments), berthd(8) and an example daemon.json with every key at its
# default in the doc directory. `make uninstall` removes them (daemon.json only while unchanged).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(if $(filter /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc))
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/berth
# berthd reads /etc/berth/daemon.json unless told otherwise
CONFIG_ARGS := $(if $(filter /etc,$(SYSCONFDIR)),, --config-file $(SYSCONFDIR)/berth/daemon.json)
INSTALL ?= install

install: build/berthd build/berth-shim build/berth-dns build/berth-init build/berthd.8
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/berth
	$(INSTALL) -m 0755 build/berthd build/berth-shim build/berth-dns build/berth-init $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 build/berthd.8 $(DESTDIR)$(MANDIR)/man8/berthd.8
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@CONFIG_ARGS@|$(CONFIG_ARGS)|g' contrib/systemd/berth.service > $(DESTDIR)$(SYSTEMDUNITDIR)/berth.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/berth.service
	$(INSTALL) -m 0644 contrib/systemd/berth.socket $(DESTDIR)$(SYSTEMDUNITDIR)/berth.socket
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 0644 contrib/etc/daemon.json.example $(DESTDIR)$(DOCDIR)/daemon.json.example
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/berth/daemon.json ]; then \
		echo "  keeping $(DESTDIR)$(SYSCONFDIR)/berth/daemon.json"; \
	else $(INSTALL) -m 0644 contrib/etc/daemon.json $(DESTDIR)$(SYSCONFDIR)/berth/daemon.json; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/berthd $(DESTDIR)$(BINDIR)/berth-shim $(DESTDIR)$(BINDIR)/berth-dns $(DESTDIR)$(BINDIR)/berth-init
	rm -f $(DESTDIR)$(MANDIR)/man8/berthd.8
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/berth.service $(DESTDIR)$(SYSTEMDUNITDIR)/berth.socket
	rm -f $(DESTDIR)$(DOCDIR)/daemon.json.example
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	@if cmp -s contrib/etc/daemon.json $(DESTDIR)$(SYSCONFDIR)/berth/daemon.json; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/berth/daemon.json; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/berth/daemon.json ]; then \
		echo "  keeping the changed $(DESTDIR)$(SYSCONFDIR)/berth/daemon.json"; fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/berth 2>/dev/null

unit: $(UNIT_BINS)
	@./tests/run-unit.sh build/unit $(UNIT_BINS)

unit-san: $(SAN_UNIT_BINS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		./tests/run-unit.sh build/unit-san $(SAN_UNIT_BINS)

# The container suite's core once more with every container run by runc under berth-shim
# (issue 15; skipped when PYTEST_ARGS picks tests).
E2E_RUNC_CORE := test_containers.py test_exec.py

e2e: all
	cd tests/e2e && $(PYTHON) -m pytest -q -ra $(PYTEST_ARGS)
	$(if $(PYTEST_ARGS),,cd tests/e2e && BERTH_E2E_DEFAULT_RUNTIME=runc $(PYTHON) -m pytest -q -ra $(E2E_RUNC_CORE))

# The end-to-end suite against the sanitizer build of berthd: any report fails it.
e2e-san: all build/san-bin/berthd
	@rm -rf build/san-logs && mkdir -p build/san-logs
	cd tests/e2e && BERTH_E2E_BERTHD=$(abspath build/san-bin/berthd) \
		ASAN_OPTIONS=detect_leaks=1:log_path=$(abspath build/san-logs)/asan \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=$(abspath build/san-logs)/ubsan \
		$(PYTHON) -m pytest -q -ra $(PYTEST_ARGS)
	@if ls build/san-logs/* >/dev/null 2>&1; then cat build/san-logs/*; echo "e2e-san: sanitizer reports above"; exit 1; fi

# Crash torture (tests/torture/torture.py): clients at work while berthd (or a shim) is
# killed with SIGKILL, invariants and `berthd --check` after every restart. The issue's
# goal is 1,000 cycles under 8 clients; `make test` runs a short version.
TORTURE_CYCLES ?= 1000
TORTURE_CLIENTS ?= 8
torture: all
	$(PYTHON) tests/torture/torture.py --cycles $(TORTURE_CYCLES) --clients $(TORTURE_CLIENTS) $(TORTURE_ARGS)

torture-short: all
	$(PYTHON) tests/torture/torture.py --cycles 8 --clients 4 --full-check-every 4 --max-seconds 100 $(TORTURE_ARGS)

# Every #include between folders of src/ follows the table in scripts/layers.txt.
check-layers:
	@./scripts/check-layers.sh

test: deps
	$(MAKE) check-layers
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-san
	$(MAKE) e2e
	$(MAKE) torture-short
	$(MAKE) e2e-san
	$(MAKE) load LOAD_SCALE=0.1

run: deps
	$(MAKE) all
	@mkdir -p /run/berth /var/lib/berth
	@echo "berthd starting; in another shell: export DOCKER_HOST=unix:///run/berth/berth.sock"
	exec ./build/berthd $(BERTHD_ARGS)

bench: deps all
	$(PYTHON) bench/bench.py $(BENCH_ARGS)

# Load and limit tests (tests/load): concurrent runs, 2,000 held connections, the
# connection limit, slow clients. LOAD_SCALE=0.1 runs them at a tenth of their size (CI);
# the figures are printed and kept in build/load/report.json. LOAD_DAEMON=dockerd runs the
# same load against Debian's dockerd (build/load/report-dockerd.json) for comparison.
LOAD_SCALE ?= 1
load: all
	cd tests/load && LOAD_SCALE=$(LOAD_SCALE) $(PYTHON) -m pytest -q -ra $(PYTEST_ARGS)

# The soak test (tests/soak/soak.py): a fixed workload for SOAK_MINUTES, berthd's and the
# shims' memory, descriptors and threads sampled; fails if they grow after the warm-up.
SOAK_MINUTES ?= 20
soak: all
	SOAK_MINUTES=$(SOAK_MINUTES) $(PYTHON) tests/soak/soak.py

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(SAN_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d) $(OBJ)/src/daemon/main.d $(SAN)/src/daemon/main.d $(OBJ)/src/shim/main.d $(OBJ)/src/shim/dns_main.d $(OBJ)/src/init/main.d
