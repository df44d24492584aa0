# tether build. `make` builds build/tether; `make SAN=1` builds an ASan+UBSan
# copy under build/san/; `make check` runs the whole test suite; `make fuzz`
# builds the libFuzzer harnesses; docs/build.md explains the layout.

CC ?= cc
SAN ?= 0
BUILD ?= build
ifeq ($(SAN),1)
BUILD := build/san
endif

PKGS := libuv jansson openssl libssh libmnl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lwslay -lhttp_parser

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wvla -Wformat=2 -Wno-unused-parameter \
        -Wno-format-truncation
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(WARN) -Isrc $(PKG_CFLAGS) -g -MMD -MP
ifeq ($(SAN),1)
CFLAGS_ALL += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS_ALL := -fsanitize=address,undefined
else
CFLAGS_ALL += -O2
LDFLAGS_ALL :=
endif
CFLAGS_ALL += $(CFLAGS)
LDFLAGS_ALL += $(LDFLAGS)

# Two backends exist for crypto, TLS and WebSocket sessions: the tether CLI
# links *_openssl.c and *_wslay.c; the static bridge links *_mbedtls.c and
# *_builtin.c (docs/bridge.md says why).
ALL_LIB_SRCS := $(sort $(wildcard src/core/*.c src/net/*.c src/aws/*.c src/events/*.c src/bridge/*.c))
LIB_SRCS := $(filter-out %_mbedtls.c %_builtin.c,$(ALL_LIB_SRCS)) \
            $(sort $(wildcard src/ssh/*.c src/tunnel/*.c src/lambda/*.c src/tun/*.c src/dev/*.c))
BRIDGE_LIB_SRCS := $(filter-out %_openssl.c %_wslay.c,$(ALL_LIB_SRCS))
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
LIB := $(BUILD)/libtether.a

# The inspector's page (src/dev/inspector/) is compiled into the binary, so
# tether dev serves it without any file or network at run time.
INSPECTOR_ASSETS := $(sort $(wildcard src/dev/inspector/*))
LIB_OBJS += $(BUILD)/obj/gen/inspector_assets.o

.PHONY: all tests check fuzz bench format format-check clean bridge
all: $(BUILD)/tether $(BUILD)/tether-bridge tests

tests: $(TEST_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/gen/inspector_assets.c: $(INSPECTOR_ASSETS) Makefile
	@mkdir -p $(dir $@)
	{ echo '#include "dev/inspector.h"'; \
	  $(foreach f,$(INSPECTOR_ASSETS),(cd $(dir $(f)) && xxd -i $(notdir $(f))) | sed -e 's/^unsigned/static const unsigned/' -e '/_len = /d';) \
	  echo 'const struct inspector_asset inspector_assets[] = {'; \
	  $(foreach f,$(INSPECTOR_ASSETS),echo '{"$(notdir $(f))", $(subst -,_,$(subst .,_,$(notdir $(f)))), sizeof($(subst -,_,$(subst .,_,$(notdir $(f)))))},';) \
	  echo '};'; \
	  echo 'const size_t inspector_asset_count = sizeof(inspector_assets) / sizeof(inspector_assets[0]);'; \
	} > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/inspector_assets.o: $(BUILD)/gen/inspector_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tether: $(CLI_OBJS) $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJS) $(LIB) $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(LIB) $(PKG_LIBS) $(LDFLAGS_ALL)

# Test tools: programs the integration tests drive (tests/tools/*.c), built
# beside the unit tests but not run as tests themselves.
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)
tests: $(TOOL_BINS)
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(PKG_LIBS) $(LDFLAGS_ALL)

# The bridge: one static binary (Lambda's provided.al2023 runs it as
# `bootstrap`), small and quick to start. Built with its own objects (-Os,
# section GC) against static mbedTLS, libuv, jansson and http-parser.
BRIDGE_SRCS := $(sort $(wildcard src/bridge_runtime/*.c))
BRIDGE_LIB_OBJS := $(BRIDGE_LIB_SRCS:%.c=$(BUILD)/bridge-obj/%.o)
BRIDGE_OBJS := $(BRIDGE_SRCS:%.c=$(BUILD)/bridge-obj/%.o)
BRIDGE_LIB := $(BUILD)/libtether-bridge.a
BRIDGE_STATIC_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto -l:libuv_a.a -l:libjansson.a \
                      -l:libhttp_parser.a -lpthread -ldl
ifeq ($(SAN),1)
BRIDGE_CFLAGS := $(CFLAGS_ALL)
BRIDGE_LDFLAGS := $(LDFLAGS_ALL)
BRIDGE_LINK_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto $(shell pkg-config --libs libuv jansson) -lhttp_parser
else
BRIDGE_CFLAGS := $(filter-out -O2 -g,$(CFLAGS_ALL)) -Os -ffunction-sections -fdata-sections
BRIDGE_LDFLAGS := -static -Wl,--gc-sections -s $(LDFLAGS)
BRIDGE_LINK_LIBS := $(BRIDGE_STATIC_LIBS)
endif
bridge: $(BUILD)/tether-bridge
$(BUILD)/bridge-obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BRIDGE_CFLAGS) -c $< -o $@
$(BRIDGE_LIB): $(BRIDGE_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/tether-bridge: $(BRIDGE_OBJS) $(BRIDGE_LIB)
	$(CC) $(BRIDGE_LDFLAGS) -o $@ $(BRIDGE_OBJS) $(BRIDGE_LIB) $(BRIDGE_LINK_LIBS)

# The arm64 bridge: the same sources, cross-compiled with Debian's
# aarch64-linux-gnu-gcc against the arm64 builds of the same static libraries
# (scripts/install-deps installs them; docs/bridge.md). Its objects live in
# build/arm64/ whatever the flavour: it is always the static -Os build, since
# a sanitizer build could not run in Lambda. `all` includes it when the cross
# compiler and every library it links are installed.
ARM64_CC := aarch64-linux-gnu-gcc
ARM64_BUILD := build/arm64
ARM64_LIBDIR := /usr/lib/aarch64-linux-gnu
# http-parser's arm64 .a is not co-installable from Debian (docs/bridge.md).
ARM64_HTTP_PARSER_DIR := /usr/local/lib/aarch64-linux-gnu
ARM64_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -MMD -MP -Os -ffunction-sections -fdata-sections
ARM64_LDFLAGS := -static -Wl,--gc-sections -s -L$(ARM64_HTTP_PARSER_DIR)
ARM64_BRIDGE_LIB_OBJS := $(BRIDGE_LIB_SRCS:%.c=$(ARM64_BUILD)/obj/%.o)
ARM64_BRIDGE_OBJS := $(BRIDGE_SRCS:%.c=$(ARM64_BUILD)/obj/%.o)
ARM64_READY := $(and $(shell command -v $(ARM64_CC)),\
                     $(wildcard $(ARM64_LIBDIR)/libmbedtls.a),$(wildcard $(ARM64_LIBDIR)/libuv_a.a),\
                     $(wildcard $(ARM64_LIBDIR)/libjansson.a),\
                     $(wildcard $(ARM64_HTTP_PARSER_DIR)/libhttp_parser.a))
.PHONY: bridge-arm64
bridge-arm64: build/tether-bridge-arm64
ifneq ($(ARM64_READY),)
all: build/tether-bridge-arm64
endif
$(ARM64_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(ARM64_CC) $(ARM64_CFLAGS) -c $< -o $@
$(ARM64_BUILD)/libtether-bridge.a: $(ARM64_BRIDGE_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
build/tether-bridge-arm64: $(ARM64_BRIDGE_OBJS) $(ARM64_BUILD)/libtether-bridge.a
	$(ARM64_CC) $(ARM64_LDFLAGS) -o $@ $(ARM64_BRIDGE_OBJS) $(ARM64_BUILD)/libtether-bridge.a \
	    $(BRIDGE_STATIC_LIBS)

# The WebSocket tests run against both session backends.
$(BUILD)/tests/test_ws_builtin: tests/unit/test_ws.c tests/unit/test.h $(BRIDGE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(BRIDGE_LIB) \
	    -lmbedtls -lmbedx509 -lmbedcrypto $(shell pkg-config --libs libuv jansson) -lhttp_parser $(LDFLAGS_ALL)
tests: $(BUILD)/tests/test_ws_builtin
# So do the sealed-packet tests: AES-GCM has one implementation per backend.
$(BUILD)/tests/test_bridge_seal_builtin: tests/unit/test_bridge_seal.c tests/unit/test.h $(BRIDGE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(BRIDGE_LIB) \
	    -lmbedtls -lmbedx509 -lmbedcrypto $(shell pkg-config --libs libuv jansson) -lhttp_parser $(LDFLAGS_ALL)
tests: $(BUILD)/tests/test_bridge_seal_builtin

# libFuzzer harnesses: clang only. The library is compiled once for them
# (sanitizers plus fuzzer coverage, no fuzzer main) into two archives, one
# per backend set, and each harness links against the one it needs.
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -g -O1 -fno-omit-frame-pointer
FUZZ_OBJ_CFLAGS := $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined
FUZZ_CFLAGS := $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined
FUZZ_LIB := build/fuzz/libtether.a
FUZZ_BRIDGE_LIB := build/fuzz/libtether-bridge.a
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_OBJ_CFLAGS) -MMD -MP -c $< -o $@
$(FUZZ_LIB): $(LIB_SRCS:%.c=build/fuzz/obj/%.o)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_BRIDGE_LIB): $(BRIDGE_LIB_SRCS:%.c=build/fuzz/obj/%.o)
	rm -f $@ && ar rcs $@ $^
fuzz: $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%)
build/fuzz/%: fuzz/%.c $(FUZZ_LIB)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) $(PKG_LIBS)
# The built-in WebSocket codec is fuzzed through the bridge's backends.
build/fuzz/fuzz_ws_builtin: fuzz/fuzz_ws_frames.c $(FUZZ_BRIDGE_LIB)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_BRIDGE_LIB) -lmbedtls -lmbedx509 -lmbedcrypto \
	    $(shell pkg-config --libs libuv jansson) -lhttp_parser
fuzz: build/fuzz/fuzz_ws_builtin

check:
	scripts/test

bench:
	bench/run

FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(BRIDGE_LIB_OBJS:.o=.d) $(BRIDGE_OBJS:.o=.d) \
         $(ARM64_BRIDGE_LIB_OBJS:.o=.d) $(ARM64_BRIDGE_OBJS:.o=.d) \
         $(wildcard build/fuzz/obj/src/*/*.d)

# Benchmarks (not part of the tests): bench/run builds and runs them.
.PHONY: bench-build
bench-build: build/bench/events_bench
build/bench/events_bench: bench/events_bench.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(PKG_LIBS) -lhiredis $(LDFLAGS_ALL)
