// Counter-based synthetic checkpoint generator (see synth.h and docs/config-formats.md).
// All arithmetic is integer or a fixed sequence of correctly rounded IEEE operations (no libm
// transcendental calls), so a re-implementation produces the same bytes.
#include "dssim/models/synth.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/base/progress.h"
#include "dssim/models/safetensors.h"

namespace dssim::models {

namespace {

using numerics::DType;

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;
constexpr double kSqrt3 = 1.7320508075688772;  // correctly rounded sqrt(3)
constexpr double kEmbeddingSigma = 0.0625;     // token embeddings ~ N(0, 1/16)
constexpr double kNormSpread = 0.0625;         // RMSNorm weights 1 + N(0, 1/16)
constexpr double kGateBiasSigma = 0.01;        // e_score_correction_bias ~ N(0, 0.01)

// Which generator stream a tensor reads. The MTP module's embedding and head are physical
// copies of the main model's in DeepSeek's checkpoint, so they share its stream.
std::string stream_name(const ModelConfig& c, const TensorSpec& s) {
    if (s.layer >= c.num_hidden_layers) {
        if (s.role == TensorRole::Embedding) {
            return "model.embed_tokens.weight";
        }
        if (s.role == TensorRole::Head) {
            return c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
        }
    }
    if (s.role == TensorRole::WeightScale) {
        return s.weight_name;
    }
    return s.name;
}

// Block parameters of a Linear weight: the block's largest magnitude and which element
// carries it. Block (br, bc) of a [out, in] weight with block size B has index br*ceil(in/B)+bc.
struct Block {
    float amax;     // float(amax)
    double sigma;   // amax / 3.5: elements are normal * sigma, so |x| < amax
    uint64_t peak;  // element (row-major within the block's valid extent) set to +-amax
    bool negative;
};

class LinearGen {
  public:
    LinearGen(const ModelConfig& c, const TensorSpec& s, uint64_t seed)
        : out_(s.out_features),
          in_(s.in_features),
          b_(c.weight_block_size),
          ue8m0_(c.scale_fmt == ScaleFmt::UE8M0),
          col_blocks_((in_ + b_ - 1) / b_),
          fan_sigma_(1.0 / std::sqrt(static_cast<double>(in_))),
          elem_key_(synth_key(seed, s.weight_name)),
          block_key_(synth_key(seed, s.weight_name + "#blocks")) {}

    [[nodiscard]] Block block(int64_t br, int64_t bc) const {
        uint64_t r = synth_draw(block_key_, static_cast<uint64_t>(br * col_blocks_ + bc));
        double u = (static_cast<double>(r >> 40) + 0.5) * 0x1p-24;  // (0, 1)
        double amax = fan_sigma_ * (1.0 + 3.0 * u);
        int64_t rows = std::min(b_, out_ - br * b_);
        int64_t cols = std::min(b_, in_ - bc * b_);
        Block blk;
        blk.amax = static_cast<float>(amax);
        blk.sigma = amax / 3.5;
        blk.peak = (r & 0xffffffffull) % static_cast<uint64_t>(rows * cols);
        blk.negative = ((r >> 32) & 1) != 0;
        return blk;
    }

    // The real (unquantised) value of element (row, col).
    [[nodiscard]] float value(int64_t row, int64_t col, const Block& blk) const {
        int64_t br = row / b_;
        int64_t bc = col / b_;
        int64_t cols = std::min(b_, in_ - bc * b_);
        uint64_t local = static_cast<uint64_t>((row - br * b_) * cols + (col - bc * b_));
        if (local == blk.peak) {
            return blk.negative ? -blk.amax : blk.amax;
        }
        uint64_t idx =
            static_cast<uint64_t>(row) * static_cast<uint64_t>(in_) + static_cast<uint64_t>(col);
        return static_cast<float>(synth_normal(synth_draw(elem_key_, idx)) * blk.sigma);
    }

    // The dequantisation multiplier stored in weight_scale_inv.
    [[nodiscard]] float scale(const Block& blk) const {
        float s = blk.amax / 448.0f;
        return ue8m0_ ? numerics::pow2_ceil(s) : s;
    }

