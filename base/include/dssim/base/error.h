// Error types shared by every layer. The CLI maps them to exit codes:
// InputError -> 2 (bad input: malformed file, wrong shape, NaN, unknown device ...),
// CheckFailed -> 1 (a comparison ran and found values outside tolerance).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace dssim {

// Bad input from a user-supplied file, flag or value. The message is one line that names the
// file (if any), the field or tensor, and the problem.
class InputError : public std::runtime_error {
  public:
    explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// Joins "file", "field" and "problem" into the one-line form every error uses:
//   configs/devices/h800.json: memory.bandwidth: must be positive (got -1)
std::string error_message(std::string_view file, std::string_view field, std::string_view problem);

[[noreturn]] void throw_input_error(std::string_view file,
                                    std::string_view field,
                                    std::string_view problem);

}  // namespace dssim
