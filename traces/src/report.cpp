// Replay metrics and report writers (Markdown, HTML with an SVG timeline, JSON, Chrome trace).
#include "dssim/traces/report.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace dssim::traces {

namespace {

using Interval = std::pair<Ns, Ns>;

std::vector<Interval> merged(std::vector<Interval> v) {
    std::sort(v.begin(), v.end());
    std::vector<Interval> out;
    for (const Interval& i : v) {
        if (i.second <= i.first) continue;
        if (!out.empty() && i.first <= out.back().second) {
            out.back().second = std::max(out.back().second, i.second);
        } else {
            out.push_back(i);
        }
    }
    return out;
}

Ns length(const std::vector<Interval>& v) {
    Ns n = 0;
    for (const Interval& i : v)
        n += i.second - i.first;
    return n;
}

Ns intersection(const std::vector<Interval>& a, const std::vector<Interval>& b) {
    Ns n = 0;
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        Ns lo = std::max(a[i].first, b[j].first);
        Ns hi = std::min(a[i].second, b[j].second);
        if (hi > lo) n += hi - lo;
        if (a[i].second < b[j].second) {
            ++i;
        } else {
            ++j;
        }
    }
    return n;
}

std::string ms(Ns ns) {
    char b[48];
    std::snprintf(b, sizeof b, "%.3f", static_cast<double>(ns) / 1e6);
    return b;
}
std::string us(Ns ns) {
    char b[48];
    std::snprintf(b, sizeof b, "%.1f", static_cast<double>(ns) / 1e3);
    return b;
}
std::string num(double v, const char* f = "%.3f") {
    char b[48];
    std::snprintf(b, sizeof b, f, v);
    return b;
}
std::string pct(double v) {
    return num(v * 100.0, "%.1f") + "%";
}
std::string change(Ns a, Ns b) {
    if (a == 0) return b == 0 ? "0" : "new";
    return num((static_cast<double>(b) / static_cast<double>(a) - 1.0) * 100.0, "%+.1f") + "%";
}

// Kernel names of C++ templates are long; reports show a readable head.
std::string short_name(const std::string& s, size_t n = 90) {
    std::string x = s;
    if (x.rfind("void ", 0) == 0) x = x.substr(5);
    if (x.size() > n) x = x.substr(0, n - 3) + "...";
    return x;
}

std::string escape_html(std::string_view s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '&':
                o += "&amp;";
                break;
            case '"':
                o += "&quot;";
                break;
            default:
                o += c;
        }
    }
    return o;
}

std::string escape_md(std::string_view s) {
    std::string o;
    for (char c : s) {
        if (c == '|' || c == '*' || c == '_' || c == '`' || c == '<' || c == '>') o += '\\';
        o += c;
    }
    return o;
}

// A report section as data, rendered to Markdown and HTML alike.
struct Table {
    std::string title;
    std::string intro;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

}  // namespace

TimelineMetrics measure(const Trace& t,
                        const Classification& cls,
                        const RuleTable& rules,
                        const Schedule& s) {
    TimelineMetrics m;
    const size_t nc = rules.categories.size();
    m.category_time.assign(nc, 0);
    m.category_count.assign(nc, 0);
    m.critical_category_time.assign(nc, 0);
    std::vector<Interval> comp, comm;
    for (size_t i = 0; i < t.kernels.size(); ++i) {
        size_t c = cls.category[i];
        m.category_time[c] += s.dur[i];
        ++m.category_count[c];
        Interval iv{s.start[i], s.start[i] + s.dur[i]};
        (rules.categories[c].stream_class == StreamClass::Communication ? comm : comp)
            .push_back(iv);
    }
    m.span = s.end() - s.begin();
    auto a = merged(std::move(comp));
    auto b = merged(std::move(comm));
    m.compute_busy = length(a);
    m.comm_busy = length(b);
    Ns both = intersection(a, b);
    m.exposed_comm = m.comm_busy - both;
    m.overlap_ratio =
        m.comm_busy > 0 ? static_cast<double>(both) / static_cast<double>(m.comm_busy) : 0;

    if (!t.kernels.empty()) {
        size_t last = 0;
        for (size_t i = 1; i < t.kernels.size(); ++i)
            if (s.start[i] + s.dur[i] > s.start[last] + s.dur[last]) last = i;
        std::vector<uint32_t> path;
        for (int64_t k = static_cast<int64_t>(last); k >= 0 && path.size() <= t.kernels.size();
             k = s.binding[static_cast<size_t>(k)])
            path.push_back(static_cast<uint32_t>(k));
        std::reverse(path.begin(), path.end());
        for (uint32_t k : path)
            m.critical_category_time[cls.category[k]] += s.dur[k];
        m.critical_length = s.start[last] + s.dur[last] - s.start[path.front()];
        m.critical_path = std::move(path);
    }
    return m;
}

