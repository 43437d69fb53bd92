// Progress reporting for long runs, on stderr so stdout stays machine-readable. Shown when
// stderr is a terminal, or always when DSSIM_PROGRESS=1; never when DSSIM_PROGRESS=0.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

namespace dssim {

// What a Progress counts: items ("3/10") or bytes ("0.52/1.17 GB").
enum class ProgressUnit { Count, Bytes };

class Progress {
  public:
    Progress(std::string label, size_t total, ProgressUnit unit = ProgressUnit::Count);
    ~Progress();
    void advance(size_t steps = 1);
    // Ends the bar where it stands (an interrupted run shows how far it got).
    void finish();
    // The work is done: the bar reaches its end whatever was counted, then finishes.
    void complete();

  private:
    void draw(bool final);
    std::string label_;
    size_t total_;
    ProgressUnit unit_;
    size_t done_ = 0;
    bool enabled_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_;
};

// For one long call that reports no progress of its own (a full-mode SystemC simulation): a
// line "<label> ... 3.2 s" redrawn twice a second by a helper thread until finish(), which
// prints the total time. Same rules as Progress for when it is shown.
class Activity {
  public:
    explicit Activity(std::string label);
    ~Activity();
    void finish();

  private:
    std::string label_;
    bool enabled_;
    std::chrono::steady_clock::time_point start_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread ticker_;
};

// "1.17 GB", "812.0 MB", "512 B": decimal units, as the rest of dssim reports memory.
std::string human_bytes(double bytes);

}  // namespace dssim
