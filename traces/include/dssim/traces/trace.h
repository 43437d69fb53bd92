// A recorded device timeline in compact form, and the streaming importer that builds it from
// Chrome trace-event JSON (PyTorch profiler / Kineto, Perfetto's JSON dialect, dssim's own
// simulator traces). Only device work is kept, one small record per kernel; host events are
// counted, not stored, so a 1 GB trace never becomes 1 GB of parsed objects (the importer is a
// SAX handler over nlohmann::json::sax_parse). Times are integer nanoseconds: Kineto
// timestamps are epoch microseconds (~1.7e15), beyond what a double holds to 1 ns, so the
// importer reads the number's text, not its double value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dssim::traces {

using Ns = int64_t;  // nanoseconds

// Interned strings: kernel names repeat thousands of times in a trace.
class StringPool {
  public:
    uint32_t intern(std::string_view s);
    [[nodiscard]] const std::string& at(uint32_t id) const { return strings_[id]; }
    [[nodiscard]] size_t size() const { return strings_.size(); }

  private:
    std::vector<std::string> strings_;
    std::unordered_map<std::string, uint32_t> index_;
};

// One device stream: a (process, thread) pair of the trace. Kineto: pid = device, tid = CUDA
// stream; dssim: pid = device, tid = 0 compute / 1 communication.
struct Stream {
    std::string process;  // pid as written ("0", "device 3" ...)
    std::string thread;   // tid as written
    std::string label;    // thread_name metadata, else "pid/tid"
};

// One device kernel (or memcpy/memset, or a simulated op).
struct Kernel {
    uint32_t name = 0;        // StringPool id
    uint32_t source_cat = 0;  // StringPool id of the trace's own "cat"
    uint32_t stream = 0;      // index into Trace::streams
    Ns start = 0;
    Ns dur = 0;
    int64_t correlation = -1;  // args.correlation (Kineto), -1 when absent
    int32_t grid[3] = {0, 0, 0};
    int32_t block[3] = {0, 0, 0};
    double bytes = -1;  // args.bytes (memcpy/memset), -1 when absent
    double flops = -1;  // args.flops, -1 when absent
    [[nodiscard]] Ns end() const { return start + dur; }
};

// A flow arrow bound to two kernels (an explicit cross-stream or cross-device dependency).
struct FlowEdge {
    size_t from = 0;  // kernel index: the producer
    size_t to = 0;    // kernel index: the consumer
};

struct TraceInfo {
    std::string format;       // "kineto", "dssim" or "chrome"
    std::string device_name;  // deviceProperties[0].name or otherData.device ("" unknown)
    int64_t world_size = 0;   // distributedInfo.world_size (0 unknown)
    std::string trace_name;   // traceName
};

// What the importer saw; warnings are counted by kind and never abort the import.
struct ImportStats {
    int64_t events = 0;                       // trace events read
    int64_t kernels = 0;                      // device events kept
    int64_t host_events = 0;                  // CPU-side events (counted, not stored)
    int64_t flows = 0;                        // flow endpoints read
    int64_t flow_edges = 0;                   // flows bound to two kernels
    int64_t metadata = 0;                     // "M" events
    int64_t stream_waits = 0;                 // cudaStreamWaitEvent calls (Kineto)
    std::map<std::string, int64_t> warnings;  // kind -> count
    [[nodiscard]] int64_t warning_count() const;
};

struct Trace {
    std::string origin;  // file path or a caller's label
    TraceInfo info;
    StringPool strings;
    std::vector<Stream> streams;
    std::vector<Kernel> kernels;  // sorted by (stream, start, file order)
    std::vector<FlowEdge> flow_edges;
    ImportStats stats;

    [[nodiscard]] const std::string& name_of(const Kernel& k) const { return strings.at(k.name); }
    [[nodiscard]] Ns begin_time() const;  // earliest start
    [[nodiscard]] Ns end_time() const;    // latest end
};

// Imports a trace file (streamed). Malformed or truncated JSON, a root that is neither an
// object nor an array, a missing traceEvents array or a trace without device events throw
// InputError naming the file; per-event problems (missing ts, negative dur, unmatched B/E,
// events out of order) are counted in stats.warnings.
Trace import_trace_file(const std::filesystem::path& path);
// Same from text already in memory (tests, fuzzing); `origin` names it in errors.
Trace import_trace_text(std::string_view text, std::string_view origin);

// Parses a JSON number's text as microseconds into nanoseconds (rounded half away from zero).
// Returns false for text that is not a finite number in the int64 nanosecond range.
bool parse_us_to_ns(std::string_view text, Ns& out);

}  // namespace dssim::traces
