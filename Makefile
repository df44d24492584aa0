# tether build. `make` builds build/tether; `make SAN=1` builds an ASan+UBSan
# copy under build/san/; `make check` runs the whole test suite; `make fuzz`
# builds the libFuzzer harnesses; docs/build.md explains the layout.

CC ?= cc
SAN ?= 0
BUILD ?= build
ifeq ($(SAN),1)
BUILD := build/san
endif

PKGS := libuv jansson openssl
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

# Backends named *_mbedtls.c belong to the static bridge build only.
LIB_SRCS := $(filter-out %_mbedtls.c,$(sort $(wildcard src/core/*.c src/net/*.c src/aws/*.c src/events/*.c src/bridge/*.c src/dev/*.c)))
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
LIB := $(BUILD)/libtether.a

.PHONY: all tests check fuzz bench format format-check clean
all: $(BUILD)/tether tests

tests: $(TEST_BINS)

$(BUILD)/obj/%.o: %.c
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

# libFuzzer harnesses: clang only, built against the library sources directly.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -g -O1 \
               -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
fuzz: $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%)
build/fuzz/%: fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(PKG_LIBS)

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

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
