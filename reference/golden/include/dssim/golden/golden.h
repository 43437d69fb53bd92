// dssim_golden public header: golden HDF5 files (writer, reader), candidate readers
// (HDF5, safetensors, .npy, .npz) and the comparison engine behind `dssim check`.
#pragma once

#include "dssim/golden/compare.h"
#include "dssim/golden/golden_reader.h"
#include "dssim/golden/golden_writer.h"
#include "dssim/golden/tensor.h"
