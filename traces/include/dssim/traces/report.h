// What a replay (or a diff of two traces) reports: span, time per kernel category, compute
// and communication busy time, exposed communication, overlap ratio, critical path and the
// kernels whose time changed most; written as report.md, report.html (with an SVG timeline of
// both sides, one row per stream, coloured by category), report.json and a re-timed Chrome
// trace. All output is deterministic text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dssim/traces/replay.h"

namespace dssim::traces {

struct TimelineMetrics {
    Ns span = 0;
    std::vector<Ns> category_time;  // summed kernel time per category
    std::vector<int64_t> category_count;
    Ns compute_busy = 0;                     // union of compute-class kernels
    Ns comm_busy = 0;                        // union of communication-class kernels
    Ns exposed_comm = 0;                     // communication time with no compute running
    double overlap_ratio = 0;                // share of communication time hidden under compute
    std::vector<uint32_t> critical_path;     // kernel indices, first to last
    Ns critical_length = 0;                  // span of the path (its first start to last end)
    std::vector<Ns> critical_category_time;  // kernel time on the path per category
};

TimelineMetrics measure(const Trace& trace,
                        const Classification& cls,
                        const RuleTable& rules,
                        const Schedule& schedule);

// One side of a comparison.
struct Side {
    std::string label;  // "h800 (recorded)", "h100 (replayed)", file name ...
    const Trace* trace = nullptr;
    Classification cls;
    Schedule schedule;
    TimelineMetrics metrics;
};

struct KernelChange {
    uint32_t before = 0;  // kernel index in the before trace
    uint32_t after = 0;   // kernel index in the after trace
    Ns before_dur = 0;
    Ns after_dur = 0;
};

struct Comparison {
    std::string title;
    const RuleTable* rules = nullptr;
    Side before;
    Side after;
    std::vector<KernelChange> top_changes;  // the ten largest |after - before|
    int64_t matched = 0;                    // kernels paired between the two sides
    std::vector<std::string> notes;         // scaling bases, dependency counts, warnings
};

// Pairs kernels of the two sides (the k-th occurrence of a name with the k-th, in recorded
// start order) and fills top_changes and matched.
void match_kernels(Comparison& c, size_t top = 10);

std::string report_markdown(const Comparison& c);
std::string report_html(const Comparison& c);
std::string report_json(const Comparison& c);
// SVG timeline of both sides (one row per stream, coloured by category).
std::string timeline_svg(const Comparison& c);
// The side's timeline as Chrome trace-event JSON: one process per trace process, one thread
// per stream, cat = kernel category, args = recorded start and duration; `deps` adds flow
// arrows for the cross-stream dependencies.
std::string chrome_trace(const Side& s, const RuleTable& rules, const Dependencies* deps = nullptr);

}  // namespace dssim::traces
