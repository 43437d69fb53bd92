// Public header of dssim_models: what a DeepSeek model is (config, checkpoint tensors, op
// graph), independent of how it is executed or timed.
#pragma once

#include "dssim/models/model_config.h"      // IWYU pragma: export
#include "dssim/models/safetensors.h"       // IWYU pragma: export
#include "dssim/models/synth.h"             // IWYU pragma: export
#include "dssim/models/tensor_inventory.h"  // IWYU pragma: export
