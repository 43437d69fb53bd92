// Weight lookup (graph parameter name -> HF tensors in the mapped checkpoint, with dtype and
// shape checks) and the streaming linear layer.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/kernels/gemm.h"
#include "dssim/kernels/quant.h"
#include "internal.h"

namespace dssim::reference::detail {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Checks one checkpoint tensor against the expected dtype and shape.
models::TensorView checked_view(const models::Checkpoint& ckpt,
                                const std::string& name,
                                DType dtype,
                                const std::vector<int64_t>& shape) {
    const models::Checkpoint::Entry* e = ckpt.find(name);
    if (e == nullptr) {
        throw_input_error(ckpt.directory().string(), "tensor " + name,
                          "missing from the checkpoint");
    }
    if (e->info->dtype != dtype || e->info->shape != shape) {
        throw_input_error(ckpt.directory().string(), "tensor " + name,
                          "is " + std::string(numerics::dtype_name(e->info->dtype)) + " " +
                              shape_text(e->info->shape) + ", expected " +
                              std::string(numerics::dtype_name(dtype)) + " " + shape_text(shape));
    }
    return ckpt.tensor(name);
}

}  // namespace

const Weight& WeightStore::get(const std::string& param,
                               DType dtype,
                               const std::vector<int64_t>& shape) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(param);
    if (it != cache_.end()) return *it->second;
    auto w = std::make_unique<Weight>();
    const std::vector<std::string> names = models::hf_tensor_names(config_, param);
    w->name = names.front();
    w->dtype = dtype;
    w->rows = shape.size() == 2 ? shape[0] : 1;
    w->cols = shape.back();
    const models::TensorView v = checked_view(ckpt_, names.front(), dtype, shape);
    w->mapped = v.data;
    const size_t align = numerics::dtype_size(dtype);
    if (reinterpret_cast<uintptr_t>(v.data.data()) % align == 0) {
        w->data = v.data.data();
    } else {
        // Misaligned inside the file (odd-sized tensors before it): an aligned copy.
        w->owned.assign(v.data.begin(), v.data.end());
        w->data = w->owned.data();
    }
    if (dtype == DType::F8E4M3) {
        if (names.size() < 2) {
            throw_input_error(ckpt_.directory().string(), "tensor " + w->name,
                              "FP8 weight without weight_scale_inv");
        }
        const int64_t b = config_.weight_block_size;
        const std::vector<int64_t> sshape = {(w->rows + b - 1) / b, (w->cols + b - 1) / b};
        const models::TensorView s = checked_view(ckpt_, names[1], DType::F32, sshape);
        w->owned_scale.resize(static_cast<size_t>(sshape[0] * sshape[1]));
        std::memcpy(w->owned_scale.data(), s.data.data(), s.data.size());
        for (float f : w->owned_scale) {
            if (!(f > 0.0f) || !std::isfinite(f)) {
                throw_input_error(ckpt_.directory().string(), "tensor " + names[1],
                                  "scale is not a positive finite number");
            }
        }
        w->scale = w->owned_scale.data();
        w->scale_cols = sshape[1];
    }
    const Weight& ref = *w;
    cache_.emplace(param, std::move(w));
    return ref;
}

void WeightStore::release_pages(const Weight& w) const {
    if (!streaming_ || w.mapped.empty() || !w.owned.empty()) return;
    static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto begin = reinterpret_cast<uintptr_t>(w.mapped.data());
    auto end = begin + w.mapped.size();
    begin = (begin + page - 1) / page * page;  // only whole pages of this tensor
    end = end / page * page;
    if (end > begin) {
        // The mapping is read-only and private: dropping the pages only unmaps them from this
        // process (the page cache keeps them); a later access faults them back in.
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }
}

namespace {
constexpr size_t kBlock = kernels::kFp8Block;
}

void linear(const LinearInput& x, size_t m, const Weight& w, uint16_t* y, int threads) {
    const auto n = static_cast<size_t>(w.rows), k = static_cast<size_t>(w.cols);
    if (m == 0) return;
    const size_t blocks = kernels::ceil_div(n, kBlock);
    // Column blocks go to threads in contiguous ranges; each range reuses one dequant buffer.
    parallel_for(blocks, threads, [&](size_t b0, size_t b1) {
        std::vector<uint16_t> wtile;
        std::vector<uint16_t> ytile(m * kBlock);
        for (size_t b = b0; b < b1; ++b) {
            const size_t n0 = b * kBlock, nb = std::min(kBlock, n - n0);
            if (x.format == ActFormat::Fp8) {
                if (w.dtype != DType::F8E4M3) {
                    throw std::logic_error("linear: FP8 activations with a non-FP8 weight");
                }
                kernels::fp8_gemm(x.fp8, x.scale, w.fp8() + n0 * k,
                                  w.scale + b * static_cast<size_t>(w.scale_cols), ytile.data(),
                                  DType::BF16, m, nb, k, 1,
                                  kernels::Fp8Promotion::TritonSequential);
            } else {
                const uint16_t* wb = nullptr;
                if (w.dtype == DType::F8E4M3) {
                    wtile.resize(kBlock * k);
                    kernels::weight_dequant(w.fp8() + n0 * k,
                                            w.scale + b * static_cast<size_t>(w.scale_cols),
                                            wtile.data(), nb, k, 1);
                    wb = wtile.data();
                } else {
                    wb = w.bf16() + n0 * k;
                }
                kernels::gemm(x.bf16, DType::BF16, wb, DType::BF16, ytile.data(), DType::BF16, m,
                              nb, k, 1);
            }
            for (size_t i = 0; i < m; ++i) {
                std::memcpy(y + i * n + n0, ytile.data() + i * nb, nb * sizeof(uint16_t));
            }
        }
    });
}

std::vector<uint16_t> dequantize(const Weight& w, int threads) {
    const auto n = static_cast<size_t>(w.rows), k = static_cast<size_t>(w.cols);
    std::vector<uint16_t> out(n * k);
    if (w.dtype == DType::F8E4M3) {
        kernels::weight_dequant(w.fp8(), w.scale, out.data(), n, k, threads);
    } else if (w.dtype == DType::BF16) {
        std::memcpy(out.data(), w.data, n * k * sizeof(uint16_t));
    } else {
        throw std::logic_error("dequantize: unsupported weight dtype");
    }
    return out;
}

}  // namespace dssim::reference::detail
