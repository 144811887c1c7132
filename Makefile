# sellcompute: build, test, fuzz, bench.
#
#   make            build bin/{relayd,jobd,inferd,invoiced,dvmctl,dvmreq}
#   make deps       install every Debian and npm package the build and tests need
#   make test       sanitizer build (ASan+UBSan) of everything, then lint and every test
#   make lint       shellcheck on every shell script, cppcheck on every C file
#   make fuzz       libFuzzer targets over every parser of untrusted input
#   make bench      benchmarks (docs/BENCHMARKS.md)
#   make run        deps + build + scripts/dvm start
#
# O=DIR puts objects and binaries under DIR (default: build/ and bin/), so that
# several builds (plain, sanitized, a developer's scratch build) never collide.

CC      ?= cc
O       ?= .
PKGS     = libsecp256k1 libwebsockets libcurl openssl libcjson sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# CFLAGS is the user's (optimisation, sanitizers); the flags the code needs
# are in XCFLAGS so that `make CFLAGS=...` cannot drop -Werror or -Icommon.
CFLAGS  ?= -O2 -g
XCFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing -Icommon $(PKG_CFLAGS)
LDFLAGS ?=

ifeq ($(O),.)
BUILD   = build
BIN     = bin
else
BUILD   = $(O)/build
BIN     = $(O)/bin
endif

# What each program links against: only what it needs (least privilege starts
# at link time).
LIBS_common   = $(shell pkg-config --libs libsecp256k1 openssl libcjson 2>/dev/null)
LIBS_relayd   = $(shell pkg-config --libs libwebsockets 2>/dev/null)
LIBS_jobd     = $(shell pkg-config --libs sqlite3 2>/dev/null)
LIBS_inferd   = $(shell pkg-config --libs libcurl 2>/dev/null)
LIBS_invoiced = $(shell pkg-config --libs libcurl sqlite3 libwebsockets 2>/dev/null)
LIBS_dvmctl   =
LIBS_dvmreq   = $(shell pkg-config --libs libwebsockets 2>/dev/null)
LIBS_paned    = $(shell pkg-config --libs libwebsockets 2>/dev/null)

PROGS   = relayd jobd inferd invoiced dvmctl dvmreq paned
COMMON_SRC = $(wildcard common/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIBCOMMON  = $(BUILD)/libcommon.a

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC   = $(wildcard tests/tools/tool_*.c)
TOOL_BIN   = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all deps test lint unit fuzz bench run clean programs
all: programs

# The pane's page beside the binaries: BIN/../share/sellcompute/www, where
# paned looks first (scripts/dvm runs the binaries of DVM_BIN or bin/).
WWW_SRC = $(wildcard paned/www/*)
WWW     = $(WWW_SRC:paned/www/%=$(BIN)/../share/sellcompute/www/%)
programs: $(PROGS:%=$(BIN)/%) $(WWW)

$(BIN)/../share/sellcompute/www/%: paned/www/%
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/%.o: %.c $(wildcard common/*.h) $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# One rule per program: every .c in its directory.
define prog_rule
$(1)_OBJ = $$(patsubst %.c,$$(BUILD)/%.o,$$(wildcard $(1)/*.c))
$$(BIN)/$(1): $$($(1)_OBJ) $$(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(XCFLAGS) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$($(1)_OBJ) $$(LIBCOMMON) $$(LIBS_$(1)) $$(LIBS_common) -lm
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

# Unit tests and test tools link libcommon and every library. A test of a
# daemon's module names that module's .c files on a line
#   /* LINK: jobd/price.c jobd/ratelimit.c */
# which are compiled into the test and are prerequisites of it, so a change
# to them rebuilds the test. Test tools (tests/tools/tool_*.c) are programs
# the integration tests drive (tool_nostr checks our crypto against
# nostr-tools); tests/run exports UNITDIR so scripts find them.
UNIT_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
HEADERS   = $(wildcard common/*.h) $(wildcard */*.h)
link_of   = $(shell sed -n 's,^/\* *LINK: *\(.*\) *\*/,\1,p' $(1))

define test_rule
$$(BUILD)/tests/$(notdir $(basename $(1))): $(1) $(wildcard tests/unit/*.h) $$(LIBCOMMON) $$(HEADERS) $(call link_of,$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(XCFLAGS) $$(CFLAGS) -Itests/unit $$(LDFLAGS) -o $$@ $(1) $(call link_of,$(1)) $$(LIBCOMMON) $$(UNIT_LIBS)
endef
$(foreach t,$(UNIT_SRC) $(TOOL_SRC),$(eval $(call test_rule,$(t))))

unit: $(UNIT_BIN) $(TOOL_BIN)

deps:
	sh scripts/deps.sh

SAN = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test:
	$(MAKE) O=build/san CFLAGS="$(SAN)" LDFLAGS="$(SAN)" programs unit
	BIN=$(CURDIR)/build/san/bin UNITDIR=$(CURDIR)/build/san/build/tests sh tests/run

# make test runs the same script as its first case (tests/run).
lint:
	sh tests/lint/run.sh

FUZZ_SECONDS ?= 30
fuzz:
	sh tests/fuzz/run.sh $(FUZZ_SECONDS)

BENCH_SRC = $(wildcard tests/bench/bench_*.c)
BENCH_BIN = $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
$(BUILD)/bench/%: tests/bench/%.c $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBCOMMON) $(UNIT_LIBS)

# Benchmarks run the optimised build (never the sanitized one).
bench: all $(BENCH_BIN) $(BUILD)/tests/tool_requests
	BIN=$(abspath $(BIN)) BENCHDIR=$(abspath $(BUILD))/bench UNITDIR=$(abspath $(BUILD))/tests \
	    sh tests/bench/run.sh

run: deps all
	exec sh scripts/dvm start

clean:
	rm -rf build bin
