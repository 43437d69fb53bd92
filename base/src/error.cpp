// One-line error messages: "file: field: problem", dropping empty parts.
#include "dssim/base/error.h"

namespace dssim {

std::string error_message(std::string_view file, std::string_view field, std::string_view problem) {
    std::string message;
    if (!file.empty()) {
        message.append(file).append(": ");
    }
    if (!field.empty()) {
        message.append(field).append(": ");
    }
    message.append(problem);
    // Keep the promise of one line even if a problem text embeds newlines.
    for (char& c : message) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return message;
}

void throw_input_error(std::string_view file, std::string_view field, std::string_view problem) {
    throw InputError(error_message(file, field, problem));
}

}  // namespace dssim
