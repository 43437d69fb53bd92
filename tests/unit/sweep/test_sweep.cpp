// Unit tests of dssim_sweep (docs/studies.md): study files (every field, named errors), grid
// and list expansion, the journal behind --resume, identity of the outputs for any thread or
// rank count (ranks are threads talking through an in-process Transport), and the writers.
#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <exception>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/sweep.h"

namespace fs = std::filesystem;
using namespace dssim;
using namespace dssim::sweep;

namespace {

// The small study of the regression tests, as text we can mutate.
const char* kSmall = R"({"schema": "dssim-study/1", "name": "small", "question": "q",
 "model": "deepseek-v3", "device": "h800", "baseline_device": "h800",
 "deployment": {"devices": 16, "ep": 16, "batch": 8},
 "workload": {"phase": "decode", "context": 2048, "tpot_slo_ms": 50},
 "axes": [{"param": "device", "values": ["h800", "h20"]},
          {"param": "device.memory.bandwidth", "factors": [0.5, 1, 2]}]})";

Study parse(const std::string& text) {
    return parse_study(parse_json_text(text, "study.json"), "study.json");
}

// Parses `text` after replacing `from` by `to`; returns the InputError message ("" if none).
std::string error_of(std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    text.replace(at, from.size(), to);
    try {
        (void)parse(text);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

fs::path scratch(const std::string& name) {
    const fs::path p = fs::path(DSSIM_BINARY_DIR) / "test_sweep" / name;
    fs::remove_all(p);
    return p;
}

// name -> bytes of every file in a directory.
std::map<std::string, std::string> files_of(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out[e.path().filename().string()] = read_file(e.path());
    return out;
}

// Ranks as threads: gather/broadcast through shared slots and a barrier.
struct Hub {
    explicit Hub(int n) : sync(n), slots(static_cast<size_t>(n)) {}
    std::barrier<> sync;
    std::vector<std::string> slots;
    std::string shared;
};
class ThreadTransport final : public Transport {
  public:
    ThreadTransport(Hub& hub, int rank) : hub_(hub), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return static_cast<int>(hub_.slots.size()); }
    std::vector<std::string> gather(const std::string& mine) override {
        hub_.slots[static_cast<size_t>(rank_)] = mine;
        hub_.sync.arrive_and_wait();
        std::vector<std::string> out;
        if (rank_ == 0) out = hub_.slots;
        hub_.sync.arrive_and_wait();
        return out;
    }
    std::string broadcast(const std::string& text) override {
        if (rank_ == 0) hub_.shared = text;
        hub_.sync.arrive_and_wait();
        std::string out = hub_.shared;
        hub_.sync.arrive_and_wait();
        return out;
    }

  private:
    Hub& hub_;
    int rank_;
};

// Runs body(transport) on `n` rank threads; returns each rank's exception (nullptr: none).
std::vector<std::exception_ptr> on_ranks(int n, const std::function<void(Transport&)>& body) {
    Hub hub(n);
    std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
    std::vector<std::thread> threads;
    for (int r = 0; r < n; ++r) {
        threads.emplace_back([&, r] {
            ThreadTransport t(hub, r);
            try {
                body(t);
            } catch (...) {
                errors[static_cast<size_t>(r)] = std::current_exception();
            }
        });
    }
    for (auto& th : threads)
        th.join();
    return errors;
}

std::string what(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    }
    return "";
}

// A decode point's identity and verdict; each test fills in the figures it checks.
PointResult decode_point(int64_t index,
                         std::vector<std::string> labels,
                         const std::string& device,
                         bool feasible) {
    PointResult r;
    r.index = index;
    r.labels = std::move(labels);
    r.device = device;
    r.phase = "decode";
    r.fits = feasible;
    r.meets_slo = feasible;
    return r;
}

// A point of kSmall's deployment and workload (16 devices, EP16, batch 8, context 2048).
PointResult small_point(int64_t index,
                        std::vector<std::string> labels,
                        const std::string& device,
                        bool feasible) {
    PointResult r = decode_point(index, std::move(labels), device, feasible);
    r.devices = 16;
    r.tp = 1;
    r.ep = 16;
    r.dp = 16;
    r.batch = 8;
    r.context = 2048;
    return r;
}

// Sweep options of one rank writing `dir`.
SweepOptions rank_options(const fs::path& dir, Transport& t) {
    SweepOptions o;
    o.out_dir = dir.string();
    o.transport = &t;
    return o;
}

}  // namespace