void match_kernels(Comparison& c, size_t top) {
    const Trace& A = *c.before.trace;
    const Trace& B = *c.after.trace;
    auto by_time = [](const Trace& t, const Schedule& s) {
        std::vector<uint32_t> o(t.kernels.size());
        std::iota(o.begin(), o.end(), 0u);
        std::stable_sort(o.begin(), o.end(), [&](uint32_t x, uint32_t y) {
            return t.kernels[x].start != t.kernels[y].start
                       ? t.kernels[x].start < t.kernels[y].start
                       : x < y;
        });
        (void)s;
        return o;
    };
    std::unordered_map<std::string, std::vector<uint32_t>> occ;
    for (uint32_t i : by_time(B, c.after.schedule))
        occ[B.name_of(B.kernels[i])].push_back(i);
    std::unordered_map<std::string, size_t> used;
    std::vector<KernelChange> all;
    for (uint32_t i : by_time(A, c.before.schedule)) {
        const std::string& name = A.name_of(A.kernels[i]);
        auto it = occ.find(name);
        if (it == occ.end()) continue;
        size_t& u = used[name];
        if (u >= it->second.size()) continue;
        uint32_t j = it->second[u++];
        all.push_back({i, j, c.before.schedule.dur[i], c.after.schedule.dur[j]});
    }
    c.matched = static_cast<int64_t>(all.size());
    std::stable_sort(all.begin(), all.end(), [](const KernelChange& x, const KernelChange& y) {
        Ns dx = std::llabs(x.after_dur - x.before_dur);
        Ns dy = std::llabs(y.after_dur - y.before_dur);
        if (dx != dy) return dx > dy;
        return x.before < y.before;
    });
    if (all.size() > top) all.resize(top);
    c.top_changes = std::move(all);
}

