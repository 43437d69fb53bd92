// The reference runtime's interpreter: builds the op graph of each step (models/op_graph.h),
// walks it in topological order and executes every op by kind and role, with the sizes the op
// carries and weights looked up through its WeightRef names. The step loop (prefill, decode,
// MTP drafting and verification) and the KV cache live here; docs/reference-runtime.md
// explains the design.
#include "dssim/reference/runtime.h"

#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/base/sha256.h"
#include "dssim/kernels/elementwise.h"
#include "dssim/kernels/gemm.h"
#include "dssim/kernels/quant.h"
#include "dssim/kernels/rope.h"
#include "dssim/kernels/select.h"
#include "dssim/reference/gate.h"
#include "dssim/reference/sampling.h"
#include "internal.h"

namespace dssim::reference {

using detail::ActFormat;
using detail::LinearInput;
using detail::Weight;
using models::Op;
using models::OpKind;
using models::OpRole;
using numerics::bf16_from_f32;
using numerics::DType;
using numerics::f32_from_bf16;
using numerics::round_to_bf16_fast;

std::string_view numerics_mode_name(NumericsMode mode) {
    return mode == NumericsMode::Demo ? "demo" : "fp8";
}

std::string logits_digest(const std::vector<StepLogits>& steps) {
    Sha256 sha;
    for (const auto& s : steps) {
        // FP32 little-endian bytes (the host is little-endian; dssim targets x86-64/aarch64).
        sha.update(s.logits.data(), s.logits.size() * sizeof(float));
    }
    return sha.hex_digest();
}

namespace {

// An activation tensor of one step.
struct Tensor {
    DType dtype = DType::BF16;
    std::vector<int64_t> shape;
    std::vector<std::byte> data;
    bool mtp_rows = false;  // rows follow the MTP row set (else the main one)

    Tensor() = default;
    Tensor(DType type, std::vector<int64_t> s, bool mtp = false)
        : dtype(type), shape(std::move(s)), mtp_rows(mtp) {
        data.resize(static_cast<size_t>(elements()) * numerics::dtype_size(dtype));
    }
    [[nodiscard]] int64_t elements() const {
        int64_t n = 1;
        for (int64_t d : shape)
            n *= d;
        return n;
    }
    [[nodiscard]] size_t rows() const { return shape.empty() ? 0 : static_cast<size_t>(shape[0]); }
    [[nodiscard]] size_t width() const {
        return rows() == 0 ? 0 : static_cast<size_t>(elements()) / rows();
    }
    template <typename T>
    T* as() {
        return reinterpret_cast<T*>(data.data());
    }
    template <typename T>
    const T* as() const {
        return reinterpret_cast<const T*>(data.data());
    }
};

// Which token each row of a step carries.
struct RowSet {
    std::vector<int64_t> seq;  // sequence index
    std::vector<int64_t> pos;  // position of the row's input token
    std::vector<int64_t> ids;  // input token id
    std::vector<int64_t> src;  // MTP rows: the main-model row whose hidden state they read
    [[nodiscard]] size_t size() const { return seq.size(); }
    void add(int64_t s, int64_t p, int64_t id, int64_t from = -1) {
        seq.push_back(s);
        pos.push_back(p);
        ids.push_back(id);
        src.push_back(from);
    }
};

// KV cache of one layer and one sequence, grown as positions are written.
// Absorbed: a = latent [t, kv_lora_rank], b = rope key [t, rope]. Naive: a = K [t, heads,
// nope + rope], b = V [t, heads, v_head_dim]. All BF16.
struct LayerCache {
    std::vector<uint16_t> a, b;
};

struct SequenceState {
    std::vector<int64_t> tokens;  // prompt + generated
    int64_t prompt = 0;
    int64_t generated = 0;
    std::optional<int64_t> draft;  // MTP draft for the next position
};

}  // namespace

// Activations are allocated per op and freed after their last consumer; prefill tensors are
// tens of MB (a full-width MoE layer allocates ~0.5 GB per step). glibc serves blocks past its
// mmap threshold (at most 32 MiB) with fresh mappings and returns freed heap tops to the kernel,
// so each such op paid a page fault per 4 KiB before writing its output: on the development VM,
// where a fault goes through the hypervisor, that was a third of the time of the absorbed W_UK op
// and a tenth of the layer (bench/README.md). Keeping up to 1 GiB in the heap lets later ops reuse
// pages already mapped. Numbers are unaffected; only where memory comes from changes.
void keep_activation_memory_mapped() {
#if defined(__GLIBC__)
    static const bool done = [] {
        ::mallopt(M_MMAP_THRESHOLD, 1 << 30);
        ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
        return true;
    }();
    (void)done;
#endif
}

struct Runtime::Impl {
    RuntimeOptions opt;
    models::ModelConfig cfg;
    models::Checkpoint ckpt;
    std::unique_ptr<detail::WeightStore> weights;
    std::vector<float> freqs;
    float softmax_scale = 0;
    models::ScaleFmt scale_fmt = models::ScaleFmt::F32;

    Impl(const std::filesystem::path& dir, const RuntimeOptions& o)
        : opt(o), cfg(load_config(dir)), ckpt(models::Checkpoint::open(dir)) {
        if (opt.threads < 1) throw_input_error("", "--threads", "must be >= 1");
        if (opt.max_seq_len < 1) throw_input_error("", "--max-seq-len", "must be >= 1");
        keep_activation_memory_mapped();
        weights = std::make_unique<detail::WeightStore>(cfg, ckpt);
        uint64_t bytes = 0;
        for (const auto& shard : ckpt.shards())
            bytes += shard->file_size();
        const auto phys = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                          static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
        weights->set_streaming(opt.stream_weights.value_or(bytes > phys / 2));
        kernels::RopeConfig rc = rope_config();
        freqs = kernels::rope_frequencies(rc);
        // The softmax scale and the RoPE frequency table are numerics constants of the model
        // (the demo computes them once from the config), not per-op shapes.
        softmax_scale = static_cast<float>(kernels::attention_softmax_scale(
            static_cast<size_t>(cfg.qk_head_dim()),  // layering-ok: softmax scale constant
            cfg.mscale, rc));
        scale_fmt = opt.scale_fmt.value_or(cfg.scale_fmt);
    }

    static models::ModelConfig load_config(const std::filesystem::path& dir) {
        if (!std::filesystem::is_directory(dir)) {
            throw_input_error(dir.string(), "--checkpoint", "not a directory");
        }
        if (!std::filesystem::exists(dir / "config.json")) {
            throw_input_error(dir.string(), "config.json",
                              "missing (not an HF checkpoint directory)");
        }
        return models::load_model_config(dir / "config.json");
    }

    [[nodiscard]] kernels::RopeConfig rope_config() const {
        kernels::RopeConfig rc;
        rc.rope_dim = static_cast<size_t>(cfg.qk_rope_head_dim);  // layering-ok: RoPE table
        rc.max_seq_len = static_cast<size_t>(opt.max_seq_len);
        // Without rope_scaling the demo's YaRN switch has nothing to scale: plain RoPE.
        rc.original_seq_len = cfg.rope_yarn
                                  ? static_cast<size_t>(cfg.original_max_position_embeddings)
                                  : static_cast<size_t>(opt.max_seq_len);
        rc.theta = cfg.rope_theta;
        rc.factor = cfg.rope_factor;
        rc.beta_fast = cfg.beta_fast;
        rc.beta_slow = cfg.beta_slow;
        return rc;
    }

