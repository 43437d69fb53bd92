// Streaming Chrome trace-event importer: a SAX handler keeps one event's scalar fields at a
// time and turns device events into compact Kernel records. Which events are device work:
//   * Kineto traces: cat "kernel", "gpu_memcpy", "gpu_memset" (host categories are counted);
//   * any other trace (Perfetto JSON, dssim's simulator): every complete "X" event and every
//     matched "B"/"E" pair, pid = device, tid = stream.
// Flow events ("s"/"f"/"t") are bound to the kernels enclosing their timestamps after the
// whole file is read; a flow whose ends are both kernels is an explicit dependency.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ios>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "dssim/base/error.h"
#include "dssim/base/gzip.h"
#include "dssim/traces/trace.h"

namespace dssim::traces {

uint32_t StringPool::intern(std::string_view s) {
    auto it = index_.find(std::string(s));
    if (it != index_.end()) return it->second;
    auto id = static_cast<uint32_t>(strings_.size());
    strings_.emplace_back(s);
    index_.emplace(strings_.back(), id);
    return id;
}

int64_t ImportStats::warning_count() const {
    int64_t n = 0;
    for (const auto& [kind, count] : warnings)
        n += count;
    return n;
}

Ns Trace::begin_time() const {
    Ns t = kernels.empty() ? 0 : kernels.front().start;
    for (const Kernel& k : kernels)
        t = std::min(t, k.start);
    return t;
}

Ns Trace::end_time() const {
    Ns t = kernels.empty() ? 0 : kernels.front().end();
    for (const Kernel& k : kernels)
        t = std::max(t, k.end());
    return t;
}

bool parse_us_to_ns(std::string_view text, Ns& out) {
    // Decimal text -> integer digits and a power of ten, then scaled by 1000 (us -> ns).
    // Digits beyond what an int64 holds are dropped (far below a nanosecond).
    size_t i = 0;
    bool negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
    int64_t mantissa = 0;
    int exponent = 0;
    bool any = false;
    bool dot = false;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            any = true;
            if (mantissa <= (INT64_MAX - 9) / 10) {
                mantissa = mantissa * 10 + (c - '0');
                if (dot) --exponent;
            } else if (!dot) {
                ++exponent;  // an insignificant digit of a huge integer part
            }
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (!any) return false;
    if (i < text.size()) {
        if (text[i] != 'e' && text[i] != 'E') return false;
        ++i;
        if (i < text.size() && text[i] == '+') ++i;
        int e = 0;
        auto [p, ec] = std::from_chars(text.data() + i, text.data() + text.size(), e);
        if (ec != std::errc() || p != text.data() + text.size()) return false;
        if (e < -60) e = -60;  // rounds to 0 below
        if (e > 60) e = 60;    // overflows below unless the mantissa is 0
        exponent += e;
    }
    exponent += 3;  // microseconds -> nanoseconds
    if (exponent >= 0) {
        for (int k = 0; k < exponent && mantissa != 0; ++k) {
            if (mantissa > INT64_MAX / 10) return false;
            mantissa *= 10;
        }
    } else {
        for (int k = 0; k < -exponent && mantissa != 0; ++k) {
            int64_t q = mantissa / 10;
            int64_t r = mantissa % 10;
            // Round half away from zero at the last step only.
            mantissa = (k == -exponent - 1 && r >= 5) ? q + 1 : q;
        }
    }
    out = negative ? -mantissa : mantissa;
    return true;
}

namespace {

enum class Role : uint8_t {
    Root,         // before the first container
    RootObject,   // {"traceEvents": [...], ...}
    Events,       // the event array
    Event,        // one event object
    Args,         // event.args
    ArgsArray,    // event.args.grid / block
    DeviceProps,  // deviceProperties array
    DeviceProp,   // one entry
    Distributed,  // distributedInfo
    OtherData,    // otherData (dssim)
    Skip,         // anything we do not read
};

// Device-side categories of the PyTorch profiler and host-side ones (counted, not stored).
bool is_kineto_device_cat(std::string_view c) {
    return c == "kernel" || c == "gpu_memcpy" || c == "gpu_memset";
}
bool is_kineto_host_cat(std::string_view c) {
    return c == "cpu_op" || c == "cuda_runtime" || c == "cuda_driver" || c == "user_annotation" ||
           c == "gpu_user_annotation" || c == "python_function" || c == "Trace" ||
           c == "cpu_instant_event" || c == "overhead" || c == "Runtime" || c == "Kernel" ||
           c == "Memcpy" || c == "Memset" || c == "ac2g" || c == "fwdbwd";
}

struct RawEvent {
    std::string name, cat, ph, bp, pid, tid, id, args_name;
    std::string ts_text, dur_text;
    bool has_ts = false, has_dur = false, has_pid = false, has_tid = false, has_id = false;
    int64_t correlation = -1;
    std::array<int32_t, 3> grid{0, 0, 0}, block{0, 0, 0};
    double bytes = -1, flops = -1;
    void reset() {
        name.clear(), cat.clear(), ph.clear(), bp.clear(), pid.clear(), tid.clear(), id.clear();
        args_name.clear(), ts_text.clear(), dur_text.clear();
        has_ts = has_dur = has_pid = has_tid = has_id = false;
        correlation = -1;
        grid = {0, 0, 0}, block = {0, 0, 0};
        bytes = flops = -1;
    }
};

struct PendingFlow {
    uint32_t stream;
    Ns ts;
    bool start;      // "s" (producer) or "f"/"t" (consumer)
    bool enclosing;  // bind to the enclosing slice (bp "e", or any "s"/"t")
    std::string id;
    size_t order;
};

struct Candidate {
    Kernel k;
    size_t order;  // file order, breaks ties deterministically
    bool kineto_device;
};

class Handler : public nlohmann::json_sax<nlohmann::json> {
  public:
    explicit Handler(Trace& t) : t_(t) {}