TEST_CASE("study: every field is read") {
    const Study st = parse(R"({"schema": "dssim-study/1", "name": "all", "question": "why?",
      "model": "deepseek-v3", "device": "h20", "fp8": "int8", "baseline_device": "h100",
      "answer": "min_devices",
      "deployment": {"devices": 32, "ep": 16, "tp": 2, "dp": 4, "micro_batches": 1,
                     "redundant_experts": 32, "batch": 3, "batch_candidates": [1, 2, 4]},
      "workload": {"phase": "prefill", "input_len": 2048, "context": 100, "mtp": true,
                   "gemm": "bf16", "output_len": 512, "tpot_slo_ms": 40, "ttft_slo_ms": 900}})");
    CHECK(st.file == "study.json");
    CHECK(st.name == "all");
    CHECK(st.question == "why?");
    CHECK(st.model == "deepseek-v3");
    CHECK(st.baseline_device == "h100");
    CHECK(st.answer == "min_devices");
    CHECK(st.output_len == 512);
    CHECK(st.tpot_slo_ms == 40.0);
    CHECK(st.ttft_slo_ms == 900.0);
    CHECK(st.axes.empty());
    REQUIRE(st.points.size() == 1);  // no axes: the base point
    const PointSpec& p = st.points[0];
    CHECK(p.device == "h20");
    CHECK(p.fp8 == devices::Fp8Mode::Int8);
    CHECK(p.deployment.devices == 32);
    CHECK(p.deployment.ep == 16);
    CHECK(p.deployment.tp == 2);
    CHECK(p.deployment.dp == 4);
    CHECK(p.deployment.micro_batches == 1);
    CHECK(parse(kSmall).points[0].deployment.micro_batches == 0);  // auto by default
    CHECK(error_of(kSmall, "\"batch\": 8", "\"batch\": 8, \"micro_batches\": 0") == "");
    CHECK(p.deployment.redundant_experts == 32);
    CHECK(p.workload.batch == 3);
    CHECK(p.batch_candidates == std::vector<int64_t>{1, 2, 4});
    CHECK(p.workload.phase == models::Phase::Prefill);
    CHECK(p.workload.input_len == 2048);
    CHECK(p.workload.context == 100);
    CHECK(p.workload.mtp);
    CHECK(p.workload.gemm == models::GemmMode::Bf16);
    CHECK(p.tpot_slo_ms == 40.0);
    CHECK(p.ttft_slo_ms == 900.0);
    CHECK(p.labels.empty());
    // Defaults.
    const Study d = parse(kSmall);
    CHECK(d.answer == "max_throughput");
    CHECK(d.points[0].fp8 == devices::Fp8Mode::Auto);
    CHECK(d.output_len == 0);
    CHECK_FALSE(d.ttft_slo_ms.has_value());
}

