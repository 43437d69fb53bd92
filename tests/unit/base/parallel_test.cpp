// parallel_for on the persistent pool: documented chunk boundaries, every index exactly once,
// exception propagation, nested calls inline, concurrent callers, and threads reused across calls.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "dssim/base/parallel.h"

namespace dssim {
namespace {

using Chunks = std::vector<std::pair<size_t, size_t>>;

// The boundaries parallel.h documents.
Chunks expected_chunks(size_t n, int threads, size_t grain) {
    Chunks out;
    if (n == 0) return out;
    const size_t units = (n + grain - 1) / grain;
    const size_t c = std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), units);
    for (size_t w = 0; w < c; ++w) {
        const size_t b = std::min(n, units * w / c * grain);
        const size_t e = std::min(n, units * (w + 1) / c * grain);
        if (b < e) out.emplace_back(b, e);
    }
    return out;
}

TEST_CASE("parallel_for runs the documented chunks, each index once") {
    for (int threads : {1, 2, 3, 8}) {
        for (size_t n : {0u, 1u, 7u, 64u, 1000u}) {
            for (size_t grain : {1u, 4u, 7u}) {
                std::vector<std::atomic<int>> hits(n);
                std::mutex mutex;
                Chunks seen;
                parallel_for(
                    n, threads,
                    [&](size_t b, size_t e) {
                        for (size_t i = b; i < e; ++i)
                            hits[i]++;
                        std::lock_guard<std::mutex> lock(mutex);
                        seen.emplace_back(b, e);
                    },
                    grain);
                INFO("threads ", threads, " n ", n, " grain ", grain);
                for (size_t i = 0; i < n; ++i)
                    CHECK(hits[i] == 1);
                std::sort(seen.begin(), seen.end());
                CHECK(seen == expected_chunks(n, threads, grain));
            }
        }
    }
}

TEST_CASE("parallel_for rethrows a body's exception after every chunk has run") {
    for (int threads : {2, 3, 8}) {
        std::atomic<int> ran{0};
        CHECK_THROWS_AS(parallel_for(8, threads,
                                     [&](size_t b, size_t) {
                                         ran++;
                                         if (b == 0) throw std::runtime_error("chunk 0");
                                     }),
                        std::runtime_error);
        CHECK(ran == std::min(threads, 8));
    }
    // The pool still works after an exception.
    std::atomic<size_t> sum{0};
    parallel_for(100, 3, [&](size_t b, size_t e) { sum += e - b; });
    CHECK(sum == 100);
}

TEST_CASE("nested parallel_for runs inline on the calling thread, same chunks") {
    std::vector<std::atomic<int>> hits(8 * 100);
    std::atomic<int> foreign{0};
    std::atomic<int> wrong_chunks{0};
    parallel_for(8, 4, [&](size_t b, size_t e) {
        for (size_t o = b; o < e; ++o) {
            const auto outer_thread = std::this_thread::get_id();
            Chunks seen;
            parallel_for(100, 3, [&](size_t ib, size_t ie) {
                if (std::this_thread::get_id() != outer_thread) foreign++;
                seen.emplace_back(ib, ie);  // inline: no lock needed
                for (size_t i = ib; i < ie; ++i)
                    hits[o * 100 + i]++;
            });
            if (seen != expected_chunks(100, 3, 1)) wrong_chunks++;
        }
    });
    CHECK(foreign == 0);
    CHECK(wrong_chunks == 0);
    for (auto& h : hits)
        CHECK(h == 1);
}

TEST_CASE("concurrent callers share the pool without deadlock") {
    constexpr int kCallers = 4;
    constexpr int kCalls = 50;
    std::vector<std::vector<int>> data(kCallers, std::vector<int>(257, 0));
    std::vector<std::thread> callers;
    for (int c = 0; c < kCallers; ++c) {
        callers.emplace_back([&, c] {
            for (int r = 0; r < kCalls; ++r) {
                parallel_for(data[c].size(), 1 + (c + r) % 4, [&](size_t b, size_t e) {
                    for (size_t i = b; i < e; ++i)
                        data[c][i]++;
                });
            }
        });
    }
    for (auto& t : callers)
        t.join();
    for (const auto& d : data)
        CHECK(std::all_of(d.begin(), d.end(), [](int v) { return v == kCalls; }));
}

thread_local int t_chunks_run = 0;

TEST_CASE("worker threads persist across calls") {
    // Chunk 0 (the caller's) waits until chunk 1 has started, so chunk 1 always runs on a pool
    // thread. Over more calls than the pool can have threads, some pool thread must run two
    // chunks; with a thread created per call every counter would stay at 1.
    int max_count = 0;
    const auto caller = std::this_thread::get_id();
    for (int call = 0; call < 70; ++call) {
        std::atomic<bool> second_started{false};
        std::atomic<int> count_on_worker{0};
        bool timed_out = false;
        parallel_for(2, 2, [&](size_t b, size_t) {
            if (b == 0 && std::this_thread::get_id() == caller) {
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
                while (!second_started && std::chrono::steady_clock::now() < deadline)
                    std::this_thread::yield();
                timed_out = !second_started;
                return;
            }
            second_started = true;
            if (std::this_thread::get_id() != caller) count_on_worker = ++t_chunks_run;
        });
        REQUIRE_FALSE(timed_out);
        max_count = std::max(max_count, count_on_worker.load());
    }
    CHECK(max_count >= 2);
}

}  // namespace
}  // namespace dssim