    // --- scalars -------------------------------------------------------------------------
    bool null() override { return scalar(Value{}); }
    bool boolean(bool) override { return scalar(Value{}); }
    bool number_integer(number_integer_t v) override {
        Value x;
        x.kind = Value::Number;
        x.text = std::to_string(v);
        x.number = static_cast<double>(v);
        return scalar(x);
    }
    bool number_unsigned(number_unsigned_t v) override {
        Value x;
        x.kind = Value::Number;
        x.text = std::to_string(v);
        x.number = static_cast<double>(v);
        return scalar(x);
    }
    bool number_float(number_float_t v, const string_t& s) override {
        Value x;
        x.kind = Value::Number;
        x.text = s;
        x.number = v;
        return scalar(x);
    }
    bool string(string_t& s) override {
        Value x;
        x.kind = Value::String;
        x.text = std::move(s);
        return scalar(x);
    }
    bool binary(binary_t&) override { return scalar(Value{}); }

    // --- containers ----------------------------------------------------------------------
    bool start_object(std::size_t) override { return open(true); }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(false); }
    bool end_array() override { return close(); }
    bool key(string_t& k) override {
        key_ = std::move(k);
        return true;
    }
    bool parse_error(std::size_t position,
                     const std::string&,
                     const nlohmann::detail::exception& ex) override {
        std::string what = ex.what();
        // nlohmann prefixes "[json.exception.parse_error.101] parse error at line 1, ..."
        if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
        throw_input_error(t_.origin, "byte " + std::to_string(position),
                          "malformed JSON (" + what + ")");
    }

    void finish();

  private:
    struct Value {
        enum Kind { Other, Number, String } kind = Other;
        std::string text;
        double number = 0;
    };
    struct Frame {
        Role role;
        bool object;
        int index = 0;    // array element counter (ArgsArray)
        std::string key;  // key under which this container sits (ArgsArray: grid/block)
    };

    Role role() const { return stack_.empty() ? Role::Root : stack_.back().role; }

    bool open(bool object) {
        Role parent = role();
        Role r = Role::Skip;
        switch (parent) {
            case Role::Root:
                if (object) {
                    r = Role::RootObject;
                } else {
                    r = Role::Events;
                    saw_events_ = true;
                }
                break;
            case Role::RootObject:
                if (key_ == "traceEvents" && !object) {
                    r = Role::Events;
                    saw_events_ = true;
                } else if (key_ == "deviceProperties" && !object) {
                    r = Role::DeviceProps;
                } else if (key_ == "distributedInfo" && object) {
                    r = Role::Distributed;
                } else if (key_ == "otherData" && object) {
                    r = Role::OtherData;
                }
                break;
            case Role::Events:
                if (object) {
                    r = Role::Event;
                    ev_.reset();
                } else {
                    warn("event is not an object (skipped)");
                }
                break;
            case Role::Event:
                if (key_ == "args" && object) r = Role::Args;
                break;
            case Role::Args:
                if (!object && (key_ == "grid" || key_ == "block")) r = Role::ArgsArray;
                break;
            case Role::DeviceProps:
                if (object) r = Role::DeviceProp;
                break;
            default:
                break;
        }
        if (parent == Role::Root && stack_.empty() && started_) {
            throw_input_error(t_.origin, "root", "more than one top-level value");
        }
        started_ = true;
        stack_.push_back(Frame{r, object, 0, key_});
        return true;
    }

