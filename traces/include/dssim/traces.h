// dssim_traces: import of recorded timelines (PyTorch profiler / Kineto, Chrome/Perfetto JSON,
// dssim's own traces), kernel classification by a data rule table, and replay of a timeline
// on another device with its streams, dependencies and overlap kept (docs/replay.md).
#pragma once

#include "dssim/traces/replay.h"
#include "dssim/traces/report.h"
#include "dssim/traces/rules.h"
#include "dssim/traces/trace.h"