TEST_CASE("study: bad files name the file and the field") {
    struct Case {
        const char* from;
        const char* to;
        const char* expect;
    };
    const Case cases[] = {
        {"\"dssim-study/1\"", "\"dssim-study/9\"", "study.json: schema:"},
        {"\"name\": \"small\", ", "", "name"},
        {"\"model\": \"deepseek-v3\", ", "", "model"},
        {"\"device\": \"h800\", ", "", "device"},
        {"\"question\": \"q\"", "\"question\": \"q\", \"answer\": \"most\"", "answer"},
        {"\"question\": \"q\"", "\"question\": \"q\", \"fp8\": \"fp4\"", "fp8:"},
        {"\"question\": \"q\"", "\"question\": \"q\", \"colour\": 1", "colour"},
        {"\"devices\": 16", "\"devices\": 0", "deployment.devices: must be positive"},
        {"\"devices\": 16", "\"devices\": 1.5", "deployment.devices: expected an integer"},
        {"\"batch\": 8", "\"batch\": 8, \"micro_batches\": 3", "deployment.micro_batches"},
        {"\"batch\": 8", "\"batch\": 8, \"batch_candidates\": []", "deployment.batch_candidates"},
        {"\"batch\": 8", "\"batch\": 8, \"nodes\": 2", "nodes"},
        {"\"phase\": \"decode\"", "\"phase\": \"train\"", "workload.phase"},
        {"\"context\": 2048", "\"context\": -1", "workload.context"},
        {"\"context\": 2048", "\"context\": 2048, \"input_len\": 0", "workload.input_len"},
        {"\"context\": 2048", "\"context\": 2048, \"gemm\": \"fp4\"", "workload.gemm"},
        {"\"context\": 2048", "\"context\": 2048, \"mtp\": 1", "workload.mtp"},
        {"\"tpot_slo_ms\": 50", "\"tpot_slo_ms\": 0", "workload.tpot_slo_ms"},
        {"\"tpot_slo_ms\": 50", "\"tpot_slo_ms\": 50, \"output_len\": -2", "workload.output_len"},
        {"\"values\": [\"h800\", \"h20\"]", "\"values\": [\"h800\", \"nosuch\"]", "axes"},
        {"\"values\": [\"h800\", \"h20\"]", "\"values\": [\"h800\", 3]", "axes[0].values[1]"},
        {"\"values\": [\"h800\", \"h20\"]", "\"values\": []", "axes[0].values"},
        {"\"values\": [\"h800\", \"h20\"]", "\"values\": [\"h800\"], \"factors\": [1]",
         "axes[0].values"},
        {"\"factors\": [0.5, 1, 2]", "\"factors\": [0.5, -1, 2]", "axes[1].factors[1]"},
        {"\"device.memory.bandwidth\"", "\"device.memory.speed\"", "device.memory.speed"},
        {"\"param\": \"device\"", "\"param\": \"weather\"", "axes[0].values[0]: unknown parameter"},
        {"{\"param\": \"device\", \"values\": [\"h800\", \"h20\"]}",
         "{\"param\": \"workload.phase\", \"factors\": [1]}", "axes[0].factors[0]: factors apply"},
        {"\"axes\": [", "\"points\": [{}], \"axes\": [", "points"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.to);
        const std::string msg = error_of(kSmall, c.from, c.to);
        CHECK(msg.find("study.json") == 0);
        CHECK(msg.find(c.expect) != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
    }
    // Not JSON at all, or not an object.
    CHECK_THROWS_AS(parse("[1, 2]"), InputError);
    CHECK_THROWS_AS(load_study("no-such-study"), InputError);
    // Explicit list: a bad entry names its index and parameter.
    const std::string list = R"({"schema": "dssim-study/1", "name": "l", "question": "q",
      "model": "deepseek-v3", "device": "h800", "deployment": {"devices": 16},
      "workload": {"phase": "decode"}, "points": [{"device": "h20"}, {"fp8": {"scale": 2}}]})";
    CHECK(error_of(list, "", "").find("points[1].fp8") != std::string::npos);
}

TEST_CASE("study: grid expansion, first axis outermost, factors and values") {
    const Study st = parse(R"({"schema": "dssim-study/1", "name": "g", "question": "q",
      "model": "deepseek-v3", "device": "h800", "deployment": {"devices": 16, "batch": 4},
      "workload": {"phase": "decode", "context": 1024},
      "axes": [{"param": "device", "values": ["h800", "h20"]},
               {"param": "deployment.batch", "values": [1, 8, 32]},
               {"param": "device.memory.capacity", "values": [96]},
               {"param": "device.scale_up.bandwidth_per_direction", "factors": [0.5, 2]}]})");
    REQUIRE(st.axes.size() == 4);
    CHECK(st.axes[3].factor);
    CHECK_FALSE(st.axes[1].factor);
    REQUIRE(st.points.size() == 2 * 3 * 1 * 2);
    const PointSpec& p = st.points[7];  // h20 (1), batch 1 (0), 96 (0), x2 (1)
    CHECK(p.labels == std::vector<std::string>{"h20", "1", "96", "x2"});
    CHECK(p.device == "h20");
    CHECK(p.workload.batch == 1);
    REQUIRE(p.device_values.size() == 1);
    CHECK(p.device_values[0] == std::pair<std::string, double>{"memory.capacity", 96});
    REQUIRE(p.device_factors.size() == 1);
    CHECK(p.device_factors[0] ==
          std::pair<std::string, double>{"scale_up.bandwidth_per_direction", 2});
    CHECK(st.points[0].labels == std::vector<std::string>{"h800", "1", "96", "x0.5"});
    CHECK(st.points[11].labels == std::vector<std::string>{"h20", "32", "96", "x2"});
    // The canonical text identifies the study (journal header): same JSON, same text.
    CHECK(st.canonical == parse(st.canonical).canonical);
}

