// Progress bar on stderr with rate and ETA, redrawn at most 10 times a second; an elapsed-time
// line for single long calls.
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

std::string human_bytes(double bytes) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 5) {
        bytes /= 1000.0;
        ++u;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
    return buf;
}

Progress::Progress(std::string label, size_t total, ProgressUnit unit)
    : label_(std::move(label)),
      total_(total),
      unit_(unit),
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

void Progress::complete() {
    if (done_ < total_) done_ = total_;
    finish();
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
    std::string count;
    if (unit_ == ProgressUnit::Bytes) {
        count = human_bytes(static_cast<double>(done_)) + " of " +
                human_bytes(static_cast<double>(total_));
    } else {
        count = std::to_string(done_) + "/" + std::to_string(total_);
    }
    std::fprintf(stderr, "\r%s [%s] %s %5.1f%%  elapsed %.1fs  eta %.1fs ", label_.c_str(), bar,
                 count.c_str(), fraction * 100.0, elapsed, eta);
    std::fflush(stderr);
}

Activity::Activity(std::string label)
    : label_(std::move(label)),
      enabled_(progress_enabled()),
      start_(std::chrono::steady_clock::now()) {
    if (!enabled_) return;
    ticker_ = std::thread([this] {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
            std::fprintf(stderr, "\r%s ... %.1f s ", label_.c_str(), s);
            std::fflush(stderr);
            if (cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; }))
                return;
        }
    });
}

Activity::~Activity() {
    finish();
}

void Activity::finish() {
    if (!ticker_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    ticker_.join();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "\r%s ... done in %.1f s\n", label_.c_str(), s);
    std::fflush(stderr);
}

}  // namespace dssim
