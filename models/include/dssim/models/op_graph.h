// The op graph: THE description of one DeepSeek forward (or training) step as a DAG of named
// operations. The reference runtime walks it to execute each op with real weights; the
// simulator walks it to time each op on a device model. Each op carries its stable name (the
// reference's tensor name, e.g. `layers.7.attn.wkv_a`), kind, tensor specs, the checkpoint
// weights it reads, its logical cost (FLOPs, bytes by class) and its per-device share under a
// parallel plan. docs/model-graph.md documents the naming scheme, cost formulas and plan rules.
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dssim/base/json_reader.h"
#include "dssim/models/model_config.h"
#include "dssim/numerics/formats.h"

namespace dssim::models {

using numerics::DType;

enum class OpKind : uint8_t {
    Embedding,     // token ids -> rows of the embedding table
    RmsNorm,       // x * rsqrt(mean(x^2) + eps) * w
    Gemm,          // one linear layer (also the per-head absorbed wkv_b halves)
    GroupedGemm,   // one projection of all routed experts of a MoE layer
    MlaAttention,  // scores + softmax + value product of MLA (naive or absorbed form)
    RoPE,          // rotary embedding of the rope part of q or k
    Gate,          // MoE router: scores, group-limited top-k, routing weights
    SwiGLU,        // silu(a) * b
    Elementwise,   // residual adds, MoE weighted sum
    ActQuant,      // BF16 -> FP8 E4M3 with 1x128 scales (fp8 GEMMs, EP dispatch payload)
    Concat,        // MTP: [enorm(emb); hnorm(h)] before eh_proj
    Dispatch,      // EP all-to-all of tokens to their experts' devices
    Combine,       // EP all-to-all of expert outputs back to the tokens' devices
    AllReduce,     // TP partial sums; data-parallel gradient reduction in training
    AllGather,     // TP vocab shards of the logits
    Head,          // output projection to the vocabulary (logits)
    Sampling,      // logits -> next token ids
    Loss,          // training: softmax cross-entropy of the logits
};
inline constexpr int kOpKindCount = 18;
std::string_view op_kind_name(OpKind kind);
[[nodiscard]] bool is_communication(OpKind kind);

enum class Phase : uint8_t { Prefill, Decode, Train };
std::string_view phase_name(Phase phase);
// The inverse of phase_name ("prefill", "decode", "train"); nullopt for anything else.
std::optional<Phase> phase_from_name(std::string_view name);
// How MLA is computed: `Naive` up-projects K and V per token with wkv_b (prefill/training
// form); `Absorbed` folds wkv_b into q and the output and attends over the latent cache
// (the demo's default, DeepSeek's decode form).
enum class AttentionMode : uint8_t { Absorbed, Naive };
std::string_view attention_mode_name(AttentionMode mode);
// How a serving system stores the latent KV cache: BF16 (kv_lora_rank + rope values), or
// FlashMLA's FP8 format (E4M3 latent with one FP32 scale per 128 values, BF16 rope part).
enum class KvCacheFormat : uint8_t { Bf16, Fp8 };
std::string_view kv_cache_format_name(KvCacheFormat f);
std::optional<KvCacheFormat> kv_cache_format_from_name(std::string_view name);
// Bytes per token of one layer's latent cache.
[[nodiscard]] int64_t latent_cache_bytes_per_token(int64_t latent_dim,
                                                   int64_t rope_dim,
                                                   KvCacheFormat f);
// GEMM input format: `Bf16` is the demo default (FP8 weights dequantised, BF16 GEMM);
// `Fp8` inserts an ActQuant before every FP8 linear (act_quant + fp8_gemm path).
enum class GemmMode : uint8_t { Bf16, Fp8 };

// What an op is for, where its kind alone does not say it. Interpreters dispatch on roles, never
// on op names (names are the golden files' tensor names and stay as they are).
enum class OpRole : uint8_t {
    None,
    AbsorbedQuery,      // Gemm: q_nope x W_UK per head -> latent query (`attn.wkv_b.k`)
    AbsorbedOutput,     // Gemm: attention output x W_UV per head (`attn.wkv_b.v`)
    Residual,           // Elementwise: sum of its inputs into the residual stream
    ExpertWeightedSum,  // Elementwise: routed expert outputs x gate weights, summed per token
};
std::string_view op_role_name(OpRole role);

// Which part of a training step an op belongs to. DualPipe splits backward into B (input
// gradient) and W (weight gradient).
enum class Pass : uint8_t { Forward, BackwardInput, BackwardWeight, GradSync };
std::string_view pass_name(Pass pass);
// Work of a backward op relative to its forward op on the same shapes: 2 for the attention
// input gradient (recomputed scores, then dQ, dK and dV), 1 for every other op and pass.
[[nodiscard]] double backward_work_multiple(OpKind kind, Pass pass);

// How an op's work is divided among devices (see docs/model-graph.md, "Parallel plan").
enum class Split : uint8_t {
    DataParallel,    // tokens split over DP, replicated over TP (norms, wq_a, wkv_a, gate, ...)
    ColumnParallel,  // tokens over DP, output features over TP (wq_b, wkv_b, w1, w3)
    RowParallel,     // tokens over DP, input features over TP (wo, w2); followed by AllReduce
    HeadParallel,    // tokens over DP, attention heads over TP
    VocabParallel,   // tokens over DP, vocabulary over TP (embed, head)
    ExpertParallel,  // routed experts over EP ranks
    Collective,      // communication op
};
std::string_view split_name(Split split);

// Parallel plan. Attention and dense parts run on tp x dp devices (each DP rank owns a share
// of the sequences, each TP rank a share of the heads / features); routed experts are spread
// over ep ranks (devices / ep replicas of each expert set). redundant_experts adds expert
// slots (DeepSeek serving: 32) so that ep may divide n_routed_experts + redundant_experts.
struct ParallelPlan {
    int64_t tp = 1;
    int64_t ep = 1;
    int64_t dp = 1;
    int64_t devices = 1;
    int64_t redundant_experts = 0;
    [[nodiscard]] int64_t expert_slots_per_device(const ModelConfig& config) const {
        return (config.n_routed_experts + redundant_experts) / ep;
    }
};

// Which part of the model a pipeline stage runs. The first stage embeds the tokens; the last
// runs the final norm, the head (logits, loss or sampling) and the MTP modules. A middle stage
// (neither) reads the previous stage's hidden states as the graph input `stage_input` and ends
// at its last layer's residual.
struct PipelineStage {
    bool first = true;
    bool last = true;
    friend bool operator==(const PipelineStage&, const PipelineStage&) = default;
};

struct StepSpec {
    Phase phase = Phase::Decode;
    int64_t batch = 1;    // sequences in the step, over all DP ranks
    int64_t seq = 1;      // prefill/train: new tokens per sequence (decode: must be 1)
    int64_t context = 0;  // tokens already in each sequence's KV cache (decode; prefill prefix)
    bool mtp = false;     // run the MTP module(s) (decode: main model verifies 1 draft/module)
    AttentionMode attention = AttentionMode::Absorbed;
    GemmMode gemm = GemmMode::Bf16;
    // The latent cache's format (absorbed attention reads it; naive attention computes from
    // per-head K/V of the step's own tokens, the demo's per-head cache).
    KvCacheFormat kv_cache = KvCacheFormat::Bf16;
    // Logits for every new position instead of only the last one per sequence (training
    // always; also used for the flops_per_token definition).
    bool logits_all_positions = false;
    PipelineStage stage;  // the whole model by default
    ParallelPlan plan;
};

struct OpTensor {
    std::string name;            // stable tensor name, e.g. "layers.7.attn.wkv_a"
    std::vector<int64_t> shape;  // row-major
    DType dtype = DType::BF16;
    [[nodiscard]] int64_t elements() const;
    [[nodiscard]] int64_t bytes() const;
};

// A checkpoint tensor an op reads. `name` uses the graph's scheme ("layers.7.attn.wkv_a");
// hf_tensor_names() gives the HF names. For GroupedGemm, `experts` > 0 and name is the
// grouped form ("layers.7.moe.experts.w2"); expert_param_name() gives one expert's name.
struct WeightRef {
    std::string name;
    std::vector<int64_t> shape;  // one tensor (one expert for grouped weights)
    DType dtype = DType::BF16;
    bool block_scaled = false;             // FP8 with [ceil(out/128), ceil(in/128)] FP32 scale_inv
    bool is_bias = false;                  // stored as `<module>.e_score_correction_bias`
    int64_t experts = 0;                   // 0: single tensor; n: one tensor per routed expert
    bool mtp = false;                      // belongs to an MTP module
    [[nodiscard]] int64_t params() const;  // elements of all tensors (all experts)
    [[nodiscard]] int64_t stored_bytes(const ModelConfig& config) const;     // incl. scales
    [[nodiscard]] int64_t stored_elements(const ModelConfig& config) const;  // incl. scales
};

// Cost of an op. In Op::cost it is the whole logical op (plan independent: what one device
// would do for the whole step, what the reference executes); in Op::per_device it is the
// share of the busiest device under the plan. Bytes are split by class.
struct OpCost {
    double flops = 0;         // matrix FLOPs (2 per multiply-add)
    double vector_ops = 0;    // element-wise operations (norms, softmax, activations, adds)
    double weight_bytes = 0;  // weights read as stored (FP8 + scales, BF16, FP32)
    double act_read_bytes = 0;
    double act_write_bytes = 0;
    double kv_read_bytes = 0;
    double kv_write_bytes = 0;
    double comm_bytes = 0;  // communication: bytes sent (cost: all devices; per device: max
                            // of sent and received by the busiest device)
    OpCost& operator+=(const OpCost& other);
    [[nodiscard]] double bytes() const {
        return weight_bytes + act_read_bytes + act_write_bytes + kv_read_bytes + kv_write_bytes;
    }
};

// Extra shape facts the interpreters need.
struct GemmDims {
    int64_t batch = 1;  // independent GEMMs (attention heads for the absorbed wkv_b halves)
    int64_t m = 0;      // rows (tokens)
    int64_t n = 0;      // output features
    int64_t k = 0;      // input features
};
struct AttentionDims {
    int64_t sequences = 0;
    int64_t heads = 0;
    int64_t queries_per_seq = 0;        // new tokens per sequence in this step
    int64_t context = 0;                // cached tokens before this step
    double score_pairs = 0;             // sum over queries of attended keys (causal)
    int64_t qk_dim = 0;                 // per head: dn+dr (naive) or r+dr (absorbed)
    int64_t v_dim = 0;                  // per head: dv (naive) or r (absorbed)
    int64_t cache_bytes_per_token = 0;  // KV cache of this layer per token
    // MLA sizes the interpreters need besides the per-head products above.
    int64_t nope_dim = 0;    // per-head query/key part without rotary embedding (dn)
    int64_t rope_dim = 0;    // rotary part of query and key (dr)
    int64_t value_dim = 0;   // per-head value width (dv)
    int64_t latent_dim = 0;  // compressed KV latent (kv_lora_rank)
};
// The router of a Gate op (DeepSeekMoE: group-limited top-k over scored experts).
struct Routing {
    int64_t experts = 0;      // routed experts
    int64_t top_k = 0;        // experts per token
    int64_t groups = 1;       // expert groups
    int64_t groups_kept = 1;  // groups a token may route to
    ScoreFunc score = ScoreFunc::Softmax;
    double scaling = 1.0;    // routed_scaling_factor applied to the weights
    bool normalise = false;  // weights divided by their sum (sigmoid scoring)
};
// The routing of a model's gates.
Routing routing_of(const ModelConfig& config);
// Routed-expert load of a MoE layer (GroupedGemm, Dispatch, Combine). Balanced routing gives
// tokens_per_expert = tokens * k / n_routed_experts; apply_expert_loads() replaces it.
struct ExpertLoad {
    std::vector<double> tokens_per_expert;         // [n_routed_experts] token-expert pairs
    std::vector<double> tokens_per_device;         // [ep] pairs processed by each EP rank
    std::vector<int64_t> active_slots_per_device;  // [ep] slots that receive pairs
    int64_t slots_per_device = 0;                  // expert slots per EP rank (incl. redundant)
};
// Communication group of a collective.
struct CommGroup {
    int64_t size = 1;    // devices in one group
    int64_t groups = 1;  // independent groups running the same collective
    DType dtype = DType::BF16;
};

struct Op {
    std::string name;  // stable, unique in the graph
    OpKind kind = OpKind::Elementwise;
    OpRole role = OpRole::None;
    Pass pass = Pass::Forward;
    Split split = Split::DataParallel;
    int64_t layer = -1;  // HF layer index (MTP module k: num_hidden_layers + k); -1 outside
    std::vector<OpTensor> inputs;
    std::vector<OpTensor> outputs;
    std::vector<WeightRef> weights;
    GemmDims gemm;            // Gemm, GroupedGemm (m = total token-expert pairs), Head
    AttentionDims attention;  // MlaAttention
    Routing routing;          // Gate
    ExpertLoad experts;       // GroupedGemm, Dispatch, Combine
    CommGroup comm;           // communication ops
    int64_t devices = 1;      // devices that execute a part of this op
    OpCost cost;              // logical op
    OpCost per_device;        // busiest device's share under the plan
};

using OpDag = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Op>;
using OpVertex = OpDag::vertex_descriptor;

class OpGraph {
  public:
    OpGraph(const ModelConfig& config, const StepSpec& step) : config_(config), step_(step) {}