TEST_CASE("study: explicit list, columns in first-seen order, '-' where absent") {
    // Within one point the keys come in JSON object order (sorted by name).
    const Study st = parse(R"({"schema": "dssim-study/1", "name": "l", "question": "q",
      "model": "deepseek-v3", "device": "h800", "deployment": {"devices": 16, "batch": 4},
      "workload": {"phase": "decode", "gemm": "fp8", "tpot_slo_ms": 50},
      "points": [{"device": "a100", "fp8": "int8"},
                 {"workload.gemm": "bf16", "device.memory.bandwidth": {"factor": 1.5}},
                 {"workload.tpot_slo_ms": 20, "device.fp8_native": false}]})");
    REQUIRE(st.axes.size() == 6);
    CHECK(st.axes[0].param == "device");
    CHECK(st.axes[2].param == "device.memory.bandwidth");
    CHECK(st.axes[4].param == "device.fp8_native");
    CHECK(st.axes[5].param == "workload.tpot_slo_ms");
    REQUIRE(st.points.size() == 3);
    CHECK(st.points[0].labels == std::vector<std::string>{"a100", "int8", "-", "-", "-", "-"});
    CHECK(st.points[0].fp8 == devices::Fp8Mode::Int8);
    CHECK(st.points[1].labels == std::vector<std::string>{"-", "-", "x1.5", "bf16", "-", "-"});
    CHECK(st.points[1].device == "h800");
    CHECK(st.points[1].workload.gemm == models::GemmMode::Bf16);
    CHECK(st.points[1].device_factors.size() == 1);
    CHECK(st.points[2].tpot_slo_ms == 20.0);
    CHECK(st.points[0].tpot_slo_ms == 50.0);
    CHECK(st.points[2].fp8_native == false);
}

TEST_CASE("journal lines round-trip exactly; malformed lines are rejected") {
    PointResult r = small_point(12, {"h800", "x0.5", "with space"}, "h800", true);
    r.meets_slo = false;
    r.step_time_ms = 0.1 + 0.2;  // not representable in few digits
    r.tokens_per_s_per_device = 1.0 / 3.0;
    r.tpot_ms = 1e-300;
    r.ttft_ms = 0;
    r.compute_ms = 123456789.123456789;
    r.memory_ms = 2.5;
    r.exposed_comm_ms = 7;
    r.memory_gb = 79.99999999999;
    r.capacity_gb = 80;
    r.error = "";
    const std::string line = result_to_line(r);
    CHECK(line.back() == '\n');
    const PointResult b = result_from_line(line.substr(0, line.size() - 1), "j");
    CHECK(result_to_line(b) == line);
    CHECK(b.step_time_ms == r.step_time_ms);
    CHECK(b.tokens_per_s_per_device == r.tokens_per_s_per_device);
    CHECK(b.tpot_ms == r.tpot_ms);
    CHECK(b.labels == r.labels);
    CHECK(b.fits);
    CHECK_FALSE(b.meets_slo);
    // Tabs and newlines in free text cannot break the line format.
    r.error = "bad\tthing\nhere";
    const PointResult c =
        result_from_line(result_to_line(r).substr(0, result_to_line(r).size() - 1), "j");
    CHECK(c.error == "bad thing here");
    const std::string ok = line.substr(0, line.size() - 1);
    CHECK_THROWS_AS(result_from_line(ok.substr(0, ok.size() - 2), "j"), InputError);  // torn
    CHECK_THROWS_AS(result_from_line("x" + ok, "j"), InputError);
    CHECK_THROWS_AS(result_from_line("", "j"), InputError);
    std::string nan_time = ok;
    nan_time.replace(nan_time.find("0.30000000000000004"), 19, "zz");
    CHECK_THROWS_AS(result_from_line(nan_time, "j"), InputError);
}

TEST_CASE("resume: the journal's valid prefix is kept, the rest computed, bytes identical") {
    const Study st = parse(kSmall);
    const fs::path full = scratch("full"), part = scratch("part");
    SweepOptions o;
    o.out_dir = full.string();
    o.threads = 1;
    const auto all = run_sweep(st, o);
    REQUIRE(all.size() == 6);
    for (size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].index == static_cast<int64_t>(i));
        CHECK(all[i].error == "");
        CHECK(all[i].step_time_ms > 0);
    }
    const auto want = files_of(full);
    CHECK(want.count("results.csv") == 1);
    CHECK(want.count("summary.md") == 1);
    CHECK(want.count("results.h5") == 1);

    // Interrupted after 4 points: only the journal exists, with 4 lines after the header.
    o.out_dir = part.string();
    o.stop_after = 4;
    CHECK(run_sweep(st, o).size() == 4);
    CHECK_FALSE(fs::exists(part / "results.csv"));
    std::string journal = read_file(part / "points.journal");
    CHECK(std::count(journal.begin(), journal.end(), '\n') == 5);
    // Tear the last line (a crash mid-write): resume drops it and recomputes that point.
    journal.resize(journal.size() - 10);
    write_file_atomic(part / "points.journal", journal);
    o.stop_after = -1;
    o.resume = true;
    o.threads = 2;
    const auto resumed = run_sweep(st, o);
    CHECK(resumed.size() == 6);
    CHECK(files_of(part) == want);

    // Resuming a finished run recomputes nothing and rewrites the same bytes.
    CHECK(run_sweep(st, o).size() == 6);
    CHECK(files_of(part) == want);

    // Without --resume the journal starts over (same bytes in the end).
    o.resume = false;
    CHECK(run_sweep(st, o).size() == 6);
    CHECK(files_of(part) == want);

    // A journal of another study is refused, naming --resume.
    std::string other = kSmall;
    other.replace(other.find("\"context\": 2048"), 15, "\"context\": 4096");
    o.resume = true;
    try {
        (void)run_sweep(parse(other), o);
        FAIL("expected an InputError");
    } catch (const InputError& e) {
        CHECK(std::string(e.what()).find("--resume") != std::string::npos);
    }
    CHECK(files_of(part) == want);  // nothing touched
}