namespace {

std::vector<Table> tables(const Comparison& c) {
    const RuleTable& R = *c.rules;
    const TimelineMetrics& a = c.before.metrics;
    const TimelineMetrics& b = c.after.metrics;
    std::vector<Table> out;

    Table sum;
    sum.title = "Summary";
    sum.header = {"", c.before.label, c.after.label, "change"};
    auto row = [&](const std::string& name, Ns x, Ns y) {
        sum.rows.push_back({name, ms(x), ms(y), change(x, y)});
    };
    row("span (ms)", a.span, b.span);
    row("compute busy (ms)", a.compute_busy, b.compute_busy);
    row("communication busy (ms)", a.comm_busy, b.comm_busy);
    row("exposed communication (ms)", a.exposed_comm, b.exposed_comm);
    sum.rows.push_back({"overlap ratio (communication hidden under compute)", pct(a.overlap_ratio),
                        pct(b.overlap_ratio), ""});
    row("critical path (ms)", a.critical_length, b.critical_length);
    sum.rows.push_back({"critical path kernels", std::to_string(a.critical_path.size()),
                        std::to_string(b.critical_path.size()), ""});
    sum.rows.push_back({"kernels", std::to_string(c.before.trace->kernels.size()),
                        std::to_string(c.after.trace->kernels.size()), ""});
    out.push_back(std::move(sum));

    Table cat;
    cat.title = "Time per kernel category (summed kernel time, ms)";
    cat.header = {"category",
                  "resource",
                  "kernels",
                  c.before.label,
                  c.after.label,
                  "change",
                  "on critical path before",
                  "on critical path after"};
    for (size_t i = 0; i < R.categories.size(); ++i) {
        if (a.category_count[i] == 0 && b.category_count[i] == 0) continue;
        cat.rows.push_back({R.categories[i].name,
                            std::string(resource_name(R.categories[i].resource)),
                            std::to_string(a.category_count[i]), ms(a.category_time[i]),
                            ms(b.category_time[i]), change(a.category_time[i], b.category_time[i]),
                            ms(a.critical_category_time[i]), ms(b.critical_category_time[i])});
    }
    out.push_back(std::move(cat));

    Table top;
    top.title = "The ten kernels whose time changed most";
    top.header = {"#", "kernel", "category", "stream", "before (us)", "after (us)", "change"};
    for (size_t i = 0; i < c.top_changes.size(); ++i) {
        const KernelChange& k = c.top_changes[i];
        const Kernel& ka = c.before.trace->kernels[k.before];
        top.rows.push_back({std::to_string(i + 1), short_name(c.before.trace->name_of(ka)),
                            R.categories[c.before.cls.category[k.before]].name,
                            c.before.trace->streams[ka.stream].label, us(k.before_dur),
                            us(k.after_dur), change(k.before_dur, k.after_dur)});
    }
    out.push_back(std::move(top));

    for (const Side* s : {&c.before, &c.after}) {
        if (s == &c.after && c.after.trace == c.before.trace) break;
        Table st;
        st.title = "Streams (" + s->label + ")";
        st.header = {"stream", "kernels", "busy (ms)"};
        std::vector<int64_t> count(s->trace->streams.size(), 0);
        std::vector<Ns> busy(s->trace->streams.size(), 0);
        for (size_t i = 0; i < s->trace->kernels.size(); ++i) {
            ++count[s->trace->kernels[i].stream];
            busy[s->trace->kernels[i].stream] += s->schedule.dur[i];
        }
        for (size_t i = 0; i < count.size(); ++i)
            st.rows.push_back({s->trace->streams[i].label, std::to_string(count[i]), ms(busy[i])});
        out.push_back(std::move(st));
    }

    Table unk;
    unk.title = "Kernels no rule matched (category " + R.fallback + ")";
    unk.header = {"kernel", "count"};
    std::map<std::string, int64_t> names = c.before.cls.unknown;
    if (c.after.trace != c.before.trace)
        for (const auto& [n, k] : c.after.cls.unknown)
            names[n] += k;
    for (const auto& [n, k] : names)
        unk.rows.push_back({short_name(n, 120), std::to_string(k)});
    unk.intro = names.empty() ? "None: every kernel matched a rule." : "";
    out.push_back(std::move(unk));

    Table notes;
    notes.title = "Notes";
    notes.header = {"note"};
    for (const std::string& n : c.notes)
        notes.rows.push_back({n});
    out.push_back(std::move(notes));
    return out;
}

// Stable colours per category index (colour-blind friendly first eight, then greys).
const char* colour(size_t i) {
    static const char* k[] = {"#0072b2", "#56b4e9", "#009e73", "#e69f00", "#d55e00", "#cc79a7",
                              "#f0e442", "#999999", "#332288", "#882255", "#44aa99", "#117733",
                              "#aa4499", "#bbbbbb", "#661100", "#6699cc"};
    return k[i % (sizeof k / sizeof k[0])];
}

}  // namespace

