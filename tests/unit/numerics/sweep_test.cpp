// Dense FP32 sweep (label slow): every 61st FP32 bit pattern (about 70 million, all binades and
// both signs) and every FP32 subnormal, each encoded into BF16, FP16, E4M3 and E5M2 under both
// overflow policies and into UE8M0 and INT8, compared with the reference of format_reference.h.
// The unit test runs the same checks on a sparser sweep.
#include <doctest/doctest.h>

#include "format_reference.h"

using dssim::numerics::testref::sweep_fp32;

TEST_CASE("reference twin: dense FP32 sweep") {
    CHECK(sweep_fp32(61, 1) > (uint64_t{1} << 26));
}