TEST_CASE("identity: 1 thread == 2 threads == 2 and 3 ranks (in-process transport)") {
    const Study st = parse(kSmall);
    SweepOptions o;
    o.threads = 1;
    o.out_dir = scratch("t1").string();
    (void)run_sweep(st, o);
    const auto want = files_of(o.out_dir);
    o.threads = 2;
    o.out_dir = scratch("t2").string();
    (void)run_sweep(st, o);
    CHECK(files_of(o.out_dir) == want);

    for (int ranks : {2, 3}) {
        CAPTURE(ranks);
        const fs::path dir = scratch("ranks" + std::to_string(ranks));
        std::vector<size_t> returned(static_cast<size_t>(ranks));
        const auto errors = on_ranks(ranks, [&](Transport& t) {
            SweepOptions ro = rank_options(dir, t);
            ro.threads = 1;
            returned[static_cast<size_t>(t.rank())] = run_sweep(st, ro).size();
        });
        for (const auto& e : errors)
            CHECK_FALSE(e);
        CHECK(returned[0] == 6);
        CHECK(returned[1] == 0);  // only rank 0 holds the results
        CHECK(files_of(dir) == want);

        // Ranks stop after 3 points (uneven shares), then resume: same bytes.
        const fs::path rdir = scratch("ranks-resume" + std::to_string(ranks));
        for (int64_t stop : {3, -1}) {
            const auto errs = on_ranks(ranks, [&](Transport& t) {
                SweepOptions ro = rank_options(rdir, t);
                ro.stop_after = stop;
                ro.resume = stop < 0;
                (void)run_sweep(st, ro);
            });
            for (const auto& e : errs)
                CHECK_FALSE(e);
        }
        CHECK(files_of(rdir) == want);
    }
}

TEST_CASE("ranks agree on failures: one error on rank 0, PeerFailed elsewhere, no hang") {
    // A failure on rank 1 only reaches rank 0 as an InputError naming the rank.
    auto errors = on_ranks(3, [](Transport& t) {
        (void)gather_agreed(&t, [&]() -> std::string {
            if (t.rank() == 1) throw_input_error("f.json", "x", "bad on one rank");
            return "ok";
        });
    });
    CHECK(what(errors[0]) == "rank 1: f.json: x: bad on one rank");
    CHECK_THROWS_AS(std::rethrow_exception(errors[1]), PeerFailed);
    CHECK_THROWS_AS(std::rethrow_exception(errors[2]), PeerFailed);
    // Rank 0's own exception is rethrown as it was (the same as a single process).
    errors = on_ranks(2, [](Transport& t) {
        (void)gather_agreed(&t, [&]() -> std::string {
            if (t.rank() == 0) throw std::logic_error("internal");
            throw_input_error("", "y", "later rank");
        });
    });
    CHECK_THROWS_AS(std::rethrow_exception(errors[0]), std::logic_error);
    CHECK_THROWS_AS(std::rethrow_exception(errors[1]), PeerFailed);
    // Success: rank 0 gets every rank's result in rank order, the others nothing.
    std::vector<std::vector<std::string>> got(3);
    errors = on_ranks(3, [&](Transport& t) {
        got[static_cast<size_t>(t.rank())] =
            gather_agreed(&t, [&] { return std::string("r").append(std::to_string(t.rank())); });
    });
    CHECK(got[0] == std::vector<std::string>{"r0", "r1", "r2"});
    CHECK(got[1].empty());
    // A whole sweep whose --out is unusable: rank 0 reports it, nothing is written.
    const fs::path file = scratch("not-a-dir");
    fs::create_directories(file.parent_path());
    write_file_atomic(file, "x");
    const Study st = parse(kSmall);
    errors = on_ranks(2, [&](Transport& t) { (void)run_sweep(st, rank_options(file / "out", t)); });
    CHECK(what(errors[0]).find("--out: cannot create directory") != std::string::npos);
    CHECK_THROWS_AS(std::rethrow_exception(errors[1]), PeerFailed);
}

