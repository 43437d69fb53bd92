// Chrome trace-event JSON (the format Perfetto and chrome://tracing read): one process per
// device, one thread per stream, complete ("X") events named by the op graph's stable names,
// and flow events ("s"/"f") for communication. Timestamps are microseconds printed exactly
// from integer picoseconds, so the file is byte-identical on rerun.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>

#include "dssim/base/atomic_file.h"
#include "dssim/sim/simulate.h"

namespace dssim::sim {

namespace {

// Picoseconds as microseconds with six decimals (exact).
void put_us(std::string& out, int64_t ps) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%" PRId64 ".%06" PRId64, ps / 1000000, ps % 1000000);
    out += buf;
}

void put_str(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

}  // namespace

std::string trace_json(const SimResult& r) {
    std::string out;
    out.reserve(r.timeline.size() * 160 + 4096);
    out += "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"model\":";
    put_str(out, r.model);
    out += ",\"device\":";
    put_str(out, r.device);
    out += ",\"system\":";
    put_str(out, r.system);
    out += ",\"mode\":";
    put_str(out, mode_name(r.mode));
    out += "},\"traceEvents\":[\n";
    bool first = true;
    auto sep = [&] {
        if (!first) out += ",\n";
        first = false;
    };
    std::set<int64_t> devices;
    for (const auto& e : r.timeline)
        devices.insert(e.device);
    for (int64_t d : devices) {
        const std::string pid = std::to_string(d);
        sep();
        out += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + pid +
               ",\"tid\":0,\"args\":{\"name\":\"device " + pid + "\"}}";
        sep();
        out += "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" + pid +
               ",\"tid\":0,\"args\":{\"sort_index\":" + pid + "}}";
        sep();
        out += "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + pid +
               ",\"tid\":0,\"args\":{\"name\":\"compute\"}}";
        sep();
        out += "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + pid +
               ",\"tid\":1,\"args\":{\"name\":\"communication\"}}";
    }
    for (const auto& e : r.timeline) {
        sep();
        out += "{\"name\":";
        put_str(out, e.name);
        out += ",\"cat\":";
        put_str(out, models::op_kind_name(e.kind));
        out += ",\"ph\":\"X\",\"pid\":" + std::to_string(e.device) +
               ",\"tid\":" + std::to_string(e.stream) + ",\"ts\":";
        put_us(out, e.start_ps);
        out += ",\"dur\":";
        put_us(out, e.end_ps - e.start_ps);
        out += ",\"args\":{\"micro_batch\":" + std::to_string(e.micro_batch);
        char buf[160];
        if (e.stream == 0) {
            std::snprintf(buf, sizeof buf,
                          ",\"flops\":%.0f,\"hbm_bytes\":%.0f,\"compute_us\":%.3f,"
                          "\"memory_us\":%.3f",
                          e.flops, e.bytes, e.compute_us, e.memory_us);
        } else {
            std::snprintf(buf, sizeof buf, ",\"bytes_sent\":%.0f", e.bytes);
        }
        out += buf;
        out += ",\"bound\":";
        put_str(out, e.bound);
        out += "}}";
    }
    int64_t id = 0;
    for (const auto& f : r.flows) {
        const TimelineEntry& a = r.timeline[f.from];
        const TimelineEntry& b = r.timeline[f.to];
        const std::string name = f.bytes > 0 ? "transfer" : "data ready";
        ++id;
        sep();
        out += "{\"name\":\"" + name +
               "\",\"cat\":\"communication\",\"ph\":\"s\",\"id\":" + std::to_string(id) +
               ",\"pid\":" + std::to_string(a.device) + ",\"tid\":" + std::to_string(a.stream) +
               ",\"ts\":";
        put_us(out, std::clamp(f.from_ps, a.start_ps, a.end_ps));
        if (f.bytes > 0) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "%.0f", f.bytes);
            out += ",\"args\":{\"bytes\":";
            out += buf;
            out += "}";
        }
        out += "}";
        sep();
        out +=
            "{\"name\":\"" + name +
            "\",\"cat\":\"communication\",\"ph\":\"f\",\"bp\":\"e\",\"id\":" + std::to_string(id) +
            ",\"pid\":" + std::to_string(b.device) + ",\"tid\":" + std::to_string(b.stream) +
            ",\"ts\":";
        put_us(out, std::clamp(f.to_ps, b.start_ps, b.end_ps));
        out += "}";
    }
    out += "\n]}\n";
    return out;
}

void write_trace(const SimResult& r, const std::string& path) {
    write_file_atomic(path, trace_json(r));
}

}  // namespace dssim::sim
