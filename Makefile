# The two commands of the README. Both install what is missing first, so they work on a fresh
# Debian 12 machine.
BUILD ?= build/release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: demo test build deps bench clean

# The main job: the web page and JSON API on the shipped models (http://127.0.0.1:$(PORT)/).
PORT ?= 8080
demo: build
	$(BUILD)/emopost serve --models models --port $(PORT)

test: build
	cd $(BUILD) && OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS)

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

bench: build
	scripts/run-benchmarks

clean:
	rm -rf $(BUILD)
