// Built-in config lookup with an error that lists what is available.
#include "dssim/base/paths.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "dssim/base/error.h"

namespace dssim {

std::filesystem::path config_dir() {
    if (const char* env = std::getenv("DSSIM_CONFIG_DIR"); env != nullptr && *env != '\0') {
        return env;
    }
    return DSSIM_DEFAULT_CONFIG_DIR;
}

std::filesystem::path resolve_config(std::string_view subdir,
                                     std::string_view name_or_path,
                                     std::string_view what) {
    std::filesystem::path direct(name_or_path);
    if (std::filesystem::is_regular_file(direct)) {
        return direct;
    }
    std::filesystem::path dir = config_dir() / subdir;
    std::filesystem::path built_in = dir / (std::string(name_or_path) + ".json");
    if (std::filesystem::is_regular_file(built_in)) {
        return built_in;
    }
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".json") {
            names.push_back(entry.path().stem().string());
        }
    }
    std::sort(names.begin(), names.end());
    std::string list;
    for (const auto& n : names) {
        list += (list.empty() ? "" : ", ") + n;
    }
    throw InputError("unknown " + std::string(what) + " '" + std::string(name_or_path) +
                     "' (not a file; built-in: " + (list.empty() ? "none" : list) + ")");
}

}  // namespace dssim
