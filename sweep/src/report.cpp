// Sweep outputs: results.csv, results.h5 (HDF5 C API, reproducible bytes), hand-written SVG
// plots (axes, ticks, labels, legend) and summary.md, all from the results in point order.
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/sweep.h"

namespace dssim::sweep {

namespace {

std::string g(double v, int digits = 6) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}
std::string fixed(double v, int decimals) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s)
        o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
}

// Index of the axis named "device" (-1 if none).
int device_axis(const Study& st) {
    for (size_t k = 0; k < st.axes.size(); ++k)
        if (st.axes[k].param == "device") return static_cast<int>(k);
    return -1;
}

// Throughput of the baseline device at the same other labels (0 if none).
std::vector<double> baseline_throughput(const Study& st, const std::vector<PointResult>& rs) {
    std::vector<double> out(rs.size(), 0);
    if (st.baseline_device.empty()) return out;
    const int dk = device_axis(st);
    std::map<std::vector<std::string>, double> base;
    auto key = [&](const PointResult& r) {
        std::vector<std::string> k = r.labels;
        if (dk >= 0) k[static_cast<size_t>(dk)].clear();
        return k;
    };
    for (const auto& r : rs)
        if (r.device == st.baseline_device && r.error.empty())
            base[key(r)] = r.tokens_per_s_per_device;
    for (size_t i = 0; i < rs.size(); ++i) {
        auto it = base.find(key(rs[i]));
        if (it != base.end()) out[i] = it->second;
    }
    return out;
}

// "h800, bandwidth=x2": the point's axis labels, leaving out axis `skip` (the phase axis in a
// per-phase table).
std::string point_label(const Study& st, const PointResult& r, int skip = -1) {
    std::string s;
    for (size_t k = 0; k < r.labels.size(); ++k) {
        if (static_cast<int>(k) == skip) continue;
        if (!s.empty()) s += ", ";
        std::string p = st.axes[k].param;
        const auto dot = p.rfind('.');
        if (dot != std::string::npos) p = p.substr(dot + 1);
        s += p == "device" ? r.labels[k] : p + "=" + r.labels[k];
    }
    return s.empty() ? r.device : s;
}

int phase_axis(const Study& st) {
    for (size_t k = 0; k < st.axes.size(); ++k)
        if (st.axes[k].param == "workload.phase") return static_cast<int>(k);
    return -1;
}

// Which tokens a phase's throughput counts.
std::string token_kind(const std::string& phase) {
    return phase == "prefill" ? "input" : phase == "decode" ? "output" : phase;
}

void h5_check(herr_t st, const std::string& path, const std::string& what) {
    if (st < 0) throw_input_error(path, what, "HDF5 write failed");
}

// The columns of results.csv and results.h5 after the axis columns, with unit and meaning
// (the HDF5 attributes; docs/studies.md "Outputs" lists the same).
struct Column {
    const char* name;
    const char* units;
    const char* description;
};
const Column kColumns[] = {
    {"device", "", "device config name (configs/devices)"},
    {"phase", "", "prefill or decode"},
    {"devices", "devices", "devices in the deployment"},
    {"tp", "", "tensor-parallel degree"},
    {"ep", "", "expert-parallel degree"},
    {"dp", "", "attention data-parallel degree"},
    {"batch", "sequences", "sequences per device in one step"},
    {"micro_batches", "", "micro-batches that ran (auto: the faster of 1 and 2)"},
    {"context", "tokens", "context length per sequence"},
    {"step_time_ms", "ms", "time of one step on the critical device"},
    {"tokens_per_s_per_device", "tokens/s",
     "throughput per device: input tokens in prefill, output tokens in decode"},
    {"relative_to_baseline", "",
     "throughput over the baseline device's at the same other axis values (empty: none)"},
    {"tpot_ms", "ms", "time per output token (decode only; empty or NaN in prefill)"},
    {"ttft_ms", "ms", "time to first token (prefill only; empty or NaN in decode)"},
    {"compute_ms", "ms", "matrix-unit time of the step on the critical device"},
    {"memory_ms", "ms", "rest of the compute stream (memory-bound time)"},
    {"exposed_comm_ms", "ms", "communication not hidden behind compute"},
    {"memory_gb", "GB", "memory per device: weights + KV cache + activations (1 GB = 1e9 bytes)"},
    {"capacity_gb", "GB", "device memory capacity (1 GB = 1e9 bytes)"},
    {"fits", "", "the point's memory fits in the device"},
    {"meets_slo", "", "fits and meets the study's SLO (TPOT in decode, TTFT in prefill)"},
    {"bound", "",
     "what limits the step: compute, memory or communication (largest of compute_ms, "
     "memory_ms, exposed_comm_ms)"},
    {"error", "", "why the simulator rejected the point (empty: it ran)"},
};

}  // namespace