    [[nodiscard]] bool is_mtp_layer(int64_t layer) const { return cfg.is_mtp_layer(layer); }

    const Weight& weight(const models::WeightRef& ref) {
        return weights->get(ref.name, ref.dtype, ref.shape);
    }
};

namespace {

// Bytes of routed-expert weights read ahead of the expert being multiplied (a few experts of
// a full-width model: enough to keep the disk busy during one expert's compute, small against
// the page cache, so a streamed model larger than memory does not evict what it is about to
// use).
constexpr size_t kExpertReadAhead = size_t{64} << 20;

// Executes the ops of one step's graph.
class StepExecutor {
  public:
    StepExecutor(Runtime::Impl& rt,
                 const models::OpGraph& graph,
                 int64_t step,
                 TensorSink* sink,
                 std::vector<std::vector<LayerCache>>& caches)
        : rt_(rt),
          c_(rt.cfg),
          graph_(graph),
          step_(step),
          sink_(sink),
          caches_(caches),
          threads_(rt.opt.threads) {}

    RowSet main;
    RowSet mtp;
    // Called after the main model's sampling op with the per-row sampled tokens; must fill
    // `mtp` (rows for the MTP module) when the graph has one.
    std::function<void(const std::vector<int64_t>&)> on_main_sampled;
    // Called after the MTP module's sampling op with its per-row argmax.
    std::function<void(const std::vector<int64_t>&)> on_mtp_sampled;
    // Main-model logits rows of this step (FP32 widened BF16).
    std::vector<float> main_logits;
    // MTP-module (draft) logits rows of this step, rows as `mtp`.
    std::vector<float> mtp_logits;

    void run() {
        const auto& dag = graph_.dag();
        const std::vector<models::OpVertex> order = graph_.topological_order();
        // Consumers per tensor, so activations are freed after their last use.
        for (auto v : order) {
            const Op& op = dag[v];
            for (const auto& in : op.inputs)
                ++uses_[in.name];
        }
        for (size_t i = 0; i < order.size(); ++i) {
            const Op& op = dag[order[i]];
            if (skipped(op)) {
                pass_through(op);
                continue;
            }
            prefetch_after(order, i);
            execute(op);
            emit(op);
            for (const auto& in : op.inputs)
                release(in.name);
        }
    }

  private:
    // Starts reading the weights of the next executed op that has (non-expert) weights while
    // op `i` runs. Resolution errors are left for that op to report.
    void prefetch_after(const std::vector<models::OpVertex>& order, size_t i) {
        const auto& dag = graph_.dag();
        for (size_t j = std::max(i + 1, prefetched_); j < order.size(); ++j) {
            const Op& next = dag[order[j]];
            if (skipped(next) || next.weights.empty() || next.kind == OpKind::GroupedGemm) continue;
            prefetched_ = j + 1;
            for (const auto& ref : next.weights) {
                if (const Weight* w = rt_.weights->try_get(ref.name, ref.dtype, ref.shape))
                    rt_.weights->prefetch(*w);
            }
            return;
        }
        prefetched_ = order.size();
    }

    void release(const std::string& name) {
        auto it = uses_.find(name);
        if (it != uses_.end() && --it->second == 0) env_.erase(name);
    }

    [[nodiscard]] bool mtp_op(const Op& op) const { return rt_.is_mtp_layer(op.layer); }

    // RuntimeOptions::only_layers: main layers outside the range are not executed.
    [[nodiscard]] bool skipped(const Op& op) const {
        const auto& range = rt_.opt.only_layers;
        return range && op.layer >= 0 && !mtp_op(op) &&
               (op.layer < range->first || op.layer > range->second);
    }
    // A skipped layer's output is its input: the residual ops forward their first input (the
    // residual stream); every other op of the layer produces nothing.
    void pass_through(const Op& op) {
        if (op.role == OpRole::Residual) {
            Tensor copy = env_.at(op.inputs.at(0).name);
            env_.insert_or_assign(op.outputs.at(0).name, std::move(copy));
        }
        for (const auto& in : op.inputs)
            release(in.name);
    }
    [[nodiscard]] const RowSet& rows_of(const Op& op) const { return mtp_op(op) ? mtp : main; }

    // Input i of op; MTP ops reading a main-model tensor get the rows of their own row set.
    const Tensor& input(const Op& op, size_t i) {
        const std::string& name = op.inputs.at(i).name;
        auto it = env_.find(name);
        if (it == env_.end()) {
            throw std::logic_error("runtime: op " + op.name + " reads " + name +
                                   ", which no executed op produced");
        }
        const Tensor& t = it->second;
        if (!mtp_op(op) || t.mtp_rows) return t;
        const std::string key = name + "@mtp";
        auto g = env_.find(key);
        if (g != env_.end()) return g->second;
        Tensor out(t.dtype, t.shape, true);
        out.shape[0] = static_cast<int64_t>(mtp.size());
        out.data.resize(mtp.size() * t.width() * numerics::dtype_size(t.dtype));
        const size_t row_bytes = t.width() * numerics::dtype_size(t.dtype);
        for (size_t r = 0; r < mtp.size(); ++r) {
            std::memcpy(out.data.data() + r * row_bytes,
                        t.data.data() + static_cast<size_t>(mtp.src[r]) * row_bytes, row_bytes);
        }
        ++uses_[key];
        gathered_.push_back(key);
        return env_.emplace(key, std::move(out)).first->second;
    }

    Tensor& output(const Op& op, size_t i, DType dtype, std::vector<int64_t> shape) {
        const std::string& name = op.outputs.at(i).name;
        Tensor t(dtype, std::move(shape), mtp_op(op));
        return env_.insert_or_assign(name, std::move(t)).first->second;
    }

    void emit(const Op& op) {
        for (const std::string& key : gathered_)
            release(key);
        gathered_.clear();
        if (sink_ == nullptr) return;
        for (const auto& out : op.outputs) {
            auto it = env_.find(out.name);
            if (it == env_.end()) continue;
            const std::string full = "step" + std::to_string(step_) + "/" + out.name;
            if (!sink_->wants(full)) continue;
            const Tensor& t = it->second;
            sink_->on_tensor(TensorView{full, t.dtype, t.shape, t.data.data()});
        }
    }