    bool close() {
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        if (f.role == Role::Event) end_event();
        if (!stack_.empty() && stack_.back().role == Role::Events && f.role != Role::Event) {
            // a non-object entry of the event array was already counted in open()
        }
        return true;
    }

    bool scalar(const Value& v) {
        switch (role()) {
            case Role::Root:
                throw_input_error(t_.origin, "root",
                                  "expected a trace object or an event array, got a scalar");
            case Role::Events:
                warn("event is not an object (skipped)");
                break;
            case Role::Event:
                event_field(v);
                break;
            case Role::Args:
                args_field(v);
                break;
            case Role::ArgsArray: {
                Frame& f = stack_.back();
                if (v.kind == Value::Number && f.index < 3) {
                    double x = v.number;
                    int32_t n = (x >= 0 && x < 2.1e9) ? static_cast<int32_t>(x) : 0;
                    (f.key == "grid" ? ev_.grid : ev_.block)[static_cast<size_t>(f.index)] = n;
                }
                ++f.index;
                break;
            }
            case Role::RootObject:
                if (key_ == "traceName" && v.kind == Value::String) t_.info.trace_name = v.text;
                break;
            case Role::DeviceProp:
                if (key_ == "name" && v.kind == Value::String && t_.info.device_name.empty())
                    t_.info.device_name = v.text;
                break;
            case Role::Distributed:
                if (key_ == "world_size" && v.kind == Value::Number && v.number >= 1 &&
                    v.number < 1e9)
                    t_.info.world_size = static_cast<int64_t>(v.number);
                break;
            case Role::OtherData:
                if (key_ == "device" && v.kind == Value::String) {
                    t_.info.device_name = v.text;
                    dssim_ = true;
                }
                break;
            default:
                break;
        }
        return true;
    }

    static std::string text_of(const Value& v) { return v.text; }

    void event_field(const Value& v) {
        const std::string& k = key_;
        if (k == "name") {
            if (v.kind == Value::String) ev_.name = v.text;
        } else if (k == "cat") {
            if (v.kind == Value::String) ev_.cat = v.text;
        } else if (k == "ph") {
            if (v.kind == Value::String) ev_.ph = v.text;
        } else if (k == "bp") {
            if (v.kind == Value::String) ev_.bp = v.text;
        } else if (k == "pid") {
            if (v.kind != Value::Other) ev_.pid = v.text, ev_.has_pid = true;
        } else if (k == "tid") {
            if (v.kind != Value::Other) ev_.tid = v.text, ev_.has_tid = true;
        } else if (k == "id") {
            if (v.kind != Value::Other) ev_.id = v.text, ev_.has_id = true;
        } else if (k == "ts") {
            if (v.kind == Value::Number) {
                ev_.ts_text = v.text;
                ev_.has_ts = true;
            } else {
                warn("ts is not a number (event skipped)");
                ev_.ph = "?";
            }
        } else if (k == "dur") {
            if (v.kind == Value::Number) {
                ev_.dur_text = v.text;
                ev_.has_dur = true;
            } else {
                warn("dur is not a number (event skipped)");
                ev_.ph = "?";
            }
        }
    }

    void args_field(const Value& v) {
        const std::string& k = key_;
        if (v.kind == Value::Number) {
            if (k == "correlation") {
                if (v.number >= 0 && v.number < 9e18)
                    ev_.correlation = static_cast<int64_t>(v.number);
            } else if (k == "bytes") {
                if (v.number >= 0 && std::isfinite(v.number)) ev_.bytes = v.number;
            } else if (k == "flops") {
                if (v.number >= 0 && std::isfinite(v.number)) ev_.flops = v.number;
            }
        } else if (v.kind == Value::String && k == "name") {
            ev_.args_name = v.text;
        }
    }

