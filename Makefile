# bottle: build the static `sidecar` bundle binary, the `bottle-host` CLI,
# the sidecar image, and run the tests.  `make help` lists the targets.

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

# VARIANT picks the build.  Empty: the shipped one, musl and static, in build/.
# asan and glibc: the same code built with gcc against glibc and a glibc build
# of the same pinned dependencies (build/sysroot-glibc), in build/asan/ with
# AddressSanitizer and UndefinedBehaviorSanitizer, in build/glibc/ plain for
# valgrind.  `make asan` and `make valgrind` set it (docs/testing.md).
TOP      := build
VARIANT  ?=
ifeq ($(VARIANT),)
BUILD    := $(TOP)
SYSROOT  := $(TOP)/sysroot
DEPS_LIBC := musl
else ifneq ($(filter asan glibc,$(VARIANT)),)
BUILD    := $(TOP)/$(VARIANT)
SYSROOT  := $(TOP)/sysroot-glibc
DEPS_LIBC := glibc
else
$(error VARIANT is empty, asan or glibc, not '$(VARIANT)')
endif
OBJ      := $(BUILD)/obj
DEPS_STAMP := $(SYSROOT)/.complete

VERSION := $(shell cat VERSION)
COMMIT  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
VERSION_HEADER := $(BUILD)/gen/bottle_version.h

export CONTAINERS_CONF := $(CURDIR)/scripts/containers.conf

# Everything is compiled with musl and linked statically against the sysroot
# that scripts/build-deps.sh builds from pinned sources (docs/dependencies.md).
CC       := musl-gcc
WARNINGS := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla
CFLAGS   := -std=c11 -D_GNU_SOURCE -O2 -g $(WARNINGS) \
            -ffunction-sections -fdata-sections -fno-common \
            -isystem $(SYSROOT)/include -I$(BUILD)/gen
LDFLAGS  := -static -Wl,--gc-sections -L$(SYSROOT)/lib
# The shipped binaries are stripped; the variants keep their symbols for
# the sanitizers' and valgrind's stack traces.
INSTALL_BINARY = strip -o $@ $@.unstripped
# Objects the variant links into every program (the sanitizer options).
VARIANT_OBJ :=
ifneq ($(VARIANT),)
CC       := gcc
LDFLAGS  := -Wl,--gc-sections -L$(SYSROOT)/lib
INSTALL_BINARY = cp $@.unstripped $@
endif
ifeq ($(VARIANT),asan)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
CFLAGS   += $(SANITIZE)
# The runtimes linked in statically: with gcc's shared libasan and libubsan
# each has its own copy of the reporting code, and UBSan's reports ignore
# log_path (they go to stderr, where nobody reads a daemon's).
LDFLAGS  += $(SANITIZE) -static-libasan -static-libubsan
VARIANT_OBJ := $(OBJ)/tests/sanitizers/default_options.o
$(VARIANT_OBJ): CFLAGS += -DSANITIZER_REPORT_DIR='"$(abspath $(BUILD)/reports)"' \
	-DSANITIZER_SUPPRESSIONS='"$(abspath tests/sanitizers/lsan.supp)"'
endif
# Order matters for static linking: users before the libraries they use.
SIDECAR_LIBS := -lgit2 -lssh2 -lhttp_parser -lmbedtls -lmbedx509 -lmbedcrypto \
                -lyaml -lpcre2-8 -lyyjson -lz
HOST_LIBS    := -lyaml -lpcre2-8 -lyyjson -lmbedtls -lmbedx509 -lmbedcrypto -lz
TEST_LIBS    := -lcmocka
ifneq ($(VARIANT),)
# musl's libc.a holds the math functions; glibc keeps them in libm.
SIDECAR_LIBS += -lm
HOST_LIBS    += -lm
endif

