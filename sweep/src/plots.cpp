// Sweep plots: hand-written SVG (docs/studies.md "Plots"). Rules the code keeps: prefill and
// decode never share a panel, series or scale (their throughputs count different tokens);
// categorical axes are bars, ordered ones lines; a scale spanning orders of magnitude is
// logarithmic; points that miss the SLO or do not fit are drawn, outlined or hollow; every
// point is drawn; margins and legends are sized from their text so nothing leaves the canvas.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "dssim/sweep.h"

namespace dssim::sweep {

namespace {

std::string g(double v, int digits = 6) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
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

// Width of a text in a sans-serif font, slightly generous (0.62 em per character on average
// for the digits and lower-case letters these plots use).
double text_w(const std::string& s, double size = 12) {
    return static_cast<double>(s.size()) * size * 0.62;
}

// Tick labels: 950, 1.5k, 10k, 2M (never 1e+04).
std::string tick_label(double v) {
    const double a = std::fabs(v);
    if (a >= 1e6) return g(v / 1e6, 3) + "M";
    if (a >= 1e4) return g(v / 1e3, 3) + "k";
    return g(v, 4);
}

// 18 colours that stay apart on white (Tableau 10 and eight darker or saturated ones), and six
// marker shapes: device i gets colour i % 18 and shape i % 6, so up to 18 series differ in
// colour and any two series of a larger set differ in colour or shape.
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                               "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000080", "#800000",
                               "#008080", "#ff00ff", "#000000", "#b8860b", "#4b0082", "#556b2f"};
constexpr size_t kNumColors = sizeof kColors / sizeof kColors[0];
std::string color(size_t i) {
    return kColors[i % kNumColors];
}

// A marker of shape `i % 6` centred on (x, y).
std::string marker(size_t i, double x, double y, double r, const std::string& col, bool filled) {
    const std::string paint = filled ? "fill=\"" + col + "\" stroke=\"" + col + "\""
                                     : "fill=\"white\" stroke=\"" + col + "\" stroke-width=\"1.5\"";
    auto poly = [&](std::initializer_list<std::pair<double, double>> pts) {
        std::string p;
        for (const auto& [dx, dy] : pts)
            p += g(x + dx * r) + "," + g(y + dy * r) + " ";
        p.pop_back();
        return "<polygon points=\"" + p + "\" " + paint + "/>\n";
    };
    switch (i % 6) {
        case 0:
            return "<circle cx=\"" + g(x) + "\" cy=\"" + g(y) + "\" r=\"" + g(r) + "\" " + paint +
                   "/>\n";
        case 1:
            return poly({{-0.9, -0.9}, {0.9, -0.9}, {0.9, 0.9}, {-0.9, 0.9}});
        case 2:
            return poly({{0, -1.2}, {1.1, 0.8}, {-1.1, 0.8}});
        case 3:
            return poly({{0, -1.25}, {1.1, 0}, {0, 1.25}, {-1.1, 0}});
        case 4:
            return poly({{0, 1.2}, {1.1, -0.8}, {-1.1, -0.8}});
        default:
            return poly({{-0.35, -1.1},
                         {0.35, -1.1},
                         {0.35, -0.35},
                         {1.1, -0.35},
                         {1.1, 0.35},
                         {0.35, 0.35},
                         {0.35, 1.1},
                         {-0.35, 1.1},
                         {-0.35, 0.35},
                         {-1.1, 0.35},
                         {-1.1, -0.35},
                         {-0.35, -0.35}});
    }
}

std::string line(double x1, double y1, double x2, double y2, const std::string& extra) {
    return "<line x1=\"" + g(x1) + "\" y1=\"" + g(y1) + "\" x2=\"" + g(x2) + "\" y2=\"" + g(y2) +
           "\" " + extra + "/>\n";
}
std::string text(double x, double y, const std::string& s, const std::string& extra = "") {
    return "<text x=\"" + g(x) + "\" y=\"" + g(y) + "\"" + (extra.empty() ? "" : " " + extra) +
           ">" + xml(s) + "</text>\n";
}

// A value scale: linear from 0, or logarithmic (decades) when the values span orders of
// magnitude, so the small ones stay readable next to the large ones.
struct Scale {
    bool log = false;
    double lo = 0, hi = 1;
    std::vector<double> ticks;
    double frac(double v) const {
        if (!log) return (v - lo) / (hi - lo);
        v = std::max(v, lo);
        return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    }
};

Scale make_scale(const std::vector<double>& values, bool allow_log = true) {
    double lo = 0, hi = 0;
    bool any = false;
    for (double v : values) {
        if (!(v > 0) || !std::isfinite(v)) continue;
        lo = any ? std::min(lo, v) : v;
        hi = any ? std::max(hi, v) : v;
        any = true;
    }
    Scale s;
    if (allow_log && any && hi / lo >= 30) {
        s.log = true;
        // A value just above a decade would make a bar of almost no height: start a decade
        // lower then.
        double d0 = std::floor(std::log10(lo));
        if (lo < 2 * std::pow(10.0, d0)) d0 -= 1;
        const double d1 = std::ceil(std::log10(hi));
        s.lo = std::pow(10.0, d0);
        s.hi = std::pow(10.0, std::max(d1, d0 + 1));
        for (double d = d0; d <= d1; ++d) {
            for (double m : {1.0, 2.0, 5.0}) {
                const double v = m * std::pow(10.0, d);
                if (v > s.hi * 1.0001) break;
                if (m == 1.0 || d1 - d0 <= 3) s.ticks.push_back(v);
            }
        }
        return s;
    }
    if (!(hi > 0)) hi = 1;
    const double raw = hi / 5;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = 10 * mag;
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        if (raw <= m * mag) {
            step = m * mag;
            break;
        }
    }
    for (int k = 0;; ++k) {
        const double v = step * k;
        s.ticks.push_back(v);
        if (v >= hi * 0.9999) break;
    }
    s.hi = s.ticks.back();
    return s;
}

