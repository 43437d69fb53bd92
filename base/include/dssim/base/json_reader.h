// Typed access to JSON config files with errors that name the file and the field path.
// Every config loader (models, devices, deployments, studies) reads through JsonFields so that
// unknown fields, missing fields, wrong types and non-finite numbers all fail the same way:
//   configs/devices/h800.json: memory.bandwidth.value: expected a number, got "fast"
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace dssim {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Parses a JSON file; malformed JSON or an unreadable file throws InputError naming the file.
Json load_json_file(const std::filesystem::path& path);
// Parses JSON text; `origin` names where it came from in error messages.
Json parse_json_text(std::string_view text, std::string_view origin);

class JsonFields {
  public:
    // `object` must be a JSON object; `file` and `path` ("" for the root) prefix errors.
    JsonFields(const Json& object, std::string file, std::string path = "");

    [[nodiscard]] bool has(std::string_view key) const;

    // Required fields: missing or of the wrong type -> InputError.
    [[nodiscard]] double number(std::string_view key);
    [[nodiscard]] int64_t integer(std::string_view key);
    [[nodiscard]] bool boolean(std::string_view key);
    [[nodiscard]] std::string string(std::string_view key);
    [[nodiscard]] std::vector<int64_t> integers(std::string_view key);
    [[nodiscard]] std::vector<double> numbers(std::string_view key);
    [[nodiscard]] JsonFields object(std::string_view key);
    // The raw value (marks the key as consumed).
    [[nodiscard]] const Json& value(std::string_view key);

    // Optional fields: absent (or JSON null) -> the default.
    [[nodiscard]] double number_or(std::string_view key, double fallback);
    [[nodiscard]] int64_t integer_or(std::string_view key, int64_t fallback);
    [[nodiscard]] bool boolean_or(std::string_view key, bool fallback);
    [[nodiscard]] std::string string_or(std::string_view key, std::string_view fallback);
    [[nodiscard]] std::optional<JsonFields> object_if(std::string_view key);

    // Marks keys as known even though this reader does not use them.
    void ignore(std::initializer_list<std::string_view> keys);
    // Throws InputError naming the first field that was never read or ignored.
    void reject_unknown() const;

    // Throws InputError for `key` under this object's path.
    [[noreturn]] void fail(std::string_view key, std::string_view problem) const;
    [[nodiscard]] std::string field_path(std::string_view key) const;
    [[nodiscard]] const std::string& file() const { return file_; }
    [[nodiscard]] const Json& json() const { return *object_; }

  private:
    const Json& get(std::string_view key);
    const Json* object_;
    std::string file_;
    std::string path_;
    std::set<std::string, std::less<>> consumed_;
};

}  // namespace dssim
