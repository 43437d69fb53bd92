// Public header of dssim_numerics: number formats and exact conversions.
#pragma once

#include "dssim/numerics/formats.h"
