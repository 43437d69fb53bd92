// Static contiguous partitioning: chunk boundaries depend only on (n, threads, grain).
#include "dssim/base/parallel.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace dssim {

int hardware_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

void parallel_for(size_t n,
                  int threads,
                  const std::function<void(size_t, size_t)>& body,
                  size_t grain) {
    if (n == 0) {
        return;
    }
    grain = std::max<size_t>(grain, 1);
    size_t units = (n + grain - 1) / grain;
    size_t workers = std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), units);
    if (workers <= 1) {
        body(0, n);
        return;
    }
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto run = [&](size_t w) {
        size_t u0 = units * w / workers;
        size_t u1 = units * (w + 1) / workers;
        size_t begin = std::min(n, u0 * grain);
        size_t end = std::min(n, u1 * grain);
        if (begin >= end) {
            return;
        }
        try {
            body(begin, end);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!first_error) {
                first_error = std::current_exception();
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (size_t w = 1; w < workers; ++w) {
        pool.emplace_back(run, w);
    }
    run(0);
    for (auto& t : pool) {
        t.join();
    }
    if (first_error) {
        std::rethrow_exception(first_error);
    }
}

}  // namespace dssim
