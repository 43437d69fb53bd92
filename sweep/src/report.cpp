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
std::string xml(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '<')
            o += "&lt;";
        else if (c == '>')
            o += "&gt;";
        else if (c == '&')
            o += "&amp;";
        else if (c == '"')
            o += "&quot;";
        else
            o += c;
    }
    return o;
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

std::string point_label(const Study& st, const PointResult& r) {
    std::string s;
    for (size_t k = 0; k < r.labels.size(); ++k) {
        if (!s.empty()) s += ", ";
        std::string p = st.axes[k].param;
        const auto dot = p.rfind('.');
        if (dot != std::string::npos) p = p.substr(dot + 1);
        s += p == "device" ? r.labels[k] : p + "=" + r.labels[k];
    }
    return s.empty() ? r.device : s;
}

// ---- SVG --------------------------------------------------------------------------------

const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
std::string color(size_t i) {
    return kColors[i % 10];
}

// "Nice" ticks over [0, hi].
std::vector<double> ticks(double hi) {
    if (!(hi > 0)) hi = 1;
    const double raw = hi / 5;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        if (raw <= m * mag) {
            step = m * mag;
            break;
        }
    }
    std::vector<double> t;
    for (double v = 0; v <= hi * 1.0001 + step; v += step) {
        t.push_back(v);
        if (v >= hi) break;
    }
    return t;
}

struct Frame {
    double w = 760, h = 440, left = 80, right = 190, top = 50, bottom = 90;
    double pw() const { return w - left - right; }
    double ph() const { return h - top - bottom; }
};

std::string svg_open(const Frame& f, const std::string& title) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
           "width=\"" +
           g(f.w) + "\" height=\"" + g(f.h) + "\" viewBox=\"0 0 " + g(f.w) + " " + g(f.h) +
           "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" "
           "height=\"100%\" fill=\"white\"/>\n<text x=\"" +
           g(f.w / 2) +
           "\" y=\"24\" "
           "text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" +
           xml(title) + "</text>\n";
}

// Axes box, y ticks and labels; returns the y maximum used.
std::string y_axis(const Frame& f, double ymax, const std::string& ylabel, double& top_value) {
    const auto t = ticks(ymax);
    top_value = t.back();
    std::string s;
    for (double v : t) {
        const double y = f.top + f.ph() * (1 - v / top_value);
        s += "<line x1=\"" + g(f.left) + "\" y1=\"" + g(y) + "\" x2=\"" + g(f.left + f.pw()) +
             "\" y2=\"" + g(y) + "\" stroke=\"#e0e0e0\"/>\n<text x=\"" + g(f.left - 6) + "\" y=\"" +
             g(y + 4) + "\" text-anchor=\"end\">" + g(v, 4) + "</text>\n";
    }
    s += "<line x1=\"" + g(f.left) + "\" y1=\"" + g(f.top) + "\" x2=\"" + g(f.left) + "\" y2=\"" +
         g(f.top + f.ph()) + "\" stroke=\"black\"/>\n<line x1=\"" + g(f.left) + "\" y1=\"" +
         g(f.top + f.ph()) + "\" x2=\"" + g(f.left + f.pw()) + "\" y2=\"" + g(f.top + f.ph()) +
         "\" stroke=\"black\"/>\n<text transform=\"translate(18," + g(f.top + f.ph() / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xml(ylabel) + "</text>\n";
    return s;
}

std::string legend(const Frame& f, const std::vector<std::string>& names) {
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) {
        const double y = f.top + 10 + 18 * static_cast<double>(i);
        const double x = f.left + f.pw() + 16;
        s += "<rect x=\"" + g(x) + "\" y=\"" + g(y - 9) + "\" width=\"12\" height=\"12\" fill=\"" +
             color(i) + "\"/>\n<text x=\"" + g(x + 18) + "\" y=\"" + g(y + 1) + "\">" +
             xml(names[i]) + "</text>\n";
    }
    return s;
}

