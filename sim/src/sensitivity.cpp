// Sensitivity of a step to the estimates that stand in for unknown figures: each calibration
// assumption the step used is halved and doubled and the step simulated again.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "dssim/sim/simulate.h"

namespace dssim::sim {

namespace {

// A stand-in the calibration provides, and how a step's assumption line names its use.
struct StandIn {
    const char* figure;     // field of the calibration's assumptions block
    const char* used_when;  // prefix of the assumption line the cost model or plan writes
    devices::CalibratedValue devices::Assumptions::*field;
};

constexpr StandIn kStandIns[] = {
    {"scale_up_latency", "scale_up.latency unknown", &devices::Assumptions::scale_up_latency},
    {"scale_out_latency", "scale_out.latency unknown", &devices::Assumptions::scale_out_latency},
    {"nic_bandwidth", "scale-out NIC bandwidth unknown", &devices::Assumptions::nic_bandwidth},
    {"onchip_buffer", "on_chip.l2 and on_chip.sram unknown", &devices::Assumptions::onchip_buffer},
    {"runtime_memory_reserve", "runtime_memory_reserve unknown",
     &devices::Assumptions::runtime_memory_reserve},
};

bool used(const SimResult& base, const char* prefix) {
    return std::any_of(base.assumptions.begin(), base.assumptions.end(),
                       [&](const std::string& a) { return a.rfind(prefix, 0) == 0; });
}

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

}  // namespace

double SensitivityRow::swing_ms() const {
    return std::fabs(step_ms_double - step_ms_half);
}

Sensitivity sensitivity(const models::ModelConfig& model,
                        const Hardware& hardware,
                        const Deployment& deployment,
                        const Workload& workload,
                        const SimOptions& options,
                        const SimResult& base) {
    Sensitivity s;
    s.step_ms = base.step_time_ms;
    s.fits = base.fits;
    SimOptions opt = options;
    opt.trace = false;
    for (const StandIn& si : kStandIns) {
        if (!used(base, si.used_when)) continue;
        SensitivityRow row;
        row.figure = std::string("assumptions.") + si.figure;
        const devices::CalibratedValue& v = hardware.calibration.assumptions.*si.field;
        row.unit = v.unit;
        row.value = v.value;
        row.calibration = hardware.calibration.name;
        for (const double factor : {0.5, 2.0}) {
            Hardware hw = hardware;
            double& x = (hw.calibration.assumptions.*si.field).value;
            x *= factor;
            // A reserve is a share of memory: doubling stays below the whole.
            if (si.field == &devices::Assumptions::runtime_memory_reserve) x = std::min(x, 0.9);
            const SimResult r = simulate(model, hw, deployment, workload, opt);
            (factor < 1 ? row.step_ms_half : row.step_ms_double) = r.step_time_ms;
            (factor < 1 ? row.fits_half : row.fits_double) = r.fits;
        }
        s.rows.push_back(std::move(row));
    }
    std::stable_sort(s.rows.begin(), s.rows.end(),
                     [](const SensitivityRow& a, const SensitivityRow& b) {
                         if (a.swing_ms() != b.swing_ms()) return a.swing_ms() > b.swing_ms();
                         return a.figure < b.figure;
                     });
    return s;
}

OrderedJson sensitivity_to_json(const Sensitivity& s) {
    OrderedJson j;
    j["step_time_ms"] = s.step_ms;
    j["fits"] = s.fits;
    OrderedJson rows = OrderedJson::array();
    for (const auto& r : s.rows) {
        OrderedJson o;
        o["figure"] = r.figure;
        o["value"] = r.value;
        o["unit"] = r.unit;
        o["calibration"] = r.calibration;
        o["step_time_ms_half"] = r.step_ms_half;
        o["step_time_ms_double"] = r.step_ms_double;
        o["fits_half"] = r.fits_half;
        o["fits_double"] = r.fits_double;
        rows.push_back(std::move(o));
    }
    j["figures"] = std::move(rows);
    return j;
}

std::string sensitivity_svg(const Sensitivity& s, const std::string& title) {
    // One row per figure: a bar from the step at half to the step at double the estimate,
    // around a line at the unchanged step.
    const double label_w = 300, plot_w = 420, right = 40, row_h = 34, top = 60, bottom = 50;
    const double width = label_w + plot_w + right;
    const double height =
        top + row_h * static_cast<double>(std::max<size_t>(1, s.rows.size())) + bottom;
    double lo = s.step_ms, hi = s.step_ms;
    for (const auto& r : s.rows) {
        lo = std::min({lo, r.step_ms_half, r.step_ms_double});
        hi = std::max({hi, r.step_ms_half, r.step_ms_double});
    }
    const double pad = std::max((hi - lo) * 0.1, s.step_ms * 0.01);
    lo -= pad;
    hi += pad;
    auto x = [&](double ms) { return label_w + (ms - lo) / (hi - lo) * plot_w; };
    std::string out;
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", width) +
           "\" height=\"" + fmt("%.0f", height) +
           "\" font-family=\"sans-serif\" font-size=\"13\">\n";
    out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    out += "<text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">" + xml_escape(title) +
           "</text>\n";
    out +=
        "<text x=\"12\" y=\"44\" fill=\"#444\">step time (ms) with each estimate halved "
        "(blue) and doubled (orange); line: as simulated, " +
        fmt("%.3f", s.step_ms) + " ms</text>\n";
    if (s.rows.empty()) {
        out += "<text x=\"12\" y=\"" + fmt("%.0f", top + 20) +
               "\">no estimated stand-in was used: every figure the step needs is known</text>\n";
    }
    for (size_t i = 0; i < s.rows.size(); ++i) {
        const auto& r = s.rows[i];
        const double y = top + row_h * static_cast<double>(i);
        out += "<text x=\"12\" y=\"" + fmt("%.1f", y + row_h * 0.6) + "\">" +
               xml_escape(r.figure.substr(r.figure.find('.') + 1) + " = " + fmt("%g", r.value) +
                          " " + r.unit) +
               "</text>\n";
        const double xb = x(s.step_ms);
        for (const auto& [ms, colour] :
             {std::pair{r.step_ms_half, "#4477aa"}, std::pair{r.step_ms_double, "#ee7733"}}) {
            const double xa = x(ms);
            out += "<rect x=\"" + fmt("%.1f", std::min(xa, xb)) + "\" y=\"" + fmt("%.1f", y + 6) +
                   "\" width=\"" + fmt("%.1f", std::max(1.0, std::fabs(xa - xb))) + "\" height=\"" +
                   fmt("%.1f", row_h - 12) + "\" fill=\"" + colour + "\"/>\n";
        }
    }
    const double axis_y = top + row_h * static_cast<double>(std::max<size_t>(1, s.rows.size()));
    out += "<line x1=\"" + fmt("%.1f", x(s.step_ms)) + "\" y1=\"" + fmt("%.1f", top) + "\" x2=\"" +
           fmt("%.1f", x(s.step_ms)) + "\" y2=\"" + fmt("%.1f", axis_y) +
           "\" stroke=\"black\" stroke-width=\"1.5\"/>\n";
    out += "<line x1=\"" + fmt("%.1f", label_w) + "\" y1=\"" + fmt("%.1f", axis_y) + "\" x2=\"" +
           fmt("%.1f", label_w + plot_w) + "\" y2=\"" + fmt("%.1f", axis_y) +
           "\" stroke=\"#888\"/>\n";
    for (int t = 0; t <= 4; ++t) {
        const double ms = lo + (hi - lo) * t / 4.0;
        out += "<text x=\"" + fmt("%.1f", x(ms)) + "\" y=\"" + fmt("%.1f", axis_y + 18) +
               "\" text-anchor=\"middle\" fill=\"#444\">" + fmt("%.3f", ms) + "</text>\n";
    }
    out += "<text x=\"" + fmt("%.1f", label_w + plot_w / 2) + "\" y=\"" + fmt("%.1f", axis_y + 38) +
           "\" text-anchor=\"middle\">step time (ms)</text>\n";
    out += "</svg>\n";
    return out;
}

}  // namespace dssim::sim
