// Public header of dssim_reference: the bit-exact DeepSeek reference runtime (runtime.h), its
// MoE gate (gate.h), token sampling (sampling.h) and the TensorSink interface through which it
// hands out every intermediate tensor (tensor_sink.h).
#pragma once

#include "dssim/reference/gate.h"
#include "dssim/reference/runtime.h"
#include "dssim/reference/sampling.h"
#include "dssim/reference/tensor_sink.h"