// Below the legend: what a hollow marker means.
std::string hollow_note(const Frame& f,
                        size_t entries,
                        const std::string& line1,
                        const std::string& line2) {
    const double x = f.left + f.pw() + 16;
    const double y = f.top + 18 * static_cast<double>(entries) + 14;
    return "<circle cx=\"" + g(x + 6) + "\" cy=\"" + g(y - 4) +
           "\" r=\"3.5\" fill=\"white\" stroke=\"black\"/>\n<text x=\"" + g(x + 18) + "\" y=\"" +
           g(y) + "\" font-size=\"10\">" + xml(line1) + "</text>\n<text x=\"" + g(x + 18) +
           "\" y=\"" + g(y + 12) + "\" font-size=\"10\">" + xml(line2) + "</text>\n";
}

// Throughput per device against one axis: one series per device (best over the other axes).
std::string axis_plot(const Study& st, const std::vector<PointResult>& rs, size_t k) {
    const Axis& ax = st.axes[k];
    std::vector<std::string> xs;
    for (const auto& r : rs)
        if (std::find(xs.begin(), xs.end(), r.labels[k]) == xs.end()) xs.push_back(r.labels[k]);
    std::vector<std::string> series;
    // Best throughput of the points that fit and meet the SLO, and of the others (drawn hollow
    // where no point of that x qualifies, so infeasible throughput never reads as an answer).
    std::map<std::pair<std::string, std::string>, double> best, other;
    const bool by_device = ax.param != "device";
    for (const auto& r : rs) {
        if (!r.error.empty()) continue;
        const std::string sname = by_device ? r.device : "best over the other axes";
        if (std::find(series.begin(), series.end(), sname) == series.end()) series.push_back(sname);
        auto& b = (r.meets_slo ? best : other)[{sname, r.labels[k]}];
        b = std::max(b, r.tokens_per_s_per_device);
    }
    double ymax = 0;
    for (const auto* m : {&best, &other})
        for (const auto& [key, v] : *m)
            ymax = std::max(ymax, v);
    Frame f;
    double top = 1;
    std::string s = svg_open(f, st.name + ": tokens/s per device vs " + ax.param);
    s += y_axis(f, ymax, "tokens/s per device", top);
    const double step = f.pw() / static_cast<double>(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
        const double x = f.left + step * (static_cast<double>(i) + 0.5);
        s += "<line x1=\"" + g(x) + "\" y1=\"" + g(f.top + f.ph()) + "\" x2=\"" + g(x) +
             "\" y2=\"" + g(f.top + f.ph() + 5) + "\" stroke=\"black\"/>\n<text x=\"" + g(x) +
             "\" y=\"" + g(f.top + f.ph() + 18) + "\" text-anchor=\"end\" transform=\"rotate(-30 " +
             g(x) + " " + g(f.top + f.ph() + 18) + ")\">" + xml(xs[i]) + "</text>\n";
    }
    s += "<text x=\"" + g(f.left + f.pw() / 2) + "\" y=\"" + g(f.h - 10) +
         "\" text-anchor=\"middle\">" + xml(ax.param + (ax.factor ? " (factor)" : "")) +
         "</text>\n";
    bool hollow = false;
    for (size_t si = 0; si < series.size(); ++si) {
        std::string pts;
        for (size_t i = 0; i < xs.size(); ++i) {
            const double x = f.left + step * (static_cast<double>(i) + 0.5);
            auto it = best.find({series[si], xs[i]});
            if (it == best.end()) {
                auto ot = other.find({series[si], xs[i]});
                if (ot == other.end()) continue;
                s += "<circle cx=\"" + g(x) + "\" cy=\"" +
                     g(f.top + f.ph() * (1 - ot->second / top)) +
                     "\" r=\"3.5\" fill=\"white\" stroke=\"" + color(si) +
                     "\" stroke-width=\"1.5\"/>\n";
                hollow = true;
                continue;
            }
            const double y = f.top + f.ph() * (1 - it->second / top);
            pts += g(x) + "," + g(y) + " ";
            s += "<circle cx=\"" + g(x) + "\" cy=\"" + g(y) + "\" r=\"3.5\" fill=\"" + color(si) +
                 "\"/>\n";
        }
        if (!pts.empty())
            s += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + color(si) +
                 "\" stroke-width=\"2\"/>\n";
    }
    s += legend(f, series);
    if (hollow) s += hollow_note(f, series.size(), "misses the SLO or", "does not fit");
    return s + "</svg>\n";
}

