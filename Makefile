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
bin/resched-rule bin/resched-agent:
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

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	        $(DESTDIR)$(PREFIX)/include/resched $(DESTDIR)$(PREFIX)/share/resched/rules
	install -m 755 $(filter bin/resched% bin/reschedfs,$(PROGRAMS)) $(DESTDIR)$(PREFIX)/bin
	cp -r rules/default/. $(DESTDIR)$(PREFIX)/share/resched/rules/
	$(if $(LIBS),install -m 644 $(LIBS) $(DESTDIR)$(PREFIX)/lib)
	$(if $(wildcard migrate/migrate.h),install -m 644 migrate/migrate.h $(DESTDIR)$(PREFIX)/include/resched)
	$(if $(wildcard migrate/resched-migrate.pc.in),sed 's|@PREFIX@|$(PREFIX)|g' migrate/resched-migrate.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/resched-migrate.pc)

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/resched-rule $(DESTDIR)$(PREFIX)/bin/resched-agent \
	      $(DESTDIR)$(PREFIX)/bin/reschedfs $(DESTDIR)$(PREFIX)/lib/libmigrate* \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/resched-migrate.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/resched $(DESTDIR)$(PREFIX)/share/resched

clean:
	rm -rf $(BUILD) bin lib

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The s390x (big-endian) build of test_tree, for heterogeneous migration.
-include migrate/cross.mk