    uint32_t stream_of(const std::string& pid, const std::string& tid) {
        std::string key = pid;
        key += '\x1f';
        key += tid;
        auto it = stream_index_.find(key);
        if (it != stream_index_.end()) return it->second;
        auto id = static_cast<uint32_t>(t_.streams.size());
        t_.streams.push_back(Stream{pid, tid, ""});
        stream_index_.emplace(std::move(key), id);
        return id;
    }

    void end_event();
    void add_device_event(Ns ts, Ns dur);

    void warn(const std::string& kind) { ++t_.stats.warnings[kind]; }

    Trace& t_;
    std::vector<Frame> stack_;
    std::string key_;
    RawEvent ev_;
    bool started_ = false;
    bool saw_events_ = false;
    bool dssim_ = false;
    bool kineto_ = false;  // saw a Kineto device category
    size_t order_ = 0;
    std::unordered_map<std::string, uint32_t> stream_index_;
    std::map<std::pair<std::string, std::string>, std::string> thread_names_;
    std::vector<Candidate> candidates_;
    std::vector<PendingFlow> flows_;
    // Open "B" events per stream: name, cat, ts and the args seen at B.
    struct Open {
        RawEvent ev;
        Ns ts;
    };
    std::unordered_map<uint32_t, std::vector<Open>> open_;