    [[nodiscard]] int64_t in() const { return in_; }
    [[nodiscard]] int64_t block_size() const { return b_; }
    [[nodiscard]] int64_t col_blocks() const { return col_blocks_; }

  private:
    int64_t out_, in_, b_;
    bool ue8m0_;
    int64_t col_blocks_;
    double fan_sigma_;
    uint64_t elem_key_, block_key_;
};

void store(std::byte* dst, DType dtype, float x) {
    switch (dtype) {
        case DType::F32:
            std::memcpy(dst, &x, 4);
            break;
        case DType::BF16: {
            uint16_t b = numerics::bf16_from_f32(x);
            std::memcpy(dst, &b, 2);
            break;
        }
        case DType::F8E4M3:
            dst[0] = std::byte{numerics::e4m3_from_f32(x)};
            break;
        default:
            throw InputError("synth: unsupported dtype for generated tensor");
    }
}

// Fills elements [e0, e1) of the tensor into dst (element e0 at dst[0]).
void fill_range(const ModelConfig& c,
                const TensorSpec& s,
                uint64_t seed,
                uint64_t e0,
                uint64_t e1,
                std::byte* dst) {
    const size_t es = numerics::dtype_size(s.dtype);
    switch (s.role) {
        case TensorRole::Linear: {
            LinearGen g(c, s, seed);
            const uint64_t in = static_cast<uint64_t>(g.in());
            uint64_t e = e0;
            while (e < e1) {
                int64_t row = static_cast<int64_t>(e / in);
                int64_t col = static_cast<int64_t>(e % in);
                int64_t br = row / g.block_size();
                int64_t bc = col / g.block_size();
                Block blk = g.block(br, bc);
                float sc = g.scale(blk);
                // Run to the end of this block's columns in this row (or the range end).
                uint64_t seg_end = std::min<uint64_t>(
                    e1, e + static_cast<uint64_t>(
                                std::min<int64_t>((bc + 1) * g.block_size(), g.in()) - col));
                for (; e < seg_end; ++e, ++col) {
                    float x = g.value(row, col, blk);
                    std::byte* p = dst + (e - e0) * es;
                    if (s.dtype == DType::F8E4M3) {
                        p[0] = std::byte{numerics::e4m3_from_f32(x / sc)};
                    } else {
                        store(p, s.dtype, x);
                    }
                }
            }
            return;
        }
        case TensorRole::WeightScale: {
            LinearGen g(c, s, seed);
            for (uint64_t e = e0; e < e1; ++e) {
                int64_t br = static_cast<int64_t>(e / static_cast<uint64_t>(g.col_blocks()));
                int64_t bc = static_cast<int64_t>(e % static_cast<uint64_t>(g.col_blocks()));
                store(dst + (e - e0) * es, s.dtype, g.scale(g.block(br, bc)));
            }
            return;
        }
        default:
            break;
    }
    uint64_t key = synth_key(seed, stream_name(c, s));
    double sigma = 1.0;
    double offset = 0.0;
    switch (s.role) {
        case TensorRole::Embedding:
            sigma = kEmbeddingSigma;
            break;
        case TensorRole::Head:
        case TensorRole::GateWeight:
            sigma = 1.0 / std::sqrt(static_cast<double>(s.shape.back()));
            break;
        case TensorRole::Norm:
            sigma = kNormSpread;
            offset = 1.0;
            break;
        case TensorRole::GateBias:
            sigma = kGateBiasSigma;
            break;
        default:
            break;
    }
    for (uint64_t e = e0; e < e1; ++e) {
        double x = offset + synth_normal(synth_draw(key, e)) * sigma;
        store(dst + (e - e0) * es, s.dtype, static_cast<float>(x));
    }
}

}  // namespace

uint64_t synth_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t synth_fnv1a64(std::string_view bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (char ch : bytes) {
        h ^= static_cast<uint8_t>(ch);
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t synth_key(uint64_t seed, std::string_view name) {
    return synth_mix64(seed ^ synth_mix64(synth_fnv1a64(name)));
}

uint64_t synth_draw(uint64_t key, uint64_t index) {
    return synth_mix64(key + (index + 1) * kGolden);
}

double synth_normal(uint64_t draw) {
    double sum = 0.0;
    for (int k = 0; k < 4; ++k) {
        sum += (static_cast<double>((draw >> (16 * k)) & 0xffffu) + 0.5) / 65536.0;
    }
    return (sum - 2.0) * kSqrt3;
}

void synth_tensor_bytes(const ModelConfig& config,
                        const TensorSpec& spec,
                        uint64_t seed,
                        uint64_t byte_offset,
                        std::span<std::byte> out,
                        int threads) {
    const size_t es = numerics::dtype_size(spec.dtype);
    if (byte_offset % es != 0 || out.size() % es != 0 ||
        byte_offset + out.size() > spec.num_bytes()) {
        throw InputError("synth: byte range [" + std::to_string(byte_offset) + ", " +
                         std::to_string(byte_offset + out.size()) + ") invalid for tensor '" +
                         spec.name + "'");
    }
    const uint64_t e0 = byte_offset / es;
    const uint64_t n = out.size() / es;
    constexpr uint64_t kParallelMin = 1u << 16;
    if (threads <= 1 || n < kParallelMin) {
        fill_range(config, spec, seed, e0, e0 + n, out.data());
        return;
    }
    parallel_for(
        static_cast<size_t>(n), threads,
        [&](size_t begin, size_t end) {
            fill_range(config, spec, seed, e0 + begin, e0 + end, out.data() + begin * es);
        },
        4096);
}

SynthResult synth_checkpoint(const ModelConfig& config,
                             const std::filesystem::path& out_dir,
                             const SynthOptions& options) {
    ModelConfig c = config;
    if (options.weight_format) {
        c.weight_format = *options.weight_format;
        if (c.weight_format == WeightFormat::BF16) {
            c.scale_fmt = ScaleFmt::F32;
        }
    }
    validate_model_config(c, "synth");
    if (options.shard_size == 0) {
        throw InputError("--shard-size: must be positive");
    }
    std::vector<TensorSpec> specs = tensor_inventory(c, options.layers);
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec || !std::filesystem::is_directory(out_dir)) {
        throw_input_error(out_dir.string(), "--out", "cannot create directory: " + ec.message());
    }

    auto specs_ptr = std::make_shared<std::vector<TensorSpec>>(std::move(specs));
    std::vector<TensorToWrite> tensors;
    tensors.reserve(specs_ptr->size());
    uint64_t total = 0;
    for (const TensorSpec& s : *specs_ptr) {
        TensorToWrite t;
        t.name = s.name;
        t.dtype = s.dtype;
        t.shape = s.shape;
        const TensorSpec* sp = &s;
        uint64_t seed = options.seed;
        int threads = options.threads;
        t.fill = [&c, sp, seed, threads](uint64_t offset, std::span<std::byte> out) {
            synth_tensor_bytes(c, *sp, seed, offset, out, threads);
        };
        total += t.num_bytes();
        tensors.push_back(std::move(t));
    }

    std::map<std::string, std::string> meta;
    meta["dssim_seed"] = std::to_string(options.seed);
    int64_t last = options.layers.last < 0 ? c.stored_layers() - 1 : options.layers.last;
    if (options.layers.first != 0 || last != c.stored_layers() - 1) {
        meta["dssim_layers"] = std::to_string(options.layers.first) + "-" + std::to_string(last);
    }
    write_file_atomic(out_dir / "config.json", model_config_to_json(c).dump(2) + "\n");
    Progress progress("synth " + std::string(c.short_name()), total, ProgressUnit::Bytes);
    write_sharded_checkpoint(out_dir, tensors, options.shard_size, meta,
                             [&progress](uint64_t bytes) { progress.advance(bytes); });
    progress.finish();
    SynthResult r;
    r.tensors = tensors.size();
    r.shards = plan_shards(tensors, options.shard_size).size();
    r.bytes = total;
    return r;
}

}  // namespace dssim::models
