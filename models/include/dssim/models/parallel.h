// Shapes under a parallel plan: the one place that knows how an op's work, weights, KV cache
// and traffic divide over the devices of a TP x DP (attention, dense) and EP (routed experts)
// plan. The op graph builder asks it for every op's per-device share; the simulator's plan, the
// trace replay's work model, validation and `dssim graph` ask it for per-device GEMM,
// attention and expert shapes, collective payloads and memory. None of them reads the model's
// sizes (hidden_size, kv_lora_rank, n_routed_experts, ...) for shapes themselves.
// docs/model-graph.md ("Parallel plan") states the rules implemented here.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "dssim/models/op_graph.h"

namespace dssim::models {

// ---- tokens over data-parallel ranks --------------------------------------------------------

// Share of a step's sequences on the busiest DP rank: ceil(batch / dp) / batch.
[[nodiscard]] double dp_fraction(const StepSpec& step);
// Rows of a token-split tensor on one DP rank (ceil(rows / dp)).
[[nodiscard]] int64_t device_rows(const StepSpec& step, int64_t rows);

// ---- per-device share of an op ---------------------------------------------------------------

// The busiest device's share of `op` under step.plan, from the op's logical cost (op.cost),
// its split, its expert load (op.experts) and its communication group. Every op kind and
// split: token splits over DP, feature/head/vocab splits over TP, routed experts over EP
// (busiest rank), TP all-reduce and all-gather rings, EP all-to-all (busiest of sent and
// received). Gradient synchronisation ops are built from grad_sync_share().
[[nodiscard]] OpCost device_share(const ModelConfig& config, const StepSpec& step, const Op& op);

// ---- GEMMs and attention on one device -------------------------------------------------------

// A Gemm, Head or Gate op on one device: rows over DP, output features (column, vocab),
// input features (row) or heads (per-head absorbed halves) over TP.
[[nodiscard]] GemmDims device_gemm(const StepSpec& step, const Op& op);

// The MLA core on one device: sequences over DP, heads over TP.
struct DeviceAttention {
    int64_t sequences = 0;        // sequences on this device
    int64_t heads = 0;            // heads on this device
    int64_t queries_per_seq = 0;  // new tokens per sequence
    int64_t keys_per_seq = 0;     // cached + new tokens attended by the last query
    int64_t qk_dim = 0;           // per head
    int64_t v_dim = 0;            // per head
    // KV cache bytes per token this device holds and reads for this layer: the absorbed latent
    // is shared by all heads (every TP rank holds it whole); the naive per-head K/V are split.
    double cache_bytes_per_token = 0;
};
[[nodiscard]] DeviceAttention device_attention(const StepSpec& step, const Op& op);

// ---- routed experts ---------------------------------------------------------------------------

// Expert placement over EP ranks. Without redundant slots expert e lives on rank
// e / (n_routed / ep); with redundant slots the most loaded experts get a second replica and
// slots are placed greedily (docs/model-graph.md, "Expert placement").
struct ExpertPlacement {
    std::vector<double> tokens_per_device;         // [ep] token-expert pairs per rank
    std::vector<int64_t> active_slots_per_device;  // [ep] slots with at least one pair
};
[[nodiscard]] ExpertPlacement place_experts(std::span<const double> tokens_per_expert,
                                            int64_t ep,
                                            int64_t redundant);

// The load record of a MoE layer's ops under the plan, from token-expert pairs per expert
// (whole step): placement, slots per rank.
[[nodiscard]] ExpertLoad expert_load_under_plan(const ModelConfig& config,
                                                const ParallelPlan& plan,
                                                std::span<const double> tokens_per_expert);

// EP rank with the most token-expert pairs (lowest on ties; 0 without a load record).
[[nodiscard]] int64_t busiest_rank(const Op& op);

// A GroupedGemm op on one device: n and k after the TP split (experts tensor-parallel when
// there is no EP), and the rows each local expert group receives on EP rank `rank`, in
// placement order (fractional: expected pairs; callers round as their kernel model needs).
struct DeviceGroupedGemm {
    int64_t n = 0;
    int64_t k = 0;
    std::vector<double> rows_per_group;
};
[[nodiscard]] DeviceGroupedGemm device_grouped_gemm(const ModelConfig& config,
                                                    const StepSpec& step,
                                                    const Op& op,
                                                    int64_t rank);

// ---- collective payloads -----------------------------------------------------------------------

// Bytes of one token copy in EP dispatch (FP8 values with one FP32 scale per 128 values: DeepSeek's
// 1x128 activation tiles) and combine (BF16 values), for a model of width `hidden`.
[[nodiscard]] double dispatch_bytes_per_copy(int64_t hidden);
// DeepEP's low-latency dispatch message carries a header besides the values and scales (the
// token's source index and layout: 16 bytes, as its benchmark counts them).
inline constexpr double kLowLatencyMessageHeader = 16.0;
[[nodiscard]] double combine_bytes_per_copy(int64_t hidden);
// The payload of one token copy of a Dispatch or Combine op of this model.
[[nodiscard]] double ep_bytes_per_copy(const ModelConfig& config, OpKind kind);

// An EP all-to-all (Dispatch or Combine) under the plan: every token-expert pair whose expert
// is on another rank crosses the network once (the per-copy form).
struct AllToAllShape {
    int64_t group = 1;  // EP ranks in one group (contiguous device ids)
    double bytes_per_copy = 0;
    double copies_per_device = 0;  // token-expert pairs a device sends (its source tokens x k)
    // [group] expected copies between one source rank and destination rank r (dispatch: the
    // destination's load decides; combine mirrors it).
    std::vector<double> rank_pair_copies;
};
[[nodiscard]] AllToAllShape all_to_all_shape(const ModelConfig& config,
                                             const StepSpec& step,
                                             const Op& op);

// Expected distinct destinations of one token under balanced group-limited routing: the
// token's top-k experts are drawn from `topk_group` of `n_group` expert groups; experts sit
// contiguously on `ep` ranks, `ranks_per_node` ranks per node. DeepEP's normal kernels send a
// token once per destination node (RDMA) and once per destination rank (NVLink); the per-copy
// form sends it k times.
struct TokenFanout {
    double copies = 0;  // top-k experts: k
    double ranks = 0;   // expected distinct EP ranks among them
    double nodes = 0;   // expected distinct nodes among them
};
[[nodiscard]] TokenFanout expected_fanout(const ModelConfig& config,
                                          int64_t ep,
                                          int64_t ranks_per_node);
// The same for any router (a benchmark's routing, not a model's).
[[nodiscard]] TokenFanout expected_fanout(const Routing& routing,
                                          int64_t ep,
                                          int64_t ranks_per_node);

// A ring collective (TP all-reduce or all-gather) on one device.
struct RingShape {
    int64_t group = 1;      // members per ring
    int64_t steps = 0;      // sequential transfers to the next member
    double step_bytes = 0;  // bytes per transfer
    double hbm_bytes = 0;   // buffer read and written by the device
};
[[nodiscard]] RingShape ring_shape(const Op& op);

// ---- training -----------------------------------------------------------------------------------

// One pipeline stage's chunk of the main model: `moe_layers` MoE layers (no dense layers, no
// embedding-side MTP module), the unit a DualPipe chunk runs (V3: 4 of the 58 MoE layers).
// Throws InputError naming `file` and `field` (where the count came from) if the model has no
// MoE layers or fewer than asked.
[[nodiscard]] ModelConfig pipeline_chunk(const ModelConfig& config,
                                         int64_t moe_layers,
                                         std::string_view file = {},
                                         std::string_view field = "--layers-per-chunk");

// Devices holding a replica of a parameter group whose gradients must be synchronised:
// routed experts are replicated over devices / ep groups (with EP), everything else over DP.
[[nodiscard]] int64_t gradient_replicas(const ParallelPlan& plan, bool routed_experts);
// Parameters of forward op `op` (with `params` parameters in total) held by one device.
[[nodiscard]] double device_params(const ModelConfig& config,
                                   const ParallelPlan& plan,
                                   const Op& op,
                                   double params);
// Per-device cost of a ring all-reduce of `params_per_device` FP32 gradients over `replicas`.
[[nodiscard]] OpCost grad_sync_share(double params_per_device, int64_t replicas);

// ---- memory -----------------------------------------------------------------------------------

// What one device holds for a step. KV cache: `sequences` per device, each with
// `tokens_per_sequence` cached + new tokens. Activations: the largest op's inputs and outputs
// of each micro-batch graph in flight.
struct DeviceMemoryShare {
    double weights = 0;                 // bytes as stored (FP8 + scales, BF16, FP32)
    double kv_cache = 0;                // bytes
    double activations = 0;             // bytes
    double fp8_weight_elements = 0;     // of `weights`: FP8 block-scaled elements
    double fp8_weight_scale_bytes = 0;  // of `weights`: their FP32 scales
};
[[nodiscard]] DeviceMemoryShare device_memory(std::span<const OpGraph* const> micro_batches,
                                              int64_t sequences,
                                              int64_t tokens_per_sequence);

}  // namespace dssim::models