    void execute(const Op& op) {
        switch (op.kind) {
            case OpKind::Embedding:
                return embedding(op);
            case OpKind::RmsNorm:
                return rms_norm(op);
            case OpKind::Gemm:
                if (op.role == OpRole::AbsorbedQuery) return absorb_uk(op);
                if (op.role == OpRole::AbsorbedOutput) return absorb_uv(op);
                return gemm(op);
            case OpKind::Head:
                return gemm(op);
            case OpKind::RoPE:
                return rope(op);
            case OpKind::MlaAttention:
                return attention(op);
            case OpKind::Gate:
                return gate(op);
            case OpKind::GroupedGemm:
                return grouped_gemm(op);
            case OpKind::SwiGLU:
                return swiglu(op);
            case OpKind::Elementwise:
                return elementwise(op);
            case OpKind::ActQuant:
                return act_quant(op);
            case OpKind::Concat:
                return concat(op);
            case OpKind::Sampling:
                return sampling(op);
            default:
                throw std::logic_error("runtime: op kind " +
                                       std::string(models::op_kind_name(op.kind)) + " (" + op.name +
                                       ") has no single-device meaning");
        }
    }

    void embedding(const Op& op) {
        const RowSet& rows = rows_of(op);
        const Weight& w = rt_.weight(op.weights.at(0));
        Tensor& y = output(op, 0, DType::BF16, {static_cast<int64_t>(rows.size()), w.cols});
        kernels::embedding(w.bf16(), static_cast<size_t>(w.rows), static_cast<size_t>(w.cols),
                           rows.ids.data(), rows.size(), y.as<uint16_t>(), threads_,
                           w.name.c_str());
    }

    void rms_norm(const Op& op) {
        const Tensor& x = input(op, 0);
        const Weight& w = rt_.weight(op.weights.at(0));
        const size_t dim = static_cast<size_t>(w.cols), rows = x.rows();
        // kv_norm normalises the latent part [:, :kv_lora_rank] of wkv_a's output.
        std::vector<uint16_t> part;
        const uint16_t* src = x.as<uint16_t>();
        if (x.width() != dim) {
            part.resize(rows * dim);
            for (size_t r = 0; r < rows; ++r) {
                std::memcpy(part.data() + r * dim, src + r * x.width(), dim * sizeof(uint16_t));
            }
            src = part.data();
        }
        Tensor& y =
            output(op, 0, DType::BF16, {static_cast<int64_t>(rows), static_cast<int64_t>(dim)});
        kernels::rms_norm(src, w.bf16(), y.as<uint16_t>(), rows, dim,
                          static_cast<float>(c_.rms_norm_eps), threads_);
    }

    // The graph fixes every tensor's row width; a mismatch is a graph or runtime bug.
    static void expect_width(const Op& op, const Tensor& x, size_t width) {
        if (x.rows() > 0 && x.width() != width) {
            throw std::logic_error("runtime: " + op.name + " input width mismatch");
        }
    }

    LinearInput linear_input(const Op& op, const Tensor*& x) {
        x = &input(op, 0);
        LinearInput in;
        if (x->dtype == DType::F8E4M3) {
            in.format = ActFormat::Fp8;
            in.fp8 = x->as<uint8_t>();
            in.scale = input(op, 1).as<float>();
        } else {
            in.bf16 = x->as<uint16_t>();
        }
        return in;
    }

    void gemm(const Op& op) {
        const Tensor* x = nullptr;
        LinearInput in = linear_input(op, x);
        const Weight& w = rt_.weight(op.weights.at(0));
        if (x->width() != static_cast<size_t>(w.cols)) {
            throw std::logic_error("runtime: " + op.name + " input width mismatch");
        }
        const size_t m = x->rows();
        Tensor& y = output(op, 0, DType::BF16, {static_cast<int64_t>(m), w.rows});
        detail::linear(in, m, w, rt_.weights->interleaved(w, threads_), y.as<uint16_t>(), threads_);
        rt_.weights->release_pages(w);
        if (op.kind == OpKind::Head && !mtp_op(op)) {
            main_logits.resize(y.elements());
            const uint16_t* src = y.as<uint16_t>();
            for (size_t i = 0; i < main_logits.size(); ++i)
                main_logits[i] = f32_from_bf16(src[i]);
        } else if (op.kind == OpKind::Head) {
            mtp_logits.resize(y.elements());
            const uint16_t* src = y.as<uint16_t>();
            for (size_t i = 0; i < mtp_logits.size(); ++i)
                mtp_logits[i] = f32_from_bf16(src[i]);
        }
    }