std::string timeline_svg(const Comparison& c) {
    const RuleTable& R = *c.rules;
    const double label_w = 150, plot_w = 1000, row_h = 18, gap = 30;
    const Ns scale_ns = std::max<Ns>(1, std::max(c.before.metrics.span, c.after.metrics.span));
    const double px_per_ns = plot_w / static_cast<double>(scale_ns);
    std::string body;
    double y = 10;
    char buf[256];
    for (const Side* s : {&c.before, &c.after}) {
        const Trace& t = *s->trace;
        std::snprintf(buf, sizeof buf,
                      "<text x=\"0\" y=\"%.1f\" font-weight=\"bold\">%s: span %s ms</text>\n",
                      y + 12, escape_html(s->label).c_str(), ms(s->metrics.span).c_str());
        body += buf;
        y += 20;
        const Ns t0 = s->schedule.begin();
        for (size_t st = 0; st < t.streams.size(); ++st) {
            std::snprintf(buf, sizeof buf, "<text x=\"0\" y=\"%.1f\" font-size=\"11\">%s</text>\n",
                          y + 13, escape_html(short_name(t.streams[st].label, 22)).c_str());
            body += buf;
            std::snprintf(buf, sizeof buf,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"#f4f4f4\"/>\n",
                          label_w, y, plot_w, row_h - 2);
            body += buf;
            // Kernels of this stream, merged when they would share a pixel and a category.
            // Each rect has a <title> (the browser's hover tip): the kernel's name, category,
            // start and duration, or for a merged rect the count and the time they cover.
            double cx0 = -1, cx1 = -1;
            size_t ccat = 0, cfirst = 0, ccount = 0;
            Ns cstart = 0, cend = 0, cbusy = 0;
            auto flush = [&] {
                if (cx0 < 0) return;
                std::string tip;
                if (ccount == 1) {
                    const Kernel& k = t.kernels[cfirst];
                    tip = t.strings.at(k.name) + "\n" + R.categories[ccat].name + ", start " +
                          ms(cstart) + " ms, " + us(cbusy) + " us";
                    if (k.flops > 0) tip += ", " + num(k.flops / 1e9) + " GFLOP";
                    if (k.bytes > 0) tip += ", " + num(k.bytes / 1e6) + " MB";
                } else {
                    tip = std::to_string(ccount) + " " + R.categories[ccat].name +
                          " kernels (first: " + t.strings.at(t.kernels[cfirst].name) + ")\n" +
                          ms(cstart) + " to " + ms(cend) + " ms, busy " + us(cbusy) + " us";
                }
                std::snprintf(buf, sizeof buf,
                              "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                              "fill=\"%s\">",
                              label_w + cx0, y, std::max(0.3, cx1 - cx0), row_h - 2, colour(ccat));
                body += buf;
                body += "<title>" + escape_html(tip) + "</title></rect>\n";
            };
            for (size_t i = 0; i < t.kernels.size(); ++i) {
                if (t.kernels[i].stream != st) continue;
                double x0 = static_cast<double>(s->schedule.start[i] - t0) * px_per_ns;
                double x1 = x0 + static_cast<double>(s->schedule.dur[i]) * px_per_ns;
                size_t cat = s->cls.category[i];
                const Ns ks = s->schedule.start[i] - t0, ke = ks + s->schedule.dur[i];
                if (cx0 >= 0 && cat == ccat && x0 - cx1 < 0.5) {
                    cx1 = std::max(cx1, x1);
                    cend = std::max(cend, ke);
                    cbusy += s->schedule.dur[i];
                    ++ccount;
                    continue;
                }
                flush();
                cx0 = x0, cx1 = x1, ccat = cat;
                cfirst = i, ccount = 1, cstart = ks, cend = ke, cbusy = s->schedule.dur[i];
            }
            flush();
            y += row_h;
        }
        // Time axis under the side's streams: ticks at 1, 2 or 5 x 10^k ms, both sides on
        // the same scale (the longer span fills the width).
        const double span_ms = static_cast<double>(scale_ns) / 1e6;
        double step = std::pow(10.0, std::floor(std::log10(span_ms / 5)));
        for (double m : {1.0, 2.0, 5.0, 10.0}) {
            if (span_ms / (step * m) <= 8) {
                step *= m;
                break;
            }
        }
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                      "stroke=\"black\"/>\n",
                      label_w, y + 2, label_w + plot_w, y + 2);
        body += buf;
        for (double v = 0; v <= span_ms * 1.0001; v += step) {
            const double x = label_w + v * 1e6 * px_per_ns;
            std::snprintf(buf, sizeof buf,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                          "stroke=\"black\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                          "text-anchor=\"middle\">%g</text>\n",
                          x, y + 2, x, y + 6, x, y + 17, v);
            body += buf;
        }
        std::snprintf(buf, sizeof buf,
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                      "text-anchor=\"end\">ms</text>\n",
                      label_w - 6, y + 17);
        body += buf;
        y += 22;
        y += gap;
    }
    // Legend.
    double lx = 0;
    for (size_t i = 0; i < R.categories.size(); ++i) {
        if (c.before.metrics.category_count[i] == 0 && c.after.metrics.category_count[i] == 0)
            continue;
        std::snprintf(buf, sizeof buf,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s</text>\n",
                      lx, y, colour(i), lx + 15, y + 10, R.categories[i].name.c_str());
        body += buf;
        lx += 110;
        if (lx > label_w + plot_w - 100) lx = 0, y += 16;
    }
    y += 20;
    std::snprintf(buf, sizeof buf,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n",
                  label_w + plot_w + 10, y);
    return std::string(buf) + body + "</svg>\n";
}

