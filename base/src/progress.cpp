// Progress bar on stderr with rate and ETA, redrawn at most 10 times a second.
#include "dssim/base/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dssim {

namespace {
bool progress_enabled() {
    const char* env = std::getenv("DSSIM_PROGRESS");
    if (env != nullptr && std::strcmp(env, "0") == 0) {
        return false;
    }
    if (env != nullptr && std::strcmp(env, "1") == 0) {
        return true;
    }
    return ::isatty(STDERR_FILENO) != 0;
}
}  // namespace

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(progress_enabled()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
    if (!finished_ && enabled_ && done_ > 0) {
        std::fputc('\n', stderr);
    }
}

void Progress::advance(size_t steps) {
    done_ += steps;
    if (!enabled_) {
        return;
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ >= std::chrono::milliseconds(100) || done_ >= total_) {
        last_draw_ = now;
        draw(false);
    }
}

void Progress::finish() {
    if (enabled_ && !finished_) {
        draw(true);
        std::fputc('\n', stderr);
    }
    finished_ = true;
}

void Progress::draw(bool final) {
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double fraction = total_ == 0 ? 1.0 : static_cast<double>(done_) / static_cast<double>(total_);
    if (fraction > 1.0) {
        fraction = 1.0;
    }
    constexpr int kWidth = 30;
    int filled = static_cast<int>(fraction * kWidth);
    char bar[kWidth + 1];
    for (int i = 0; i < kWidth; ++i) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[kWidth] = '\0';
    double eta = (fraction > 0.0 && !final) ? elapsed * (1.0 - fraction) / fraction : 0.0;
    std::fprintf(stderr, "\r%s [%s] %zu/%zu %5.1f%%  elapsed %.1fs  eta %.1fs ", label_.c_str(),
                 bar, done_, total_, fraction * 100.0, elapsed, eta);
    std::fflush(stderr);
}

}  // namespace dssim
