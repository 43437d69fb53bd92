// Evaluation of study points, the append-only points journal (atomic point by point, the
// basis of --resume) and the sweep driver: points are computed in parallel blocks and written
// in point order, so any thread count (or MPI rank count) gives the same bytes.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <unistd.h>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/base/progress.h"
#include "dssim/base/sha256.h"
#include "dssim/models/model_config.h"
#include "dssim/sweep.h"

namespace dssim::sweep {

namespace {

const char* kJournalMagic = "dssim-sweep-journal/1";

PointResult from_sim(const PointSpec& st, const sim::SimResult& r) {
    PointResult p;
    p.device = r.device;
    p.phase = std::string(models::phase_name(r.workload.phase));
    p.devices = r.deployment.devices;
    p.tp = r.deployment.tp;
    p.ep = r.deployment.ep;
    p.dp = r.deployment.dp;
    p.batch = r.workload.batch;
    p.context = r.workload.context;
    p.step_time_ms = r.step_time_ms;
    p.tokens_per_s_per_device = r.tokens_per_s_per_device;
    p.tpot_ms = r.tpot_ms.value_or(0);
    p.ttft_ms = r.ttft_ms.value_or(0);
    double matrix = 0, stream = 0;
    for (const auto& s : r.by_resource) {
        if (s.name == "matrix_unit") matrix = s.ms;
        if (s.name == "compute_stream") stream = s.ms;
    }
    p.compute_ms = matrix;
    p.memory_ms = std::max(0.0, stream - matrix);
    p.exposed_comm_ms = r.exposed_comm_ms;
    p.memory_gb = r.memory.total() / 1e9;
    p.capacity_gb = r.memory.capacity / 1e9;
    p.fits = r.fits;
    bool slo = true;
    if (r.tpot_ms && st.tpot_slo_ms) slo = *r.tpot_ms <= *st.tpot_slo_ms;
    if (r.ttft_ms && st.ttft_slo_ms) slo = *r.ttft_ms <= *st.ttft_slo_ms;
    p.meets_slo = slo && r.fits;
    return p;
}

std::string clean(std::string s) {
    for (char& c : s) {
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    }
    return s;
}

std::string num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

}  // namespace

PointResult evaluate(const Study& st,
                     const models::ModelConfig& model,
                     size_t index,
                     Engine engine) {
    const PointSpec& p = st.points.at(index);
    PointResult out;
    try {
        sim::Hardware hw = sim::load_hardware(p.device, "", p.fp8);
        for (const auto& [path, f] : p.device_factors)
            hw.device = hw.device.scaled(path, f);
        for (const auto& [path, v] : p.device_values)
            hw.device = hw.device.with_value(path, v);
        if (p.fp8_native) hw.device = hw.device.with_fp8_native(*p.fp8_native);
        if (!p.device_factors.empty() || !p.device_values.empty())
            hw.system = devices::single_node_system(hw.device);  // domain size may have changed
        sim::Deployment dep = p.deployment;
        if (dep.ep == 0) dep.ep = dep.devices;
        auto run = [&](int64_t batch) {
            sim::Workload wl = p.workload;
            wl.batch = batch;
            return engine == Engine::SystemC ? sim::simulate(model, hw, dep, wl)
                                             : analytic_simulate(model, hw, dep, wl);
        };
        if (p.batch_candidates.empty()) {
            out = from_sim(p, run(p.workload.batch));
        } else {
            // The batch with the highest throughput that meets the SLO and fits; if none does,
            // the smallest batch (reported as missing the SLO).
            bool have = false;
            for (int64_t b : p.batch_candidates) {
                PointResult r = from_sim(p, run(b));
                if (!have) {
                    out = r;
                    have = true;
                } else if (r.meets_slo && (!out.meets_slo || r.tokens_per_s_per_device >
                                                                 out.tokens_per_s_per_device)) {
                    out = r;
                }
            }
        }
    } catch (const InputError& e) {
        out = PointResult{};
        out.device = p.device;
        out.phase = std::string(models::phase_name(p.workload.phase));
        out.devices = p.deployment.devices;
        out.tp = p.deployment.tp;
        out.ep = p.deployment.ep == 0 ? p.deployment.devices : p.deployment.ep;
        out.batch = p.workload.batch;
        out.context = p.workload.context;
        out.error = clean(e.what());
    }
    out.index = static_cast<int64_t>(index);
    out.labels = p.labels;
    return out;
}

std::string result_to_line(const PointResult& r) {
    std::ostringstream o;
    o << r.index << '\t' << r.labels.size();
    for (const auto& l : r.labels)
        o << '\t' << clean(l);
    o << '\t' << clean(r.device) << '\t' << r.phase << '\t' << r.devices << '\t' << r.tp << '\t'
      << r.ep << '\t' << r.dp << '\t' << r.batch << '\t' << r.context;
    for (double v : {r.step_time_ms, r.tokens_per_s_per_device, r.tpot_ms, r.ttft_ms, r.compute_ms,
                     r.memory_ms, r.exposed_comm_ms, r.memory_gb, r.capacity_gb})
        o << '\t' << num(v);
    o << '\t' << (r.fits ? 1 : 0) << '\t' << (r.meets_slo ? 1 : 0) << '\t' << clean(r.error)
      << "\t#\n";
    return o.str();
}

PointResult result_from_line(const std::string& line, const std::string& origin) {
    std::vector<std::string> f;
    size_t a = 0;
    for (;;) {
        size_t b = line.find('\t', a);
        f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
        if (b == std::string::npos) break;
        a = b + 1;
    }
    auto bad = [&]() -> PointResult { throw_input_error(origin, "", "malformed journal line"); };
    if (f.size() < 2 || f.back() != "#") return bad();
    auto to_i = [&](const std::string& s) {
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(s.c_str(), &end, 10);
        if (s.empty() || *end != 0 || errno != 0) bad();
        return static_cast<int64_t>(v);
    };
    auto to_d = [&](const std::string& s) {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != 0) bad();
        return v;
    };
    PointResult r;
    size_t i = 0;
    r.index = to_i(f[i++]);
    const int64_t nl = to_i(f[i++]);
    if (nl < 0 || f.size() != static_cast<size_t>(nl) + 2 + 8 + 9 + 3 + 1) return bad();
    for (int64_t k = 0; k < nl; ++k)
        r.labels.push_back(f[i++]);
    r.device = f[i++];
    r.phase = f[i++];
    for (int64_t* p : {&r.devices, &r.tp, &r.ep, &r.dp, &r.batch, &r.context})
        *p = to_i(f[i++]);
    for (double* p :
         {&r.step_time_ms, &r.tokens_per_s_per_device, &r.tpot_ms, &r.ttft_ms, &r.compute_ms,
          &r.memory_ms, &r.exposed_comm_ms, &r.memory_gb, &r.capacity_gb})
        *p = to_d(f[i++]);
    r.fits = to_i(f[i++]) != 0;
    r.meets_slo = to_i(f[i++]) != 0;
    r.error = f[i++];
    return r;
}

