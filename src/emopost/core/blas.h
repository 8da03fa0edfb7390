#pragma once
// Which BLAS got loaded: the fact about the process that decides CPU speed most.
#include <string>

namespace emopost {

// The BLAS shared library mapped into this process (from /proc/self/maps), e.g.
// "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3", or "" if none is mapped.
std::string loaded_blas();

// True when the loaded BLAS is Debian's reference implementation (about 30x slower in fp32).
bool blas_is_reference(const std::string& path);

// A one-line description for start-up logs, with a warning when the reference BLAS is in use.
std::string blas_report();

// True when the CPU computes bf16 natively (avx512_bf16 or AMX). Without it oneDNN emulates bf16,
// which is slower than fp32: measured 3x slower for training on an AVX-512 Xeon without avx512_bf16.
bool cpu_has_native_bf16();

}  // namespace emopost
