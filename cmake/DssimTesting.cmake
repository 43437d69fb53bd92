# Test helpers. Tiers are ctest labels: unit, golden, regression, slow (docs/testing in README).
#
# dssim_add_doctest(<name> SOURCES ... [LIBS ...] [LABELS ...] [PER_CASE])
#   Builds a doctest executable. PER_CASE registers every TEST_CASE as its own ctest test
#   (one process per case), which SystemC tests need: one elaboration per process.
#
# dssim_add_cli_test(<name> [EXIT <code>] [MATCH <regex>] [NO_MATCH <regex>] [LABELS ...]
#                    [NO_FILE <path>] ARGS <dssim arguments...>)
#   Runs the dssim executable, checks its exit code, that stdout+stderr match MATCH and not
#   NO_MATCH, and that NO_FILE was not left behind.
include_guard(GLOBAL)

# doctest_discover_tests (PER_CASE) lives in doctest's own CMake module.
if(NOT COMMAND doctest_discover_tests)
  include(${doctest_DIR}/doctest.cmake)
endif()

add_library(dssim_doctest_main STATIC ${CMAKE_SOURCE_DIR}/tests/doctest_main.cpp)
target_link_libraries(dssim_doctest_main PUBLIC doctest::doctest)

function(dssim_add_doctest name)
  cmake_parse_arguments(ARG "PER_CASE" "" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE dssim_doctest_main ${ARG_LIBS} dssim_warnings)
  target_compile_definitions(${name} PRIVATE
    DSSIM_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    DSSIM_BINARY_DIR="${CMAKE_BINARY_DIR}"
    DSSIM_EXE="$<TARGET_FILE:dssim>")
  if(ARG_PER_CASE)
    doctest_discover_tests(${name}
      TEST_PREFIX "${name}:"
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
      PROPERTIES LABELS "${ARG_LABELS}")
  else()
    add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

function(dssim_add_cli_test name)
  cmake_parse_arguments(ARG "" "EXIT;MATCH;NO_MATCH;NO_FILE" "ARGS;LABELS" ${ARGN})
  if(NOT DEFINED ARG_EXIT)
    set(ARG_EXIT 0)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS regression)
  endif()
  string(REPLACE ";" "\\;" escaped_args "${ARG_ARGS}")
  add_test(NAME cli:${name}
    COMMAND ${CMAKE_COMMAND}
      -DDSSIM_EXE=$<TARGET_FILE:dssim>
      "-DARGS=${escaped_args}"
      -DEXPECT_EXIT=${ARG_EXIT}
      "-DMATCH=${ARG_MATCH}"
      "-DNO_MATCH=${ARG_NO_MATCH}"
      "-DNO_FILE=${ARG_NO_FILE}"
      -P ${CMAKE_SOURCE_DIR}/cmake/run_cli_test.cmake
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli:${name} PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