std::string journal_identity(const Study& st, Engine engine) {
    Sha256 h;
    h.update(st.canonical);
    h.update(engine == Engine::SystemC ? "systemc" : "analytic");
    return h.hex_digest();
}

std::vector<PointResult> run_sweep(const Study& st, const SweepOptions& opt) {
    namespace fs = std::filesystem;
    const models::ModelConfig model = models::resolve_model_config(st.model);
    const size_t n = st.points.size();
    const fs::path dir = opt.out_dir;
    const fs::path journal = dir / "points.journal";
    const std::string header =
        std::string(kJournalMagic) + "\t" + journal_identity(st, opt.engine) + "\n";

    std::vector<PointResult> results;
    std::string kept = header;
    if (opt.mpi_rank == 0) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec)
            throw_input_error(dir.string(), "--out", "cannot create directory: " + ec.message());
        if (opt.resume && fs::exists(journal)) {
            const std::string text = read_file(journal);
            if (text.rfind(header, 0) != 0)
                throw_input_error(journal.string(), "--resume",
                                  "the journal belongs to another study or engine (remove it or "
                                  "run without --resume)");
            // Complete lines in point order; a torn last line is dropped.
            size_t pos = header.size();
            while (pos < text.size()) {
                const size_t eol = text.find('\n', pos);
                if (eol == std::string::npos) break;
                const std::string line = text.substr(pos, eol - pos);
                try {
                    PointResult r = result_from_line(line, journal.string());
                    if (r.index != static_cast<int64_t>(results.size()) ||
                        r.index >= static_cast<int64_t>(n))
                        break;
                    results.push_back(std::move(r));
                    kept += line + "\n";
                } catch (const InputError&) {
                    break;
                }
                pos = eol + 1;
            }
        }
        write_file_atomic(journal, kept);  // header + the valid prefix
    }
    std::FILE* jf = nullptr;
    if (opt.mpi_rank == 0) {
        jf = std::fopen(journal.c_str(), "ab");
        if (!jf) throw_input_error(journal.string(), "--out", "cannot append to the journal");
    }
    Progress progress("sweep " + st.name, n);
    progress.advance(results.size());
    const size_t block = static_cast<size_t>(std::max(1, opt.threads)) * 8;
    int64_t computed = 0;
    size_t next = results.size();
    while (next < n) {
        if (opt.stop_after >= 0 && computed >= opt.stop_after) break;
        size_t count = std::min(block, n - next);
        if (opt.stop_after >= 0)
            count = std::min<size_t>(count, static_cast<size_t>(opt.stop_after - computed));
        std::vector<PointResult> chunk(count);
        parallel_for(count, opt.threads, [&](size_t b, size_t e) {
            for (size_t i = b; i < e; ++i)
                chunk[i] = evaluate(st, model, next + i, opt.engine);
        });
        std::string lines;
        for (auto& r : chunk)
            lines += result_to_line(r);
        if (jf) {
            if (std::fwrite(lines.data(), 1, lines.size(), jf) != lines.size() ||
                std::fflush(jf) != 0)
                throw_input_error(journal.string(), "--out", "cannot write the journal");
            ::fsync(fileno(jf));
        }
        // Round-trip through the line form so a fresh run and a resumed one hold the same values.
        std::istringstream in(lines);
        for (std::string line; std::getline(in, line);)
            results.push_back(result_from_line(line, journal.string()));
        next += count;
        computed += static_cast<int64_t>(count);
        progress.advance(count);
    }
    if (jf) std::fclose(jf);
    progress.finish();
    if (results.size() < n) return results;  // interrupted on purpose (stop_after)
    if (opt.mpi_rank == 0) {
        write_file_atomic(dir / "results.csv", results_csv(st, results));
        write_results_h5(st, results, (dir / "results.h5").string());
        for (const auto& [name, svg] : plots(st, results))
            write_file_atomic(dir / name, svg);
        write_file_atomic(dir / "summary.md", summary_md(st, results));
    }
    return results;
}

}  // namespace dssim::sweep
