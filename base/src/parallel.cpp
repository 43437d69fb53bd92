// Static contiguous partitioning on a persistent thread pool: chunk boundaries depend only on
// (n, threads, grain); which thread runs a chunk is decided at run time, which cannot change
// any result because every index belongs to exactly one chunk.
#include "dssim/base/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace dssim {

int hardware_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

namespace {

// Upper bound on pool threads; a call asking for more threads still gets all its chunks run
// (by fewer threads), with the same boundaries.
constexpr size_t kMaxPoolThreads = 63;

// Depth of parallel_for bodies running on this thread; a call made inside a body runs inline.
thread_local int t_body_depth = 0;

// How long a thread that finds no work, or waits for a job's last chunk, polls before it sleeps
// on a condition variable. Waking a sleeping thread goes through the kernel (futex), which took
// about 35 us per parallel_for on the development VM (a decode step makes ~60 calls); a pool
// thread that polls picks up the next job within a microsecond. The bound keeps idle threads
// from burning a core for longer than that.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(200);

// Polls `ready` until it returns true or kSpinBeforeSleep has passed; returns its last value.
template <typename Ready>
bool spin_until(Ready ready) {
    const auto until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        if (std::chrono::steady_clock::now() >= until) return ready();
        // More threads than cores (e.g. 8 chunks on 2 cores): let a runnable thread have the
        // core between polls.
        std::this_thread::yield();
    }
}

struct Job {
    const std::function<void(size_t, size_t)>* body;
    size_t n, grain, units, chunks;
    size_t next = 0;               // next chunk to hand out (guarded by the pool mutex)
    std::atomic<size_t> done = 0;  // chunks finished (written under the pool mutex)
    std::exception_ptr error;

    // Runs chunk w (boundaries as documented in parallel.h) and records its first exception.
    void run_chunk(size_t w, std::mutex& error_mutex) {
        const size_t u0 = units * w / chunks;
        const size_t u1 = units * (w + 1) / chunks;
        const size_t begin = std::min(n, u0 * grain);
        const size_t end = std::min(n, u1 * grain);
        if (begin >= end) return;
        ++t_body_depth;
        try {
            (*body)(begin, end);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
        }
        --t_body_depth;
    }
};

// Worker threads live for the whole process and sleep on a condition variable between jobs.
// The caller of a job runs chunks too and never waits for a chunk nobody has claimed, so
// concurrent callers, or more chunks than pool threads, cannot deadlock.
class Pool {
  public:
    void run(Job& job) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            grow(std::min(job.chunks - 1, kMaxPoolThreads));
            queue_.push_back(&job);
            queued_.store(queue_.size(), std::memory_order_release);
        }
        for (size_t i = 1; i < job.chunks; ++i)
            work_cv_.notify_one();
        size_t w = 0;
        while (claim(job, w))
            finish(job, w);
        if (spin_until([&] { return job.done.load(std::memory_order_acquire) == job.chunks; })) {
            // The last finish() may still hold the mutex (it notifies under it); taking it
            // once makes sure that finish() no longer touches the job before it is destroyed.
            std::lock_guard<std::mutex> lock(mutex_);
            return;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        done_cv_.wait(lock, [&] { return job.done.load() == job.chunks; });
    }

  private:
    // Hands out the next chunk of `job`; the job leaves the queue with its last chunk.
    bool claim(Job& job, size_t& w) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (job.next >= job.chunks) return false;
        w = job.next++;
        if (job.next == job.chunks) {
            queue_.erase(std::find(queue_.begin(), queue_.end(), &job));
            queued_.store(queue_.size(), std::memory_order_release);
        }
        return true;
    }

    void finish(Job& job, size_t w) {
        job.run_chunk(w, mutex_);
        std::lock_guard<std::mutex> lock(mutex_);
        // After the last increment the caller may return and destroy the job once it holds the
        // mutex: no access to the job after the unlock.
        if (job.done.fetch_add(1, std::memory_order_acq_rel) + 1 == job.chunks)
            done_cv_.notify_all();
    }

    void grow(size_t want) {
        while (threads_.size() < want)
            threads_.emplace_back([this] { worker(); });
    }

    void worker() {
        for (;;) {
            Job* job = nullptr;
            size_t w = 0;
            spin_until([&] { return queued_.load(std::memory_order_acquire) != 0; });
            {
                std::unique_lock<std::mutex> lock(mutex_);
                work_cv_.wait(lock, [&] { return !queue_.empty(); });
                job = queue_.front();
                w = job->next++;
                if (job->next == job->chunks) {
                    queue_.pop_front();
                    queued_.store(queue_.size(), std::memory_order_release);
                }
            }
            finish(*job, w);
        }
    }

    std::mutex mutex_;
    std::condition_variable work_cv_;
    std::condition_variable done_cv_;
    std::deque<Job*> queue_;  // jobs with chunks not yet handed out
    // queue_.size(), readable without the mutex (what idle workers poll).
    std::atomic<size_t> queued_ = 0;
    std::vector<std::thread> threads_;
};

Pool& pool() {
    // Never destroyed: workers block on the condition variable until the process exits, so a
    // parallel_for from a static destructor still works.
    static Pool* p = new Pool;
    return *p;
}

}  // namespace

void parallel_for(size_t n,
                  int threads,
                  const std::function<void(size_t, size_t)>& body,
                  size_t grain) {
    if (n == 0) {
        return;
    }
    grain = std::max<size_t>(grain, 1);
    const size_t units = (n + grain - 1) / grain;
    const size_t chunks = std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), units);
    if (chunks <= 1) {
        body(0, n);
        return;
    }
    Job job{&body, n, grain, units, chunks};
    if (t_body_depth > 0) {
        // Nested call: the same chunks, one after another on this thread.
        std::mutex error_mutex;
        for (size_t w = 0; w < chunks; ++w)
            job.run_chunk(w, error_mutex);
    } else {
        pool().run(job);
    }
    if (job.error) {
        std::rethrow_exception(job.error);
    }
}

}  // namespace dssim