std::string report_markdown(const Comparison& c) {
    std::string o = "# " + c.title + "\n\n";
    for (const Table& t : tables(c)) {
        o += "## " + t.title + "\n\n";
        if (!t.intro.empty()) o += t.intro + "\n\n";
        if (t.rows.empty()) continue;
        o += "|";
        // Cells are appended piece by piece: `" " + std::string&&` draws a false GCC 12
        // -Wrestrict warning (PR 105329).
        for (const auto& h : t.header) {
            o += ' ';
            o += escape_md(h);
            o += " |";
        }
        o += "\n|";
        for (size_t i = 0; i < t.header.size(); ++i)
            o += "---|";
        o += "\n";
        for (const auto& r : t.rows) {
            o += "|";
            for (const auto& cell : r) {
                o += ' ';
                o += escape_md(cell);
                o += " |";
            }
            o += "\n";
        }
        o += "\n";
    }
    o += "The HTML report (report.html) shows both timelines; the re-timed trace opens in "
         "Perfetto (ui.perfetto.dev) or chrome://tracing.\n";
    return o;
}

std::string report_html(const Comparison& c) {
    std::string o =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + escape_html(c.title) +
        "</title>\n<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse;"
        "margin-bottom:18px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:"
        "left}th{background:#eee}</style></head><body>\n<h1>" +
        escape_html(c.title) + "</h1>\n<h2>Timelines</h2>\n" + timeline_svg(c);
    for (const Table& t : tables(c)) {
        o += "<h2>" + escape_html(t.title) + "</h2>\n";
        if (!t.intro.empty()) o += "<p>" + escape_html(t.intro) + "</p>\n";
        if (t.rows.empty()) continue;
        o += "<table><tr>";
        for (const auto& h : t.header)
            o += "<th>" + escape_html(h) + "</th>";
        o += "</tr>\n";
        for (const auto& r : t.rows) {
            o += "<tr>";
            for (const auto& cell : r)
                o += "<td>" + escape_html(cell) + "</td>";
            o += "</tr>\n";
        }
        o += "</table>\n";
    }
    o += "</body></html>\n";
    return o;
}

std::string report_json(const Comparison& c) {
    const RuleTable& R = *c.rules;
    nlohmann::ordered_json j;
    j["title"] = c.title;
    auto side = [&](const Side& s) {
        nlohmann::ordered_json x;
        const TimelineMetrics& m = s.metrics;
        x["label"] = s.label;
        x["kernels"] = s.trace->kernels.size();
        x["span_ms"] = static_cast<double>(m.span) / 1e6;
        x["compute_busy_ms"] = static_cast<double>(m.compute_busy) / 1e6;
        x["comm_busy_ms"] = static_cast<double>(m.comm_busy) / 1e6;
        x["exposed_comm_ms"] = static_cast<double>(m.exposed_comm) / 1e6;
        x["overlap_ratio"] = m.overlap_ratio;
        x["critical_path_ms"] = static_cast<double>(m.critical_length) / 1e6;
        x["critical_path_kernels"] = m.critical_path.size();
        nlohmann::ordered_json cats = nlohmann::ordered_json::object();
        for (size_t i = 0; i < R.categories.size(); ++i) {
            if (m.category_count[i] == 0) continue;
            cats[R.categories[i].name] = {
                {"kernels", m.category_count[i]},
                {"time_ms", static_cast<double>(m.category_time[i]) / 1e6},
                {"critical_path_ms", static_cast<double>(m.critical_category_time[i]) / 1e6}};
        }
        x["categories"] = cats;
        x["unknown_kernels"] = s.cls.unknown_kernels;
        x["import_warnings"] = s.trace->stats.warnings;
        return x;
    };
    j["before"] = side(c.before);
    j["after"] = side(c.after);
    j["matched_kernels"] = c.matched;
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (const KernelChange& k : c.top_changes) {
        top.push_back({{"name", c.before.trace->name_of(c.before.trace->kernels[k.before])},
                       {"before_us", static_cast<double>(k.before_dur) / 1e3},
                       {"after_us", static_cast<double>(k.after_dur) / 1e3}});
    }
    j["top_changes"] = top;
    j["notes"] = c.notes;
    return j.dump(2) + "\n";
}

