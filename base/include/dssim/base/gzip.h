// Gzip files (zlib): a reader that takes gzip-compressed or plain files alike (traces written
// as .json.gz by dssim or a profiler), and a deterministic compressor for dssim's own outputs.
#pragma once

#include <filesystem>
#include <istream>
#include <memory>
#include <string>
#include <string_view>

namespace dssim {

// True if the file starts with the gzip magic bytes (1f 8b).
bool is_gzip_file(const std::filesystem::path& path);

// An input stream over a file, decompressed on the fly if it is gzip. Opening a directory, a
// missing or unreadable file throws InputError naming it; a read error or corrupt compressed
// data while reading throws InputError naming the file.
class FileReader {
  public:
    explicit FileReader(const std::filesystem::path& path);
    ~FileReader();
    FileReader(const FileReader&) = delete;
    FileReader& operator=(const FileReader&) = delete;
    std::istream& stream();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The gzip form of `data`: deflate level 6, no file name, modification time 0 and OS byte 255
// (unknown), so identical input gives identical bytes.
std::string gzip_compress(std::string_view data);

}  // namespace dssim
