// Where dssim finds its built-in data (configs/). The source tree's configs/ is compiled in;
// DSSIM_CONFIG_DIR in the environment overrides it (for installed or relocated binaries).
#pragma once

#include <filesystem>
#include <string_view>

namespace dssim {

std::filesystem::path config_dir();

// Resolves a built-in name or a path: if `name_or_path` names an existing file it is returned
// as is; otherwise configs/<subdir>/<name>.json. Throws InputError listing the available names
// when neither exists, e.g. "unknown device 'h900' (available: a100, h100, ...)".
std::filesystem::path resolve_config(std::string_view subdir,
                                     std::string_view name_or_path,
                                     std::string_view what);

}  // namespace dssim
