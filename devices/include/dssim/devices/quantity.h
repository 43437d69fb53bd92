// Sourced facts: every hardware figure in a device or system config carries its unit, where it
// came from and how sure we are of it. A figure nobody has published stays unknown (no value)
// rather than being guessed, and code that needs it must say so (Quantity::require).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dssim/base/json_reader.h"

namespace dssim::devices {

// How a figure was obtained; the labels of shared/research/hardware-specs.md.
enum class Confidence {
    Primary,    // vendor datasheet or page, the authors' own paper or repository
    Secondary,  // press, third-party database, or a summary of a primary source
    Derived,    // arithmetic from cited inputs (the note says how)
    Unknown,    // no credible source: the value is null
};

std::string_view confidence_name(Confidence c);
std::optional<Confidence> parse_confidence(std::string_view name);

// A number with its unit. `value` is empty exactly when confidence is Unknown.
struct Quantity {
    std::optional<double> value;
    std::string unit;
    std::string source;  // an id from the file's "sources" table
    Confidence confidence = Confidence::Unknown;
    std::string note;  // derivation, conflict or caveat (optional)

    [[nodiscard]] bool known() const { return value.has_value(); }
    // The value, or InputError "<field>: needed by <who> but unknown in <file>".
    [[nodiscard]] double require(std::string_view field, std::string_view who) const;
};

// A sourced non-numeric fact: a yes/no (fp8_native) or a name (link type, topology).
struct Flag {
    std::optional<bool> value;
    std::string source;
    Confidence confidence = Confidence::Unknown;
    std::string note;
};
struct Label {
    std::optional<std::string> value;
    std::string source;
    Confidence confidence = Confidence::Unknown;
    std::string note;
};

// Parsing: `expected_unit` is the one unit the field accepts; "count" fields must be whole
// numbers. Every known value must be finite and > 0. `sources` is the file's source table
// (the id must be declared there).
Quantity parse_quantity(JsonFields& parent,
                        std::string_view key,
                        std::string_view expected_unit,
                        const Json& sources);
Flag parse_flag(JsonFields& parent, std::string_view key, const Json& sources);
// `allowed` lists the accepted values (empty: any non-empty string).
Label parse_label(JsonFields& parent,
                  std::string_view key,
                  const Json& sources,
                  std::initializer_list<std::string_view> allowed = {});

OrderedJson quantity_to_json(const Quantity& q);
OrderedJson flag_to_json(const Flag& f);
OrderedJson label_to_json(const Label& l);

}  // namespace dssim::devices
