// Weight lookup (graph parameter name -> HF tensors in the mapped checkpoint, with dtype and
// shape checks) and the streaming linear layer.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "dssim/base/error.h"
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

// MADV_POPULATE_READ (Linux 5.14); older kernels reject it with EINVAL, which only costs the
// optimisation.
#ifdef MADV_POPULATE_READ
constexpr int kMadvPopulateRead = MADV_POPULATE_READ;
#else
constexpr int kMadvPopulateRead = 22;
#endif

// The whole pages inside [p, p + size) (madvise works on pages; the partial pages at the ends
// belong to neighbouring tensors too).
std::pair<uintptr_t, uintptr_t> inner_pages(const std::byte* p, size_t size) {
    static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto begin = reinterpret_cast<uintptr_t>(p);
    auto end = begin + size;
    begin = (begin + page - 1) / page * page;
    end = end / page * page;
    return {begin, std::max(begin, end)};
}

}  // namespace

HugePageBuffer::HugePageBuffer(size_t bytes) {
    constexpr size_t kHuge = size_t{2} << 20;
    static const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    bytes_ = (std::max<size_t>(bytes, 1) + page - 1) / page * page;
    // Below one huge page there is nothing to gain, and a huge page would hold mostly nothing.
    const size_t slack = bytes_ >= kHuge ? kHuge : 0;
    void* p =
        ::mmap(nullptr, bytes_ + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    const auto raw = reinterpret_cast<uintptr_t>(p);
    if (slack == 0) {
        data_ = static_cast<uint8_t*>(p);
        return;
    }
    // Over-allocated by one huge page: trim so that the buffer starts on a 2 MiB boundary. Its
    // last partial 2 MiB (if any) stays in ordinary pages.
    const uintptr_t start = (raw + kHuge - 1) / kHuge * kHuge;
    if (start > raw) ::munmap(p, start - raw);
    if (raw + slack > start) ::munmap(reinterpret_cast<void*>(start + bytes_), raw + slack - start);
    data_ = reinterpret_cast<uint8_t*>(start);
    // Advice only: without transparent huge pages the buffer is ordinary memory.
    ::madvise(data_, bytes_, MADV_HUGEPAGE);
}

HugePageBuffer::~HugePageBuffer() {
    if (data_ != nullptr) ::munmap(data_, bytes_);
}

WeightStore::WeightStore(const models::ModelConfig& config, const models::Checkpoint& checkpoint)
    : config_(config), ckpt_(checkpoint) {
    const char* env = std::getenv("DSSIM_PREFETCH");
    const std::string_view mode = env == nullptr ? "" : env;
    prefetch_on_ = mode != "off";
    populate_ = mode != "willneed";
}

WeightStore::~WeightStore() {
    {
        std::lock_guard<std::mutex> lock(prefetch_mutex_);
        prefetch_stop_ = true;
        prefetch_queue_.clear();
    }
    prefetch_cv_.notify_all();
    if (prefetch_thread_.joinable()) prefetch_thread_.join();
}

void WeightStore::prefetch(const Weight& w) {
    if (!prefetch_on_ || w.mapped.empty() || !w.owned.empty()) return;
    // Resident pages stay mapped once touched: one read-ahead per weight is enough.
    if (!streaming_ && w.prefetched.exchange(true)) return;
    {
        std::lock_guard<std::mutex> lock(prefetch_mutex_);
        if (!prefetch_thread_.joinable())
            prefetch_thread_ = std::thread([this] { prefetch_loop(); });
        prefetch_queue_.push_back(w.mapped);
    }
    prefetch_cv_.notify_one();
}

void WeightStore::prefetch_loop() {
    std::unique_lock<std::mutex> lock(prefetch_mutex_);
    for (;;) {
        prefetch_cv_.wait(lock, [this] { return prefetch_stop_ || !prefetch_queue_.empty(); });
        if (prefetch_stop_) return;
        const std::span<const std::byte> r = prefetch_queue_.front();
        prefetch_queue_.pop_front();
        lock.unlock();
        const auto [begin, end] = inner_pages(r.data(), r.size());
        // Advice only: an error (e.g. an old kernel) just means no read-ahead.
        if (end > begin) {
            void* p = reinterpret_cast<void*>(begin);
            ::madvise(p, end - begin, MADV_WILLNEED);
            // Resident weights stay mapped after use anyway: map them now, in bulk, so the
            // compute threads do not take one page fault per 64 KiB on first touch.
            if (populate_ && !streaming_) ::madvise(p, end - begin, kMadvPopulateRead);
        }
        lock.lock();
    }
}

const Weight* WeightStore::try_get(const std::string& param,
                                   DType dtype,
                                   const std::vector<int64_t>& shape) noexcept {
    try {
        return &get(param, dtype, shape);
    } catch (...) {
        return nullptr;
    }
}

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
        w->interleave = !streaming_;
    }
    const Weight& ref = *w;
    cache_.emplace(param, std::move(w));
    return ref;
}