    // Absorbed MLA: q_nope [t, h, dn] x W_UK[h] ([dn, r] = rows h*(dn+dv) + [0, dn) of wkv_b)
    // -> [t, h, r]. Per head: y = q_nope . (W_UK^T)^T, reduction over dn ascending.
    void absorb_uk(const Op& op) {
        const Tensor& qv = input(op, 0);
        const Weight& w = rt_.weight(op.weights.at(0));
        // The op's per-head GEMM is [dn] -> [r] over nh heads; its input holds each head's
        // q = [nope; rope] and its weight, wkv_b, the heads' [W_UK; W_UV] rows.
        const auto nh = static_cast<size_t>(op.gemm.batch);
        const auto dn = static_cast<size_t>(op.gemm.k), r = static_cast<size_t>(op.gemm.n);
        const auto dr = static_cast<size_t>(op.inputs.at(0).shape.at(2)) - dn;
        const auto dv = static_cast<size_t>(op.weights.at(0).shape.at(0)) / nh - dn;
        const size_t t = qv.rows();
        expect_width(op, qv, nh * (dn + dr));
        Tensor& y =
            output(op, 0, DType::BF16,
                   {static_cast<int64_t>(t), static_cast<int64_t>(nh), static_cast<int64_t>(r)});
        const size_t b = kernels::kFp8Block;
        if (w.dtype == DType::F8E4M3 && dn % b == 0 && (dn + dv) % b == 0) {
            // W_UK[h]^T as an FP8 [r, dn] matrix with its own block scales goes straight to
            // gemm_dequant (the same BF16 values as dequantising then transposing; the kernel
            // decodes them on the fly). Resident weights keep the transposed bytes (as large as
            // W_UK itself); streamed ones transpose each head per call.
            const size_t head_q = r * dn, head_s = kernels::ceil_div(r, b) * (dn / b);
            auto transpose = [&](size_t h, uint8_t* q, float* s) {
                const uint8_t* src = w.fp8() + h * (dn + dv) * r;  // [dn, r]
                for (size_t d = 0; d < dn; ++d)
                    for (size_t c = 0; c < r; ++c)
                        q[c * dn + d] = src[d * r + c];
                const size_t row_block = h * (dn + dv) / b;
                for (size_t cb = 0; cb < kernels::ceil_div(r, b); ++cb)
                    for (size_t db = 0; db < dn / b; ++db)
                        s[cb * (dn / b) + db] =
                            w.scale[(row_block + db) * static_cast<size_t>(w.scale_cols) + cb];
            };
            const bool keep = !rt_.weights->streaming();
            if (keep) {
                std::call_once(w.derived_once, [&] {
                    w.derived.resize(nh * head_q);
                    w.derived_scale.resize(nh * head_s);
                    // With the kernels' interleaved layout too (r and dn are multiples of 16
                    // here, so each head's copy is head_q bytes).
                    const bool il = kernels::e4m3_interleaved_active() && r % 16 == 0;
                    if (il) w.derived_interleaved = detail::HugePageBuffer(nh * head_q);
                    parallel_for(nh, threads_, [&](size_t h0, size_t h1) {
                        for (size_t h = h0; h < h1; ++h) {
                            transpose(h, w.derived.data() + h * head_q,
                                      w.derived_scale.data() + h * head_s);
                            if (il) {
                                kernels::interleave_e4m3(w.derived.data() + h * head_q, r, dn,
                                                         w.derived_interleaved.data() + h * head_q,
                                                         1);
                            }
                        }
                    });
                });
            }
            const uint8_t* il = keep ? w.derived_interleaved.data() : nullptr;
            parallel_for(nh, threads_, [&](size_t h0, size_t h1) {
                std::vector<uint8_t> qt(keep ? 0 : head_q);
                std::vector<float> st(keep ? 0 : head_s);
                std::vector<uint16_t> q(t * dn), out(t * r);
                for (size_t h = h0; h < h1; ++h) {
                    const uint8_t* wq = keep ? w.derived.data() + h * head_q : qt.data();
                    const float* ws = keep ? w.derived_scale.data() + h * head_s : st.data();
                    if (!keep) transpose(h, qt.data(), st.data());
                    for (size_t i = 0; i < t; ++i) {
                        std::memcpy(q.data() + i * dn,
                                    qv.as<uint16_t>() + i * nh * (dn + dr) + h * (dn + dr),
                                    dn * sizeof(uint16_t));
                    }
                    kernels::gemm_dequant(
                        q.data(), DType::BF16,
                        kernels::E4m3Weight{wq, il != nullptr ? il + h * head_q : nullptr}, ws,
                        out.data(), DType::BF16, t, r, dn, 1);
                    for (size_t i = 0; i < t; ++i) {
                        std::memcpy(y.as<uint16_t>() + (i * nh + h) * r, out.data() + i * r,
                                    r * sizeof(uint16_t));
                    }
                }
            });
            rt_.weights->release_pages(w);
            return;
        }
        // Each head dequantises only its own W_UK rows (elementwise, so the same bits as a
        // whole-tensor dequantisation, without a [nh*(dn+dv), r] BF16 copy per call).
        parallel_for(nh, threads_, [&](size_t h0, size_t h1) {
            std::vector<uint16_t> buf, wt(r * dn), q(t * dn), out(t * r);
            for (size_t h = h0; h < h1; ++h) {
                const uint16_t* uk =
                    detail::weight_rows_bf16(w, h * (dn + dv), dn, buf);  // [dn, r]
                for (size_t d = 0; d < dn; ++d)
                    for (size_t c = 0; c < r; ++c)
                        wt[c * dn + d] = uk[d * r + c];
                for (size_t i = 0; i < t; ++i) {
                    std::memcpy(q.data() + i * dn,
                                qv.as<uint16_t>() + i * nh * (dn + dr) + h * (dn + dr),
                                dn * sizeof(uint16_t));
                }
                kernels::gemm(q.data(), DType::BF16, wt.data(), DType::BF16, out.data(),
                              DType::BF16, t, r, dn, 1);
                for (size_t i = 0; i < t; ++i) {
                    std::memcpy(y.as<uint16_t>() + (i * nh + h) * r, out.data() + i * r,
                                r * sizeof(uint16_t));
                }
            }
        });
        rt_.weights->release_pages(w);
    }

    // Absorbed MLA output: o [t, h, r] x W_UV[h] ([dv, r]) -> [t, h * dv], reduction over r.
    void absorb_uv(const Op& op) {
        const Tensor& o = input(op, 0);
        const Weight& w = rt_.weight(op.weights.at(0));
        // The op's per-head GEMM is [r] -> [dv] over nh heads; W_UV[h] follows W_UK[h] ([dn]
        // rows) in wkv_b.
        const auto nh = static_cast<size_t>(op.gemm.batch);
        const auto dv = static_cast<size_t>(op.gemm.n), r = static_cast<size_t>(op.gemm.k);
        const auto dn = static_cast<size_t>(op.weights.at(0).shape.at(0)) / nh - dv;
        const size_t t = o.rows();
        expect_width(op, o, nh * r);
        Tensor& y =
            output(op, 0, DType::BF16, {static_cast<int64_t>(t), static_cast<int64_t>(nh * dv)});
        const auto b = kernels::kFp8Block;
        // W_UV[h] starts on a 16-row block of wkv_b's interleaved copy (row0 % 16 == 0).
        const uint8_t* il = w.dtype == DType::F8E4M3 && (dn + dv) % 16 == 0 && dn % 16 == 0
                                ? rt_.weights->interleaved(w, threads_)
                                : nullptr;
        const size_t il_block = kernels::e4m3_interleaved_bytes(16, r);
        parallel_for(nh, threads_, [&](size_t h0, size_t h1) {
            std::vector<uint16_t> buf, x(t * r), out(t * dv);
            for (size_t h = h0; h < h1; ++h) {
                const size_t row0 = h * (dn + dv) + dn;  // W_UV[h]: [dv, r]
                for (size_t i = 0; i < t; ++i) {
                    std::memcpy(x.data() + i * r, o.as<uint16_t>() + (i * nh + h) * r,
                                r * sizeof(uint16_t));
                }
                if (w.dtype == DType::F8E4M3 && row0 % b == 0) {
                    // Dequantised while packing (gemm_dequant == weight_dequant + gemm).
                    const kernels::E4m3Weight uv{
                        w.fp8() + row0 * r, il != nullptr ? il + row0 / 16 * il_block : nullptr};
                    kernels::gemm_dequant(x.data(), DType::BF16, uv,
                                          w.scale + row0 / b * static_cast<size_t>(w.scale_cols),
                                          out.data(), DType::BF16, t, dv, r, 1);
                } else {
                    const uint16_t* uv = detail::weight_rows_bf16(w, row0, dv, buf);
                    kernels::gemm(x.data(), DType::BF16, uv, DType::BF16, out.data(), DType::BF16,
                                  t, dv, r, 1);
                }
                for (size_t i = 0; i < t; ++i) {
                    std::memcpy(y.as<uint16_t>() + i * nh * dv + h * dv, out.data() + i * dv,
                                dv * sizeof(uint16_t));
                }
            }
        });
        rt_.weights->release_pages(w);
    }

    // RoPE of the rope part of each head: the last `rope` elements of every head slot.
    void rope(const Op& op) {
        const Tensor& x = input(op, 0);
        const RowSet& rows = rows_of(op);
        const auto heads = static_cast<size_t>(op.outputs.at(0).shape.at(1));
        const auto dr = static_cast<size_t>(op.outputs.at(0).shape.at(2));
        const size_t t = x.rows(), stride = x.width() / heads;
        Tensor& y = output(
            op, 0, DType::BF16,
            {static_cast<int64_t>(t), static_cast<int64_t>(heads), static_cast<int64_t>(dr)});
        for (size_t i = 0; i < t; ++i)
            for (size_t h = 0; h < heads; ++h)
                std::memcpy(y.as<uint16_t>() + (i * heads + h) * dr,
                            x.as<uint16_t>() + i * x.width() + h * stride + stride - dr,
                            dr * sizeof(uint16_t));
        kernels::apply_rope(y.as<uint16_t>(), rows.pos.data(), t, heads, heads * dr, dr, dr,
                            rt_.freqs.data(), threads_);
    }