std::string bound_of(const PointResult& r) {
    if (!r.error.empty()) return "";
    if (r.exposed_comm_ms >= std::max(r.compute_ms, r.memory_ms)) return "communication";
    return r.compute_ms >= r.memory_ms ? "compute" : "memory";
}

std::string results_csv(const Study& st, const std::vector<PointResult>& rs) {
    // Axis columns are named axis.<param>: an axis's label ("x0.5", "h800") is not the
    // resolved value, and a `device` axis would otherwise repeat the `device` column's name.
    std::string s = "index";
    for (const auto& a : st.axes) {
        s += ',';
        s += csv_field("axis." + a.param);
    }
    for (const auto& c : kColumns) {
        s += ',';
        s += c.name;
    }
    s += '\n';
    const auto base = baseline_throughput(st, rs);
    for (size_t i = 0; i < rs.size(); ++i) {
        const auto& r = rs[i];
        const bool ran = r.error.empty();
        // A figure that does not exist for the point (TPOT in prefill, TTFT in decode, any
        // measurement of a point that errored) is an empty field, never 0.
        auto num = [&](bool present, double v) { return present ? g(v, 9) : std::string(); };
        s += std::to_string(r.index);
        // Separators are appended on their own: `"," + std::string&&` draws a false GCC 12
        // -Wrestrict warning (PR 105329).
        for (const auto& l : r.labels) {
            s += ',';
            s += csv_field(l);
        }
        s += ',';
        s += csv_field(r.device);
        s += ',';
        s += r.phase;
        for (int64_t v : {r.devices, r.tp, r.ep, r.dp, r.batch, r.micro_batches, r.context}) {
            s += ',';
            s += std::to_string(v);
        }
        for (const std::string& v :
             {num(ran, r.step_time_ms), num(ran, r.tokens_per_s_per_device),
              num(ran && base[i] > 0, base[i] > 0 ? r.tokens_per_s_per_device / base[i] : 0),
              num(ran && r.phase == "decode", r.tpot_ms),
              num(ran && r.phase == "prefill", r.ttft_ms), num(ran, r.compute_ms),
              num(ran, r.memory_ms), num(ran, r.exposed_comm_ms), num(ran, r.memory_gb),
              num(ran, r.capacity_gb)}) {
            s += ',';
            s += v;
        }
        s += std::string(",") + (r.fits ? "true" : "false") + "," +
             (r.meets_slo ? "true" : "false") + "," + bound_of(r) + "," + csv_field(r.error) + "\n";
    }
    return s;
}

