// Per-op cost models: how long one op takes on one device (or one collective on a group of
// devices), from the device's published figures and its family's calibration data.
//
// Compute and memory ops use a roofline with efficiencies:
//   t = overhead + max(flops / (peak[precision] * eff_compute), bytes / (bandwidth * eff_memory))
// where the efficiencies come from configs/calibration (never from code). GEMM bytes come from a
// tiling model over the on-chip buffer; collectives are per-call latency plus bytes over the
// link each byte crosses (scale-up within a domain, NIC across domains). docs/devices.md gives
// every formula. The op descriptors below are this library's own; the simulator maps its op
// graph onto them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dssim/devices/calibration.h"
#include "dssim/devices/device_spec.h"
#include "dssim/devices/system_spec.h"

namespace dssim::devices {

// A dense GEMM C[m, n] = A[m, k] * B[k, n]^T. `dtype` is the precision the model stores the
// operands in (FP8 layers say FP8 even on devices without FP8; the cost model decides how they
// run). The output is written in `out_dtype`.
struct GemmShape {
    int64_t m = 0;
    int64_t n = 0;
    int64_t k = 0;
    Precision dtype = Precision::BF16;
    Precision out_dtype = Precision::BF16;
};

// Experts: one kernel over groups that share n and k, each with its own B and its own rows.
struct GroupedGemmShape {
    std::vector<int64_t> m_per_group;  // rows routed to each local expert (imbalance allowed)
    int64_t n = 0;
    int64_t k = 0;
    Precision dtype = Precision::FP8;
    Precision out_dtype = Precision::BF16;
};

// Attention of `batch` sequences: each has `q_len` new query tokens attending to `kv_len`
// cached + new tokens (kv_len includes the new ones). For MLA decode with absorbed weights
// qk_head_dim = kv_lora_rank + rope dim (576) and v_head_dim = kv_lora_rank (512), and the KV
// cache holds `kv_bytes_per_token` per token, shared by all heads.
enum class AttentionPhase { Prefill, Decode };
struct AttentionWork {
    AttentionPhase phase = AttentionPhase::Decode;
    int64_t batch = 1;
    int64_t q_len = 1;
    int64_t kv_len = 0;
    int64_t heads = 0;
    int64_t qk_head_dim = 0;
    int64_t v_head_dim = 0;
    double kv_bytes_per_token = 0;      // bytes of KV cache read per token of context
    Precision dtype = Precision::BF16;  // matmul precision of the attention core
    bool causal = true;
};

// Memory-bound ops (RMSNorm, SwiGLU, residual adds, activation quantisation, RoPE ...).
struct MemoryWork {
    std::string kind;  // "rmsnorm", "act_quant", ... (reported back, not interpreted)
    double bytes_read = 0;
    double bytes_written = 0;
    double flops = 0;
};
// RMSNorm over [tokens, hidden] in `act` precision with a `weight` vector.
MemoryWork rmsnorm_work(int64_t tokens, int64_t hidden, Precision act = Precision::BF16);
// Per-token-group quantisation of [tokens, hidden] BF16 to 1-byte values plus one FP32 scale per
// `group` elements (DeepSeek act_quant: group 128).
MemoryWork quantize_work(int64_t tokens, int64_t hidden, int64_t group = 128);
// y = f(x) elementwise over `elements` values with `inputs` operands read and one written.
MemoryWork elementwise_work(std::string kind, double elements, int inputs, Precision act);

enum class CollectiveKind { Dispatch, Combine, AllToAll, AllReduce, AllGather, ReduceScatter };
std::string_view collective_kind_name(CollectiveKind k);

// One collective over `participants` devices.
//   Dispatch / Combine / AllToAll: `bytes` = what one device sends in total (to all
//     destinations, including the share that stays local), spread evenly over participants.
//   AllReduce / AllGather / ReduceScatter: `bytes` = the full buffer on each device.
// Placement: members are packed into scale-up domains; `members_per_domain` = how many of the
// group share one domain (0: as many as fit, min(participants, domain size)).
struct CollectiveWork {
    CollectiveKind kind = CollectiveKind::AllToAll;
    double bytes = 0;
    int64_t participants = 1;
    int64_t members_per_domain = 0;
};

// An expert-parallel all-to-all as DeepEP runs it (docs/devices.md, "EP all-to-all"). Normal
// kernels (prefill, training) send each token once per destination domain over the NIC and
// once per destination rank over scale-up links (forwarding inside the domain); low-latency
// kernels (decode) send every token copy as its own message straight to the expert's rank.
enum class EpKernel { Normal, LowLatency };
std::string_view ep_kernel_name(EpKernel k);

struct EpAllToAllWork {
    CollectiveKind kind = CollectiveKind::Dispatch;  // Dispatch or Combine
    EpKernel kernel = EpKernel::Normal;
    double tokens = 0;          // source tokens per rank
    double bytes_per_copy = 0;  // one token's payload (values and scales)
    double copies = 0;          // top-k: copies of a token
    double ranks = 0;           // expected distinct ranks per token (incl. its own)
    double domains = 0;         // expected distinct scale-up domains per token (incl. its own)
    int64_t participants = 1;
    int64_t members_per_domain = 0;  // 0: as many as fit
    int64_t compute_units = 0;       // normal kernels: units the call holds (0: calibration's)
};

// Bytes one device moves for an EP all-to-all (the same counts the simulator's transfers use).
struct EpTraffic {
    double scale_up_bytes = 0;   // to other ranks of its domain (incl. forwarded tokens)
    double scale_out_bytes = 0;  // to other domains
    int64_t members = 1;         // group members per domain
    int64_t domains = 1;         // domains the group spans
};
[[nodiscard]] EpTraffic ep_traffic(const EpAllToAllWork& w, int64_t scale_up_domain);

enum class Bound { Compute, Memory, ScaleUp, ScaleOut, Latency };
std::string_view bound_name(Bound b);

// The answer: seconds plus why.
struct OpCost {
    double seconds = 0;            // total
    double compute_seconds = 0;    // flops / (peak * eff)
    double memory_seconds = 0;     // bytes / (bandwidth * eff)
    double scale_up_seconds = 0;   // collectives: bytes over scale-up links
    double scale_out_seconds = 0;  // collectives: bytes over NICs
    double overhead_seconds = 0;   // fixed per-kernel / per-message cost
    double flops = 0;
    double bytes = 0;  // memory traffic (compute ops) or bytes sent (collectives)
    double compute_efficiency = 0;
    double memory_efficiency = 0;
    Bound bound = Bound::Memory;
    Precision executed_as = Precision::BF16;  // matmul precision actually used
    std::vector<std::string> assumptions;     // unknown device figures replaced, and by what
};

// Tiles the GEMM traffic model chose (docs/devices.md, "GEMM memory traffic").
struct GemmTiling {
    int64_t tile_m = 0;
    int64_t tile_n = 0;
    double buffer_bytes = 0;
    double bytes_a = 0;  // A traffic incl. re-reads
    double bytes_b = 0;
    double bytes_c = 0;
};

class CostModel {
  public:
    // `system` decides collective placement; `fp8` how FP8 layers run (Auto: native if the
    // device has FP8, else its configured fallback).
    CostModel(DeviceSpec device,
              SystemSpec system,
              Calibration calibration,
              Fp8Mode fp8 = Fp8Mode::Auto);
    // Loads the device named by the system and the calibration named by the device.
    static CostModel for_system(std::string_view system_name_or_path, Fp8Mode fp8 = Fp8Mode::Auto);
    // One device in a node of its own scale-up domain (single_node_system).
    static CostModel for_device(std::string_view device_name_or_path, Fp8Mode fp8 = Fp8Mode::Auto);