    void attention(const Op& op);

    void gate(const Op& op) {
        const Tensor& x = input(op, 0);
        const Weight& w = rt_.weight(op.weights.at(0));
        const float* bias = nullptr;
        if (op.weights.size() > 1) bias = rt_.weight(op.weights[1]).f32();
        const size_t t = x.rows();
        const auto ne = static_cast<size_t>(op.routing.experts),
                   k = static_cast<size_t>(op.routing.top_k);
        if (w.rows != op.routing.experts) {
            throw std::logic_error("runtime: " + op.name + " weight rows != routed experts");
        }
        std::vector<uint16_t> logits(t * ne);
        detail::linear(LinearInput{ActFormat::Bf16, x.as<uint16_t>(), nullptr, nullptr}, t, w,
                       rt_.weights->interleaved(w, threads_), logits.data(), threads_);
        Tensor& wts =
            output(op, 0, DType::BF16, {static_cast<int64_t>(t), static_cast<int64_t>(k)});
        Tensor& idx = output(op, 1, DType::I32, {static_cast<int64_t>(t), static_cast<int64_t>(k)});
        moe_gate(op.routing, logits.data(), bias, t, wts.as<uint16_t>(), idx.as<int32_t>(),
                 threads_);
    }

    // One projection of the routed experts. Rows of the output are token-expert pairs
    // (token * k + slot, the layout of the gate's indices). Experts run in ascending order;
    // each GEMM is row-independent, so grouping the rows by expert changes nothing.
    void grouped_gemm(const Op& op) {
        const Tensor& x = input(op, 0);
        const Tensor& idx = input(op, op.inputs.size() - 1);
        const Tensor* scale = x.dtype == DType::F8E4M3 ? &input(op, 1) : nullptr;
        const size_t t = idx.rows(), k = idx.width(), pairs = t * k;
        const bool by_pair = x.rows() == pairs && x.rows() != t;
        const models::WeightRef& ref = op.weights.at(0);
        const auto n = static_cast<size_t>(ref.shape.at(0)),
                   kd = static_cast<size_t>(ref.shape.at(1));
        if (x.width() != kd)
            throw std::logic_error("runtime: " + op.name + " input width mismatch");
        Tensor& y =
            output(op, 0, DType::BF16, {static_cast<int64_t>(pairs), static_cast<int64_t>(n)});
        const size_t xb = numerics::dtype_size(x.dtype);
        const size_t sw = scale ? scale->width() : 0;
        std::vector<std::vector<size_t>> members(static_cast<size_t>(ref.experts));
        for (size_t p = 0; p < pairs; ++p) {
            const int32_t e = idx.as<int32_t>()[p];
            members.at(static_cast<size_t>(e)).push_back(p);
        }
        std::vector<size_t> used;  // experts with rows, ascending
        for (size_t e = 0; e < members.size(); ++e) {
            if (!members[e].empty()) used.push_back(e);
        }
        auto expert_weight = [&](size_t e, bool checked) -> const Weight* {
            const std::string name = models::expert_param_name(ref.name, static_cast<int64_t>(e));
            if (!checked) return rt_.weights->try_get(name, ref.dtype, ref.shape);
            return &rt_.weights->get(name, ref.dtype, ref.shape);
        };
        // Read-ahead window: the next experts' weights, up to kExpertReadAhead bytes beyond the
        // one being multiplied, are requested while it runs (cold pages come from disk in
        // parallel with the compute; see docs/reference-runtime.md).
        size_t ahead = 0;
        std::vector<size_t> ahead_bytes;
        auto read_ahead = [&](size_t u) {
            while (ahead < used.size() &&
                   (ahead <= u || ahead_bytes.empty() ||
                    ahead_bytes.back() - ahead_bytes[u] < kExpertReadAhead)) {
                const Weight* w = expert_weight(used[ahead], false);
                if (w != nullptr) rt_.weights->prefetch(*w);
                const size_t b = w != nullptr ? w->mapped.size() : 0;
                ahead_bytes.push_back((ahead_bytes.empty() ? 0 : ahead_bytes.back()) + b);
                ++ahead;
            }
        };
        std::vector<std::byte> xg;
        std::vector<float> sg;
        std::vector<uint16_t> yg;
        for (size_t u = 0; u < used.size(); ++u) {
            const size_t e = used[u];
            const auto& ps = members[e];
            read_ahead(u);
            const size_t m = ps.size();
            xg.resize(m * kd * xb);
            if (scale) sg.resize(m * sw);
            for (size_t i = 0; i < m; ++i) {
                const size_t src = by_pair ? ps[i] : ps[i] / k;
                std::memcpy(xg.data() + i * kd * xb, x.data.data() + src * kd * xb, kd * xb);
                if (scale)
                    std::memcpy(sg.data() + i * sw, scale->as<float>() + src * sw,
                                sw * sizeof(float));
            }
            const Weight& w = *expert_weight(e, true);
            LinearInput in;
            if (scale) {
                in.format = ActFormat::Fp8;
                in.fp8 = reinterpret_cast<const uint8_t*>(xg.data());
                in.scale = sg.data();
            } else {
                in.bf16 = reinterpret_cast<const uint16_t*>(xg.data());
            }
            yg.resize(m * n);
            detail::linear(in, m, w, rt_.weights->interleaved(w, threads_), yg.data(), threads_);
            rt_.weights->release_pages(w);
            for (size_t i = 0; i < m; ++i) {
                std::memcpy(y.as<uint16_t>() + ps[i] * n, yg.data() + i * n, n * sizeof(uint16_t));
            }
        }
    }

    void swiglu(const Op& op) {
        const Tensor& a = input(op, 0);
        const Tensor& b = input(op, 1);
        Tensor& y = output(op, 0, DType::BF16, a.shape);
        kernels::swiglu(a.as<uint16_t>(), b.as<uint16_t>(), y.as<uint16_t>(),
                        static_cast<size_t>(a.elements()), threads_);
    }

    static uint16_t add_bf16(uint16_t a, uint16_t b) {
        return numerics::bf16_from_f32_fast(f32_from_bf16(a) + f32_from_bf16(b));
    }

    void elementwise(const Op& op) {
        if (op.role == OpRole::ExpertWeightedSum) return weighted_sum(op);
        if (op.role != OpRole::Residual) {
            throw std::logic_error("runtime: elementwise op " + op.name + " has role " +
                                   std::string(models::op_role_name(op.role)));
        }
        const Tensor& h = input(op, 0);
        const size_t n = static_cast<size_t>(h.elements());
        Tensor& y = output(op, 0, DType::BF16, h.shape);
        uint16_t* out = y.as<uint16_t>();
        const uint16_t* a = h.as<uint16_t>();
        if (op.inputs.size() == 2) {
            // Residual add: x + f(x), one BF16 rounding.
            const uint16_t* b = input(op, 1).as<uint16_t>();
            for (size_t i = 0; i < n; ++i)
                out[i] = add_bf16(a[i], b[i]);
        } else if (op.inputs.size() == 3) {
            // MoE layer: the demo returns (routed + shared), then the block adds the residual.
            const uint16_t* routed = input(op, 1).as<uint16_t>();
            const uint16_t* shared = input(op, 2).as<uint16_t>();
            for (size_t i = 0; i < n; ++i)
                out[i] = add_bf16(a[i], add_bf16(routed[i], shared[i]));
        } else {
            throw std::logic_error("runtime: unexpected elementwise op " + op.name);
        }
    }

