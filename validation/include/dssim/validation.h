// Public header of dssim_validation: DeepSeek's published H800 figures as data
// (configs/validation), the deployments they were measured in (configs/deployments), the
// predictions dssim makes for them (devices CostModel for kernels, the simulator for systems)
// and the runner behind `dssim validate` (docs/validation.md).
#pragma once

#include "dssim/validation/case.h"
#include "dssim/validation/deployment.h"
#include "dssim/validation/predict.h"
#include "dssim/validation/runner.h"
#include "dssim/validation/training.h"
