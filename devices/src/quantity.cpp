// Parsing and serialising sourced facts, with the unit and confidence checks every config shares.
#include "dssim/devices/quantity.h"

#include <cmath>

#include "dssim/base/error.h"

namespace dssim::devices {

std::string_view confidence_name(Confidence c) {
    switch (c) {
        case Confidence::Primary:
            return "primary";
        case Confidence::Secondary:
            return "secondary";
        case Confidence::Derived:
            return "derived";
        case Confidence::Unknown:
            return "unknown";
    }
    return "unknown";
}

std::optional<Confidence> parse_confidence(std::string_view name) {
    for (Confidence c :
         {Confidence::Primary, Confidence::Secondary, Confidence::Derived, Confidence::Unknown}) {
        if (confidence_name(c) == name) {
            return c;
        }
    }
    return std::nullopt;
}

double Quantity::require(std::string_view field, std::string_view who) const {
    if (!value) {
        throw InputError(std::string(field) + ": needed by " + std::string(who) +
                         " but unknown in the device config (no published figure)");
    }
    return *value;
}

namespace {

// Reads "source", "confidence" and "note" shared by every fact kind, and checks that a null
// value goes with confidence "unknown" and vice versa.
template <class Fact>
void parse_common(JsonFields& f, Fact& out, bool has_value, const Json& sources) {
    out.source = f.string("source");
    if (out.source.empty()) {
        f.fail("source", "must name a source id (empty)");
    }
    if (!sources.is_object() || !sources.contains(out.source)) {
        f.fail("source", "'" + out.source + "' is not declared in the file's \"sources\" table");
    }
    std::string conf = f.string("confidence");
    auto c = parse_confidence(conf);
    if (!c) {
        f.fail("confidence",
               "unknown confidence '" + conf + "' (expected primary, secondary, derived, unknown)");
    }
    out.confidence = *c;
    out.note = f.string_or("note", "");
    if (has_value && out.confidence == Confidence::Unknown) {
        f.fail("confidence", "is \"unknown\" but a value is given (use null for unknown figures)");
    }
    if (!has_value && out.confidence != Confidence::Unknown) {
        f.fail("value", "is null but confidence is \"" + conf + "\" (null values are \"unknown\")");
    }
}

template <class Fact>
void common_to_json(OrderedJson& j, const Fact& f) {
    j["source"] = f.source;
    j["confidence"] = confidence_name(f.confidence);
    if (!f.note.empty()) {
        j["note"] = f.note;
    }
}

}  // namespace

Quantity parse_quantity(JsonFields& parent,
                        std::string_view key,
                        std::string_view expected_unit,
                        const Json& sources) {
    JsonFields f = parent.object(key);
    Quantity q;
    if (!f.json().contains("unit")) {
        f.fail("unit", "missing unit (expected \"" + std::string(expected_unit) + "\")");
    }
    q.unit = f.string("unit");
    if (q.unit != expected_unit) {
        f.fail("unit", "unit \"" + q.unit + "\" is not accepted here (expected \"" +
                           std::string(expected_unit) + "\")");
    }
    if (!f.json().contains("value")) {
        f.fail("value", "missing value (use null for an unknown figure)");
    }
    bool has_value = !f.json().at("value").is_null();
    if (has_value) {
        double v = f.number("value");
        if (!(v > 0.0)) {
            f.fail("value", "must be positive (got " + f.json().at("value").dump() + ")");
        }
        if (expected_unit == "count" && v != std::floor(v)) {
            f.fail("value",
                   "a count must be a whole number (got " + f.json().at("value").dump() + ")");
        }
        q.value = v;
    } else {
        f.ignore({"value"});
    }
    parse_common(f, q, has_value, sources);
    f.reject_unknown();
    return q;
}

Flag parse_flag(JsonFields& parent, std::string_view key, const Json& sources) {
    JsonFields f = parent.object(key);
    Flag out;
    if (!f.json().contains("value")) {
        f.fail("value", "missing value (use null for an unknown fact)");
    }
    bool has_value = !f.json().at("value").is_null();
    if (has_value) {
        out.value = f.boolean("value");
    } else {
        f.ignore({"value"});
    }
    parse_common(f, out, has_value, sources);
    f.reject_unknown();
    return out;
}

Label parse_label(JsonFields& parent,
                  std::string_view key,
                  const Json& sources,
                  std::initializer_list<std::string_view> allowed) {
    JsonFields f = parent.object(key);
    Label out;
    if (!f.json().contains("value")) {
        f.fail("value", "missing value (use null for an unknown fact)");
    }
    bool has_value = !f.json().at("value").is_null();
    if (has_value) {
        std::string v = f.string("value");
        if (v.empty()) {
            f.fail("value", "must not be empty (use null for an unknown fact)");
        }
        if (allowed.size() > 0) {
            bool ok = false;
            std::string list;
            for (auto a : allowed) {
                ok = ok || a == v;
                list += (list.empty() ? "" : ", ") + std::string(a);
            }
            if (!ok) {
                f.fail("value", "'" + v + "' is not one of: " + list);
            }
        }
        out.value = v;
    } else {
        f.ignore({"value"});
    }
    parse_common(f, out, has_value, sources);
    f.reject_unknown();
    return out;
}

OrderedJson quantity_to_json(const Quantity& q) {
    OrderedJson j;
    if (q.value) {
        double v = *q.value;
        // Counts and other whole numbers print as integers, as they are written in the files.
        if (v == std::floor(v) && std::fabs(v) < 9.0e15) {
            j["value"] = static_cast<int64_t>(v);
        } else {
            j["value"] = v;
        }
    } else {
        j["value"] = nullptr;
    }
    j["unit"] = q.unit;
    common_to_json(j, q);
    return j;
}

OrderedJson flag_to_json(const Flag& f) {
    OrderedJson j;
    if (f.value) {
        j["value"] = *f.value;
    } else {
        j["value"] = nullptr;
    }
    common_to_json(j, f);
    return j;
}

OrderedJson label_to_json(const Label& l) {
    OrderedJson j;
    if (l.value) {
        j["value"] = *l.value;
    } else {
        j["value"] = nullptr;
    }
    common_to_json(j, l);
    return j;
}

}  // namespace dssim::devices