    // y[t] = sum over the token's experts in ascending expert index of bf16(out * weight),
    // accumulated in BF16 from +0 (the demo's y[idx] += expert(x[idx]) * weights[idx, top]).
    void weighted_sum(const Op& op) {
        const Tensor& out = input(op, 0);  // [tokens * k, hidden]
        const Tensor& wts = input(op, 1);  // [tokens, k]
        const Tensor& idx = input(op, 2);  // [tokens, k]: the expert of each of the k rows
        const size_t t = wts.rows(), k = wts.width(), hd = out.width();
        Tensor& y = output(op, 0, DType::BF16, {static_cast<int64_t>(t), static_cast<int64_t>(hd)});
        kernels::moe_weighted_sum(out.as<uint16_t>(), wts.as<uint16_t>(), idx.as<int32_t>(),
                                  y.as<uint16_t>(), t, k, hd, threads_);
    }

    void act_quant(const Op& op) {
        const Tensor& x = input(op, 0);
        const size_t rows = x.rows(), cols = x.width();
        Tensor& q =
            output(op, 0, DType::F8E4M3, {static_cast<int64_t>(rows), static_cast<int64_t>(cols)});
        Tensor& s = output(
            op, 1, DType::F32,
            {static_cast<int64_t>(rows), static_cast<int64_t>(kernels::ceil_div(cols, 128))});
        const auto fmt = rt_.scale_fmt == models::ScaleFmt::UE8M0 ? kernels::ScaleFormat::UE8M0
                                                                  : kernels::ScaleFormat::F32;
        kernels::act_quant(x.as<uint16_t>(), q.as<uint8_t>(), s.as<float>(), rows, cols, fmt,
                           threads_);
    }

    // MTP: [enorm(embedding) ; hnorm(hidden)] (the serving-code order, embedding first).
    void concat(const Op& op) {
        const Tensor& a = input(op, 0);
        const Tensor& b = input(op, 1);
        const size_t t = a.rows(), wa = a.width(), wb = b.width();
        Tensor& y =
            output(op, 0, DType::BF16, {static_cast<int64_t>(t), static_cast<int64_t>(wa + wb)});
        for (size_t i = 0; i < t; ++i) {
            std::memcpy(y.as<uint16_t>() + i * (wa + wb), a.as<uint16_t>() + i * wa, wa * 2);
            std::memcpy(y.as<uint16_t>() + i * (wa + wb) + wa, b.as<uint16_t>() + i * wb, wb * 2);
        }
    }

    void sampling(const Op& op);

    Runtime::Impl& rt_;
    const models::ModelConfig& c_;  // numerics parameters only; shapes come from the ops
    const models::OpGraph& graph_;
    int64_t step_;
    TensorSink* sink_;
    std::vector<std::vector<LayerCache>>& caches_;
    int threads_;
    std::unordered_map<std::string, Tensor> env_;
    std::unordered_map<std::string, int> uses_;
    std::vector<std::string> gathered_;
    size_t prefetched_ = 0;  // ops before this index of the order had their weights prefetched

