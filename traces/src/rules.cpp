// Loading the kernel classification rule table and classifying kernel names with it.
#include "dssim/traces/rules.h"

#include "dssim/base/error.h"
#include "dssim/base/paths.h"

namespace dssim::traces {

std::string_view resource_name(Resource r) {
    switch (r) {
        case Resource::Compute:
            return "compute";
        case Resource::Memory:
            return "memory";
        case Resource::Network:
            return "network";
    }
    return "?";
}

size_t RuleTable::category_index(std::string_view name) const {
    for (size_t i = 0; i < categories.size(); ++i)
        if (categories[i].name == name) return i;
    throw_input_error(file, "categories", "unknown category '" + std::string(name) + "'");
}

size_t RuleTable::classify(std::string_view name, std::string_view cat, bool& matched) const {
    for (const Rule& r : rules) {
        std::string_view field = r.field == "cat" ? cat : name;
        if (std::regex_search(field.begin(), field.end(), r.re)) {
            matched = true;
            return category_index(r.category);
        }
    }
    matched = false;
    return category_index(fallback);
}

namespace {

Probe parse_probe(JsonFields f) {
    Probe p;
    p.op = f.string("op");
    if (p.op == "gemm" || p.op == "grouped_gemm") {
        p.m = f.integer("m");
        p.n = f.integer("n");
        p.k = f.integer("k");
        p.groups = f.integer_or("groups", 1);
        p.dtype = f.string("dtype");
        if (p.m <= 0 || p.n <= 0 || p.k <= 0 || p.groups <= 0) f.fail("m", "sizes must be > 0");
    } else if (p.op == "attention") {
        p.phase = f.string("phase");
        p.batch = f.integer("batch");
        p.q_len = f.integer("q_len");
        p.kv_len = f.integer("kv_len");
        p.heads = f.integer("heads");
        p.qk_head_dim = f.integer("qk_head_dim");
        p.v_head_dim = f.integer("v_head_dim");
        p.dtype = f.string("dtype");
        p.causal = f.boolean_or("causal", true);
        if (p.phase != "prefill" && p.phase != "decode") f.fail("phase", "prefill or decode");
        if (p.batch <= 0 || p.q_len <= 0 || p.kv_len <= 0 || p.heads <= 0 || p.qk_head_dim <= 0 ||
            p.v_head_dim <= 0)
            f.fail("batch", "sizes must be > 0");
    } else if (p.op == "memory") {
        p.bytes_read = f.number("bytes_read");
        p.bytes_written = f.number("bytes_written");
        if (p.bytes_read < 0 || p.bytes_written < 0 || p.bytes_read + p.bytes_written <= 0)
            f.fail("bytes_read", "bytes must be >= 0 and not both 0");
    } else if (p.op == "collective") {
        p.kind = f.string("kind");
        p.bytes = f.number("bytes");
        p.participants = f.integer_or("participants", 0);
        p.members_per_domain = f.integer_or("members_per_domain", 0);
        if (p.bytes <= 0) f.fail("bytes", "must be > 0");
        if (p.kind != "dispatch" && p.kind != "combine" && p.kind != "all_to_all" &&
            p.kind != "all_reduce" && p.kind != "all_gather" && p.kind != "reduce_scatter")
            f.fail("kind", "unknown collective '" + p.kind + "'");
    } else {
        f.fail("op", "unknown probe op '" + p.op +
                         "' (gemm, grouped_gemm, attention, memory, collective)");
    }
    f.ignore({"note"});
    f.reject_unknown();
    return p;
}

}  // namespace

RuleTable parse_rule_table(const Json& json, const std::string& file) {
    JsonFields root(json, file);
    RuleTable t;
    t.file = file;
    if (root.string("schema") != "dssim-kernel-rules/1")
        root.fail("schema", "expected \"dssim-kernel-rules/1\"");
    t.name = root.string("name");
    t.description = root.string_or("description", "");
    t.fallback = root.string("fallback");

    const Json& cats = root.value("categories");
    if (!cats.is_array() || cats.empty()) root.fail("categories", "expected a non-empty array");
    for (size_t i = 0; i < cats.size(); ++i) {
        JsonFields c(cats[i], file, "categories[" + std::to_string(i) + "]");
        Category cat;
        cat.name = c.string("name");
        cat.description = c.string("description");
        std::string res = c.string("resource");
        if (res == "compute") {
            cat.resource = Resource::Compute;
        } else if (res == "memory") {
            cat.resource = Resource::Memory;
        } else if (res == "network") {
            cat.resource = Resource::Network;
        } else {
            c.fail("resource", "expected compute, memory or network, got '" + res + "'");
        }
        std::string sc = c.string("stream_class");
        if (sc == "compute") {
            cat.stream_class = StreamClass::Compute;
        } else if (sc == "communication") {
            cat.stream_class = StreamClass::Communication;
        } else {
            c.fail("stream_class", "expected compute or communication, got '" + sc + "'");
        }
        cat.model_work = c.string_or("model_work", "");
        if (!cat.model_work.empty() && cat.model_work != "dense_gemm" &&
            cat.model_work != "expert_gemm" && cat.model_work != "attention" &&
            cat.model_work != "dispatch" && cat.model_work != "combine")
            c.fail("model_work", "unknown model work '" + cat.model_work + "'");
        cat.probe = parse_probe(c.object("probe"));
        c.reject_unknown();
        for (const Category& other : t.categories)
            if (other.name == cat.name) c.fail("name", "duplicate category '" + cat.name + "'");
        t.categories.push_back(std::move(cat));
    }
    (void)t.category_index(t.fallback);

    const Json& rules = root.value("rules");
    if (!rules.is_array()) root.fail("rules", "expected an array");
    for (size_t i = 0; i < rules.size(); ++i) {
        JsonFields r(rules[i], file, "rules[" + std::to_string(i) + "]");
        Rule rule;
        rule.pattern = r.string("match");
        rule.field = r.string_or("field", "name");
        if (rule.field != "name" && rule.field != "cat") r.fail("field", "expected name or cat");
        rule.category = r.string("category");
        rule.note = r.string_or("note", "");
        r.reject_unknown();
        try {
            rule.re = std::regex(rule.pattern, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            r.fail("match", std::string("bad regular expression: ") + e.what());
        }
        bool known = false;
        for (const Category& c : t.categories)
            known = known || c.name == rule.category;
        if (!known) r.fail("category", "unknown category '" + rule.category + "'");
        t.rules.push_back(std::move(rule));
    }

    if (auto inf = root.object_if("dependency_inference")) {
        t.inference.idle_gap_us = inf->number("idle_gap_us");
        t.inference.ended_before_us = inf->number("ended_before_us");
        t.inference.ended_after_us = inf->number("ended_after_us");
        inf->ignore({"note"});
        inf->reject_unknown();
        if (t.inference.idle_gap_us < 0 || t.inference.ended_before_us < 0 ||
            t.inference.ended_after_us < 0)
            inf->fail("idle_gap_us", "inference windows must be >= 0");
    }
    root.ignore({"sources"});
    root.reject_unknown();
    return t;
}

RuleTable load_rule_table(std::string_view name_or_path) {
    std::filesystem::path p = resolve_config("kernel-rules", name_or_path, "kernel rule table");
    return parse_rule_table(load_json_file(p), p.string());
}

}  // namespace dssim::traces
