#include "emopost/core/blas.h"

#include <filesystem>
#include <fstream>

namespace emopost {

std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    auto name = std::filesystem::path(path).filename().string();
    if (name.rfind("libblas.so", 0) == 0 || name.rfind("libopenblas", 0) == 0 ||
        name.rfind("libmkl_rt", 0) == 0 || name.rfind("libblis", 0) == 0)
      return std::filesystem::weakly_canonical(path).string();
  }
  return "";
}

bool blas_is_reference(const std::string& path) {
  // Debian's reference BLAS lives in .../blas/libblas.so.3; OpenBLAS, BLIS and MKL elsewhere.
  return path.find("/blas/libblas.so") != std::string::npos;
}

std::string blas_report() {
  std::string path = loaded_blas();
  if (path.empty()) return "BLAS: none mapped (libtorch may use its own kernels)";
  if (blas_is_reference(path))
    return "BLAS: " + path +
           " is the REFERENCE BLAS: fp32 matmuls run ~30x slower; run scripts/install-deps "
           "(libopenblas0-openmp)";
  return "BLAS: " + path;
}

bool cpu_has_native_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("flags", 0) == 0)
      return line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
  return false;
}

}  // namespace emopost
