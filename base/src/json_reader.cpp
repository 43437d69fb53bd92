// JsonFields: typed, path-aware access to config objects.
#include "dssim/base/json_reader.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"

namespace dssim {

namespace {
std::string type_name(const Json& v) {
    if (v.is_string()) {
        return "string \"" + v.get<std::string>() + "\"";
    }
    return std::string(v.type_name());
}
}  // namespace

Json parse_json_text(std::string_view text, std::string_view origin) {
    // nlohmann keeps the last of duplicate keys silently ("hidden_size" twice, expert-load
    // layers "2" and "2"): refuse them, naming the key and the object it repeats in.
    struct Level {
        bool object = true;
        std::set<std::string> keys;
        std::string path;  // "layers.2", "a[]" for the members of array a
    };
    std::vector<Level> open;
    std::string last_key;
    std::string duplicate;
    auto join = [](const std::string& a, const std::string& b) {
        return a.empty() ? b : a + "." + b;
    };
    auto callback = [&](int, Json::parse_event_t event, Json& parsed) {
        switch (event) {
            case Json::parse_event_t::object_start:
            case Json::parse_event_t::array_start: {
                std::string path;
                if (!open.empty()) {
                    path = open.back().object ? join(open.back().path, last_key)
                                              : open.back().path + "[]";
                }
                open.push_back(
                    Level{event == Json::parse_event_t::object_start, {}, std::move(path)});
                break;
            }
            case Json::parse_event_t::object_end:
            case Json::parse_event_t::array_end:
                if (!open.empty()) open.pop_back();
                break;
            case Json::parse_event_t::key:
                last_key = parsed.get<std::string>();
                if (!open.empty() && !open.back().keys.insert(last_key).second &&
                    duplicate.empty()) {
                    duplicate = join(open.back().path, last_key);
                }
                break;
            default:
                break;
        }
        return true;
    };
    try {
        Json j = Json::parse(text.begin(), text.end(), callback);
        if (!duplicate.empty()) throw_input_error(origin, duplicate, "duplicate key");
        return j;
    } catch (const Json::exception& e) {
        // parse_error (its message names line/column) and out_of_range 406 (a number such as
        // 1e999 that overflows a double) alike: bad input, one line.
        throw_input_error(origin, "", std::string("malformed JSON: ") + e.what());
    }
}

Json load_json_file(const std::filesystem::path& path) {
    if (std::filesystem::is_directory(path)) {
        throw_input_error(path.string(), "", "is a directory, expected a JSON file");
    }
    return parse_json_text(read_file(path), path.string());
}

JsonFields::JsonFields(const Json& object, std::string file, std::string path)
    : object_(&object), file_(std::move(file)), path_(std::move(path)) {
    if (!object.is_object()) {
        throw_input_error(file_, path_.empty() ? "(root)" : path_,
                          "expected a JSON object, got " + type_name(object));
    }
}

std::string JsonFields::field_path(std::string_view key) const {
    if (path_.empty()) {
        return std::string(key);
    }
    return path_ + "." + std::string(key);
}

void JsonFields::fail(std::string_view key, std::string_view problem) const {
    throw_input_error(file_, field_path(key), problem);
}

bool JsonFields::has(std::string_view key) const {
    auto it = object_->find(key);
    return it != object_->end() && !it->is_null();
}

const Json& JsonFields::get(std::string_view key) {
    auto it = object_->find(key);
    if (it == object_->end() || it->is_null()) {
        fail(key, "missing required field");
    }
    consumed_.emplace(key);
    return *it;
}

const Json& JsonFields::value(std::string_view key) {
    return get(key);
}

double JsonFields::number(std::string_view key) {
    const Json& v = get(key);
    if (!v.is_number()) {
        fail(key, "expected a number, got " + type_name(v));
    }
    double d = v.get<double>();
    if (!std::isfinite(d)) {
        fail(key, "expected a finite number");
    }
    return d;
}

int64_t JsonFields::integer(std::string_view key) {
    const Json& v = get(key);
    if (v.is_number_float()) {
        double d = v.get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
            return static_cast<int64_t>(d);
        }
    }
    if (!v.is_number_integer()) {
        fail(key, "expected an integer, got " + type_name(v));
    }
    return v.get<int64_t>();
}

bool JsonFields::boolean(std::string_view key) {
    const Json& v = get(key);
    if (!v.is_boolean()) {
        fail(key, "expected true or false, got " + type_name(v));
    }
    return v.get<bool>();
}

std::string JsonFields::string(std::string_view key) {
    const Json& v = get(key);
    if (!v.is_string()) {
        fail(key, "expected a string, got " + type_name(v));
    }
    return v.get<std::string>();
}

std::vector<int64_t> JsonFields::integers(std::string_view key) {
    const Json& v = get(key);
    if (!v.is_array()) {
        fail(key, "expected an array of integers, got " + type_name(v));
    }
    std::vector<int64_t> out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number_integer()) {
            fail(std::string(key) + "[" + std::to_string(i) + "]",
                 "expected an integer, got " + type_name(v[i]));
        }
        out.push_back(v[i].get<int64_t>());
    }
    return out;
}

std::vector<double> JsonFields::numbers(std::string_view key) {
    const Json& v = get(key);
    if (!v.is_array()) {
        fail(key, "expected an array of numbers, got " + type_name(v));
    }
    std::vector<double> out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number() || !std::isfinite(v[i].get<double>())) {
            fail(std::string(key) + "[" + std::to_string(i) + "]",
                 "expected a finite number, got " + type_name(v[i]));
        }
        out.push_back(v[i].get<double>());
    }
    return out;
}

JsonFields JsonFields::object(std::string_view key) {
    const Json& v = get(key);
    return JsonFields(v, file_, field_path(key));
}

double JsonFields::number_or(std::string_view key, double fallback) {
    return has(key) ? number(key) : (consumed_.emplace(key), fallback);
}
int64_t JsonFields::integer_or(std::string_view key, int64_t fallback) {
    return has(key) ? integer(key) : (consumed_.emplace(key), fallback);
}
bool JsonFields::boolean_or(std::string_view key, bool fallback) {
    return has(key) ? boolean(key) : (consumed_.emplace(key), fallback);
}
std::string JsonFields::string_or(std::string_view key, std::string_view fallback) {
    return has(key) ? string(key) : (consumed_.emplace(key), std::string(fallback));
}
std::optional<JsonFields> JsonFields::object_if(std::string_view key) {
    if (!has(key)) {
        consumed_.emplace(key);
        return std::nullopt;
    }
    return object(key);
}

void JsonFields::ignore(std::initializer_list<std::string_view> keys) {
    for (auto k : keys) {
        consumed_.emplace(k);
    }
}

void JsonFields::reject_unknown() const {
    for (const auto& [key, v] : object_->items()) {
        if (consumed_.find(key) == consumed_.end()) {
            fail(key, "unknown field");
        }
    }
}

}  // namespace dssim
