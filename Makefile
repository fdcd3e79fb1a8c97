# The two README commands, and a few more for developers.
#   make run    install what is missing, build (release), run loom serve on its demo site
#   make test   install what is missing, build (debug, ASan+UBSan), run every test
.PHONY: run test build build-debug fuzz fuzz-run bench-hpack bench-serve bench-proxy bench-client bench-pageload soak format check-format install clean

BUILD_DIR   ?= build
DEBUG_DIR   ?= build-debug
FUZZ_DIR    ?= build-fuzz
PREFIX      ?= /usr/local
FUZZ_SECONDS ?= 60
BENCH_DIR   ?= build-bench
HPACK_TEST_CASE ?= tests/data/hpack-test-case
BENCH_FLAGS ?=

# the main job: the server on its built-in demo site (Ctrl-C stops it gracefully)
run: build
	./$(BUILD_DIR)/loom --version
	./$(BUILD_DIR)/loom serve

build:
	@tools/deps.sh build
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_TESTS=OFF >/dev/null
	cmake --build $(BUILD_DIR)

build-debug:
	@tools/deps.sh test
	cmake -S . -B $(DEBUG_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLOOM_SANITIZE=ON >/dev/null
	cmake --build $(DEBUG_DIR)

test: build-debug
	cd $(DEBUG_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j2

# libFuzzer harnesses (clang): builds every fuzz/*.c; `make fuzz-run
# FUZZ_SECONDS=600` runs each for that long on its corpus. (`make test`
# runs each for 20 s too: the fuzz_smoke_* tests, LOOM_FUZZ_SMOKE_SECONDS.)
fuzz:
	@tools/deps.sh fuzz
	CC=clang cmake -S fuzz -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(FUZZ_DIR)

fuzz-run: fuzz
	@for h in $(FUZZ_DIR)/fuzz_*; do \
		name=$${h##*/fuzz_}; mkdir -p fuzz/out/$$name; \
		echo "== $$name ($(FUZZ_SECONDS) s)"; \
		$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 fuzz/out/$$name fuzz/corpus/$$name || exit 1; \
	done

# HPACK against libnghttp2 on the hpack-test-case stories (release build,
# -O2, no sanitizers): timing side by side, then callgrind's instruction
# counts per field of each side. BENCH_FLAGS=--quick for a short run.
bench-hpack:
	@tools/deps.sh bench
	cmake -S bench -B $(BENCH_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BENCH_DIR)
	./$(BENCH_DIR)/bench_hpack $(BENCH_FLAGS) $(HPACK_TEST_CASE)
	bench/callgrind.sh ./$(BENCH_DIR)/bench_hpack $(HPACK_TEST_CASE) $(BENCH_DIR)

# loom serve against h2o, nghttpd and nginx (one worker each on core 1, h2load
# on core 0, TLS 1.3): server CPU per request (A 1 KiB TLS, B h2c, E with 20
# headers), 1 MiB MB/s (C), 500-connection req/s (D), HPACK savings, memory per
# idle connection, loom's mallocs per request (bench/malloc_count.c, built with
# cc at run time); the last line is the summary. BENCH_FLAGS: --requests N
# --rounds R --idle K --only A,B,C,D,E,idle,mallocs --servers loom,h2o,...
bench-serve: build
	@tools/deps.sh bench
	/usr/bin/python3 bench/serve.py ./$(BUILD_DIR)/loom $(BENCH_FLAGS)

# loom serve --proxy against nghttpx, h2o, HAProxy and nginx as reverse proxies
# in front of one nginx backend (HTTP/1.1 keep-alive): one worker each on core
# 1, h2load and the backend on core 0, TLS 1.3: proxy CPU per 100k requests
# and req/s for 1 KiB (-c 16 -m 32), MB/s and peak RSS of a 100 MiB download;
# the last line is the summary. About 1 minute (2-4 on a busy machine).
# BENCH_FLAGS: --requests N (100000; 20000 for a quick run) --rounds R
# --big-rounds R --proxies loom,nghttpx,h2o,haproxy,nginx --only small,big
# --perf SECONDS (perf record on loom).
bench-proxy: build
	@tools/deps.sh bench
	/usr/bin/python3 bench/proxy.py ./$(BUILD_DIR)/loom $(BENCH_FLAGS)

# loom bench against h2load, loading h2o (one core each): client CPU per request
bench-client: build
	@tools/deps.sh bench
	/usr/bin/python3 bench/client.py ./$(BUILD_DIR)/loom $(BENCH_FLAGS)

# A page over HTTP/2 on one connection against HTTP/1.1 on six and on one:
# loom bench --page (its relay emulating the RTT and rate) loading loom serve's
# demo site and a page shaped like a real site (bench/pagegen.py, 81 resources,
# 2.2 MB), RTT 0-200 ms at 10 and 100 Mbit/s, 3 loads per mode; then h2 against
# h2o and nginx serving the same files. Markdown tables (also in
# build-bench/pageload.md), the chart docs/pageload.svg; the last line is the
# summary. About 12 minutes. BENCH_FLAGS: --quick (about a minute) --loads N
# --rtts 0,20,50,100,200 --rates 10,100 --sites demo,real --servers h2o,nginx
bench-pageload: build
	@tools/deps.sh bench
	/usr/bin/python3 bench/pageload.py ./$(BUILD_DIR)/loom $(BENCH_FLAGS)

# SOAK_MINUTES (30) of normal load and every attack of tests/attacks, round
# after round, against one loom serve built with ASan: memory over time,
# load errors, and LeakSanitizer's verdict at the end.
SOAK_MINUTES ?= 30
soak: build build-debug
	/usr/bin/python3 tests/attacks/soak.py ./$(DEBUG_DIR)/loom ./$(BUILD_DIR)/loom --minutes $(SOAK_MINUTES)

format:
	git ls-files '*.c' '*.h' | grep -v '_table\.c$$' | xargs clang-format -i

check-format:
	git ls-files '*.c' '*.h' | grep -v '_table\.c$$' | xargs clang-format --dry-run -Werror

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR) $(DEBUG_DIR) $(FUZZ_DIR) $(BENCH_DIR) build-clang
