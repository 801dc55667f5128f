# resched — top-level build.  GNU make.
#
# Sources are found, never registered:
#   common/*.c            -> build/libcommon.a
#   rules/*.c             -> build/librules.a      (minus *_main.c)
#   agent/*.c             -> build/libagent.a      (minus *_main.c)
#   fs/*.c                -> build/libfs.a         (minus *_main.c)
#   migrate/mig_*.c       -> lib/libmigrate.{a,so} (minus mig_mpi*.c)
#   migrate/mig_mpi*.c    -> lib/libmigrate_mpi.a  (built with mpicc)
#   X/*_main.c            -> a program in bin/ (see PROGRAMS below)
#   test/unit/*.c         -> build/unit-tests (and build/asan/unit-tests)
#   test/fuzz/fuzz_*.c    -> build/fuzz/fuzz_* (clang libFuzzer)
#   test/integration/*.sh -> run by test/run-integration.sh
# Objects go to build/, programs to bin/, libraries to lib/.

PREFIX   ?= /usr/local
CC       ?= gcc
CLANG    ?= clang
MPICC    ?= mpicc
BUILD    := build

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wvla -Wundef -Wcast-align \
        -Wwrite-strings -Wnull-dereference -Wno-unused-parameter
PKGS     := fuse3 libevent libsodium libxml-2.0 libxxhash
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CPPFLAGS += -I. -D_GNU_SOURCE $(PKG_CFLAGS)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -fPIC $(WARN) -MMD -MP
LDLIBS   := $(PKG_LIBS) -lpthread -lm
MIG_LDLIBS := $(shell pkg-config --libs libxml-2.0 libxxhash 2>/dev/null) -lpthread -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

