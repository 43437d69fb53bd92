// Deterministic parallelism: work is split into contiguous index ranges decided only by the
// range size and the thread count, and each index is computed by exactly one thread. No
// reduction ever crosses threads, so results are identical for any thread count.
#pragma once

#include <cstddef>
#include <functional>

namespace dssim {

// Number of hardware threads (at least 1).
int hardware_threads();

// Calls body(begin, end) over [0, n) split into at most `threads` contiguous chunks whose
// boundaries are multiples of `grain` (except the last). threads <= 1 runs inline.
// Exceptions thrown by body are rethrown on the calling thread (the first one wins).
void parallel_for(size_t n,
                  int threads,
                  const std::function<void(size_t begin, size_t end)>& body,
                  size_t grain = 1);

}  // namespace dssim
