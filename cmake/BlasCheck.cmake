# Which BLAS will libtorch get at run time? Debian picks it through the alternatives system, and the
# reference BLAS makes fp32 about 30x slower, so say it loudly at configure time.
set(_blas_link /usr/lib/x86_64-linux-gnu/libblas.so.3)
if(EXISTS ${_blas_link})
  get_filename_component(_blas_real ${_blas_link} REALPATH)
  if(_blas_real MATCHES "/blas/libblas")
    message(WARNING "BLAS: ${_blas_real} is the reference BLAS (fp32 ~30x slower). "
                    "Run scripts/install-deps to install libopenblas0-openmp.")
  else()
    message(STATUS "BLAS: ${_blas_real}")
  endif()
endif()