// Throughput per device against TPOT, with each device's Pareto front.
std::string pareto_plot(const Study& st, const std::vector<PointResult>& rs) {
    std::vector<std::string> series;
    double xmax = 0, ymax = 0;
    for (const auto& r : rs) {
        if (!r.error.empty() || r.tpot_ms <= 0) continue;
        if (std::find(series.begin(), series.end(), r.device) == series.end())
            series.push_back(r.device);
        xmax = std::max(xmax, r.tpot_ms);
        ymax = std::max(ymax, r.tokens_per_s_per_device);
    }
    Frame f;
    double top = 1;
    std::string s = svg_open(f, st.name + ": tokens/s per device vs TPOT (Pareto front)");
    s += y_axis(f, ymax, "tokens/s per device", top);
    const auto xt = ticks(xmax);
    const double right = xt.back();
    for (double v : xt) {
        const double x = f.left + f.pw() * v / right;
        s += "<line x1=\"" + g(x) + "\" y1=\"" + g(f.top + f.ph()) + "\" x2=\"" + g(x) +
             "\" y2=\"" + g(f.top + f.ph() + 5) + "\" stroke=\"black\"/>\n<text x=\"" + g(x) +
             "\" y=\"" + g(f.top + f.ph() + 18) + "\" text-anchor=\"middle\">" + g(v, 4) +
             "</text>\n";
    }
    s += "<text x=\"" + g(f.left + f.pw() / 2) + "\" y=\"" + g(f.h - 40) +
         "\" text-anchor=\"middle\">TPOT (ms); decode points only</text>\n";
    if (st.tpot_slo_ms && *st.tpot_slo_ms <= right) {
        const double x = f.left + f.pw() * *st.tpot_slo_ms / right;
        s += "<line x1=\"" + g(x) + "\" y1=\"" + g(f.top) + "\" x2=\"" + g(x) + "\" y2=\"" +
             g(f.top + f.ph()) + "\" stroke=\"red\" stroke-dasharray=\"4 3\"/>\n<text x=\"" +
             g(x + 4) + "\" y=\"" + g(f.top + 12) + "\" fill=\"red\">SLO</text>\n";
    }
    bool unfit = false;
    for (size_t si = 0; si < series.size(); ++si) {
        std::vector<std::pair<double, double>> pts;
        for (const auto& r : rs) {
            if (r.device != series[si] || !r.error.empty() || r.tpot_ms <= 0) continue;
            const std::string at =
                "<circle cx=\"" + g(f.left + f.pw() * r.tpot_ms / right) + "\" cy=\"" +
                g(f.top + f.ph() * (1 - r.tokens_per_s_per_device / top)) + "\" r=\"3\" ";
            if (!r.fits) {  // cannot run: shown, but never on the front
                s += at + "fill=\"white\" stroke=\"" + color(si) + "\"/>\n";
                unfit = true;
                continue;
            }
            pts.emplace_back(r.tpot_ms, r.tokens_per_s_per_device);
            s += at + "fill=\"" + color(si) + "\" fill-opacity=\"0.35\"/>\n";
        }
        std::sort(pts.begin(), pts.end());
        std::string line;
        double best = -1;
        for (const auto& [x, y] : pts) {
            if (y <= best) continue;  // dominated: slower and no more throughput
            best = y;
            line += g(f.left + f.pw() * x / right) + "," + g(f.top + f.ph() * (1 - y / top)) + " ";
        }
        if (!line.empty())
            s += "<polyline points=\"" + line + "\" fill=\"none\" stroke=\"" + color(si) +
                 "\" stroke-width=\"2\"/>\n";
    }
    s += legend(f, series);
    if (unfit) s += hollow_note(f, series.size(), "does not fit", "(not on the front)");
    return s + "</svg>\n";
}

