// Version strings written into every output so a file says what made it.
#pragma once

namespace dssim {

// Semantic version of the dssim project (CMake project version).
const char* version();
// Version of the numerics specification in docs/numerics.md. Bump it whenever a kernel's
// reduction order or rounding points change, since golden files depend on it.
const char* numerics_spec_version();

}  // namespace dssim
