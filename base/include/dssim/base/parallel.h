// Deterministic parallelism: work is split into contiguous index ranges decided only by the
// range size, the thread count and the grain, and each index is computed by exactly one thread. No
// reduction ever crosses threads, so results are identical for any thread count.
#pragma once

#include <cstddef>
#include <functional>

namespace dssim {

// Number of hardware threads (at least 1).
int hardware_threads();

// Calls body(begin, end) over [0, n) split into at most `threads` contiguous chunks whose
// boundaries are multiples of `grain` (except the last): with units = ceil(n / grain) and
// c = min(threads, units) chunks, chunk w covers units [units*w/c, units*(w+1)/c). Every chunk
// runs exactly once; all have finished when the call returns. threads <= 1 (or one chunk) runs
// inline. Chunks run on a persistent pool of worker threads (created on first use, reused by
// every later call) plus the calling thread; several threads may call parallel_for at once.
// Idle pool threads, and a caller waiting for its last chunk, poll for up to 200 us before they
// sleep, so back-to-back calls do not pay a kernel wake-up each (where chunks run never changes
// what they compute).
// A parallel_for called from inside a body (nested) runs its chunks inline, one after another,
// on that thread, with the same boundaries. Exceptions thrown by body are rethrown on the
// calling thread after all chunks have finished (the first one caught wins).
void parallel_for(size_t n,
                  int threads,
                  const std::function<void(size_t begin, size_t end)>& body,
                  size_t grain = 1);

}  // namespace dssim
