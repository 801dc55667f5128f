# cross.mk — the s390x (big-endian) build of test_tree, for heterogeneous
# migration tests (included by the top Makefile; uses its BUILD and WARN).
#
#   make bin/s390x/test_tree      run: qemu-s390x -L /usr/s390x-linux-gnu bin/s390x/test_tree
#
# Static, with libmigrate compiled in from source.  libxml2 and libxxhash
# are not installed for s390x, so: the schema parser is compiled out
# (-DMIG_NO_LIBXML: a schema is checked only for size and sent to the agent
# as is), and XXH3 comes from the host's header-only xxhash.h (copied into
# the build tree so no other host header leaks into the cross build).
S390X_CC   ?= s390x-linux-gnu-gcc
S390X_DIR  := $(BUILD)/s390x
S390X_SRC  := $(filter-out migrate/mig_mpi%.c,$(wildcard migrate/mig_*.c)) \
              common/msg.c common/util.c common/log.c examples/test_tree.c \
              $(wildcard examples/lib/*.c)
S390X_CFLAGS := -std=gnu11 -O2 -g -D_GNU_SOURCE -DMIG_NO_LIBXML -I. \
                -I$(S390X_DIR)/include $(WARN)

.PHONY: s390x
s390x: bin/s390x/test_tree

$(S390X_DIR)/include/xxhash.h: /usr/include/xxhash.h
	@mkdir -p $(dir $@)
	cp $< $@

bin/s390x/test_tree: $(S390X_SRC) $(wildcard migrate/*.h common/msg.h common/util.h common/log.h examples/lib/*.h) \
                     $(S390X_DIR)/include/xxhash.h
	@mkdir -p bin/s390x
	$(S390X_CC) $(S390X_CFLAGS) -static -o $@ $(S390X_SRC) -lm