  public:
    bool saw_events() const { return saw_events_; }
};

void Handler::add_device_event(Ns ts, Ns dur) {
    Candidate c;
    c.order = order_++;
    c.kineto_device = is_kineto_device_cat(ev_.cat);
    if (c.kineto_device) kineto_ = true;
    Kernel& k = c.k;
    k.name = t_.strings.intern(ev_.name.empty() ? std::string("<unnamed>") : ev_.name);
    if (ev_.name.empty()) warn("event without a name (named <unnamed>)");
    k.source_cat = t_.strings.intern(ev_.cat);
    k.stream = stream_of(ev_.pid, ev_.tid);
    k.start = ts;
    if (dur < 0) {
        warn("negative duration (set to 0)");
        dur = 0;
    }
    k.dur = dur;
    k.correlation = ev_.correlation;
    for (size_t i = 0; i < 3; ++i) {
        k.grid[i] = ev_.grid[i];
        k.block[i] = ev_.block[i];
    }
    k.bytes = ev_.bytes;
    k.flops = ev_.flops;
    candidates_.push_back(c);
}

void Handler::end_event() {
    ++t_.stats.events;
    const std::string& ph = ev_.ph;
    if (ph == "M") {
        ++t_.stats.metadata;
        if (ev_.name == "thread_name" && !ev_.args_name.empty())
            thread_names_[{ev_.pid, ev_.tid}] = ev_.args_name;
        return;
    }
    if (ph == "?") return;  // already warned
    if (ph.empty()) {
        warn("event without ph (skipped)");
        return;
    }
    if (ev_.cat == "cuda_runtime" && ev_.name == "cudaStreamWaitEvent") ++t_.stats.stream_waits;
    const bool host = is_kineto_host_cat(ev_.cat);
    if (ph == "s" || ph == "f" || ph == "t") {
        ++t_.stats.flows;
        if (!ev_.has_ts || !ev_.has_id) {
            warn("flow event without ts or id (skipped)");
            return;
        }
        Ns ts = 0;
        if (!parse_us_to_ns(ev_.ts_text, ts)) {
            warn("flow timestamp out of range (skipped)");
            return;
        }
        if (ev_.cat == "ac2g" || ev_.cat == "fwdbwd") return;  // host -> device launch links
        PendingFlow f{stream_of(ev_.pid, ev_.tid), ts,     ph == "s",
                      ph != "f" || ev_.bp == "e",  ev_.id, order_++};
        flows_.push_back(std::move(f));
        return;
    }
    if (ph != "X" && ph != "B" && ph != "E") {
        ++t_.stats.host_events;  // instant, counter, async ... events are not device work
        return;
    }
    if (host) {
        ++t_.stats.host_events;
        return;
    }
    if (!ev_.has_ts) {
        warn("event without ts (skipped)");
        return;
    }
    Ns ts = 0;
    if (!parse_us_to_ns(ev_.ts_text, ts)) {
        warn("timestamp out of range (event skipped)");
        return;
    }
    if (!ev_.has_pid) ev_.pid = "0";
    if (!ev_.has_tid) ev_.tid = "0";
    if (ph == "X") {
        if (!ev_.has_dur) {
            warn("complete event without dur (skipped)");
            return;
        }
        Ns dur = 0;
        if (!parse_us_to_ns(ev_.dur_text, dur)) {
            warn("duration out of range (event skipped)");
            return;
        }
        add_device_event(ts, dur);
        return;
    }
    uint32_t s = stream_of(ev_.pid, ev_.tid);
    if (ph == "B") {
        open_[s].push_back(Open{ev_, ts});
        return;
    }
    // "E": closes the innermost open "B" of the same thread.
    auto it = open_.find(s);
    if (it == open_.end() || it->second.empty()) {
        warn("E event without a matching B (skipped)");
        return;
    }
    Open o = std::move(it->second.back());
    it->second.pop_back();
    ev_ = std::move(o.ev);
    add_device_event(o.ts, ts - o.ts);
}

void Handler::finish() {
    for (auto& [s, stack] : open_)
        if (!stack.empty())
            t_.stats.warnings["B event never closed (skipped)"] +=
                static_cast<int64_t>(stack.size());

    t_.info.format = kineto_ ? "kineto" : dssim_ ? "dssim" : "chrome";
    // Kineto traces: only GPU categories are device work; other X events are host-side.
    std::vector<Candidate> kept;
    kept.reserve(candidates_.size());
    for (Candidate& c : candidates_) {
        if (kineto_ && !c.kineto_device) {
            ++t_.stats.host_events;
            continue;
        }
        kept.push_back(c);
    }
    candidates_.clear();
    candidates_.shrink_to_fit();

    // Unsorted input is legal JSON; count it per stream, then sort.
    std::vector<Ns> last(t_.streams.size(), INT64_MIN);
    int64_t unsorted = 0;
    for (const Candidate& c : kept) {
        if (c.k.start < last[c.k.stream]) ++unsorted;
        last[c.k.stream] = std::max(last[c.k.stream], c.k.start);
    }
    if (unsorted > 0)
        t_.stats.warnings["events out of time order on their stream (sorted)"] += unsorted;
    std::sort(kept.begin(), kept.end(), [](const Candidate& a, const Candidate& b) {
        if (a.k.stream != b.k.stream) return a.k.stream < b.k.stream;
        if (a.k.start != b.k.start) return a.k.start < b.k.start;
        return a.order < b.order;
    });

    // Drop streams that hold no device work (host threads seen only through flows), keeping
    // first-appearance order for the rest.
    std::vector<int64_t> remap(t_.streams.size(), -1);
    std::vector<Stream> streams;
    for (const Candidate& c : kept) {
        if (remap[c.k.stream] < 0) {
            remap[c.k.stream] = static_cast<int64_t>(streams.size());
            streams.push_back(t_.streams[c.k.stream]);
        }
    }
    t_.kernels.reserve(kept.size());
    for (Candidate& c : kept) {
        c.k.stream = static_cast<uint32_t>(remap[c.k.stream]);
        t_.kernels.push_back(c.k);
    }
    kept.clear();
    kept.shrink_to_fit();
    // Re-sort by the new stream index (a stable permutation of whole streams).
    std::stable_sort(t_.kernels.begin(), t_.kernels.end(),
                     [](const Kernel& a, const Kernel& b) { return a.stream < b.stream; });
    for (Stream& s : streams) {
        auto it = thread_names_.find({s.process, s.thread});
        s.label = it != thread_names_.end() ? it->second : s.process + "/" + s.thread;
        while (!s.label.empty() && s.label.back() == ' ')
            s.label.pop_back();
    }

    // Overlaps on one stream (a stream runs one kernel at a time) are recorded as is.
    for (size_t i = 1; i < t_.kernels.size(); ++i) {
        const Kernel& a = t_.kernels[i - 1];
        const Kernel& b = t_.kernels[i];
        if (a.stream == b.stream && b.start < a.end())
            ++t_.stats.warnings["kernels overlapping on one stream (kept)"];
    }
    t_.stats.kernels = static_cast<int64_t>(t_.kernels.size());

    // Bind flows: per stream, the kernel whose [start, end] holds ts ("enclosing") or the
    // first kernel starting at or after ts (Chrome's "next slice" binding for "f").
    std::vector<size_t> first(streams.size() + 1, t_.kernels.size());
    for (size_t i = t_.kernels.size(); i-- > 0;)
        first[t_.kernels[i].stream] = i;
    std::vector<size_t> stream_end(streams.size(), 0);
    for (size_t i = 0; i < t_.kernels.size(); ++i)
        stream_end[t_.kernels[i].stream] = i + 1;
    auto bind = [&](const PendingFlow& f) -> std::optional<size_t> {
        if (remap[f.stream] < 0) return std::nullopt;
        auto s = static_cast<size_t>(remap[f.stream]);
        auto lo = t_.kernels.begin() + static_cast<std::ptrdiff_t>(first[s]);
        auto hi = t_.kernels.begin() + static_cast<std::ptrdiff_t>(stream_end[s]);
        auto it =
            std::upper_bound(lo, hi, f.ts, [](Ns ts, const Kernel& k) { return ts < k.start; });
        if (f.enclosing) {
            if (it == lo) return std::nullopt;
            auto prev = std::prev(it);
            if (f.ts <= prev->end()) return static_cast<size_t>(prev - t_.kernels.begin());
            return std::nullopt;
        }
        if (it != lo && std::prev(it)->start == f.ts) it = std::prev(it);
        if (it == hi) return std::nullopt;
        return static_cast<size_t>(it - t_.kernels.begin());
    };
    std::stable_sort(flows_.begin(), flows_.end(), [](const PendingFlow& a, const PendingFlow& b) {
        return a.id != b.id ? a.id < b.id : a.order < b.order;
    });
    for (size_t i = 0; i < flows_.size();) {
        size_t j = i;
        while (j < flows_.size() && flows_[j].id == flows_[i].id)
            ++j;
        // Chain s -> t -> ... -> f in file order.
        std::optional<size_t> prev;
        for (size_t k = i; k < j; ++k) {
            std::optional<size_t> here = bind(flows_[k]);
            if (prev && here && *prev != *here) {
                t_.flow_edges.push_back(FlowEdge{*prev, *here});
            }
            prev = here;
        }
        i = j;
    }
    std::sort(t_.flow_edges.begin(), t_.flow_edges.end(), [](const FlowEdge& a, const FlowEdge& b) {
        return a.from != b.from ? a.from < b.from : a.to < b.to;
    });
    t_.flow_edges.erase(std::unique(t_.flow_edges.begin(), t_.flow_edges.end(),
                                    [](const FlowEdge& a, const FlowEdge& b) {
                                        return a.from == b.from && a.to == b.to;
                                    }),
                        t_.flow_edges.end());
    t_.stats.flow_edges = static_cast<int64_t>(t_.flow_edges.size());
    t_.streams = std::move(streams);

    if (!saw_events_) throw_input_error(t_.origin, "traceEvents", "no traceEvents array");
    if (t_.kernels.empty())
        throw_input_error(t_.origin, "traceEvents", "no device events (X, or B/E pairs) found");
}

template <typename Input>
Trace run_import(Input&& input, std::string_view origin) {
    Trace t;
    t.origin = std::string(origin);
    Handler h(t);
    bool ok = false;
    try {
        ok = nlohmann::json::sax_parse(std::forward<Input>(input), &h);
    } catch (const InputError&) {
        throw;
    } catch (const nlohmann::json::exception& e) {
        throw_input_error(t.origin, "", std::string("malformed JSON (") + e.what() + ")");
    }
    if (!ok) throw_input_error(t.origin, "", "malformed JSON");
    h.finish();
    return t;
}

}  // namespace

Trace import_trace_text(std::string_view text, std::string_view origin) {
    return run_import(text, origin);
}

Trace import_trace_file(const std::filesystem::path& path) {
    // Plain or gzip-compressed JSON (.json.gz, as Perfetto and `dssim simulate --trace` write
    // it); a directory or an unreadable file is an InputError naming it (exit 2).
    FileReader reader(path);
    try {
        return run_import(reader.stream(), path.string());
    } catch (const InputError&) {
        throw;
    } catch (const std::ios_base::failure& e) {
        throw_input_error(path.string(), "", std::string("cannot read the trace: ") + e.what());
    }
}

}  // namespace dssim::traces
