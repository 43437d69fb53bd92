// Temporary-file-and-rename writer. The temporary name includes the process id so concurrent
// processes (MPI ranks, parallel tests) never share one.
#include "dssim/base/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "dssim/base/error.h"

namespace dssim {

namespace {
std::filesystem::path temp_name_for(const std::filesystem::path& target) {
    std::filesystem::path temp = target;
    temp += ".tmp." + std::to_string(::getpid());
    return temp;
}
}  // namespace

AtomicFile::AtomicFile(std::filesystem::path target)
    : target_(std::move(target)), temp_(temp_name_for(target_)) {}

AtomicFile::~AtomicFile() {
    if (file_ != nullptr) {
        std::fclose(file_);
        file_ = nullptr;
    }
    if (!committed_) {
        std::error_code ignored;
        std::filesystem::remove(temp_, ignored);
    }
}

void AtomicFile::write(const void* data, size_t size) {
    if (file_ == nullptr) {
        file_ = std::fopen(temp_.c_str(), "wb");
        if (file_ == nullptr) {
            throw_input_error(target_.string(), "",
                              std::string("cannot create file: ") + std::strerror(errno));
        }
    }
    if (size != 0 && std::fwrite(data, 1, size, file_) != size) {
        throw_input_error(target_.string(), "",
                          std::string("write failed: ") + std::strerror(errno));
    }
}

void AtomicFile::commit() {
    if (file_ == nullptr && !std::filesystem::exists(temp_)) {
        write("", 0);  // an empty file is still a file
    }
    if (file_ != nullptr) {
        bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
        ok = (std::fclose(file_) == 0) && ok;
        file_ = nullptr;
        if (!ok) {
            throw_input_error(target_.string(), "",
                              std::string("write failed: ") + std::strerror(errno));
        }
    }
    std::error_code ec;
    std::filesystem::rename(temp_, target_, ec);
    if (ec) {
        throw_input_error(target_.string(), "", "cannot rename temporary file: " + ec.message());
    }
    committed_ = true;
}

void write_file_atomic(const std::filesystem::path& target, std::string_view content) {
    AtomicFile file(target);
    file.write(content);
    file.commit();
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw_input_error(path.string(), "", "cannot open file");
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) {
        throw_input_error(path.string(), "", "read failed");
    }
    return buffer.str();
}

}  // namespace dssim
