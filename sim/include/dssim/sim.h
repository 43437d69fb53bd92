// Public header of dssim_sim: the SystemC simulator of DeepSeek steps on device models
// (docs/simulator.md). simulate() runs one prefill or decode step and returns metrics;
// trace_json()/write_trace() give its timeline for Perfetto; analytic_simulate() is the fast
// estimate sweeps use.
#pragma once

#include "dssim/sim/analytic.h"
#include "dssim/sim/simulate.h"
#include "dssim/sim/topology.h"