// Stacked bar per point: compute, memory, exposed communication (ms of the step).
std::string bottleneck_plot(const Study& st, const std::vector<PointResult>& rs) {
    const size_t shown = std::min<size_t>(rs.size(), 120);
    Frame f;
    f.left = 260;
    f.bottom = 60;
    f.h = f.top + f.bottom + 18 * static_cast<double>(shown);
    double xmax = 0;
    for (size_t i = 0; i < shown; ++i)
        xmax = std::max(xmax, rs[i].compute_ms + rs[i].memory_ms + rs[i].exposed_comm_ms);
    const auto xt = ticks(xmax);
    const double right = xt.back();
    std::string title = st.name + ": step time by bottleneck (ms)";
    if (shown < rs.size()) title += ", first " + std::to_string(shown) + " points";
    std::string s = svg_open(f, title);
    for (double v : xt) {
        const double x = f.left + f.pw() * v / right;
        s += "<line x1=\"" + g(x) + "\" y1=\"" + g(f.top) + "\" x2=\"" + g(x) + "\" y2=\"" +
             g(f.top + f.ph()) + "\" stroke=\"#e0e0e0\"/>\n<text x=\"" + g(x) + "\" y=\"" +
             g(f.top + f.ph() + 16) + "\" text-anchor=\"middle\">" + g(v, 4) + "</text>\n";
    }
    s += "<text x=\"" + g(f.left + f.pw() / 2) + "\" y=\"" + g(f.h - 12) +
         "\" text-anchor=\"middle\">ms per step on the critical device</text>\n";
    for (size_t i = 0; i < shown; ++i) {
        const auto& r = rs[i];
        const double y = f.top + 18 * static_cast<double>(i);
        s += "<text x=\"" + g(f.left - 6) + "\" y=\"" + g(y + 12) + "\" text-anchor=\"end\">" +
             xml(point_label(st, r)) + "</text>\n";
        double x = f.left;
        const double parts[3] = {r.compute_ms, r.memory_ms, r.exposed_comm_ms};
        for (int p = 0; p < 3; ++p) {
            const double w = f.pw() * parts[p] / right;
            if (w > 0)
                s += "<rect x=\"" + g(x) + "\" y=\"" + g(y + 2) + "\" width=\"" + g(w) +
                     "\" height=\"14\" fill=\"" + color(static_cast<size_t>(p)) + "\"/>\n";
            x += w;
        }
    }
    s += "<line x1=\"" + g(f.left) + "\" y1=\"" + g(f.top) + "\" x2=\"" + g(f.left) + "\" y2=\"" +
         g(f.top + f.ph()) + "\" stroke=\"black\"/>\n";
    s += legend(
        f, {"compute (matrix units)", "memory (rest of compute stream)", "exposed communication"});
    return s + "</svg>\n";
}

void h5_check(herr_t st, const std::string& path, const std::string& what) {
    if (st < 0) throw_input_error(path, what, "HDF5 write failed");
}

}  // namespace