    [[nodiscard]] const OpDag& dag() const { return dag_; }
    [[nodiscard]] const ModelConfig& config() const { return config_; }
    [[nodiscard]] const StepSpec& step() const { return step_; }
    [[nodiscard]] size_t size() const { return boost::num_vertices(dag_); }
    [[nodiscard]] const Op& op(OpVertex v) const { return dag_[v]; }
    [[nodiscard]] Op& op(OpVertex v) { return dag_[v]; }
    [[nodiscard]] std::optional<OpVertex> find(std::string_view name) const;
    // The op that produces tensor `name`; nullopt for a graph input ("tokens").
    [[nodiscard]] std::optional<OpVertex> producer(std::string_view tensor_name) const;
    // Vertices in a deterministic topological order (Kahn's algorithm, ties by insertion).
    // Throws std::logic_error if the graph has a cycle (a builder bug).
    [[nodiscard]] std::vector<OpVertex> topological_order() const;
    // Tokens through the main model in this step.
    [[nodiscard]] int64_t main_tokens() const { return main_tokens_; }
    // MTP modules run in this step (0 without --mtp).
    [[nodiscard]] int64_t mtp_modules() const { return mtp_modules_; }

    // Builder interface: adds an op with edges from the producers of its input tensors (an
    // input nobody produced is a graph input, e.g. "tokens") and from `extra_deps`.
    OpVertex add(Op op, std::span<const OpVertex> extra_deps = {});
    void set_main_tokens(int64_t tokens) { main_tokens_ = tokens; }
    void set_mtp_modules(int64_t modules) { mtp_modules_ = modules; }