TEST_CASE("writers: results.csv and summary.md from known results") {
    const Study st = parse(kSmall);  // axes: device, device.memory.bandwidth (factors)
    std::vector<PointResult> rs;
    auto make = [&](const std::string& dev, const std::string& f, double tput, bool slo) {
        PointResult r = small_point(static_cast<int64_t>(rs.size()), {dev, f}, dev, true);
        r.micro_batches = 1;
        r.step_time_ms = 40;
        r.tokens_per_s_per_device = tput;
        r.tpot_ms = 40;
        r.compute_ms = 10;
        r.memory_ms = 25;
        r.exposed_comm_ms = 5;
        r.memory_gb = 60.5;
        r.capacity_gb = 80;
        r.meets_slo = slo;
        rs.push_back(r);
    };
    make("h800", "x1", 200, true);
    make("h20", "x1", 100, true);
    make("h20", "x2", 300, false);
    rs.back().error = "needs \"more\", memory";
    const std::string csv = results_csv(st, rs);
    // Axis columns are axis.<param> (no duplicate `device`); figures a point does not have are
    // empty (TTFT in decode, every figure of a point that errored); `bound` names the limit.
    const std::string header =
        "index,axis.device,axis.device.memory.bandwidth,device,phase,devices,tp,ep,dp,batch,"
        "micro_batches,context,step_time_ms,tokens_per_s_per_device,relative_to_baseline,tpot_ms,"
        "ttft_ms,compute_ms,memory_ms,exposed_comm_ms,memory_gb,capacity_gb,fits,meets_slo,bound,"
        "error\n";
    CHECK(csv.rfind(header, 0) == 0);
    CHECK(csv.find("\n0,h800,x1,h800,decode,16,1,16,16,8,1,2048,40,200,1,40,,10,25,5,60.5,80,"
                   "true,true,memory,\n") != std::string::npos);
    // Relative to the baseline device at the same other labels (h800 at x1); none at x2.
    CHECK(csv.find("\n1,h20,x1,h20,decode,16,1,16,16,8,1,2048,40,100,0.5,40,,") !=
          std::string::npos);
    CHECK(csv.find("\n2,h20,x2,h20,decode,16,1,16,16,8,1,2048,,,,,,,,,,,true,false,,\"needs "
                   "\"\"more\"\", memory\"\n") != std::string::npos);

    const std::string md = summary_md(st, rs);
    CHECK(md.rfind("# small\n\n**Question.** q\n", 0) == 0);
    CHECK(md.find("3 points; TPOT SLO 50 ms") != std::string::npos);
    // The answer ignores the point that misses the SLO even though it is fastest.
    CHECK(md.find("Highest decode throughput meeting the SLO: **h800, bandwidth=x1** at 200.0 "
                  "output tokens/s per device (batch 8 per device)") != std::string::npos);
    CHECK(md.find("| point | output tokens/s/device | vs h800 | step ms | TPOT ms | batch |") !=
          std::string::npos);
    CHECK(md.find("| h20, bandwidth=x1 | 100.0 | 0.50x | 40.00 | 40.00 | 8 | 1 | memory | yes | "
                  "yes |") != std::string::npos);
    CHECK(md.find("| h20, bandwidth=x2 | error: needs \"more\", memory |") != std::string::npos);
    for (const auto& [name, svg] : plots(st, rs))
        CHECK(md.find("- [" + name + "](" + name + ")") != std::string::npos);
}

TEST_CASE("writers: min_devices answer per case") {
    const Study st = parse(R"({"schema": "dssim-study/1", "name": "cap", "question": "q",
      "model": "deepseek-v3", "device": "h800", "answer": "min_devices",
      "deployment": {"devices": 8}, "workload": {"phase": "decode", "tpot_slo_ms": 50},
      "axes": [{"param": "device", "values": ["h800", "h20"]},
               {"param": "deployment.devices", "values": [8, 16, 32]}]})");
    std::vector<PointResult> rs;
    const std::vector<std::tuple<std::string, int64_t, bool>> pts = {
        {"h800", 8, false}, {"h800", 16, true}, {"h800", 32, true},
        {"h20", 8, false},  {"h20", 16, false}, {"h20", 32, false}};
    for (const auto& [dev, n, ok] : pts) {
        PointResult r =
            decode_point(static_cast<int64_t>(rs.size()), {dev, std::to_string(n)}, dev, ok);
        r.devices = n;
        r.batch = 4;
        r.tokens_per_s_per_device = 50;
        r.tpot_ms = 30;
        r.memory_gb = 70;
        r.capacity_gb = 80;
        rs.push_back(r);
    }
    const std::string md = summary_md(st, rs);
    CHECK(md.find("| device | fewest devices | batch/device | tokens/s/device | TPOT ms | memory "
                  "GB/device | HBM GB | with fewer devices |") != std::string::npos);
    CHECK(md.find("| h800 | 16 | 4 | 50.0 | 30.00 | 70.0 | 80 | 8: does not fit (70.0 GB) |") !=
          std::string::npos);
    CHECK(md.find("| h20 | none up to 32 |") != std::string::npos);
    // The smallest count tried already works: the answer is an upper bound.
    rs[0].fits = rs[0].meets_slo = true;
    CHECK(summary_md(st, rs).find(
              "| h800 | 8 or fewer | 4 | 50.0 | 30.00 | 70.0 | 80 | not tried |") !=
          std::string::npos);
    // Fits but too slow: the reason names the TPOT.
    rs[0].meets_slo = false;
    rs[0].tpot_ms = 61.25;
    CHECK(summary_md(st, rs).find("| 8: misses the SLO (TPOT 61.2 ms) |") != std::string::npos);
}