std::string results_csv(const Study& st, const std::vector<PointResult>& rs) {
    std::string s = "index";
    for (const auto& a : st.axes)
        s += "," + csv_field(a.param);
    s += ",device,phase,devices,tp,ep,dp,batch,micro_batches,context,step_time_ms,tokens_per_s_per_"
         "device,"
         "relative_to_baseline,tpot_ms,ttft_ms,compute_ms,memory_ms,exposed_comm_ms,memory_gb,"
         "capacity_gb,fits,meets_slo,error\n";
    const auto base = baseline_throughput(st, rs);
    for (size_t i = 0; i < rs.size(); ++i) {
        const auto& r = rs[i];
        s += std::to_string(r.index);
        // Separators are appended on their own: `"," + std::string&&` draws a false GCC 12
        // -Wrestrict warning (PR 105329).
        for (const auto& l : r.labels) {
            s += ',';
            s += csv_field(l);
        }
        s += "," + csv_field(r.device) + "," + r.phase + "," + std::to_string(r.devices) + "," +
             std::to_string(r.tp) + "," + std::to_string(r.ep) + "," + std::to_string(r.dp) + "," +
             std::to_string(r.batch) + "," + std::to_string(r.micro_batches) + "," +
             std::to_string(r.context);
        for (double v : {r.step_time_ms, r.tokens_per_s_per_device}) {
            s += ',';
            s += g(v, 9);
        }
        s += "," + (base[i] > 0 ? g(r.tokens_per_s_per_device / base[i], 6) : std::string());
        for (double v : {r.tpot_ms, r.ttft_ms, r.compute_ms, r.memory_ms, r.exposed_comm_ms,
                         r.memory_gb, r.capacity_gb}) {
            s += ',';
            s += g(v, 9);
        }
        s += std::string(",") + (r.fits ? "true" : "false") + "," +
             (r.meets_slo ? "true" : "false") + "," + csv_field(r.error) + "\n";
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
    auto put_doubles = [&](const char* name, const std::vector<double>& v) {
        hid_t space = H5Screate_simple(1, &n, nullptr);
        hid_t ds = H5Dcreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        h5_check(ds, path, name);
        if (n > 0)
            h5_check(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), path,
                     name);
        H5Dclose(ds);
        H5Sclose(space);
    };
    auto put_strings = [&](const std::string& name, const std::vector<std::string>& v) {
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
        hid_t space = H5Screate_simple(1, &n, nullptr);
        hid_t ds = H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        h5_check(ds, path, name);
        if (n > 0)
            h5_check(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), path, name);
        H5Dclose(ds);
        H5Sclose(space);
        H5Tclose(type);
    };
    auto col = [&](auto get) {
        std::vector<double> v;
        for (const auto& r : rs)
            v.push_back(static_cast<double>(get(r)));
        return v;
    };
    for (size_t k = 0; k < st.axes.size(); ++k) {
        std::vector<std::string> v;
        for (const auto& r : rs)
            v.push_back(r.labels[k]);
        put_strings("axis." + st.axes[k].param, v);
    }
    std::vector<std::string> dev, phase, err;
    for (const auto& r : rs) {
        dev.push_back(r.device);
        phase.push_back(r.phase);
        err.push_back(r.error);
    }
    put_strings("device", dev);
    put_strings("phase", phase);
    put_strings("error", err);
    put_doubles("devices", col([](const PointResult& r) { return r.devices; }));
    put_doubles("tp", col([](const PointResult& r) { return r.tp; }));
    put_doubles("ep", col([](const PointResult& r) { return r.ep; }));
    put_doubles("batch", col([](const PointResult& r) { return r.batch; }));
    put_doubles("micro_batches", col([](const PointResult& r) { return r.micro_batches; }));
    put_doubles("context", col([](const PointResult& r) { return r.context; }));
    put_doubles("step_time_ms", col([](const PointResult& r) { return r.step_time_ms; }));
    put_doubles("tokens_per_s_per_device",
                col([](const PointResult& r) { return r.tokens_per_s_per_device; }));
    put_doubles("tpot_ms", col([](const PointResult& r) { return r.tpot_ms; }));
    put_doubles("ttft_ms", col([](const PointResult& r) { return r.ttft_ms; }));
    put_doubles("compute_ms", col([](const PointResult& r) { return r.compute_ms; }));
    put_doubles("memory_ms", col([](const PointResult& r) { return r.memory_ms; }));
    put_doubles("exposed_comm_ms", col([](const PointResult& r) { return r.exposed_comm_ms; }));
    put_doubles("memory_gb", col([](const PointResult& r) { return r.memory_gb; }));
    put_doubles("fits", col([](const PointResult& r) { return r.fits ? 1 : 0; }));
    put_doubles("meets_slo", col([](const PointResult& r) { return r.meets_slo ? 1 : 0; }));
    H5Pclose(dcpl);
    h5_check(H5Fclose(file), path, "close");
    out.commit();
}