// The document: width and height grow to what was placed on it.
struct Doc {
    double w = 0, h = 0;
    std::string body;
    void fit(double x, double y) {
        w = std::max(w, x);
        h = std::max(h, y);
    }
    std::string str(const std::string& title) const {
        const double width = std::ceil(std::max(w, text_w(title, 15) + 40));
        const double height = std::ceil(h + 10);
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "
               "xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
               g(width) + "\" height=\"" + g(height) + "\" viewBox=\"0 0 " + g(width) + " " +
               g(height) +
               "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" "
               "height=\"100%\" fill=\"white\"/>\n" +
               text(width / 2, 24, title,
                    "text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\"") +
               body + "</svg>\n";
    }
};

// One legend entry: a marker or a swatch, and its text.
struct Entry {
    std::string label;
    std::string col;
    int shape = -1;  // marker shape; -1 a filled swatch, -2 an outlined swatch, -3 a black line
    bool filled = true;
};

// Draws the legend with its top left at (x, y); returns its bottom.
double draw_legend(Doc& d, double x, double y, const std::vector<Entry>& es) {
    for (const auto& e : es) {
        const double cy = y + 8;
        if (e.shape >= 0)
            d.body += marker(static_cast<size_t>(e.shape), x + 7, cy, 4.5, e.col, e.filled);
        else if (e.shape == -3)
            d.body += line(x, cy, x + 14, cy, "stroke=\"black\" stroke-width=\"2\"");
        else if (e.shape == -2)
            d.body += "<rect x=\"" + g(x + 1) + "\" y=\"" + g(cy - 6) +
                      "\" width=\"12\" height=\"12\" fill=\"white\" stroke=\"" + e.col +
                      "\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"/>\n";
        else
            d.body += "<rect x=\"" + g(x + 1) + "\" y=\"" + g(cy - 6) +
                      "\" width=\"12\" height=\"12\" fill=\"" + e.col + "\"/>\n";
        d.body += text(x + 20, cy + 4, e.label, "font-size=\"11\"");
        d.fit(x + 20 + text_w(e.label, 11), cy + 10);
        y += 18;
    }
    return y;
}

