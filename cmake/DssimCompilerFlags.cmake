# Compiler flags shared by every target, and the strict floating-point contract of the
# reference layers (docs/numerics.md): no FMA contraction, no fast-math, no -march=native.
find_program(DSSIM_CCACHE ccache)
if(DSSIM_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${DSSIM_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${DSSIM_CCACHE})
endif()

add_library(dssim_warnings INTERFACE)
target_compile_options(dssim_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow=local
                                                -Wno-missing-field-initializers)
if(DSSIM_FATAL_WARNINGS)
  target_compile_options(dssim_warnings INTERFACE -Werror)
endif()

# Applied to every target that computes numbers the reference promises bit for bit.
add_library(dssim_strict_fp INTERFACE)
target_compile_options(dssim_strict_fp INTERFACE -ffp-contract=off -fno-fast-math
                                                 -fno-unsafe-math-optimizations)

if(DSSIM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
# ThreadSanitizer for the thread pool, the read-ahead thread and the sweep's shared plan cache
# (preset tsan; ASan and TSan cannot be combined).
if(DSSIM_TSAN)
  if(DSSIM_SANITIZE)
    message(FATAL_ERROR "DSSIM_TSAN and DSSIM_SANITIZE cannot be combined")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
