// Evaluation of study points, the append-only points journal (atomic point by point, the
// basis of --resume) and the sweep driver: points are computed in parallel blocks and written
// in point order, so any thread count (or MPI rank count) gives the same bytes.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
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

const char* kJournalMagic = "dssim-sweep-journal/2";

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
    p.micro_batches = r.deployment.micro_batches;
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

// Points with equal keys share the analytical path's plan shape (deployment and workload; the
// device only binds it). Inside a block they are evaluated next to each other, so the bounded
// plan cache hits whatever order the study's axes expand in (bench/README.md, "Sweep
// analytical path"). Only speed depends on the key: the cache gives identical bytes on a miss.
std::string shape_key(const PointSpec& p) {
    const sim::Deployment& d = p.deployment;
    const sim::Workload& w = p.workload;
    std::string k;
    for (int64_t v : {d.devices, d.tp, d.ep, d.dp, d.redundant_experts,
                      static_cast<int64_t>(d.micro_batches), static_cast<int64_t>(w.phase), w.batch,
                      w.input_len, w.context, static_cast<int64_t>(w.mtp),
                      static_cast<int64_t>(w.attention), static_cast<int64_t>(w.gemm)})
        k += std::to_string(v) + ',';
    k += num(w.mtp_acceptance) + ';';
    for (int64_t b : p.batch_candidates)
        k += std::to_string(b) + ',';
    return k;
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
      << r.ep << '\t' << r.dp << '\t' << r.batch << '\t' << r.context << '\t' << r.micro_batches;
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
    if (nl < 0 || f.size() != static_cast<size_t>(nl) + 2 + 9 + 9 + 3 + 1) return bad();
    for (int64_t k = 0; k < nl; ++k)
        r.labels.push_back(f[i++]);
    r.device = f[i++];
    r.phase = f[i++];
    for (int64_t* p : {&r.devices, &r.tp, &r.ep, &r.dp, &r.batch, &r.context, &r.micro_batches})
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

std::vector<std::string> gather_agreed(Transport* t, const std::function<std::string()>& step) {
    if (!t || t->size() == 1) return {step()};
    // Outcome of this rank: 'o' + result, 'i' + InputError message, 'x' + other message.
    std::string mine;
    std::exception_ptr own;
    try {
        // Appended rather than `"o" + step()`: GCC 12 warns falsely on that (-Wrestrict, PR
        // 105329).
        mine = "o";
        mine += step();
    } catch (const InputError& e) {
        mine = std::string("i") + e.what();
        own = std::current_exception();
    } catch (const std::exception& e) {
        mine = std::string("x") + e.what();
        own = std::current_exception();
    }
    std::vector<std::string> all = t->gather(mine);
    std::string verdict;  // "" or the first failing rank's "<rank>\t<kind><message>"
    if (t->rank() == 0) {
        for (size_t r = 0; r < all.size() && verdict.empty(); ++r) {
            if (all[r].empty() || all[r][0] != 'o') verdict = std::to_string(r) + "\t" + all[r];
        }
    }
    verdict = t->broadcast(verdict);
    if (verdict.empty()) {
        for (auto& a : all)
            a.erase(0, 1);
        return all;
    }
    if (t->rank() != 0) throw PeerFailed();
    if (own) std::rethrow_exception(own);
    const size_t tab = verdict.find('\t');
    const std::string who = "rank " + verdict.substr(0, tab);
    const std::string what = verdict.size() > tab + 2 ? verdict.substr(tab + 2) : "failed";
    if (verdict.size() > tab + 1 && verdict[tab + 1] == 'i') throw InputError(who + ": " + what);
    throw std::runtime_error(who + ": " + what);
}

std::vector<PointResult> run_sweep(const Study& st, const SweepOptions& opt) {
    namespace fs = std::filesystem;
    Transport* const t = opt.transport;
    const int rank = t ? t->rank() : 0;
    const int ranks = t ? t->size() : 1;
    const bool root = rank == 0;
    auto agree = [&](const std::function<void()>& step) {
        gather_agreed(t, [&] {
            step();
            return std::string();
        });
    };
    const size_t n = st.points.size();
    const fs::path dir = opt.out_dir;
    const fs::path journal = dir / "points.journal";
    const std::string header =
        std::string(kJournalMagic) + "\t" + journal_identity(st, opt.engine) + "\n";

    // Setup: every rank loads the model; rank 0 owns the directory and the journal and tells
    // the others where the computation starts (after the journal's valid prefix).
    models::ModelConfig model;
    std::vector<PointResult> results;
    std::FILE* jf = nullptr;
    struct CloseJournal {
        std::FILE*& f;
        ~CloseJournal() {
            if (f) std::fclose(f);
        }
    } close_journal{jf};
    agree([&] {
        model = models::resolve_model_config(st.model);
        if (!root) return;
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec)
            throw_input_error(dir.string(), "--out", "cannot create directory: " + ec.message());
        std::string kept = header;
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
        jf = std::fopen(journal.c_str(), "ab");
        if (!jf) throw_input_error(journal.string(), "--out", "cannot append to the journal");
    });
    size_t next = results.size();
    if (t) next = std::stoull(t->broadcast(std::to_string(next)));

    std::optional<Progress> progress;
    if (root) {
        progress.emplace("sweep " + st.name, n);
        progress->advance(next);
    }
    // A block holds `threads * per_thread` points per rank; within it point i belongs to rank
    // i % ranks. Analytical points take about a millisecond, so their blocks are large enough
    // for points of one plan shape to meet (see shape_key); a SystemC point takes a fraction
    // of a second, and its small blocks keep the journal (what --resume keeps) current.
    const size_t per_thread = opt.engine == Engine::Analytical ? 4096 : 8;
    const size_t block =
        static_cast<size_t>(std::max(1, opt.threads)) * per_thread * static_cast<size_t>(ranks);
    int64_t computed = 0;
    while (next < n) {
        if (opt.stop_after >= 0 && computed >= opt.stop_after) break;
        size_t count = std::min(block, n - next);
        if (opt.stop_after >= 0)
            count = std::min<size_t>(count, static_cast<size_t>(opt.stop_after - computed));
        const auto parts = gather_agreed(t, [&] {
            std::vector<size_t> mine;
            for (size_t i = next; i < next + count; ++i)
                if (i % static_cast<size_t>(ranks) == static_cast<size_t>(rank)) mine.push_back(i);
            // Evaluation order: grouped by plan shape (stable); lines stay in point order.
            std::vector<std::string> keys(mine.size());
            std::vector<size_t> order(mine.size());
            for (size_t k = 0; k < mine.size(); ++k) {
                keys[k] = shape_key(st.points[mine[k]]);
                order[k] = k;
            }
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return keys[a] < keys[b]; });
            std::vector<std::string> lines(mine.size());
            parallel_for(mine.size(), opt.threads, [&](size_t b, size_t e) {
                for (size_t j = b; j < e; ++j) {
                    const size_t k = order[j];
                    lines[k] = result_to_line(evaluate(st, model, mine[k], opt.engine));
                }
            });
            std::string text;
            for (const auto& l : lines)
                text += l;
            return text;
        });
        agree([&] {
            if (!root) return;
            // Interleave the ranks' lines back into point order.
            std::vector<size_t> pos(parts.size(), 0);
            std::string lines;
            for (size_t i = next; i < next + count; ++i) {
                const size_t r = i % static_cast<size_t>(ranks);
                const size_t eol = parts[r].find('\n', pos[r]);
                if (eol == std::string::npos)
                    throw std::runtime_error("sweep: rank " + std::to_string(r) +
                                             " returned too few points");
                lines.append(parts[r], pos[r], eol + 1 - pos[r]);
                pos[r] = eol + 1;
            }
            if (std::fwrite(lines.data(), 1, lines.size(), jf) != lines.size() ||
                std::fflush(jf) != 0)
                throw_input_error(journal.string(), "--out", "cannot write the journal");
            ::fsync(fileno(jf));
            // Round-trip through the line form so a fresh run and a resumed one hold the same
            // values.
            std::istringstream in(lines);
            for (std::string line; std::getline(in, line);)
                results.push_back(result_from_line(line, journal.string()));
        });
        next += count;
        computed += static_cast<int64_t>(count);
        if (progress) progress->advance(count);
    }
    if (progress) progress->finish();
    if (next < n) return results;  // interrupted on purpose (stop_after)
    agree([&] {
        if (!root) return;
        if (jf) std::fclose(jf);
        jf = nullptr;
        write_file_atomic(dir / "results.csv", results_csv(st, results));
        write_results_h5(st, results, (dir / "results.h5").string());
        for (const auto& [name, svg] : plots(st, results))
            write_file_atomic(dir / name, svg);
        write_file_atomic(dir / "summary.md", summary_md(st, results));
    });
    return results;
}

}  // namespace dssim::sweep
