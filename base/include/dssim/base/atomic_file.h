// Output files appear whole or not at all: data goes to a temporary file in the same
// directory, which is renamed over the target only after a successful close. An AtomicFile
// destroyed without commit() removes its temporary file, so a failed run leaves nothing behind.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace dssim {

class AtomicFile {
  public:
    explicit AtomicFile(std::filesystem::path target);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Path of the temporary file, for libraries that want to open it themselves (HDF5).
    [[nodiscard]] const std::filesystem::path& temp_path() const { return temp_; }
    [[nodiscard]] const std::filesystem::path& target() const { return target_; }

    // Appends bytes to the temporary file (opened lazily for writing).
    void write(const void* data, size_t size);
    void write(std::string_view text) { write(text.data(), text.size()); }

    // Flushes, fsyncs and renames the temporary file onto the target. Throws InputError
    // naming the target if any step fails.
    void commit();

  private:
    std::filesystem::path target_;
    std::filesystem::path temp_;
    std::FILE* file_ = nullptr;
    bool committed_ = false;
};

// Convenience: writes the whole content atomically.
void write_file_atomic(const std::filesystem::path& target, std::string_view content);

// Reads a whole file; throws InputError naming the path if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace dssim
