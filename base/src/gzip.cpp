// Gzip reading (gzread through a streambuf, so a 1 GB trace never sits in memory) and
// deterministic gzip writing with zlib's deflate.
#include "dssim/base/gzip.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <streambuf>
#include <system_error>
#include <vector>

#include "dssim/base/error.h"

namespace dssim {

bool is_gzip_file(const std::filesystem::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    unsigned char m[2] = {0, 0};
    const size_t n = std::fread(m, 1, 2, f);
    std::fclose(f);
    return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

namespace {

// zlib's messages start with the file name ("f.gz: unexpected end of file"); the error names
// the file already.
std::string zlib_message(const char* msg, const std::string& origin) {
    std::string m = msg ? msg : "unknown zlib error";
    if (m.rfind(origin + ": ", 0) == 0) m.erase(0, origin.size() + 2);
    return m;
}

// gzread reads plain files unchanged too ("transparent" mode), so one buffer serves both.
class GzBuf : public std::streambuf {
  public:
    GzBuf(gzFile f, std::string origin) : f_(f), origin_(std::move(origin)), buf_(1 << 20) {}
    ~GzBuf() override { gzclose(f_); }

  protected:
    int_type underflow() override {
        if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
        const int n = gzread(f_, buf_.data(), static_cast<unsigned>(buf_.size()));
        if (n < 0) {
            int code = 0;
            const char* msg = gzerror(f_, &code);
            throw_input_error(
                origin_, "",
                std::string("cannot read: ") +
                    (code == Z_ERRNO ? std::strerror(errno) : zlib_message(msg, origin_)));
        }
        if (n == 0) {
            // Truncated gzip data ends without an error from gzread; gzerror tells.
            int code = 0;
            const char* msg = gzerror(f_, &code);
            if (code != Z_OK && code != Z_STREAM_END)
                throw_input_error(origin_, "", "cannot read: " + zlib_message(msg, origin_));
            return traits_type::eof();
        }
        setg(buf_.data(), buf_.data(), buf_.data() + n);
        return traits_type::to_int_type(*gptr());
    }

  private:
    gzFile f_;
    std::string origin_;
    std::vector<char> buf_;
};

}  // namespace

struct FileReader::Impl {
    std::unique_ptr<GzBuf> buf;
    std::unique_ptr<std::istream> in;
};

FileReader::FileReader(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw_input_error(path.string(), "", "is a directory, not a file");
    if (!std::filesystem::exists(path, ec)) throw_input_error(path.string(), "", "no such file");
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) {
        throw_input_error(path.string(), "",
                          std::string("cannot open: ") + std::strerror(errno ? errno : EIO));
    }
    impl_->buf = std::make_unique<GzBuf>(f, path.string());
    impl_->in = std::make_unique<std::istream>(impl_->buf.get());
    // Errors thrown by the buffer propagate to the caller instead of setting badbit.
    impl_->in->exceptions(std::ios::badbit);
}

FileReader::~FileReader() = default;

std::istream& FileReader::stream() {
    return *impl_->in;
}

std::string gzip_compress(std::string_view data) {
    z_stream z{};
    // windowBits 15 + 16: a gzip wrapper; deflateSetHeader with a zeroed header gives mtime 0
    // and no name.
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("gzip: deflateInit2 failed");
    gz_header h{};
    h.os = 255;
    deflateSetHeader(&z, &h);
    std::string out;
    out.resize(deflateBound(&z, static_cast<uLong>(std::min<size_t>(data.size(), 1u << 30))) + 64);
    size_t in_pos = 0, out_pos = 0;
    int rc = Z_OK;
    do {
        const size_t chunk = std::min<size_t>(data.size() - in_pos, 1u << 30);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_pos));
        z.avail_in = static_cast<uInt>(chunk);
        in_pos += chunk;
        const int flush = in_pos == data.size() ? Z_FINISH : Z_NO_FLUSH;
        do {
            if (out.size() - out_pos < (1u << 16)) out.resize(out.size() * 2 + (1u << 16));
            z.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
            z.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - out_pos, 1u << 30));
            const size_t before = z.avail_out;
            rc = deflate(&z, flush);
            out_pos += before - z.avail_out;
        } while (z.avail_in > 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    } while (in_pos < data.size());
    deflateEnd(&z);
    out.resize(out_pos);
    return out;
}

}  // namespace dssim
