// Selection and gather kernels: deterministic top-k and the embedding lookup.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dssim::kernels {

// Per row of scores [rows, cols] (FP32), the k largest entries in descending order. Ties
// (equal values, including +0 == -0) go to the LOWER index first; NaN ranks above every number
// (as torch.topk). indices [rows, k] int64; values [rows, k] may be null. Requires k <= cols
// (InputError otherwise).
void topk(const float* scores,
          size_t rows,
          size_t cols,
          size_t k,
          int64_t* indices,
          float* values,
          int threads);

// out[t, :] = table[ids[t], :], BF16 rows of `dim` elements. An id outside [0, vocab) throws
// InputError naming `what` (e.g. "embed.weight").
void embedding(const uint16_t* table,  // [vocab, dim]
               size_t vocab,
               size_t dim,
               const int64_t* ids,  // [tokens]
               size_t tokens,
               uint16_t* out,  // [tokens, dim]
               int threads,
               const char* what = "embedding");

}  // namespace dssim::kernels
