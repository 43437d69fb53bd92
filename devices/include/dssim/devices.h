// Public header of dssim_devices: device and system configs with sourced figures, calibration
// data, and per-op cost models (docs/devices.md).
#pragma once

#include "dssim/devices/calibration.h"
#include "dssim/devices/cost_model.h"
#include "dssim/devices/device_spec.h"
#include "dssim/devices/quantity.h"
#include "dssim/devices/system_spec.h"