srcs_of   = $(filter-out %_main.c,$(wildcard $(1)/*.c))
COMMON_SRC  := $(call srcs_of,common)
RULES_SRC   := $(call srcs_of,rules)
AGENT_SRC   := $(call srcs_of,agent)
FS_SRC      := $(call srcs_of,fs)
MIG_SRC     := $(filter-out migrate/mig_mpi%.c,$(call srcs_of,migrate))
MIGMPI_SRC  := $(wildcard migrate/mig_mpi*.c)
UNIT_SRC    := $(wildcard test/unit/*.c)
FUZZ_SRC    := $(wildcard test/fuzz/fuzz_*.c)
EXAMPLE_SRC := $(filter-out %_mpi.c,$(wildcard examples/*.c))
EXAMPLE_MPI := $(wildcard examples/*_mpi.c)
EXAMPLE_LIB := $(wildcard examples/lib/*.c)
BENCH_SRC   := $(wildcard test/bench/*.c)
TOOL_SRC    := $(wildcard test/tools/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
san = $(patsubst %.c,$(BUILD)/asan/%.o,$(1))

LIBCOMMON := $(BUILD)/libcommon.a
LIBRULES  := $(BUILD)/librules.a
LIBAGENT  := $(BUILD)/libagent.a
LIBFS     := $(BUILD)/libfs.a
LIBMIG    := lib/libmigrate.a
LIBMIGSO  := lib/libmigrate.so
LIBMIGMPI := lib/libmigrate_mpi.a

# program -> main file (only those whose main exists are built)
PROGRAMS := $(if $(wildcard rules/resched_rule_main.c),bin/resched-rule) \
            $(if $(wildcard agent/agent_main.c),bin/resched-agent) \
            $(if $(wildcard fs/fs_main.c),bin/reschedfs) \
            $(if $(wildcard common/resched_key_main.c),bin/resched-key) \
            $(patsubst examples/%.c,bin/%,$(EXAMPLE_SRC)) \
            $(patsubst examples/%.c,bin/%,$(EXAMPLE_MPI)) \
            $(patsubst test/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC)) \
            $(patsubst test/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
LIBS := $(if $(MIG_SRC),$(LIBMIG) $(LIBMIGSO)) $(if $(MIGMPI_SRC),$(LIBMIGMPI))

.PHONY: all deps test unit asan fuzz fuzz-short integration bench demo \
        install uninstall clean experiments
all: $(PROGRAMS) $(LIBS)

# Rebuild everything when the flags change.
FLAGS_STAMP := $(BUILD)/.flags
$(shell mkdir -p $(BUILD); echo '$(CC) $(CPPFLAGS) $(CFLAGS) $(LDLIBS)' | cmp -s - $(FLAGS_STAMP) || echo '$(CC) $(CPPFLAGS) $(CFLAGS) $(LDLIBS)' > $(FLAGS_STAMP))

# The PREFIX compiled into common/paths.c, the last resort when a program
# cannot find its files next to its executable (docs/INSTALL.md).
PREFIX_STAMP := $(BUILD)/.prefix
$(shell echo '$(PREFIX)' | cmp -s - $(PREFIX_STAMP) || echo '$(PREFIX)' > $(PREFIX_STAMP))
$(BUILD)/obj/common/paths.o $(BUILD)/asan/common/paths.o: CPPFLAGS += -DRESCHED_PREFIX='"$(PREFIX)"'
$(BUILD)/obj/common/paths.o $(BUILD)/asan/common/paths.o: $(PREFIX_STAMP)

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(BUILD)/asan/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(SAN) -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBRULES):  $(call obj,$(RULES_SRC))
$(LIBAGENT):  $(call obj,$(AGENT_SRC))
$(LIBFS):     $(call obj,$(FS_SRC))
# libmigrate carries only what a migration-enabled program needs.
MIG_COMMON  := common/msg.c common/util.c common/log.c
$(LIBMIG):    $(call obj,$(MIG_SRC) $(MIG_COMMON))
$(LIBCOMMON) $(LIBRULES) $(LIBAGENT) $(LIBFS) $(LIBMIG):
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBMIGSO): $(call obj,$(MIG_SRC) $(MIG_COMMON))
	@mkdir -p lib
	$(CC) -shared -Wl,-soname,libmigrate.so -o $@ $^ $(MIG_LDLIBS)
$(BUILD)/mpi/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(MPICC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(LIBMIGMPI): $(patsubst %.c,$(BUILD)/mpi/%.o,$(MIGMPI_SRC))
	@mkdir -p lib
	rm -f $@ && ar rcs $@ $^

bin/resched-rule: $(BUILD)/obj/rules/resched_rule_main.o $(LIBRULES) $(LIBCOMMON)
bin/resched-agent: $(BUILD)/obj/agent/agent_main.o $(LIBAGENT) $(LIBRULES) $(LIBCOMMON)
bin/reschedfs: $(BUILD)/obj/fs/fs_main.o $(LIBFS) $(LIBRULES) $(LIBMIG) $(LIBCOMMON)
bin/resched-key: $(BUILD)/obj/common/resched_key_main.o $(LIBCOMMON)
bin/resched-rule bin/resched-agent bin/resched-key:
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
# reschedfs finds its network side and scheduler through weak references,
# which do not pull archive members: link libfs whole.
bin/reschedfs:
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $< -Wl,--whole-archive $(LIBFS) -Wl,--no-whole-archive $(LIBRULES) $(LIBMIG) $(LIBCOMMON) $(LDLIBS)

# Examples link libmigrate statically, so they run from any directory.
bin/%: $(BUILD)/obj/examples/%.o $(call obj,$(EXAMPLE_LIB)) $(LIBMIG)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(MIG_LDLIBS)
bin/%_mpi: examples/%_mpi.c $(EXAMPLE_LIB) $(LIBMIGMPI) $(LIBMIG) $(FLAGS_STAMP)
	@mkdir -p bin
	$(MPICC) $(CPPFLAGS) $(filter-out -MMD -MP,$(CFLAGS)) -o $@ $< $(EXAMPLE_LIB) $(LIBMIGMPI) $(LIBMIG) $(MIG_LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/test/bench/%.o $(LIBFS) $(LIBAGENT) $(LIBRULES) $(LIBCOMMON) $(if $(MIG_SRC),$(LIBMIG))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Test helper programs (test/tools/X.c -> build/tools/X), linked like benches.
$(BUILD)/tools/%: $(BUILD)/obj/test/tools/%.o $(LIBFS) $(LIBAGENT) $(LIBRULES) $(LIBCOMMON) $(if $(MIG_SRC),$(LIBMIG))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests ---------------------------------------------------------------
ALL_LIB_SRC := $(COMMON_SRC) $(RULES_SRC) $(AGENT_SRC) $(FS_SRC) $(MIG_SRC)
$(BUILD)/unit-tests: $(call obj,$(UNIT_SRC) $(ALL_LIB_SRC))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/asan/unit-tests: $(call san,$(UNIT_SRC) $(ALL_LIB_SRC))
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests
asan: $(BUILD)/asan/unit-tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/asan/unit-tests

# libFuzzer harnesses: each test/fuzz/fuzz_X.c links every library source,
# compiled once with clang's sanitizers and coverage (build/fz/).
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=address,undefined -I. -D_GNU_SOURCE $(PKG_CFLAGS)
FUZZERS := $(patsubst test/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
$(BUILD)/fz/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(BUILD)/fuzz/%: $(BUILD)/fz/test/fuzz/%.o $(patsubst %.c,$(BUILD)/fz/%.o,$(ALL_LIB_SRC))
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
FUZZ_SECONDS ?= 15
fuzz-short: $(FUZZERS)
	@test/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)
fuzz: $(FUZZERS)
	@test/run-fuzz.sh $${FUZZ_LONG_SECONDS:-600} $(FUZZERS)

integration: all
	test/run-integration.sh

NPROC := $(shell nproc 2>/dev/null || echo 2)
test: deps
	$(MAKE) -j$(NPROC) all $(BUILD)/unit-tests $(BUILD)/asan/unit-tests $(FUZZERS)
	$(MAKE) unit
	$(MAKE) asan
	$(MAKE) fuzz-short
	$(MAKE) integration

bench: deps all
	test/bench/run.sh

demo: deps all
	examples/demo.sh

experiments: deps all
	examples/experiments/run-all.sh

deps:
	@./scripts/deps.sh

# ---- install -------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=staging]: docs/INSTALL.md.
# Programs must stay in PREFIX/bin: they find their rules as
# BIN/../share/resched (common/paths.c).
BINDIR     := $(PREFIX)/bin
LIBDIR     := $(PREFIX)/lib
INCDIR     := $(PREFIX)/include/resched
DATADIR    := $(PREFIX)/share/resched
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL_PROGRAMS := $(sort $(filter bin/resched-% bin/reschedfs,$(PROGRAMS)) $(wildcard bin/resched-key))
# A program's page is installed with the program (resched-key(1) only once
# bin/resched-key is built); the other pages always.
MAN_PROG_PAGES := $(foreach p,$(notdir $(INSTALL_PROGRAMS)),$(wildcard docs/man/$(p).[1-8]))
MAN_PAGES  := $(MAN_PROG_PAGES) $(filter-out $(foreach p,resched-rule resched-agent reschedfs resched-key,docs/man/$(p).%),$(wildcard docs/man/*.[1-8]))
UNITS      := $(patsubst dist/systemd/%.in,%,$(wildcard dist/systemd/*.service.in))
CONFIGS    := $(wildcard dist/etc/*.conf)
SUBST      := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
D := $(DESTDIR)

install: all
	install -d $(D)$(BINDIR) $(D)$(LIBDIR)/pkgconfig $(D)$(INCDIR) $(D)$(DATADIR)/rules \
	        $(D)$(UNITDIR) $(D)$(SYSCONFDIR)/resched
	install -m 755 $(INSTALL_PROGRAMS) $(D)$(BINDIR)
	cp -R rules/default/. $(D)$(DATADIR)/rules/
	$(if $(LIBS),install -m 644 $(LIBS) $(D)$(LIBDIR))
	$(if $(wildcard migrate/migrate.h),install -m 644 migrate/migrate.h $(D)$(INCDIR))
	$(if $(wildcard migrate/resched-migrate.pc.in),$(SUBST) migrate/resched-migrate.pc.in > $(D)$(LIBDIR)/pkgconfig/resched-migrate.pc)
	$(if $(MIGMPI_SRC),$(SUBST) dist/pkgconfig/resched-migrate-mpi.pc.in > $(D)$(LIBDIR)/pkgconfig/resched-migrate-mpi.pc)
	for m in $(MAN_PAGES); do s=$${m##*.}; install -d $(D)$(MANDIR)/man$$s && \
	    install -m 644 $$m $(D)$(MANDIR)/man$$s/ || exit 1; done
	for u in $(UNITS); do $(SUBST) dist/systemd/$$u.in > $(D)$(UNITDIR)/$$u || exit 1; \
	    chmod 644 $(D)$(UNITDIR)/$$u; done
	@# example configurations: an administrator's edited file is kept
	for c in $(CONFIGS); do t=$(D)$(SYSCONFDIR)/resched/$${c##*/}; \
	    if [ -e "$$t" ]; then echo "install: kept $$t (new example: $(D)$(DATADIR)/$${c##*/})"; \
	    install -m 644 $$c $(D)$(DATADIR)/; else install -m 644 $$c "$$t" || exit 1; fi; done

uninstall:
	rm -f $(addprefix $(D)$(BINDIR)/,resched-rule resched-agent reschedfs resched-key) \
	      $(D)$(LIBDIR)/libmigrate.a $(D)$(LIBDIR)/libmigrate.so $(D)$(LIBDIR)/libmigrate_mpi.a \
	      $(D)$(LIBDIR)/pkgconfig/resched-migrate.pc $(D)$(LIBDIR)/pkgconfig/resched-migrate-mpi.pc \
	      $(addprefix $(D)$(UNITDIR)/,$(UNITS))
	for m in $(notdir $(wildcard docs/man/*.[1-8])); do rm -f $(D)$(MANDIR)/man$${m##*.}/$$m; done
	rm -rf $(D)$(INCDIR) $(D)$(DATADIR)
	@echo "uninstall: $(D)$(SYSCONFDIR)/resched (configuration, keys) is left in place"

clean:
	rm -rf $(BUILD) bin lib

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The s390x (big-endian) build of test_tree, for heterogeneous migration.
-include migrate/cross.mk