std::vector<std::pair<std::string, std::string>> plots(const Study& st,
                                                       const std::vector<PointResult>& rs) {
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t k = 0; k < st.axes.size(); ++k) {
        std::string name = st.axes[k].param;
        for (char& c : name)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        out.emplace_back("throughput_vs_" + name + ".svg", axis_plot(st, rs, k));
    }
    out.emplace_back("pareto_tpot.svg", pareto_plot(st, rs));
    out.emplace_back("bottleneck.svg", bottleneck_plot(st, rs));
    return out;
}

std::string summary_md(const Study& st, const std::vector<PointResult>& rs) {
    std::string s = "# " + st.name + "\n\n**Question.** " + st.question + "\n\n";
    s += "Model " + st.model + "; " + std::to_string(rs.size()) + " points";
    if (st.tpot_slo_ms) s += "; TPOT SLO " + g(*st.tpot_slo_ms) + " ms";
    if (st.ttft_slo_ms) s += "; TTFT SLO " + g(*st.ttft_slo_ms) + " ms";
    s += ". Throughput is tokens/s per device (input tokens in prefill, output tokens in "
         "decode) on the analytical path (docs/studies.md).\n\n";
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
    } else {
        size_t bi = rs.size();
        for (size_t i = 0; i < rs.size(); ++i)
            if (rs[i].error.empty() && rs[i].meets_slo &&
                (bi == rs.size() || rs[i].tokens_per_s_per_device > rs[bi].tokens_per_s_per_device))
                bi = i;
        s += "## Answer\n\n";
        if (bi < rs.size())
            s += "Highest throughput meeting the SLO: **" + point_label(st, rs[bi]) + "** at " +
                 fixed(rs[bi].tokens_per_s_per_device, 1) + " tokens/s per device (batch " +
                 std::to_string(rs[bi].batch) + " per device).\n\n";
        else
            s += "No point meets the SLO and fits in memory.\n\n";
    }
    s += "## Results\n\n| point | tokens/s/device |" +
         std::string(st.baseline_device.empty() ? "" : " vs " + st.baseline_device + " |") +
         " step ms | TPOT ms | TTFT ms | batch | micro-batches | bound | fits | meets SLO "
         "|\n|---|---|" +
         (st.baseline_device.empty() ? "" : "---|") + "---|---|---|---|---|---|---|---|\n";
    const size_t shown = std::min<size_t>(rs.size(), 200);
    for (size_t i = 0; i < shown; ++i) {
        const auto& r = rs[i];
        if (!r.error.empty()) {
            s += "| " + point_label(st, r) + " | error: " + r.error + " |" +
                 (st.baseline_device.empty() ? "" : " |") + " | | | | | | | |\n";
            continue;
        }
        const char* bound = r.exposed_comm_ms >= std::max(r.compute_ms, r.memory_ms)
                                ? "communication"
                            : r.compute_ms >= r.memory_ms ? "compute"
                                                          : "memory";
        s += "| " + point_label(st, r) + " | " + fixed(r.tokens_per_s_per_device, 1) + " |";
        if (!st.baseline_device.empty())
            s += " " +
                 (base[i] > 0 ? fixed(r.tokens_per_s_per_device / base[i], 2) + "x"
                              : std::string("-")) +
                 " |";
        s += " " + fixed(r.step_time_ms, 2) + " | " + (r.tpot_ms > 0 ? fixed(r.tpot_ms, 2) : "-") +
             " | " + (r.ttft_ms > 0 ? fixed(r.ttft_ms, 1) : "-") + " | " + std::to_string(r.batch) +
             " | " + std::to_string(r.micro_batches) + " | " + bound + " | " +
             (r.fits ? "yes" : "no") + " | " + (r.meets_slo ? "yes" : "no") + " |\n";
    }
    if (shown < rs.size())
        s += "\n(first " + std::to_string(shown) + " of " + std::to_string(rs.size()) +
             " points; all are in results.csv)\n";
    s += "\n## Plots\n\n";
    for (const auto& [name, svg] : plots(st, rs))
        s += "- [" + name + "](" + name + ")\n";
    return s;
}

}  // namespace dssim::sweep