void write_results_h5(const Study& st,
                      const std::vector<PointResult>& rs,
                      const std::string& path) {
    AtomicFile out(path);
    const std::string tmp = out.temp_path().string();
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_obj_track_times(fcpl, false);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    hid_t file = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (file < 0) throw_input_error(path, "results.h5", "HDF5 cannot create the file");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, false);
    const hsize_t n = rs.size();
    // A fixed-length string attribute (units, description) on a dataset or the file.
    auto attr = [&](hid_t obj, const char* name, const std::string& value,
                    const std::string& what) {
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, std::max<size_t>(1, value.size()));
        H5Tset_strpad(type, H5T_STR_NULLPAD);
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        h5_check(a, path, what + ": attribute " + name);
        std::string buf = value;
        buf.resize(std::max<size_t>(1, value.size()), '\0');
        h5_check(H5Awrite(a, type, buf.data()), path, what + ": attribute " + name);
        H5Aclose(a);
        H5Sclose(space);
        H5Tclose(type);
    };
    // One 1-D dataset of `n` elements of `file_type`, written from `data` in `mem_type`.
    auto put = [&](const std::string& name, hid_t file_type, hid_t mem_type, const void* data,
                   const std::string& units, const std::string& description) {
        hid_t space = H5Screate_simple(1, &n, nullptr);
        hid_t ds = H5Dcreate2(file, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        h5_check(ds, path, name);
        if (n > 0)
            h5_check(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path, name);
        attr(ds, "units", units, name);
        attr(ds, "description", description, name);
        H5Dclose(ds);
        H5Sclose(space);
    };
    auto put_doubles = [&](const Column& c, const std::vector<double>& v) {
        put(c.name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v.data(), c.units, c.description);
    };
    auto put_ints = [&](const Column& c, const std::vector<int64_t>& v) {
        put(c.name, H5T_STD_I64LE, H5T_NATIVE_INT64, v.data(), c.units, c.description);
    };
    // Booleans as h5py and NumPy read them: an 8-bit enum FALSE = 0, TRUE = 1.
    auto put_bools = [&](const Column& c, const std::vector<int8_t>& v) {
        hid_t type = H5Tenum_create(H5T_NATIVE_INT8);
        int8_t f = 0, t = 1;
        H5Tenum_insert(type, "FALSE", &f);
        H5Tenum_insert(type, "TRUE", &t);
        put(c.name, type, type, v.data(), c.units, c.description);
        H5Tclose(type);
    };
    auto put_strings = [&](const std::string& name, const std::vector<std::string>& v,
                           const std::string& description) {
        size_t width = 1;
        for (const auto& x : v)
            width = std::max(width, x.size());
        std::string buf(width * v.size(), '\0');
        for (size_t i = 0; i < v.size(); ++i)
            std::copy(v[i].begin(), v[i].end(),
                      buf.begin() + static_cast<std::ptrdiff_t>(i * width));
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, width);
        H5Tset_strpad(type, H5T_STR_NULLPAD);
        put(name, type, type, buf.data(), "", description);
        H5Tclose(type);
    };
    auto column = [&](const char* name) -> const Column& {
        for (const auto& c : kColumns)
            if (std::string(c.name) == name) return c;
        throw std::logic_error(std::string("results.h5: no column ") + name);
    };
    auto doubles = [&](auto get) {
        std::vector<double> v;
        for (const auto& r : rs)
            v.push_back(r.error.empty() ? static_cast<double>(get(r)) : std::nan(""));
        return v;
    };
    auto ints = [&](auto get) {
        std::vector<int64_t> v;
        for (const auto& r : rs)
            v.push_back(static_cast<int64_t>(get(r)));
        return v;
    };
    auto strings = [&](auto get) {
        std::vector<std::string> v;
        for (const auto& r : rs)
            v.push_back(get(r));
        return v;
    };
    attr(file, "study", st.name, "file");
    attr(file, "question", st.question, "file");
    attr(file, "model", st.model, "file");
    attr(file, "schema", "dssim-sweep-results/2", "file");
    put_ints({"index", "", "point number in the study's order"},
             ints([](const PointResult& r) { return r.index; }));
    for (size_t k = 0; k < st.axes.size(); ++k)
        put_strings("axis." + st.axes[k].param,
                    strings([&](const PointResult& r) { return r.labels[k]; }),
                    "label of axis " + st.axes[k].param +
                        (st.axes[k].factor ? " (a factor of the base value)" : "") +
                        " as written in the study");
    put_strings("device", strings([](const PointResult& r) { return r.device; }),
                column("device").description);
    put_strings("phase", strings([](const PointResult& r) { return r.phase; }),
                column("phase").description);
    put_ints(column("devices"), ints([](const PointResult& r) { return r.devices; }));
    put_ints(column("tp"), ints([](const PointResult& r) { return r.tp; }));
    put_ints(column("ep"), ints([](const PointResult& r) { return r.ep; }));
    put_ints(column("dp"), ints([](const PointResult& r) { return r.dp; }));
    put_ints(column("batch"), ints([](const PointResult& r) { return r.batch; }));
    put_ints(column("micro_batches"), ints([](const PointResult& r) { return r.micro_batches; }));
    put_ints(column("context"), ints([](const PointResult& r) { return r.context; }));
    put_doubles(column("step_time_ms"),
                doubles([](const PointResult& r) { return r.step_time_ms; }));
    put_doubles(column("tokens_per_s_per_device"),
                doubles([](const PointResult& r) { return r.tokens_per_s_per_device; }));
    const auto base = baseline_throughput(st, rs);
    std::vector<double> rel;
    for (size_t i = 0; i < rs.size(); ++i)
        rel.push_back(rs[i].error.empty() && base[i] > 0 ? rs[i].tokens_per_s_per_device / base[i]
                                                         : std::nan(""));
    put_doubles(column("relative_to_baseline"), rel);
    put_doubles(column("tpot_ms"), doubles([](const PointResult& r) {
                    return r.phase == "decode" ? r.tpot_ms : std::nan("");
                }));
    put_doubles(column("ttft_ms"), doubles([](const PointResult& r) {
                    return r.phase == "prefill" ? r.ttft_ms : std::nan("");
                }));
    put_doubles(column("compute_ms"), doubles([](const PointResult& r) { return r.compute_ms; }));
    put_doubles(column("memory_ms"), doubles([](const PointResult& r) { return r.memory_ms; }));
    put_doubles(column("exposed_comm_ms"),
                doubles([](const PointResult& r) { return r.exposed_comm_ms; }));
    put_doubles(column("memory_gb"), doubles([](const PointResult& r) { return r.memory_gb; }));
    put_doubles(column("capacity_gb"), doubles([](const PointResult& r) { return r.capacity_gb; }));
    std::vector<int8_t> fits, slo;
    for (const auto& r : rs) {
        fits.push_back(r.fits ? 1 : 0);
        slo.push_back(r.meets_slo ? 1 : 0);
    }
    put_bools(column("fits"), fits);
    put_bools(column("meets_slo"), slo);
    put_strings("bound", strings([](const PointResult& r) { return bound_of(r); }),
                column("bound").description);
    put_strings("error", strings([](const PointResult& r) { return r.error; }),
                column("error").description);
    H5Pclose(dcpl);
    h5_check(H5Fclose(file), path, "close");
    out.commit();
}

