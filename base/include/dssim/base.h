// Public header of dssim_base: errors, atomic output files, typed JSON access, deterministic
// parallel loops, SHA-256 and progress reporting. Every other layer builds on these.
#pragma once

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/base/gzip.h"
#include "dssim/base/json_reader.h"
#include "dssim/base/parallel.h"
#include "dssim/base/paths.h"
#include "dssim/base/progress.h"
#include "dssim/base/sha256.h"
#include "dssim/base/version.h"