std::string chrome_trace(const Side& s, const RuleTable& rules, const Dependencies* deps) {
    const Trace& t = *s.trace;
    std::string o;
    o.reserve(t.kernels.size() * 200 + 4096);
    auto put_str = [&](std::string_view v) { o += nlohmann::json(std::string(v)).dump(); };
    auto put_us = [&](Ns ns) {
        char b[48];
        const char* sign = ns < 0 ? "-" : "";
        Ns a = ns < 0 ? -ns : ns;
        std::snprintf(b, sizeof b, "%s%" PRId64 ".%03" PRId64, sign, a / 1000, a % 1000);
        o += b;
    };
    o += "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"dssim replay\",\"label\":";
    put_str(s.label);
    o += ",\"source\":";
    put_str(t.origin);
    o += "},\"traceEvents\":[\n";
    // Processes and threads: integer ids (Perfetto prefers them), names kept in metadata.
    std::map<std::string, int> pid;
    for (const Stream& st : t.streams)
        pid.emplace(st.process, 0);
    int next = 0;
    for (const Stream& st : t.streams)
        if (pid[st.process] == 0 && next >= 0) pid[st.process] = ++next;
    bool first = true;
    auto sep = [&] {
        if (!first) o += ",\n";
        first = false;
    };
    std::map<std::string, bool> named;
    for (size_t i = 0; i < t.streams.size(); ++i) {
        const Stream& st = t.streams[i];
        int p = pid[st.process];
        if (!named[st.process]) {
            named[st.process] = true;
            sep();
            o += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(p) +
                 ",\"tid\":0,\"args\":{\"name\":";
            put_str("process " + st.process);
            o += "}}";
        }
        sep();
        o += "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + std::to_string(p) +
             ",\"tid\":" + std::to_string(i + 1) + ",\"args\":{\"name\":";
        put_str(st.label);
        o += "}}";
    }
    const Ns t0 = s.schedule.begin();
    for (size_t i = 0; i < t.kernels.size(); ++i) {
        const Kernel& k = t.kernels[i];
        sep();
        o += "{\"name\":";
        put_str(t.name_of(k));
        o += ",\"cat\":";
        put_str(rules.categories[s.cls.category[i]].name);
        o += ",\"ph\":\"X\",\"pid\":" + std::to_string(pid[t.streams[k.stream].process]) +
             ",\"tid\":" + std::to_string(k.stream + 1) + ",\"ts\":";
        put_us(s.schedule.start[i] - t0);
        o += ",\"dur\":";
        put_us(s.schedule.dur[i]);
        o += ",\"args\":{\"recorded_ts\":";
        put_us(k.start - t.begin_time());
        o += ",\"recorded_dur\":";
        put_us(k.dur);
        if (k.bytes >= 0) o += ",\"bytes\":" + num(k.bytes, "%.0f");
        o += "}}";
    }
    if (deps != nullptr) {
        int64_t id = 0;
        for (size_t i = 0; i < t.kernels.size(); ++i) {
            for (uint32_t p : deps->cross[i]) {
                ++id;
                const Kernel& a = t.kernels[p];
                const Kernel& b = t.kernels[i];
                sep();
                o += "{\"name\":\"dependency\",\"cat\":\"dependency\",\"ph\":\"s\",\"id\":" +
                     std::to_string(id) +
                     ",\"pid\":" + std::to_string(pid[t.streams[a.stream].process]) +
                     ",\"tid\":" + std::to_string(a.stream + 1) + ",\"ts\":";
                put_us(s.schedule.start[p] - t0 + s.schedule.dur[p] / 2);
                o += "}";
                sep();
                o += "{\"name\":\"dependency\",\"cat\":\"dependency\",\"ph\":\"f\",\"bp\":\"e\","
                     "\"id\":" +
                     std::to_string(id) +
                     ",\"pid\":" + std::to_string(pid[t.streams[b.stream].process]) +
                     ",\"tid\":" + std::to_string(b.stream + 1) + ",\"ts\":";
                put_us(s.schedule.start[i] - t0 + s.schedule.dur[i] / 2);
                o += "}";
            }
        }
    }
    o += "\n]}\n";
    return o;
}

}  // namespace dssim::traces
