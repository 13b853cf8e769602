# qiao — one plain Makefile.
#
#   make            build/qiao (optimised)
#   make test       deps, sanitizer build, every test; ends "N passed, N failed"
#   make demo       deps, build, a small district on loopback
#   make bench      benchmarks, figures as "name: value"
#   make fuzz       libFuzzer targets (clang-14), FUZZ_SECONDS each
#   make lint       cppcheck and clang-tidy
#   make deps       the Debian packages we build and test with (apt-get)
#   make install    PREFIX=/usr/local: binary, man page, example configs

SHELL    := /bin/bash
PREFIX   ?= /usr/local
CC       ?= cc
CLANG    ?= clang
BUILD    := build

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wvla -Wno-format-nonliteral
CSTD     := -std=c11 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64
INCS     := -I.
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) $(INCS) $(CFLAGS) -MMD -MP
LIBS     := -llmdb -lsodium -lnng -lmsgpackc -linih -ljansson -lzstd -lpthread -lm

SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
TEST_CFLAGS := -O1 -g $(SAN)

# Layers: crdt <- node <- cli; conf serves node and cli.
LIB_SRC  := $(wildcard crdt/*.c) $(wildcard node/*.c) $(wildcard conf/*.c)
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/t_*.c)
BENCH_SRC:= $(wildcard tests/bench/bench_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
TOOL_SRC := $(wildcard tests/tools/*.c)

LIB_OBJ      := $(LIB_SRC:%.c=$(BUILD)/rel/%.o)
CLI_OBJ      := $(CLI_SRC:%.c=$(BUILD)/rel/%.o)
LIB_OBJ_SAN  := $(LIB_SRC:%.c=$(BUILD)/san/%.o)
CLI_OBJ_SAN  := $(CLI_SRC:%.c=$(BUILD)/san/%.o)
TEST_BIN     := $(TEST_SRC:tests/%.c=$(BUILD)/san/tests/%)
BENCH_BIN    := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
TOOL_BIN     := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/san/tools/%)

# Debian packages: libraries we link, and tools the tests drive.
DEB_BUILD := liblmdb-dev libsodium-dev libnng-dev libmsgpack-dev \
             libinih-dev libjansson-dev libzstd-dev
DEB_TEST  := clang libclang-rt-14-dev faketime iproute2 nftables procps
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all test demo bench fuzz lint deps install clean check-tests

all: $(BUILD)/qiao

$(BUILD)/qiao: $(CLI_OBJ) $(BUILD)/rel/libqiao.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/rel/libqiao.a $(LIBS)

$(BUILD)/rel/libqiao.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/rel/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Sanitizer build: the binary the integration tests run and the unit tests.
$(BUILD)/san/qiao: $(CLI_OBJ_SAN) $(BUILD)/san/libqiao.a
	$(CC) $(TEST_CFLAGS) -o $@ $(CLI_OBJ_SAN) $(BUILD)/san/libqiao.a $(LIBS)

$(BUILD)/san/libqiao.a: $(LIB_OBJ_SAN)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/san/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC san  $<"
	@$(CC) $(CSTD) $(WARN) $(INCS) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/tests/%: tests/%.c tests/check.h tests/nodes.h tests/sim.h $(BUILD)/san/libqiao.a
	@mkdir -p $(@D)
	@echo "  LD san  $@"
	@$(CC) $(CSTD) $(WARN) $(INCS) $(TEST_CFLAGS) -o $@ $< \
	    $(BUILD)/san/libqiao.a $(LIBS)

# Helpers the integration tests drive (never run as suites).
$(BUILD)/san/tools/%: tests/tools/%.c $(BUILD)/san/libqiao.a
	@mkdir -p $(@D)
	@echo "  LD san  $@"
	@$(CC) $(CSTD) $(WARN) $(INCS) $(TEST_CFLAGS) -o $@ $< \
	    $(BUILD)/san/libqiao.a $(LIBS)

$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/rel/libqiao.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/rel/libqiao.a $(LIBS)

# Fuzz targets: libFuzzer needs clang; the code under test is rebuilt with
# it once, instrumented for coverage, into its own archive.
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(CSTD) $(INCS)
LIB_OBJ_FUZZ := $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC fuzz $<"
	@$(CLANG) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/libqiao.a: $(LIB_OBJ_FUZZ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libqiao.a
	@mkdir -p $(@D)
	@echo "  LD fuzz $@"
	@$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(BUILD)/fuzz/libqiao.a $(LIBS)

# The optimised binary too: tests/it_district.sh runs a whole district on it.
check-tests: $(BUILD)/qiao $(BUILD)/san/qiao $(TEST_BIN) $(TOOL_BIN) $(FUZZ_BIN)

test: deps
	$(MAKE) check-tests
	QIAO=$(CURDIR)/$(BUILD)/san/qiao BUILD=$(CURDIR)/$(BUILD) \
	    tests/run.sh

demo: deps
	$(MAKE) all
	QIAO=$(CURDIR)/$(BUILD)/qiao tests/demo.sh

bench: deps
	$(MAKE) all $(BENCH_BIN)
	QIAO=$(CURDIR)/$(BUILD)/qiao BUILD=$(CURDIR)/$(BUILD) tests/bench/run.sh

FUZZ_SECONDS ?= 60
fuzz: deps
	$(MAKE) $(FUZZ_BIN)
	FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD=$(CURDIR)/$(BUILD) tests/fuzz/run.sh

lint:
	cppcheck --std=c11 --enable=warning,performance,portability \
	    --error-exitcode=1 --inline-suppr --quiet -I. \
	    --suppress=missingIncludeSystem crdt node cli conf tests
	clang-tidy --quiet $(LIB_SRC) $(CLI_SRC) -- $(CSTD) $(INCS) 2>&1 | \
	    grep -v "warnings generated"; test $${PIPESTATUS[0]} -eq 0

# Install only what is missing; apt-get needs root, so sudo when we are not.
deps:
	@missing=""; for p in $(DEB_BUILD) $(DEB_TEST); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	        grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi

install: $(BUILD)/qiao
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/qiao
	install -m 0755 $(BUILD)/qiao $(DESTDIR)$(PREFIX)/bin/qiao
	install -m 0644 docs/qiao.1 $(DESTDIR)$(PREFIX)/share/man/man1/qiao.1
	install -m 0644 $(wildcard conf/*.conf conf/*.service) \
	    $(DESTDIR)$(PREFIX)/share/qiao/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