void WeightStore::release_pages(const Weight& w) const {
    if (!streaming_ || w.mapped.empty() || !w.owned.empty()) return;
    const auto [begin, end] = inner_pages(w.mapped.data(), w.mapped.size());
    if (end > begin) {
        // The mapping is read-only and private: dropping the pages only unmaps them from this
        // process (the page cache keeps them); a later access faults them back in.
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }
}

void WeightStore::drop_mapped_pages(const Weight& w) {
    if (w.mapped.empty() || !w.owned.empty()) return;
    const auto [begin, end] = inner_pages(w.mapped.data(), w.mapped.size());
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

const uint8_t* WeightStore::interleaved(const Weight& w, int threads) {
    if (!w.interleave || !kernels::e4m3_interleaved_active()) return nullptr;
    std::call_once(w.interleaved_once, [&] {
        const auto n = static_cast<size_t>(w.rows), k = static_cast<size_t>(w.cols);
        HugePageBuffer buf(kernels::e4m3_interleaved_bytes(n, k));
        kernels::interleave_e4m3(w.fp8(), n, k, buf.data(), threads);
        w.interleaved = std::move(buf);
        // The kernels now read the copy: the plain codes' pages leave this process (the page
        // cache keeps them; another path that reads them faults them back in).
        drop_mapped_pages(w);
    });
    return w.interleaved.data();
}

void linear(const LinearInput& x,
            size_t m,
            const Weight& w,
            const uint8_t* interleaved,
            uint16_t* y,
            int threads) {
    const auto n = static_cast<size_t>(w.rows), k = static_cast<size_t>(w.cols);
    if (m == 0) return;
    // One kernel call over all of N: the kernels split the output columns over the threads
    // themselves and pick the small-M (decode) path for few rows. Every output element is one
    // sequential reduction either way, so the bits equal the former per-128-row-block calls.
    if (x.format == ActFormat::Fp8) {
        if (w.dtype != DType::F8E4M3) {
            throw std::logic_error("linear: FP8 activations with a non-FP8 weight");
        }
        kernels::fp8_gemm(x.fp8, x.scale, kernels::E4m3Weight{w.fp8(), interleaved}, w.scale, y,
                          DType::BF16, m, n, k, threads, kernels::Fp8Promotion::TritonSequential);
    } else if (w.dtype == DType::F8E4M3) {
        kernels::gemm_dequant(x.bf16, DType::BF16, kernels::E4m3Weight{w.fp8(), interleaved},
                              w.scale, y, DType::BF16, m, n, k, threads);
    } else {
        kernels::gemm(x.bf16, DType::BF16, w.bf16(), DType::BF16, y, DType::BF16, m, n, k, threads);
    }
}

const uint16_t* weight_rows_bf16(const Weight& w,
                                 size_t row0,
                                 size_t count,
                                 std::vector<uint16_t>& buf) {
    const auto k = static_cast<size_t>(w.cols);
    if (w.dtype == DType::BF16) return w.bf16() + row0 * k;
    if (w.dtype != DType::F8E4M3) throw std::logic_error("weight_rows_bf16: unsupported dtype");
    // Whole 128-row scale blocks, so each block's scale row lines up with weight_dequant's.
    const size_t b0 = row0 / kernels::kFp8Block * kernels::kFp8Block;
    const size_t b1 =
        std::min(static_cast<size_t>(w.rows),
                 kernels::ceil_div(row0 + count, kernels::kFp8Block) * kernels::kFp8Block);
    buf.resize((b1 - b0) * k);
    kernels::weight_dequant(w.fp8() + b0 * k,
                            w.scale + b0 / kernels::kFp8Block * static_cast<size_t>(w.scale_cols),
                            buf.data(), b1 - b0, k, 1);
    return buf.data() + (row0 - b0) * k;
}

}  // namespace dssim::reference::detail
