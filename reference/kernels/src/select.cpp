// Deterministic top-k and embedding gather. The order is total: value descending with NaN on
// top, then index ascending, so the selection never depends on the sort algorithm or threads.
#include "dssim/kernels/select.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/kernels/naive.h"

namespace dssim::kernels {
namespace {

// True when (va, ia) ranks before (vb, ib): larger value first, NaN above all, ties by index.
inline bool ranks_before(float va, size_t ia, float vb, size_t ib) {
    bool na = std::isnan(va);
    bool nb = std::isnan(vb);
    if (na || nb) {
        if (na && nb) return ia < ib;
        return na;
    }
    if (va != vb) return va > vb;
    return ia < ib;
}

void check_topk(size_t cols, size_t k) {
    if (k > cols) {
        throw_input_error(
            "", "topk",
            "k = " + std::to_string(k) + " exceeds the row length " + std::to_string(cols));
    }
}

}  // namespace

void topk(const float* scores,
          size_t rows,
          size_t cols,
          size_t k,
          int64_t* indices,
          float* values,
          int threads) {
    check_topk(cols, k);
    if (k == 0) return;
    parallel_for(rows, threads, [&](size_t r0, size_t r1) {
        std::vector<size_t> order(cols);
        for (size_t r = r0; r < r1; ++r) {
            const float* row = scores + r * cols;  // [cols]
            std::iota(order.begin(), order.end(), size_t{0});
            // The comparator is a strict total order, so partial_sort's result is unique.
            std::partial_sort(
                order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                [row](size_t a, size_t b) { return ranks_before(row[a], a, row[b], b); });
            for (size_t j = 0; j < k; ++j) {
                indices[r * k + j] = static_cast<int64_t>(order[j]);
                if (values != nullptr) values[r * k + j] = row[order[j]];
            }
        }
    });
}

void embedding(const uint16_t* table,
               size_t vocab,
               size_t dim,
               const int64_t* ids,
               size_t tokens,
               uint16_t* out,
               int threads,
               const char* what) {
    // Validate every id before writing anything, so a bad id leaves `out` untouched.
    for (size_t t = 0; t < tokens; ++t) {
        if (ids[t] < 0 || static_cast<uint64_t>(ids[t]) >= vocab) {
            throw_input_error("", what,
                              "token id " + std::to_string(ids[t]) + " at position " +
                                  std::to_string(t) + " is outside the vocabulary [0, " +
                                  std::to_string(vocab) + ")");
        }
    }
    parallel_for(tokens, threads, [&](size_t t0, size_t t1) {
        for (size_t t = t0; t < t1; ++t) {
            std::memcpy(out + t * dim, table + static_cast<size_t>(ids[t]) * dim,
                        dim * sizeof(uint16_t));
        }
    });
}

namespace naive {

void topk(
    const float* scores, size_t rows, size_t cols, size_t k, int64_t* indices, float* values) {
    check_topk(cols, k);
    for (size_t r = 0; r < rows; ++r) {
        const float* row = scores + r * cols;
        std::vector<size_t> order(cols);
        std::iota(order.begin(), order.end(), size_t{0});
        std::stable_sort(order.begin(), order.end(), [row](size_t a, size_t b) {
            bool na = std::isnan(row[a]);
            bool nb = std::isnan(row[b]);
            if (na != nb) return na;
            if (na) return false;
            return row[a] > row[b];
        });
        for (size_t j = 0; j < k; ++j) {
            indices[r * k + j] = static_cast<int64_t>(order[j]);
            if (values != nullptr) values[r * k + j] = row[order[j]];
        }
    }
}

}  // namespace naive
}  // namespace dssim::kernels