std::string summary_md(const Study& st, const std::vector<PointResult>& rs) {
    std::string s = "# " + st.name + "\n\n**Question.** " + st.question + "\n\n";
    s += "Model " + st.model + "; " + std::to_string(rs.size()) + " points";
    if (st.tpot_slo_ms) s += "; TPOT SLO " + g(*st.tpot_slo_ms) + " ms";
    if (st.ttft_slo_ms) s += "; TTFT SLO " + g(*st.ttft_slo_ms) + " ms";
    s += ". Throughput is tokens/s per device on the analytical path (docs/studies.md): input "
         "tokens in prefill, output tokens in decode, so the two phases are answered and tabled "
         "apart.\n\n";
    const auto base = baseline_throughput(st, rs);
    std::string answer;
    if (st.answer == "min_devices") {
        // Per case (the labels of every axis but deployment.devices): the fewest devices that fit
        // and meet the SLO, and why the next smaller count in the sweep does not.
        int dk = -1;
        for (size_t k = 0; k < st.axes.size(); ++k)
            if (st.axes[k].param == "deployment.devices") dk = static_cast<int>(k);
        std::map<std::vector<std::string>, std::vector<const PointResult*>> cases;
        std::vector<std::vector<std::string>> order;
        for (const auto& r : rs) {
            std::vector<std::string> key;
            for (size_t k = 0; k < r.labels.size(); ++k)
                if (static_cast<int>(k) != dk) key.push_back(r.labels[k]);
            if (!cases.count(key)) order.push_back(key);
            cases[key].push_back(&r);
        }
        auto short_name = [](const std::string& p) {
            const auto dot = p.rfind('.');
            return dot == std::string::npos ? p : p.substr(dot + 1);
        };
        s += "## Answer\n\n|";
        for (size_t k = 0; k < st.axes.size(); ++k)
            if (static_cast<int>(k) != dk) s += " " + short_name(st.axes[k].param) + " |";
        s += " fewest devices | batch/device | tokens/s/device | TPOT ms | memory GB/device | HBM "
             "GB | with fewer devices |\n|";
        for (size_t k = 0; k < st.axes.size(); ++k)
            if (static_cast<int>(k) != dk) s += "---|";
        s += "---|---|---|---|---|---|---|\n";
        for (const auto& key : order) {
            const auto& pts = cases[key];
            const PointResult* best = nullptr;
            int64_t lo = pts.front()->devices, hi = lo;
            for (const PointResult* r : pts) {
                lo = std::min(lo, r->devices);
                hi = std::max(hi, r->devices);
                if (r->error.empty() && r->meets_slo && (!best || r->devices < best->devices))
                    best = r;
            }
            s += "|";
            for (const auto& l : key)
                s += " " + l + " |";
            if (!best) {
                s += " none up to " + std::to_string(hi) + " | | | | | | |\n";
                continue;
            }
            // The largest count below the answer that was tried, and what it lacks.
            const PointResult* below = nullptr;
            for (const PointResult* r : pts)
                if (r->devices < best->devices && (!below || r->devices > below->devices))
                    below = r;
            std::string why = "not tried";
            if (below) {
                why = std::to_string(below->devices) + ": ";
                if (!below->error.empty())
                    why += below->error;
                else if (!below->fits)
                    why += "does not fit (" + fixed(below->memory_gb, 1) + " GB)";
                else if (below->tpot_ms > 0)
                    why += "misses the SLO (TPOT " + fixed(below->tpot_ms, 1) + " ms)";
                else
                    why += "misses the SLO (TTFT " + fixed(below->ttft_ms, 1) + " ms)";
            }
            s += " " + std::to_string(best->devices) + (best->devices == lo ? " or fewer" : "") +
                 " | " + std::to_string(best->batch) + " | " +
                 fixed(best->tokens_per_s_per_device, 1) + " | " +
                 (best->tpot_ms > 0 ? fixed(best->tpot_ms, 2) : "-") + " | " +
                 fixed(best->memory_gb, 1) + " | " + fixed(best->capacity_gb, 0) + " | " + why +
                 " |\n";
        }
        s += "\n";
    }
    // Prefill throughput counts input tokens and decode throughput output tokens: each phase
    // gets its own answer and its own table, never one ranking across both.
    const int pk = phase_axis(st);
    std::vector<std::string> phases;
    for (const auto& r : rs)
        if (std::find(phases.begin(), phases.end(), r.phase) == phases.end())
            phases.push_back(r.phase);
    if (st.answer != "min_devices") {
        s += "## Answer\n\n";
        for (const auto& ph : phases) {
            size_t bi = rs.size();
            for (size_t i = 0; i < rs.size(); ++i)
                if (rs[i].phase == ph && rs[i].error.empty() && rs[i].meets_slo &&
                    (bi == rs.size() ||
                     rs[i].tokens_per_s_per_device > rs[bi].tokens_per_s_per_device))
                    bi = i;
            if (bi < rs.size())
                s += "Highest " + ph + " throughput meeting the SLO: **" +
                     point_label(st, rs[bi], pk) + "** at " +
                     fixed(rs[bi].tokens_per_s_per_device, 1) + " " + token_kind(ph) +
                     " tokens/s per device (batch " + std::to_string(rs[bi].batch) +
                     " per device).\n\n";
            else
                s += "No " + ph + " point meets the SLO and fits in memory.\n\n";
        }
    }
    size_t budget = 200;  // rows shown over all tables
    for (const auto& ph : phases) {
        const bool decode = ph == "decode";
        const std::string lat = decode ? "TPOT ms" : "TTFT ms";
        s += std::string("## Results") + (phases.size() > 1 ? ": " + ph : std::string()) +
             "\n\n| point | " + token_kind(ph) + " tokens/s/device |" +
             (st.baseline_device.empty() ? "" : " vs " + st.baseline_device + " |") +
             " step ms | " + lat +
             " | batch | micro-batches | bound | fits | meets SLO |\n|---|---|" +
             (st.baseline_device.empty() ? "" : "---|") + "---|---|---|---|---|---|---|\n";
        size_t total = 0, shown = 0;
        for (size_t i = 0; i < rs.size(); ++i) {
            const auto& r = rs[i];
            if (r.phase != ph) continue;
            ++total;
            if (budget == 0) continue;
            --budget;
            ++shown;
            if (!r.error.empty()) {
                s += "| " + point_label(st, r, pk) + " | error: " + r.error + " |" +
                     (st.baseline_device.empty() ? "" : " |") + " | | | | | | |\n";
                continue;
            }
            s += "| " + point_label(st, r, pk) + " | " + fixed(r.tokens_per_s_per_device, 1) + " |";
            if (!st.baseline_device.empty()) {
                s += ' ';
                s += base[i] > 0 ? fixed(r.tokens_per_s_per_device / base[i], 2) + "x"
                                 : std::string("-");
                s += " |";
            }
            for (const std::string& c :
                 {fixed(r.step_time_ms, 2), decode ? fixed(r.tpot_ms, 2) : fixed(r.ttft_ms, 1),
                  std::to_string(r.batch), std::to_string(r.micro_batches), bound_of(r),
                  std::string(r.fits ? "yes" : "no"), std::string(r.meets_slo ? "yes" : "no")}) {
                s += ' ';
                s += c;
                s += " |";
            }
            s += '\n';
        }
        if (shown < total)
            s += "\n(" + std::to_string(shown) + " of " + std::to_string(total) + " " + ph +
                 " points shown; all are in results.csv)\n";
        s += "\n";
    }
    s += "## Plots\n\n";
    for (const auto& [name, svg] : plots(st, rs))
        s += "- [" + name + "](" + name + ")\n";
    return s;
}

}  // namespace dssim::sweep