TEST_CASE("plots: infeasible points are hollow and never on a line or the Pareto front") {
    const Study st = parse(kSmall);  // axes: device, device.memory.bandwidth
    std::vector<PointResult> rs;
    for (int i = 0; i < 2; ++i) {
        PointResult r = decode_point(i, {"h800", i == 0 ? "x1" : "x2"}, "h800", true);
        r.tokens_per_s_per_device = 100.0 * (i + 1);
        r.tpot_ms = 30;
        rs.push_back(r);
    }
    auto svg_of = [&](const std::string& name) {
        for (const auto& [n, svg] : plots(st, rs))
            if (n == name) return svg;
        FAIL("no plot " << name);
        return std::string();
    };
    const std::string axis = "throughput_vs_device_memory_bandwidth.svg";
    CHECK(svg_of(axis).find("fill=\"white\" stroke") == std::string::npos);
    CHECK(svg_of(axis).find("does not fit") == std::string::npos);
    // The faster point misses the SLO: hollow, and the series line no longer reaches it.
    rs[1].meets_slo = false;
    const std::string a = svg_of(axis);
    CHECK(a.find("fill=\"white\" stroke=\"#1f77b4\"") != std::string::npos);
    CHECK(a.find("hollow: misses the SLO or does not fit") != std::string::npos);
    const size_t al = a.find("<polyline points=\"");
    REQUIRE(al != std::string::npos);
    const std::string apts = a.substr(al, a.find('"', al + 18) - al);
    CHECK(std::count(apts.begin(), apts.end(), ',') == 1);  // the line holds the feasible point
    // Does not fit: hollow in the Pareto plot, and the front holds the fitting point only (its
    // point and the flat run to the plot's right edge: one throughput).
    rs[1].fits = false;
    const std::string p = svg_of("pareto_tpot.svg");
    CHECK(p.find("fill=\"white\" stroke=\"#1f77b4\"") != std::string::npos);
    CHECK(p.find("hollow: does not fit (not on a front)") != std::string::npos);
    const size_t line = p.find("<polyline class=\"front\" points=\"");
    REQUIRE(line != std::string::npos);
    const size_t b = line + std::string("<polyline class=\"front\" points=\"").size();
    const std::string pts = p.substr(b, p.find('"', b) - b);
    CHECK(std::count(pts.begin(), pts.end(), ',') == 2);
    const std::string y0 = pts.substr(pts.find(',') + 1, pts.find(' ') - pts.find(',') - 1);
    CHECK(pts.substr(pts.rfind(',') + 1) == y0);
    size_t rings = 0;
    for (size_t at = p.find("class=\"front-point\""); at != std::string::npos;
         at = p.find("class=\"front-point\"", at + 1))
        ++rings;
    CHECK(rings == 1);
}