SHARED_SRC  := $(sort $(wildcard shared/*.c))
SIDECAR_SRC := $(sort $(wildcard sidecar/*.c sidecar/*/*.c))
HOST_SRC    := $(sort $(wildcard host/*.c host/*/*.c))
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
HELPER_SRC  := $(sort $(wildcard tests/helpers/*.c))

SHARED_OBJ  := $(SHARED_SRC:%.c=$(OBJ)/%.o)
SIDECAR_OBJ := $(SIDECAR_SRC:%.c=$(OBJ)/%.o)
HOST_OBJ    := $(HOST_SRC:%.c=$(OBJ)/%.o)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
HELPER_BIN  := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
# Unit tests link against everything but the two main()s; a test that
# #includes a .c file to reach its statics simply does not pull that member.
TESTABLE_LIB := $(BUILD)/libbottle-testable.a
TESTABLE_OBJ := $(SHARED_OBJ) $(filter-out $(OBJ)/sidecar/main.o,$(SIDECAR_OBJ)) \
                $(filter-out $(OBJ)/host/main.o,$(HOST_OBJ))

.PHONY: all help tools deps sidecar host image run test test-unit \
        test-integration test-hostile test-fault git-test-suite check fuzz fuzz-build fuzz-replay \
        asan valgrind variant-all variant-unit clean distclean sidecar-link-flags

all: $(BUILD)/sidecar $(BUILD)/bottle-host

help:
	@echo "make            build build/sidecar and build/bottle-host (builds deps first)"
	@echo "make deps       build the static dependency sysroot under $(SYSROOT)"
	@echo "make image      build the sidecar image (podman or docker) and print its size"
	@echo "make run        build what is missing, run the demo agent in a bottle (bottle-host start demo)"
	@echo "make test       run every test suite (unit, style check, integration)"
	@echo "make test-hostile  hostile clients against egress: smuggling, bombs, slowloris, floods"
	@echo "make test-fault    kill -9 under init, a full queue disk, upstream and agent faults"
	@echo "make fuzz       run every libFuzzer harness (FUZZ_SECONDS each, default 60)"
	@echo "make fuzz-replay  run every fuzz corpus file once (part of make test)"
	@echo "make fuzz-build   build the harnesses (build/fuzz/, against build/fuzz/libbottle-fuzz.a)"
	@echo "make git-test-suite  git's own t5570/t5702 against the gate's git:// server"
	@echo "make asan       unit and integration suites on an ASan+UBSan glibc build (build/asan)"
	@echo "make valgrind   the unit suite under valgrind memcheck (glibc build, build/glibc)"
	@echo "make clean      remove our objects and binaries, keep the dependency sysroot"
	@echo "make distclean  remove everything under $(BUILD)/, downloaded sources too"

# Installs missing apt packages; quiet and quick when everything is present.
tools:
	@scripts/install-build-tools.sh

deps: $(DEPS_STAMP)

$(DEPS_STAMP): scripts/build-deps.sh scripts/deps.lock $(wildcard deps/*/*) | tools
	scripts/build-deps.sh --libc $(DEPS_LIBC) $(TOP)

# Rewritten only when the version or commit changed, so a new commit
# rebuilds the files that print it (those that include it) and nothing else.
$(VERSION_HEADER): FORCE
	@mkdir -p $(@D)
	@printf '#define BOTTLE_VERSION "%s"\n#define BOTTLE_COMMIT "%s"\n' \
		'$(VERSION)' '$(COMMIT)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi
FORCE:

VERSION_USERS := $(shell grep -l '"bottle_version.h"' sidecar/*/*.c host/*.c)
$(VERSION_USERS:%.c=$(OBJ)/%.o): $(VERSION_HEADER)

# The assembler .incbin's the default DLP rules (shared/dlp_default_rules.c).
$(OBJ)/shared/dlp_default_rules.o: shared/dlp_default_rules.yaml

# A rebuilt sysroot (a changed pin or build switch, e.g. mbedtls_config.h)
# recompiles and relinks everything: -MMD does not list -isystem headers, and
# the programs must not keep the old libraries' code.
$(OBJ)/%.o: %.c $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# X25519 public keys by Everest, not mbedTLS's generic ladder
# (sidecar/egress/egress_tls_x25519.c); --undefined pulls the wrapper out of
# the test archive.
X25519_WRAP := -Wl,--wrap=mbedtls_ecp_mul -Wl,--undefined=__wrap_mbedtls_ecp_mul
$(BUILD)/sidecar: LDFLAGS += $(X25519_WRAP)
$(BUILD)/tests/unit/%: LDFLAGS += $(X25519_WRAP)
$(BUILD)/tests/helpers/%: LDFLAGS += $(X25519_WRAP)

# How build/sidecar is linked, for a test that relinks its objects with
# test-only code (t3110): one place for the flags and libraries.
sidecar-link-flags:
	@echo $(LDFLAGS) $(X25519_WRAP) $(SIDECAR_LIBS)

$(BUILD)/sidecar: $(SIDECAR_OBJ) $(SHARED_OBJ) $(VARIANT_OBJ)
	$(CC) $(LDFLAGS) -o $@.unstripped $^ $(SIDECAR_LIBS)
	$(INSTALL_BINARY)

$(BUILD)/bottle-host: $(HOST_OBJ) $(SHARED_OBJ) $(VARIANT_OBJ)
	$(CC) $(LDFLAGS) -o $@.unstripped $^ $(HOST_LIBS)
	$(INSTALL_BINARY)

sidecar: $(BUILD)/sidecar
host: $(BUILD)/bottle-host

$(TESTABLE_LIB): $(TESTABLE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/unit/%: tests/unit/%.c $(TESTABLE_LIB) $(VARIANT_OBJ) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -MMD -MP $(LDFLAGS) -o $@ $< \
		$(VARIANT_OBJ) $(TESTABLE_LIB) $(TEST_LIBS) $(SIDECAR_LIBS)

# Helpers may use any project module (the queue, the routes loader ...).
$(BUILD)/tests/helpers/%: tests/helpers/%.c $(TESTABLE_LIB) $(VARIANT_OBJ) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(VARIANT_OBJ) $(TESTABLE_LIB) $(SIDECAR_LIBS)

image: $(BUILD)/sidecar | tools
	scripts/build-image.sh $(BUILD)

# bottle-host start builds the image when the sidecar changed.
run: all | tools
	$(BUILD)/bottle-host start demo

test: all image $(UNIT_BIN) $(HELPER_BIN) | tools
	tests/run.sh

test-unit: $(UNIT_BIN)
	tests/run.sh unit

test-integration: all image $(HELPER_BIN)
	tests/run.sh integration

# Also part of test-integration (docs/security.md says what each proves).
test-hostile: all
	tests/run.sh hostile

test-fault: all
	tests/run.sh fault

# git's own tests of a git:// server, against ours (docs/gitgate.md).
git-test-suite: all
	scripts/git-test-suite.sh

# Style rules a compiler cannot enforce (docs/style.md).
check:
	tests/check-style.sh

# The libFuzzer harnesses (tests/fuzz/, docs/testing.md).  The project's
# library objects (those of libbottle-testable.a) are compiled once more with
# clang, coverage-instrumented (fuzzer-no-link) and sanitized, into
# libbottle-fuzz.a; each harness is one file linked against it and the
# dependency libraries, so a harness names no project source and a new
# module or a moved function needs no edit there.  The dependencies are the
# shipped musl sysroot's static libraries: plain C, they link into a glibc
# program, and they need no sysroot of their own (not instrumented).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := $(TOP)/fuzz
# gcc's -Werror build is the gate on warnings; clang's own extra ones (a
# vprintf-style wrapper's format, -Wfor-loop-analysis) are shown, not fatal.
FUZZ_WARNINGS := $(filter-out -Werror,$(WARNINGS)) -Wno-format-nonliteral -Wno-for-loop-analysis
FUZZ_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                 -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_WARNINGS) $(FUZZ_SANITIZE) \
                -isystem $(TOP)/sysroot/include -I$(TOP)/gen
FUZZ_LIB     := $(FUZZ_DIR)/libbottle-fuzz.a
# Our AES-GCM too (deps/mbedtls-gcm, which build-deps.sh puts inside
# mbedTLS): a harness reaching mbedtls_gcm_*() directly takes this
# instrumented copy, mbedTLS's own callers the sysroot's.
FUZZ_LIB_OBJ := $(TESTABLE_OBJ:$(OBJ)/%=$(FUZZ_DIR)/obj/%) \
                $(FUZZ_DIR)/obj/deps/mbedtls-gcm/gcm_alt.o
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_LIBS    := -L$(TOP)/sysroot/lib $(SIDECAR_LIBS) -lm -lpthread

$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/obj/shared/dlp_default_rules.o: shared/dlp_default_rules.yaml
$(VERSION_USERS:%.c=$(FUZZ_DIR)/obj/%.o): $(VERSION_HEADER)

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB) | $(DEPS_STAMP)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -Wno-missing-prototypes -fsanitize=fuzzer -MMD -MP \
		-o $@ $< $(FUZZ_LIB) $(FUZZ_LIBS)

# fuzz_gcm checks our AES-GCM against OpenSSL's (the system's libcrypto).
$(FUZZ_DIR)/fuzz_gcm: FUZZ_LIBS += -lcrypto

# Every harness, built (tests/fuzz/run.sh makes this first).
fuzz-build: $(FUZZ_BIN) | tools

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-replay: fuzz-build
	tests/run.sh fuzz-replay

# The sanitizer runs (docs/testing.md).  Each builds its variant in a make
# of its own (VARIANT changes every flag) and then runs the suites on it.
variant-all: $(BUILD)/sidecar $(BUILD)/bottle-host $(UNIT_BIN) $(HELPER_BIN)
variant-unit: $(UNIT_BIN)

asan: | tools
	$(MAKE) VARIANT=asan variant-all
	tests/sanitize.sh asan

valgrind: | tools
	$(MAKE) VARIANT=glibc variant-unit
	tests/sanitize.sh valgrind

clean:
	rm -rf $(OBJ) $(BUILD)/tests $(BUILD)/sidecar $(BUILD)/sidecar.unstripped \
		$(BUILD)/bottle-host $(BUILD)/bottle-host.unstripped $(TESTABLE_LIB) \
		$(BUILD)/image $(BUILD)/fuzz $(TOP)/asan $(TOP)/glibc

distclean:
	rm -rf $(BUILD)

-include $(shell find $(OBJ) $(BUILD)/tests $(FUZZ_DIR) -name '*.d' 2>/dev/null)
