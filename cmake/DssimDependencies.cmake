# Every dependency is a Debian package found on the system; nothing is vendored or downloaded.
# scripts/setup.sh installs them.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS graph)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SYSTEMC REQUIRED IMPORTED_TARGET systemc)
if(DSSIM_BUILD_TESTS)
  find_package(doctest REQUIRED)
endif()

# Debian's libsystemc is built as C++17; the ABI check symbol must match (see DEVELOPERS notes).
add_library(dssim_systemc INTERFACE)
target_link_libraries(dssim_systemc INTERFACE PkgConfig::SYSTEMC)
target_compile_definitions(dssim_systemc INTERFACE SC_CPLUSPLUS=201703L
                                                   SC_INCLUDE_DYNAMIC_PROCESSES)
