# The two commands of the README. Both install what is missing first, so they work on a fresh
# Debian 12 machine.
BUILD ?= build/release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: demo test sanitize tsan build deps bench clean

# The main job: the web page and JSON API on the shipped models (http://127.0.0.1:$(PORT)/).
PORT ?= 8080
demo: build
	$(BUILD)/emopost serve --models models --port $(PORT)

test: build sanitize tsan
	cd $(BUILD) && OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS)

# ASan + UBSan over the suites that need no torch (the tokenizer and text reading, safetensors and
# configs, image decoding, faces, data sets, metrics, fusion, base64, errors, the worker, the HTTP
# server and the Telegram bot over stand-in readers) and the fuzz corpora: the parsers of untrusted bytes. The torch
# suites stay out: an instrumented libtorch is not packaged, and building them twice would double CI.
SANITIZE_BUILD ?= build/sanitize
SANITIZE_TESTS = test_worker test_tokenizer test_safetensors test_config test_preprocess test_datasets \
  test_metrics test_normalize test_faces test_fusion test_base64 test_errors test_server test_bot bot_harness test_report \
  replay_fuzz_safetensors replay_fuzz_config replay_fuzz_text replay_fuzz_image replay_fuzz_json \
  replay_fuzz_request replay_fuzz_jsonl
# Each name must match a test (scripts/ctest-suites fails otherwise).
SANITIZE_SUITES = Align Augment Base64 CarerTest DatasetLabelCountsTest Datasets ErrorTable Faces Fer2013Test \
  FerPlusTest LabelledFacesTest Fusion GoEmotionsTest HfConfig LabelledJsonlTest MetricsTest Normalize OffsetsTest \
  Preprocess RecipeTest Safetensors Spelling Tokenizer Worker ServerTest MicroBatcher ServerStartup ServerReport Bot \
  ReportFigures XedTest fuzz_corpus_
TSAN_SUITES = ServerTest MicroBatcher ServerStartup ServerReport Worker Bot
sanitize: deps
	cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMOPOST_SANITIZE=ON \
	  -DEMOPOST_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target $(SANITIZE_TESTS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  scripts/ctest-suites $(SANITIZE_BUILD) $(JOBS) $(SANITIZE_SUITES)

# ThreadSanitizer over the threaded code without torch: the HTTP server and its deadlines, the
# micro-batcher, the worker, the Telegram bot (libtorch's OpenMP pool is not instrumented, so its
# suites stay out).
TSAN_BUILD ?= build/tsan
tsan: deps
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMOPOST_TSAN=ON \
	  -DEMOPOST_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_server test_worker test_bot bot_harness
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  scripts/ctest-suites $(TSAN_BUILD) $(JOBS) $(TSAN_SUITES)

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

bench: build
	scripts/run-benchmarks

clean:
	rm -rf $(BUILD)