// Value axis on the left of a plot area (x0, y0, w, h): grid lines, tick labels and the label.
void y_axis(
    Doc& d, const Scale& s, double x0, double y0, double w, double h, const std::string& lab) {
    double widest = 0;
    for (double v : s.ticks) {
        const double y = y0 + h * (1 - s.frac(v));
        d.body += line(x0, y, x0 + w, y, "stroke=\"#e0e0e0\"");
        d.body += text(x0 - 6, y + 4, tick_label(v), "text-anchor=\"end\"");
        widest = std::max(widest, text_w(tick_label(v)));
    }
    d.body += line(x0, y0, x0, y0 + h, "stroke=\"black\"");
    d.body += line(x0, y0 + h, x0 + w, y0 + h, "stroke=\"black\"");
    const double lx = x0 - 14 - widest;
    d.body += "<text transform=\"translate(" + g(lx) + "," + g(y0 + h / 2) +
              ") rotate(-90)\" text-anchor=\"middle\">" + xml(lab) + "</text>\n";
}

const std::string kLogNote = " (log scale)";

// Phases in the order they first appear among the points without an error.
std::vector<std::string> phases_of(const std::vector<PointResult>& rs) {
    std::vector<std::string> ps;
    for (const auto& r : rs)
        if (r.error.empty() && std::find(ps.begin(), ps.end(), r.phase) == ps.end())
            ps.push_back(r.phase);
    return ps;
}

std::string throughput_label(const std::string& phase) {
    if (phase == "prefill") return "input tokens/s per device";
    if (phase == "decode") return "output tokens/s per device";
    return phase + " tokens/s per device";
}

std::string phase_title(const Study& st, const std::string& phase) {
    if (phase == "prefill" && st.ttft_slo_ms)
        return "prefill (SLO: TTFT <= " + g(*st.ttft_slo_ms) + " ms)";
    if (phase == "decode" && st.tpot_slo_ms)
        return "decode (SLO: TPOT <= " + g(*st.tpot_slo_ms) + " ms)";
    return phase;
}

// Series order and colour: devices in the order they first appear, the same in every plot of
// a study.
std::vector<std::string> devices_of(const std::vector<PointResult>& rs) {
    std::vector<std::string> ds;
    for (const auto& r : rs)
        if (std::find(ds.begin(), ds.end(), r.device) == ds.end()) ds.push_back(r.device);
    return ds;
}
size_t index_of(const std::vector<std::string>& v, const std::string& s) {
    return static_cast<size_t>(std::find(v.begin(), v.end(), s) - v.begin());
}

// True when every label of the axis reads as a number ("x0.5" factors included): such an axis
// is ordered and drawn with lines; any other is categorical and drawn with bars.
bool numeric_axis(const std::vector<std::string>& labels) {
    for (std::string l : labels) {
        if (l == "-") continue;
        if (!l.empty() && l[0] == 'x') l.erase(0, 1);
        char* end = nullptr;
        std::strtod(l.c_str(), &end);
        if (l.empty() || *end != 0) return false;
    }
    return true;
}

std::string short_param(const std::string& p) {
    const auto dot = p.rfind('.');
    return dot == std::string::npos ? p : p.substr(dot + 1);
}

// A point's label without the given axis (for the rows of a per-phase panel).
std::string label_without(const Study& st, const PointResult& r, int skip) {
    std::string s;
    for (size_t k = 0; k < r.labels.size(); ++k) {
        if (static_cast<int>(k) == skip) continue;
        if (!s.empty()) s += ", ";
        const std::string p = short_param(st.axes[k].param);
        s += p == "device" ? r.labels[k] : p + "=" + r.labels[k];
    }
    return s.empty() ? r.device : s;
}

int phase_axis(const Study& st) {
    for (size_t k = 0; k < st.axes.size(); ++k)
        if (st.axes[k].param == "workload.phase") return static_cast<int>(k);
    return -1;
}

constexpr double kTop = 44;       // below the title
constexpr double kPanelGap = 40;  // between stacked panels