  private:
    ModelConfig config_;
    StepSpec step_;
    OpDag dag_;
    std::unordered_map<std::string, OpVertex> by_name_;
    std::unordered_map<std::string, OpVertex> producer_;  // tensor name -> op
    int64_t main_tokens_ = 0;
    int64_t mtp_modules_ = 0;
};

// Checks the step against the model (sizes, TP dividing heads and features, EP dividing
// expert slots and devices, tp*dp == devices, context within max_position_embeddings, MTP
// present); throws InputError naming the option.
void validate_step(const ModelConfig& config, const StepSpec& step);

// Builds the graph of one step. Throws InputError for an invalid step.
OpGraph build_op_graph(const ModelConfig& config, const StepSpec& step);

// The hook for real routing: replaces the balanced token counts of MoE layer `layer` (HF
// index) with `tokens_per_expert` ([n_routed_experts], token-expert pairs over the whole
// step) and recomputes the layer's GroupedGemm, Dispatch and Combine costs and per-device
// shares. Placement: expert e on EP rank e / (n_routed / ep) ... see docs/model-graph.md
// (redundant slots replicate the most loaded experts). Throws InputError on a wrong length,
// a negative or non-finite count, or a layer without routed experts.
void apply_expert_loads(OpGraph& graph, int64_t layer, std::span<const double> tokens_per_expert);

// Names. expert_param_name("layers.7.moe.experts.w2", 41) == "layers.7.moe.experts.41.w2".
std::string expert_param_name(std::string_view grouped_name, int64_t expert);
// HF checkpoint tensor names of one parameter in the graph scheme (a single-expert name or a
// non-expert name): the weight, plus `weight_scale_inv` for FP8 block-scaled linears;
// "layers.L.moe.gate.bias" names the e_score_correction_bias. Throws InputError for a name
// outside the scheme or not in this model. Example: "layers.7.attn.wkv_a" ->
// {"model.layers.7.self_attn.kv_a_proj_with_mqa.weight",
// "model.layers.7.self_attn.kv_a_proj_with_mqa.weight_scale_inv"} for an FP8 model.
std::vector<std::string> hf_tensor_names(const ModelConfig& config, std::string_view param_name);
// HF name of the main weight only.
std::string hf_weight_name(const ModelConfig& config, std::string_view param_name);

// Model totals. params count every stored parameter (weights, norms, gate bias; not FP8
// scales). activated = all non-routed parameters incl. embedding and head + k routed experts
// per MoE layer. flops_per_token: forward matrix FLOPs of a prefill of one 4096-token sequence
// (causal attention, mean context 2048.5 keys, naive MLA as in prefill/training, logits for
// every position, no MTP) divided by 4096.
struct ModelTotals {
    int64_t params_total = 0;                // main model
    int64_t params_total_with_mtp = 0;       // as stored in the HF checkpoint (MTP copies of
                                             // embedding and head included)
    int64_t params_mtp = 0;                  // the MTP module(s) as stored
    int64_t params_embedding = 0;            // the input embedding
    int64_t params_activated_per_token = 0;  // incl. input embedding and head
    // Without the input embedding (a lookup, not a multiply): the definition under which the
    // published V3 36.6B, V2 21B and V2-Lite 2.4B figures all agree.
    int64_t params_activated_excl_embedding = 0;
    int64_t kv_cache_bytes_per_token = 0;  // absorbed MLA latent cache, BF16, main layers
    int64_t kv_cache_bytes_per_token_with_mtp = 0;
    int64_t kv_cache_bytes_per_token_naive = 0;  // demo naive cache (full K and V), BF16
    int64_t flops_context_seq = 0;               // the prefill length used for flops_per_token
    double flops_per_token = 0;
    int64_t weight_bytes = 0;  // main model as stored (FP8 + scales + BF16/FP32)
    int64_t weight_bytes_with_mtp = 0;
    int64_t stored_elements_with_mtp = 0;  // params + scale elements, whole checkpoint
};
// Computed by building graphs and summing the weights and costs of their ops.
ModelTotals model_totals(const ModelConfig& config);
// Computed independently from closed-form per-layer formulas (flops_per_token included);
// tests require both to agree exactly.
ModelTotals closed_form_totals(const ModelConfig& config);

// Sums over a graph.
struct KindTotals {
    int64_t count = 0;
    OpCost cost;
    OpCost per_device;
};
struct StepTotals {
    int64_t ops = 0;
    int64_t edges = 0;
    int64_t main_tokens = 0;
    OpCost cost;        // all ops
    OpCost per_device;  // sum of the per-device shares (busiest device per op)
    KindTotals by_kind[kOpKindCount];
    KindTotals by_pass[4];
};
StepTotals step_totals(const OpGraph& graph);

// The report `dssim graph --json` prints: model, step, model totals, step totals and the
// per-kind breakdown. Deterministic (same inputs, same bytes).
OrderedJson graph_report_json(const OpGraph& graph, const ModelTotals& totals);
OrderedJson op_json(const ModelConfig& config, const Op& op);
// Graphviz text of the DAG (boost::write_graphviz), one node per op labelled with its name.
std::string op_graph_dot(const OpGraph& graph);

}  // namespace dssim::models