// A study over both phases, as chips-head-to-head: prefill and decode throughputs count
// different tokens and must never share a series, a scale or a ranking.
TEST_CASE("plots and summary keep prefill and decode apart") {
    const Study st = parse(R"({"schema": "dssim-study/1", "name": "phases", "question": "q",
      "model": "deepseek-v3", "device": "h800", "deployment": {"devices": 16, "ep": 16},
      "workload": {"input_len": 1024, "context": 1024, "tpot_slo_ms": 50, "ttft_slo_ms": 2000},
      "axes": [{"param": "workload.phase", "values": ["prefill", "decode"]},
               {"param": "device", "values": ["h800", "h20"]}]})");
    std::vector<PointResult> rs;
    for (const char* phase : {"prefill", "decode"}) {
        for (const char* dev : {"h800", "h20"}) {
            PointResult r = small_point(static_cast<int64_t>(rs.size()), {phase, dev}, dev, true);
            r.phase = phase;
            const bool prefill = std::string(phase) == "prefill";
            // Prefill's best (5000 input tokens/s) beats decode's best (900 output tokens/s).
            r.tokens_per_s_per_device = (prefill ? 5000.0 : 900.0) / (rs.size() % 2 + 1);
            r.tpot_ms = prefill ? 0 : 40;
            r.ttft_ms = prefill ? 1500 : 0;
            r.compute_ms = 10;
            rs.push_back(r);
        }
    }
    const auto ps = plots(st, rs);
    std::vector<std::string> names;
    for (const auto& [n, svg] : ps)
        names.push_back(n);
    CHECK(names == std::vector<std::string>{"throughput_vs_device.svg", "pareto_tpot.svg",
                                            "pareto_ttft.svg", "bottleneck.svg"});
    const std::string dev = ps[0].second;
    CHECK(dev.find(">input tokens/s per device</text>") != std::string::npos);
    CHECK(dev.find(">output tokens/s per device</text>") != std::string::npos);
    CHECK(dev.find("<polyline") == std::string::npos);  // a categorical axis: bars, no lines
    CHECK(dev.find("prefill (SLO: TTFT &lt;= 2000 ms)") != std::string::npos);
    const std::string md = summary_md(st, rs);
    CHECK(md.find("Highest prefill throughput meeting the SLO: **h800** at 5000.0 input tokens/s "
                  "per device") != std::string::npos);
    CHECK(md.find("Highest decode throughput meeting the SLO: **h800** at 900.0 output tokens/s "
                  "per device") != std::string::npos);
    CHECK(md.find("## Results: prefill\n\n| point | input tokens/s/device | step ms | TTFT ms |") !=
          std::string::npos);
    CHECK(md.find("## Results: decode\n\n| point | output tokens/s/device | step ms | TPOT ms |") !=
          std::string::npos);
    const std::string csv = results_csv(st, rs);
    CHECK(csv.find("\n0,prefill,h800,h800,prefill,16,1,16,16,8,0,2048,") != std::string::npos);
}

TEST_CASE("plots: distinct colours, log scale over decades, every point drawn") {
    const char* devs[] = {"h100",         "h800",        "h200",        "h20",
                          "b200",         "a100",        "ascend-910b", "ascend-910c",
                          "ascend-950pr", "kunlun-p800", "biren-br100", "hygon-k100",
                          "metax-c500",   "mlu370-x8",   "mtt-s4000"};
    std::string values;
    for (const char* d : devs)
        values += std::string(values.empty() ? "" : ", ") + "\"" + d + "\"";
    const Study st = parse(std::string(R"({"schema": "dssim-study/1", "name": "many",
      "question": "q", "model": "deepseek-v3", "device": "h800",
      "deployment": {"devices": 16, "ep": 16}, "workload": {"phase": "decode",
      "tpot_slo_ms": 50}, "axes": [{"param": "device", "values": [)") +
                           values + R"(]}, {"param": "deployment.batch", "values": [1, 2, 4,
      8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]}]})");
    std::vector<PointResult> rs;
    for (const char* d : devs) {
        for (int b = 0; b < 14; ++b) {
            PointResult r =
                small_point(static_cast<int64_t>(rs.size()), {d, std::to_string(1 << b)}, d, true);
            r.tokens_per_s_per_device = 10.0 * (1 << b);  // 10 to 81920: four decades and more
            r.tpot_ms = 20 + b;
            rs.push_back(r);
        }
    }
    const auto ps = plots(st, rs);
    std::string batch_plot, bottleneck;
    for (const auto& [n, svg] : ps) {
        if (n == "throughput_vs_deployment_batch.svg") batch_plot = svg;
        if (n == "bottleneck.svg") bottleneck = svg;
    }
    CHECK(batch_plot.find("per device (log scale)") != std::string::npos);
    // 15 series, 15 different colours.
    std::set<std::string> colours;
    for (size_t at = batch_plot.find("<polyline"); at != std::string::npos;
         at = batch_plot.find("<polyline", at + 1)) {
        const size_t c = batch_plot.find("stroke=\"", at) + 8;
        colours.insert(batch_plot.substr(c, 7));
    }
    CHECK(colours.size() == 15);
    // 210 points, 210 rows (the old plot stopped at 120).
    size_t rows = 0;
    for (size_t at = bottleneck.find("class=\"point\""); at != std::string::npos;
         at = bottleneck.find("class=\"point\"", at + 1))
        ++rows;
    CHECK(rows == 210);
}