  public:
    double temperature = 0;
    uint64_t seed = 0;
};

// MLA attention core over the KV cache. Every new row's K/V are written at its position, then
// each (sequence, head) attends its query rows over positions [0, last row]: scores by GEMM
// (BF16 out), scaled in BF16, keys after a row's own position set to -inf (the demo's causal
// mask), FP32 softmax rounded to BF16, probabilities x values by GEMM (BF16 out). Masked keys
// get probability exactly 0, so a row's result equals the decode of that row alone.
void StepExecutor::attention(const Op& op) {
    const RowSet& rows = rows_of(op);
    const bool absorbed = graph_.step().attention == models::AttentionMode::Absorbed;
    const models::AttentionDims& ad = op.attention;
    const auto nh = static_cast<size_t>(ad.heads);
    const auto dn = static_cast<size_t>(ad.nope_dim), dr = static_cast<size_t>(ad.rope_dim);
    const auto dv = static_cast<size_t>(ad.value_dim), r = static_cast<size_t>(ad.latent_dim);
    const Tensor& q_main = input(op, 0);  // absorbed: q_lat [t, h, r]; naive: q [t, h, dn + dr]
    const Tensor& q_pe = input(op, 1);    // [t, h, dr]
    const Tensor& kv = input(op, 2);      // absorbed: latent [t, r]; naive: [t, h*(dn+dv)]
    const Tensor& k_pe = input(op, 3);    // [t, 1, dr]
    const size_t t = rows.size();
    auto& layer_caches = caches_.at(static_cast<size_t>(op.layer));
    const size_t wa = absorbed ? r : nh * (dn + dr);
    const size_t wb = absorbed ? dr : nh * dv;
    for (size_t i = 0; i < t; ++i) {
        LayerCache& lc = layer_caches.at(static_cast<size_t>(rows.seq[i]));
        const auto p = static_cast<size_t>(rows.pos[i]);
        if (lc.a.size() < (p + 1) * wa) {
            lc.a.resize((p + 1) * wa);
            lc.b.resize((p + 1) * wb);
        }
        if (absorbed) {
            std::memcpy(lc.a.data() + p * r, kv.as<uint16_t>() + i * r, r * 2);
            std::memcpy(lc.b.data() + p * dr, k_pe.as<uint16_t>() + i * dr, dr * 2);
        } else {
            for (size_t h = 0; h < nh; ++h) {
                const uint16_t* src = kv.as<uint16_t>() + i * nh * (dn + dv) + h * (dn + dv);
                uint16_t* k = lc.a.data() + p * wa + h * (dn + dr);
                std::memcpy(k, src, dn * 2);
                std::memcpy(k + dn, k_pe.as<uint16_t>() + i * dr, dr * 2);
                std::memcpy(lc.b.data() + p * wb + h * dv, src + dn, dv * 2);
            }
        }
    }
    // Row ranges per sequence (rows of one sequence are contiguous, positions ascending).
    struct Segment {
        size_t begin, end;
        int64_t seq;
        size_t keys;
    };
    std::vector<Segment> segs;
    for (size_t i = 0; i < t;) {
        size_t j = i + 1;
        while (j < t && rows.seq[j] == rows.seq[i]) {
            if (rows.pos[j] != rows.pos[j - 1] + 1)
                throw std::logic_error("runtime: rows not contiguous");
            ++j;
        }
        segs.push_back({i, j, rows.seq[i], static_cast<size_t>(rows.pos[j - 1]) + 1});
        i = j;
    }
    const size_t out_w = absorbed ? r : dv;
    Tensor& y = output(
        op, 0, DType::BF16,
        absorbed ? std::vector<int64_t>{static_cast<int64_t>(t), static_cast<int64_t>(nh),
                                        static_cast<int64_t>(r)}
                 : std::vector<int64_t>{static_cast<int64_t>(t), static_cast<int64_t>(nh * dv)});
    // Absorbed: the latent cache transposed [r, keys] per sequence, shared by all heads.
    std::vector<std::vector<uint16_t>> kvt(segs.size());
    if (absorbed) {
        parallel_for(segs.size(), threads_, [&](size_t s0, size_t s1) {
            for (size_t s = s0; s < s1; ++s) {
                const LayerCache& lc = layer_caches[static_cast<size_t>(segs[s].seq)];
                const size_t keys = segs[s].keys;
                kvt[s].resize(r * keys);
                for (size_t p = 0; p < keys; ++p)
                    for (size_t c = 0; c < r; ++c)
                        kvt[s][c * keys + p] = lc.a[p * r + c];
            }
        });
    }
    const float scale = rt_.softmax_scale;
    const float neg_inf = -std::numeric_limits<float>::infinity();
    parallel_for(segs.size() * nh, threads_, [&](size_t w0, size_t w1) {
        std::vector<uint16_t> q1, q2, s1, s2, kh, vht, probs, o;
        std::vector<float> sc;
        for (size_t w = w0; w < w1; ++w) {
            const Segment& sg = segs[w / nh];
            const size_t h = w % nh, nq = sg.end - sg.begin, keys = sg.keys;
            const LayerCache& lc = layer_caches[static_cast<size_t>(sg.seq)];
            sc.resize(nq * keys);
            s1.resize(nq * keys);
            if (absorbed) {
                q1.resize(nq * r);
                q2.resize(nq * dr);
                s2.resize(nq * keys);
                for (size_t i = 0; i < nq; ++i) {
                    std::memcpy(q1.data() + i * r,
                                q_main.as<uint16_t>() + ((sg.begin + i) * nh + h) * r, r * 2);
                    std::memcpy(q2.data() + i * dr,
                                q_pe.as<uint16_t>() + ((sg.begin + i) * nh + h) * dr, dr * 2);
                }
                kernels::gemm(q1.data(), DType::BF16, lc.a.data(), DType::BF16, s1.data(),
                              DType::BF16, nq, keys, r, 1);
                kernels::gemm(q2.data(), DType::BF16, lc.b.data(), DType::BF16, s2.data(),
                              DType::BF16, nq, keys, dr, 1);
                for (size_t e = 0; e < nq * keys; ++e) {
                    const float s = round_to_bf16_fast(f32_from_bf16(s1[e]) + f32_from_bf16(s2[e]));
                    sc[e] = round_to_bf16_fast(s * scale);
                }
            } else {
                const size_t dq = dn + dr;
                q1.resize(nq * dq);
                kh.resize(keys * dq);
                for (size_t i = 0; i < nq; ++i) {
                    std::memcpy(q1.data() + i * dq,
                                q_main.as<uint16_t>() + (sg.begin + i) * q_main.width() + h * dq,
                                dn * 2);
                    std::memcpy(q1.data() + i * dq + dn,
                                q_pe.as<uint16_t>() + ((sg.begin + i) * nh + h) * dr, dr * 2);
                }
                for (size_t p = 0; p < keys; ++p)
                    std::memcpy(kh.data() + p * dq, lc.a.data() + p * wa + h * dq, dq * 2);
                kernels::gemm(q1.data(), DType::BF16, kh.data(), DType::BF16, s1.data(),
                              DType::BF16, nq, keys, dq, 1);
                for (size_t e = 0; e < nq * keys; ++e)
                    sc[e] = round_to_bf16_fast(f32_from_bf16(s1[e]) * scale);
            }
            for (size_t i = 0; i < nq; ++i) {
                const auto own = static_cast<size_t>(rows.pos[sg.begin + i]);
                for (size_t p = own + 1; p < keys; ++p)
                    sc[i * keys + p] = neg_inf;
            }
            probs.resize(nq * keys);
            kernels::softmax(sc.data(), probs.data(), nq, keys, 1);
            o.resize(nq * out_w);
            if (absorbed) {
                kernels::gemm(probs.data(), DType::BF16, kvt[w / nh].data(), DType::BF16, o.data(),
                              DType::BF16, nq, r, keys, 1);
                for (size_t i = 0; i < nq; ++i)
                    std::memcpy(y.as<uint16_t>() + ((sg.begin + i) * nh + h) * r, o.data() + i * r,
                                r * 2);
            } else {
                vht.resize(dv * keys);
                for (size_t p = 0; p < keys; ++p)
                    for (size_t d = 0; d < dv; ++d)
                        vht[d * keys + p] = lc.b[p * wb + h * dv + d];
                kernels::gemm(probs.data(), DType::BF16, vht.data(), DType::BF16, o.data(),
                              DType::BF16, nq, dv, keys, 1);
                for (size_t i = 0; i < nq; ++i)
                    std::memcpy(y.as<uint16_t>() + (sg.begin + i) * nh * dv + h * dv,
                                o.data() + i * dv, dv * 2);
            }
        }
    });
}

void StepExecutor::sampling(const Op& op) {
    const Tensor& logits = input(op, 0);
    const RowSet& rows = rows_of(op);
    const size_t n = logits.rows(), vocab = logits.width();
    Tensor& y = output(op, 0, DType::I64, {static_cast<int64_t>(n)});
    std::vector<float> row(vocab);
    std::vector<int64_t> tokens(n);
    for (size_t i = 0; i < n; ++i) {
        const uint16_t* src = logits.as<uint16_t>() + i * vocab;
        for (size_t v = 0; v < vocab; ++v)
            row[v] = f32_from_bf16(src[v]);
        // The main model samples; the MTP module drafts greedily.
        tokens[i] = mtp_op(op) ? argmax(row.data(), vocab)
                               : sample_token(row.data(), vocab, temperature, seed, rows.seq[i],
                                              rows.pos[i]);
        y.as<int64_t>()[i] = tokens[i];
    }
    if (mtp_op(op)) {
        if (on_mtp_sampled) on_mtp_sampled(tokens);
    } else if (on_main_sampled) {
        on_main_sampled(tokens);
    }
}

}  // namespace

Runtime::Runtime(const std::filesystem::path& checkpoint, const RuntimeOptions& options)
    : impl_(std::make_unique<Impl>(checkpoint, options)) {}
Runtime::~Runtime() = default;

const models::ModelConfig& Runtime::config() const {
    return impl_->cfg;
}
const RuntimeOptions& Runtime::options() const {
    return impl_->opt;
}
models::ScaleFmt Runtime::scale_fmt() const {
    return impl_->scale_fmt;
}
bool Runtime::streaming() const {
    return impl_->weights->streaming();
}

GenerateResult Runtime::generate(const std::vector<std::vector<int64_t>>& prompts,
                                 const GenerateOptions& g,
                                 TensorSink* sink) {
    Impl& rt = *impl_;
    const models::ModelConfig& c = rt.cfg;
    if (prompts.empty()) throw_input_error("", "--tokens", "no sequence given");
    if (g.max_new_tokens < 0) throw_input_error("", "--max-new-tokens", "must be >= 0");
    if (!(g.temperature >= 0.0) || !std::isfinite(g.temperature)) {
        throw_input_error("", "--temperature", "must be a finite number >= 0");
    }
    const auto nseq = static_cast<int64_t>(prompts.size());
    std::vector<SequenceState> seqs(prompts.size());
    int64_t longest = 0;
    for (size_t s = 0; s < prompts.size(); ++s) {
        const auto& p = prompts[s];
        if (p.empty())
            throw_input_error("", "--tokens", "sequence " + std::to_string(s) + " is empty");
        const int64_t total = static_cast<int64_t>(p.size()) + g.max_new_tokens + (g.mtp ? 1 : 0);
        if (total > rt.opt.max_seq_len) {
            throw_input_error("", "--max-new-tokens",
                              "sequence " + std::to_string(s) + " needs " + std::to_string(total) +
                                  " positions, more than max_seq_len " +
                                  std::to_string(rt.opt.max_seq_len));
        }
        seqs[s].tokens = p;
        seqs[s].prompt = static_cast<int64_t>(p.size());
        longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
    }

    models::StepSpec spec;
    spec.attention = rt.opt.attention;
    spec.gemm = rt.opt.mode == NumericsMode::Fp8 ? models::GemmMode::Fp8 : models::GemmMode::Bf16;
    spec.mtp = g.mtp;
    spec.logits_all_positions = true;
    spec.batch = nseq;
    spec.phase = models::Phase::Prefill;
    spec.seq = longest;
    // Also rejects --mtp for a model without an MTP module (models::validate_step).
    const models::OpGraph prefill = models::build_op_graph(c, spec);
    std::optional<models::OpGraph> decode;

    // The graph says how large the vocabulary is (the embedding table's rows) and which layers
    // keep a KV cache (every layer index its ops carry; decode graphs have the same layers).
    int64_t vocab = 0;
    int64_t layers = 0;
    for (models::OpVertex v = 0; v < prefill.size(); ++v) {
        const Op& op = prefill.op(v);
        if (op.kind == OpKind::Embedding && vocab == 0) vocab = op.weights.at(0).shape.at(0);
        layers = std::max(layers, op.layer + 1);
    }
    for (size_t s = 0; s < prompts.size(); ++s) {
        const auto& p = prompts[s];
        for (size_t i = 0; i < p.size(); ++i) {
            if (p[i] < 0 || p[i] >= vocab) {
                throw_input_error("", "--tokens",
                                  "token " + std::to_string(p[i]) + " (sequence " +
                                      std::to_string(s) + ", position " + std::to_string(i) +
                                      ") is outside the vocabulary [0, " + std::to_string(vocab) +
                                      ")");
            }
        }
    }

    std::vector<std::vector<LayerCache>> caches(static_cast<size_t>(layers),
                                                std::vector<LayerCache>(prompts.size()));
    GenerateResult result;
    result.generated.resize(prompts.size());

    for (int64_t step = 0;; ++step) {
        const bool first = step == 0;
        std::vector<size_t> active;
        for (size_t s = 0; s < seqs.size(); ++s) {
            if (first || seqs[s].generated < g.max_new_tokens) active.push_back(s);
        }
        if (active.empty()) break;
        const models::OpGraph* graph = &prefill;
        if (!first) {
            if (!decode) {
                models::StepSpec ds = spec;
                ds.phase = models::Phase::Decode;
                ds.seq = 1;
                ds.context = 0;
                decode.emplace(models::build_op_graph(c, ds));
            }
            graph = &*decode;
        }
        StepExecutor ex(rt, *graph, step, sink, caches);
        ex.temperature = g.temperature;
        ex.seed = g.seed;
        for (size_t s : active) {
            SequenceState& st = seqs[s];
            const auto si = static_cast<int64_t>(s);
            if (first) {
                for (int64_t p = 0; p < st.prompt; ++p)
                    ex.main.add(si, p, st.tokens[static_cast<size_t>(p)]);
            } else {
                const auto n = static_cast<int64_t>(st.tokens.size());
                ex.main.add(si, n - 1, st.tokens.back());
                // Verify the draft only if both tokens may still be emitted.
                if (g.mtp && st.draft && st.generated + 2 <= g.max_new_tokens)
                    ex.main.add(si, n, *st.draft);
            }
        }
        ex.on_main_sampled = [&](const std::vector<int64_t>& tok) {
            const RowSet& m = ex.main;
            for (size_t i = 0; i < m.size();) {
                size_t j = i + 1;
                while (j < m.size() && m.seq[j] == m.seq[i])
                    ++j;
                SequenceState& st = seqs[static_cast<size_t>(m.seq[i])];
                const int64_t si = m.seq[i];
                if (first) {
                    // Prefill: the MTP module sees every prompt position with the next token.
                    const int64_t next = tok[j - 1];
                    for (size_t r = i; r < j; ++r) {
                        const int64_t id = r + 1 < j ? m.ids[r + 1] : next;
                        ex.mtp.add(si, m.pos[r], id, static_cast<int64_t>(r));
                    }
                    if (g.max_new_tokens > 0) {
                        st.tokens.push_back(next);
                        ++st.generated;
                    }
                } else {
                    const int64_t t0 = tok[i];
                    st.tokens.push_back(t0);
                    ++st.generated;
                    ex.mtp.add(si, m.pos[i], t0, static_cast<int64_t>(i));
                    if (j - i == 2) {
                        ++result.mtp_drafted;
                        if (t0 == m.ids[i + 1]) {
                            ++result.mtp_accepted;
                            st.tokens.push_back(tok[i + 1]);
                            ++st.generated;
                            ex.mtp.add(si, m.pos[i + 1], tok[i + 1], static_cast<int64_t>(i + 1));
                        }
                    }
                }
                st.draft.reset();
                i = j;
            }
        };
        ex.on_mtp_sampled = [&](const std::vector<int64_t>& tok) {
            const RowSet& m = ex.mtp;
            for (size_t i = 0; i < m.size(); ++i) {
                if (i + 1 == m.size() || m.seq[i + 1] != m.seq[i])
                    seqs[static_cast<size_t>(m.seq[i])].draft = tok[i];
            }
        };
        ex.run();
        StepLogits sl;
        sl.step = step;
        sl.sequence = ex.main.seq;
        sl.position = ex.main.pos;
        sl.logits = std::move(ex.main_logits);
        if (g.mtp) {
            sl.mtp_sequence = ex.mtp.seq;
            sl.mtp_position = ex.mtp.pos;
            sl.mtp_logits = std::move(ex.mtp_logits);
        }
        result.steps.push_back(std::move(sl));
        if (g.max_new_tokens == 0) break;
    }
    for (size_t s = 0; s < seqs.size(); ++s) {
        result.generated[s].assign(seqs[s].tokens.begin() + seqs[s].prompt, seqs[s].tokens.end());
    }
    result.logits_sha256 = logits_digest(result.steps);
    return result;
}

}  // namespace dssim::reference