    [[nodiscard]] OpCost gemm_time(const GemmShape& shape) const;
    [[nodiscard]] OpCost grouped_gemm_time(const GroupedGemmShape& shape) const;
    [[nodiscard]] OpCost attention_time(const AttentionWork& work) const;
    [[nodiscard]] OpCost memory_op_time(const MemoryWork& work) const;
    [[nodiscard]] OpCost collective_time(const CollectiveWork& work) const;
    [[nodiscard]] OpCost ep_all_to_all_time(const EpAllToAllWork& work) const;
    // The calibration of an EP kernel, its per-call overhead (s) for a dispatch or combine, and
    // the bytes/s its compute units move (0: not limited by units).
    [[nodiscard]] const EpKernelCalibration& ep_calibration(EpKernel k) const;
    [[nodiscard]] double ep_overhead_seconds(EpKernel k, CollectiveKind kind) const;
    [[nodiscard]] double ep_unit_rate(EpKernel k, CollectiveKind kind, int64_t units) const;
    // Latencies of one scale-up transfer and one network traversal (s): the device's / system's
    // figure, else the calibration's estimate (recorded in `notes` when given).
    [[nodiscard]] double scale_up_latency_seconds(std::vector<std::string>* notes) const;
    [[nodiscard]] double scale_out_latency_seconds(std::vector<std::string>* notes) const;

    // The precision a matmul stored in `stored` runs in on this device.
    [[nodiscard]] Precision execution_precision(Precision stored) const;
    [[nodiscard]] GemmTiling gemm_tiling(const GemmShape& shape) const;

    [[nodiscard]] const DeviceSpec& device() const { return device_; }
    [[nodiscard]] const SystemSpec& system() const { return system_; }
    [[nodiscard]] const Calibration& calibration() const { return calibration_; }
    [[nodiscard]] Fp8Mode fp8_mode() const { return fp8_; }

  private:
    // Peak ops/s for a precision; an unknown peak falls back to a same-width precision
    // (fp8<->int8, bf16<->fp16) and records that, else InputError naming the field.
    double peak_ops(Precision p, std::vector<std::string>& assumptions) const;
    double memory_bandwidth() const;  // bytes/s
    double onchip_buffer_bytes(std::vector<std::string>* assumptions) const;
    OpCost roofline(double flops,
                    double bytes,
                    Precision exec,
                    const OpCalibration& cal,
                    const CurveInputs& in,
                    std::vector<std::string> assumptions) const;

    DeviceSpec device_;
    SystemSpec system_;
    Calibration calibration_;
    Fp8Mode fp8_;
};

}  // namespace dssim::devices