// Throughput per device against one axis: one panel per phase; per x value and device the
// best throughput over the other axes (filled when a point meeting the SLO gives it, outlined
// or hollow when none does).
std::string axis_plot(const Study& st, const std::vector<PointResult>& rs, size_t k) {
    const Axis& ax = st.axes[k];
    std::vector<std::string> xs;
    for (const auto& r : rs)
        if (std::find(xs.begin(), xs.end(), r.labels[k]) == xs.end()) xs.push_back(r.labels[k]);
    const bool by_device = ax.param != "device";
    const bool bars = !numeric_axis(xs);
    // Axes other than this one and the phase (which has its own panels).
    const bool others =
        st.axes.size() > (phase_axis(st) >= 0 && static_cast<int>(k) != phase_axis(st) ? 2u : 1u);
    const auto devs = devices_of(rs);
    const auto phases = phases_of(rs);
    struct Cell {
        double v = 0;
        bool ok = false;  // some point meeting the SLO (and fitting) gives v
    };
    Doc d;
    // Left margin: tick labels are at most 5 characters ("2.5k"), plus the rotated label.
    const double left = 30 + text_w("00000") + 16;
    const double n = static_cast<double>(xs.size());
    std::vector<std::string> series;  // devices with a value, in device order
    for (const auto& dv : devs)
        for (const auto& r : rs)
            if (r.device == dv && r.error.empty()) {
                series.push_back(dv);
                break;
            }
    const double nser = by_device ? static_cast<double>(std::max<size_t>(series.size(), 1)) : 1;
    // Width per x value: room for a group of bars (or a line's spacing), spread over at least
    // 480 px.
    const double pw = std::max(480.0, (bars ? std::max(48.0, 12 * nser + 20) : 70) * n);
    const double step = pw / n;
    double widest_x = 0;
    for (const auto& x : xs)
        widest_x = std::max(widest_x, text_w(x));
    const double x_label_h = widest_x * 0.5 + 18;  // labels rotated by -30 degrees
    double y = kTop;
    bool outlined = false;
    for (const auto& ph : phases) {
        std::map<std::pair<std::string, std::string>, Cell> cells;  // (series, x)
        std::vector<double> vals;
        for (const auto& r : rs) {
            if (!r.error.empty() || r.phase != ph) continue;
            const std::string sname = by_device ? r.device : "";
            Cell& c = cells[{sname, r.labels[k]}];
            if (r.meets_slo && (!c.ok || r.tokens_per_s_per_device > c.v)) {
                c.v = r.tokens_per_s_per_device;
                c.ok = true;
            } else if (!c.ok) {
                c.v = std::max(c.v, r.tokens_per_s_per_device);
            }
        }
        for (const auto& [key, c] : cells)
            vals.push_back(c.v);
        const Scale s = make_scale(vals);
        const double ph_h = 260;
        const double y0 = y + 22;
        d.body += text(left, y + 12, phase_title(st, ph), "font-weight=\"bold\"");
        y_axis(d, s, left, y0, pw, ph_h, throughput_label(ph) + (s.log ? kLogNote : ""));
        auto ypos = [&](double v) { return y0 + ph_h * (1 - s.frac(v)); };
        for (size_t i = 0; i < xs.size(); ++i) {
            const double x = left + step * (static_cast<double>(i) + 0.5);
            d.body += line(x, y0 + ph_h, x, y0 + ph_h + 5, "stroke=\"black\"");
            d.body += text(x, y0 + ph_h + 18, xs[i],
                           "text-anchor=\"end\" transform=\"rotate(-30 " + g(x) + " " +
                               g(y0 + ph_h + 18) + ")\"");
        }
        if (bars) {
            // Grouped bars: every series keeps its slot in each group.
            const std::vector<std::string> slots =
                by_device ? series : std::vector<std::string>{""};
            const double gw = step * 0.8;
            const double bw = gw / static_cast<double>(slots.size());
            for (size_t i = 0; i < xs.size(); ++i) {
                for (size_t si = 0; si < slots.size(); ++si) {
                    auto it = cells.find({slots[si], xs[i]});
                    if (it == cells.end()) continue;
                    const std::string& dev = by_device ? slots[si] : xs[i];
                    const std::string col = color(index_of(devs, dev));
                    const double bx = left + step * static_cast<double>(i) + step * 0.1 +
                                      bw * static_cast<double>(si);
                    const double top = ypos(it->second.v);
                    const double h = std::max(0.5, y0 + ph_h - top);
                    d.body +=
                        "<rect x=\"" + g(bx) + "\" y=\"" + g(top) + "\" width=\"" + g(bw * 0.9) +
                        "\" height=\"" + g(h) + "\" " +
                        (it->second.ok ? "fill=\"" + col + "\""
                                       : "fill=\"white\" stroke=\"" + col +
                                             "\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"") +
                        "><title>" + xml(dev + " " + xs[i] + ": " + g(it->second.v, 5)) +
                        "</title></rect>\n";
                    outlined |= !it->second.ok;
                    if (bw >= 30)
                        d.body += text(bx + bw * 0.45, top - 3, g(it->second.v, 4),
                                       "text-anchor=\"middle\" font-size=\"9\"");
                }
            }
        } else {
            for (size_t si = 0; si < series.size(); ++si) {  // ordered axes are never the device
                const std::string& sname = series[si];
                const size_t ci = index_of(devs, sname);
                std::string pts;
                for (size_t i = 0; i < xs.size(); ++i) {
                    auto it = cells.find({sname, xs[i]});
                    if (it == cells.end()) continue;
                    const double x = left + step * (static_cast<double>(i) + 0.5);
                    const double yy = ypos(it->second.v);
                    d.body += marker(ci, x, yy, 4, color(ci), it->second.ok);
                    outlined |= !it->second.ok;
                    if (it->second.ok) pts += g(x) + "," + g(yy) + " ";
                }
                if (!pts.empty())
                    d.body += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" +
                              color(ci) + "\" stroke-width=\"1.5\"/>\n";
            }
        }
        y = y0 + ph_h + x_label_h;
        d.body += text(left + pw / 2, y + 14,
                       ax.param + (ax.factor ? " (factor)" : "") +
                           (others ? "; best over the other axes" : ""),
                       "text-anchor=\"middle\"");
        y += 14 + kPanelGap;
    }
    if (phases.empty()) {
        d.body += text(left, kTop + 20, "no point produced a result (see results.csv)");
        y = kTop + 40;
    }
    std::vector<Entry> es;
    if (by_device)
        for (const auto& sv : series) {
            const size_t ci = index_of(devs, sv);
            es.push_back({sv, color(ci), bars ? -1 : static_cast<int>(ci % 6), true});
        }
    if (outlined) {
        if (bars)
            es.push_back({"outlined: misses the SLO or does not fit", "#555555", -2, false});
        else
            es.push_back({"hollow: misses the SLO or does not fit", "#555555", 0, false});
    }
    if (!bars && !es.empty() && outlined)
        es.push_back({"lines join points meeting the SLO", "#000000", -3, true});
    d.fit(left + pw + 20, y);
    draw_legend(d, left + pw + 24, kTop + 22, es);
    return d.str(st.name + ": throughput per device vs " + ax.param);
}

// Throughput per device against the latency the SLO limits (TPOT in decode, TTFT in prefill):
// every point (hollow when it does not fit), the front over all devices (the best throughput
// reachable at each latency, a black staircase) and each device's own front where it has
// several points.
std::string pareto_plot(const Study& st,
                        const std::vector<PointResult>& rs,
                        const std::string& ph) {
    const bool decode = ph == "decode";
    const auto devs = devices_of(rs);
    auto lat = [&](const PointResult& r) { return decode ? r.tpot_ms : r.ttft_ms; };
    std::vector<double> xv, yv;
    for (const auto& r : rs) {
        if (!r.error.empty() || r.phase != ph) continue;
        xv.push_back(lat(r));
        yv.push_back(r.tokens_per_s_per_device);
    }
    const std::optional<double> slo = decode ? st.tpot_slo_ms : st.ttft_slo_ms;
    if (slo) xv.push_back(*slo);
    const Scale sy = make_scale(yv);
    const Scale sx = make_scale(xv);
    Doc d;
    const double left = 30 + text_w("00000") + 16, top = kTop + 10, pw = 560, ph_h = 360;
    auto X = [&](double v) { return left + pw * sx.frac(v); };
    auto Y = [&](double v) { return top + ph_h * (1 - sy.frac(v)); };
    y_axis(d, sy, left, top, pw, ph_h, throughput_label(ph) + (sy.log ? kLogNote : ""));
    for (double v : sx.ticks) {
        d.body += line(X(v), top + ph_h, X(v), top + ph_h + 5, "stroke=\"black\"");
        d.body += text(X(v), top + ph_h + 18, tick_label(v), "text-anchor=\"middle\"");
    }
    const std::string what = decode ? "TPOT" : "TTFT";
    d.body += text(left + pw / 2, top + ph_h + 40,
                   what + " (ms)" + (sx.log ? kLogNote : "") + "; " + ph + " points only",
                   "text-anchor=\"middle\"");
    if (slo) {
        d.body +=
            line(X(*slo), top, X(*slo), top + ph_h, "stroke=\"red\" stroke-dasharray=\"4 3\"");
        d.body += text(X(*slo) + 4, top + 12, "SLO", "fill=\"red\"");
    }
    bool unfit = false;
    std::vector<std::pair<double, double>> all;
    std::vector<std::string> shown;
    for (size_t di = 0; di < devs.size(); ++di) {
        std::vector<std::pair<double, double>> pts;
        bool any = false;
        for (const auto& r : rs) {
            if (r.device != devs[di] || !r.error.empty() || r.phase != ph) continue;
            any = true;
            std::string m =
                marker(di, X(lat(r)), Y(r.tokens_per_s_per_device), 4, color(di), r.fits);
            m.insert(m.find(' '), " class=\"point\"");  // tests count the points drawn
            d.body += m;
            if (!r.fits) {  // cannot run: shown, never on a front
                unfit = true;
                continue;
            }
            pts.emplace_back(lat(r), r.tokens_per_s_per_device);
            all.emplace_back(lat(r), r.tokens_per_s_per_device);
        }
        if (any) shown.push_back(devs[di]);
        std::sort(pts.begin(), pts.end());
        std::string l;
        double best = -1;
        size_t on = 0;
        for (const auto& [x, y] : pts) {
            if (y <= best) continue;  // dominated: slower and no more throughput
            best = y;
            l += g(X(x)) + "," + g(Y(y)) + " ";
            ++on;
        }
        if (on >= 2)
            d.body += "<polyline points=\"" + l + "\" fill=\"none\" stroke=\"" + color(di) +
                      "\" stroke-width=\"1.2\" stroke-opacity=\"0.7\"/>\n";
    }
    // The front over all devices, as a staircase: at each latency the best throughput any
    // fitting point reaches at that latency or below (flat to the right edge after the last
    // step). Its points are ringed, so a front of one point still shows.
    std::sort(all.begin(), all.end());
    std::string front;
    double best = -1;
    for (const auto& [x, y] : all) {
        if (y <= best) continue;
        if (best > 0) front += g(X(x)) + "," + g(Y(best)) + " ";
        best = y;
        front += g(X(x)) + "," + g(Y(y)) + " ";
        d.body += "<circle class=\"front-point\" cx=\"" + g(X(x)) + "\" cy=\"" + g(Y(y)) +
                  "\" r=\"7.5\" fill=\"none\" stroke=\"black\"/>\n";
    }
    if (!front.empty()) {
        front += g(left + pw) + "," + g(Y(best));
        d.body += "<polyline class=\"front\" points=\"" + front +
                  "\" fill=\"none\" stroke=\"black\" stroke-width=\"1.5\"/>\n";
    }
    std::vector<Entry> es;
    for (const auto& sv : shown) {
        const size_t ci = index_of(devs, sv);
        es.push_back({sv, color(ci), static_cast<int>(ci % 6), true});
    }
    es.push_back({"front over all devices (points ringed)", "#000000", -3, true});
    if (unfit) es.push_back({"hollow: does not fit (not on a front)", "#555555", 0, false});
    d.fit(left + pw + 20, top + ph_h + 50);
    draw_legend(d, left + pw + 24, top, es);
    return d.str(st.name + ": " + ph + " throughput per device vs " + what + " (Pareto front)");
}

// Stacked bar per point: compute, memory, exposed communication (ms of the step), one panel
// per phase with its own scale (a prefill step takes seconds, a decode step milliseconds).
std::string bottleneck_plot(const Study& st, const std::vector<PointResult>& rs) {
    const int pk = phase_axis(st);
    std::vector<std::string> phases;
    for (const auto& r : rs)
        if (std::find(phases.begin(), phases.end(), r.phase) == phases.end())
            phases.push_back(r.phase);
    double widest = 0;
    for (const auto& r : rs)
        widest = std::max(widest, text_w(label_without(st, r, pk)));
    const double left = widest + 16, pw = 480, row = 18;
    const char* parts_name[3] = {"compute (matrix units)", "memory (rest of the compute stream)",
                                 "exposed communication"};
    const char* parts_col[3] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
    Doc d;
    double y = kTop;
    double note_w = 0;
    for (const auto& ph : phases) {
        std::vector<const PointResult*> pts;
        std::vector<double> totals;
        for (const auto& r : rs)
            if (r.phase == ph) {
                pts.push_back(&r);
                totals.push_back(r.compute_ms + r.memory_ms + r.exposed_comm_ms);
            }
        const Scale s = make_scale(totals, false);
        d.body += text(left, y + 12, ph + " (" + std::to_string(pts.size()) + " points)",
                       "font-weight=\"bold\"");
        const double y0 = y + 22, h = row * static_cast<double>(pts.size());
        for (double v : s.ticks) {
            const double x = left + pw * s.frac(v);
            d.body += line(x, y0, x, y0 + h, "stroke=\"#e0e0e0\"");
            d.body += text(x, y0 + h + 16, tick_label(v), "text-anchor=\"middle\"");
        }
        for (size_t i = 0; i < pts.size(); ++i) {
            const PointResult& r = *pts[i];
            const double ry = y0 + row * static_cast<double>(i);
            d.body += text(left - 6, ry + 13, label_without(st, r, pk),
                           "class=\"point\" text-anchor=\"end\"");
            if (!r.error.empty()) {
                d.body += text(left + 4, ry + 13, "error (see results.csv)", "fill=\"#b00000\"");
                note_w = std::max(note_w, text_w("error (see results.csv)"));
                continue;
            }
            double x = left;
            const double parts[3] = {r.compute_ms, r.memory_ms, r.exposed_comm_ms};
            for (int p = 0; p < 3; ++p) {
                const double w = pw * parts[p] / s.hi;
                if (w > 0)
                    d.body += "<rect x=\"" + g(x) + "\" y=\"" + g(ry + 2) + "\" width=\"" + g(w) +
                              "\" height=\"14\" fill=\"" + parts_col[p] + "\"/>\n";
                x += w;
            }
            std::string note = !r.fits ? "does not fit" : !r.meets_slo ? "misses the SLO" : "";
            if (!note.empty()) {
                d.body += text(x + 4, ry + 13, note, "font-size=\"10\" fill=\"#b00000\"");
                note_w = std::max(note_w, (x - left) - pw + text_w(note, 10) + 4);
            }
        }
        d.body += line(left, y0, left, y0 + h, "stroke=\"black\"");
        y = y0 + h + 22;
        d.body += text(left + pw / 2, y + 14, "ms per " + ph + " step on the critical device",
                       "text-anchor=\"middle\"");
        y += 14 + kPanelGap;
    }
    std::vector<Entry> es;
    for (int p = 0; p < 3; ++p)
        es.push_back({parts_name[p], parts_col[p], -1, true});
    d.fit(left + pw + note_w + 20, y);
    draw_legend(d, left + pw + std::max(note_w, 0.0) + 24, kTop + 22, es);
    return d.str(st.name + ": step time by bottleneck (ms)");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> plots(const Study& st,
                                                       const std::vector<PointResult>& rs) {
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t k = 0; k < st.axes.size(); ++k) {
        // The phase axis changes the unit of throughput: every plot already has a panel per
        // phase, and a plot across it would compare input with output tokens.
        if (st.axes[k].param == "workload.phase") continue;
        std::string name = st.axes[k].param;
        for (char& c : name)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        out.emplace_back("throughput_vs_" + name + ".svg", axis_plot(st, rs, k));
    }
    const auto phases = phases_of(rs);
    const bool any_prefill = std::find(phases.begin(), phases.end(), "prefill") != phases.end();
    const bool any_decode = std::find(phases.begin(), phases.end(), "decode") != phases.end();
    if (any_decode || !any_prefill)
        out.emplace_back("pareto_tpot.svg", pareto_plot(st, rs, "decode"));
    if (any_prefill) out.emplace_back("pareto_ttft.svg", pareto_plot(st, rs, "prefill"));
    out.emplace_back("bottleneck.svg", bottleneck_plot(st, rs));
    return out;
}

}  // namespace dssim::sweep
