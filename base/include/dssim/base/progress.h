// Progress reporting for long runs, on stderr so stdout stays machine-readable. Shown when
// stderr is a terminal, or always when DSSIM_PROGRESS=1; never when DSSIM_PROGRESS=0.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace dssim {

class Progress {
  public:
    Progress(std::string label, size_t total);
    ~Progress();
    void advance(size_t steps = 1);
    void finish();

  private:
    void draw(bool final);
    std::string label_;
    size_t total_;
    size_t done_ = 0;
    bool enabled_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace dssim
