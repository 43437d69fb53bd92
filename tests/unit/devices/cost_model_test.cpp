// Cost models: hand-computed roofline cases from the raw config values, the FP8 execution
// choice, the topology-aware collectives, and monotonicity (more of any resource is never
// slower).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/base/paths.h"
#include "dssim/devices.h"

namespace dev = dssim::devices;

namespace {

// Raw numbers straight from the JSON files, so the expectations below do not go through the
// code under test.
double raw(const std::string& sub,
           const std::string& name,
           std::initializer_list<const char*> path) {
    dssim::Json j = dssim::load_json_file(dssim::config_dir() / sub / (name + ".json"));
    const dssim::Json* p = &j;
    for (const char* key : path) {
        p = &p->at(key);
    }
    return p->get<double>();
}

// Piecewise-linear in log2(x) through the points of a calibration curve, clamped at the ends.
double interp(const dssim::Json& points, double x) {
    size_t n = points.size();
    if (x <= points[0][0].get<double>()) return points[0][1].get<double>();
    if (x >= points[n - 1][0].get<double>()) return points[n - 1][1].get<double>();
    for (size_t i = 1; i < n; ++i) {
        double x1 = points[i][0].get<double>();
        if (x <= x1) {
            double x0 = points[i - 1][0].get<double>();
            double y0 = points[i - 1][1].get<double>();
            double y1 = points[i][1].get<double>();
            return y0 +
                   (std::log2(x) - std::log2(x0)) / (std::log2(x1) - std::log2(x0)) * (y1 - y0);
        }
    }
    return points[n - 1][1].get<double>();
}

}  // namespace

TEST_CASE("hand-computed roofline: a memory-bound BF16 GEMV on H800") {
    auto cm = dev::CostModel::for_system("hgx-h800-8");
    dssim::Json cal = dssim::load_json_file(dssim::config_dir() / "calibration/nvidia-hopper.json");
    const double bw = raw("devices", "h800", {"memory", "bandwidth", "value"}) * 1e9;
    const double peak = raw("devices", "h800", {"compute", "peak_dense", "bf16", "value"}) * 1e12;
    const double l2 = raw("devices", "h800", {"on_chip", "l2", "value"}) * 1e6;
    CHECK(bw == 3352e9);

    // y[1, 7168] = x[1, 7168] W[7168, 7168]^T in BF16.
    const double m = 1, n = 7168, k = 7168;
    // Tile: largest 64 * 2^j edge whose FP32 tile + double-buffered 128-deep BF16 slices fit in
    // half of L2: 2048 (2048^2*4 + 4*2048*128*2 = 18.9 MB <= 25 MB; 4096 needs 71 MB).
    CHECK(2048.0 * 2048 * 4 + 4 * 2048 * 128 * 2 <= 0.5 * l2);
    CHECK(4096.0 * 4096 * 4 + 4 * 4096 * 128 * 2 > 0.5 * l2);
    const double bytes_a = m * k * 2 * std::ceil(n / 2048);  // x re-read for each of 4 tile columns
    const double bytes_b = n * k * 2 * 1;                    // W read once
    const double bytes_c = m * n * 2;
    const double bytes = bytes_a + bytes_b + bytes_c;
    CHECK(bytes == 102832128.0);
    const double flops = 2 * m * n * k;
    const auto& g = cal["gemm"];
    const double eff_m = interp(g["memory_efficiency"][0]["points"], bytes);
    const double eff_c = interp(g["compute_efficiency"][0]["points"], k) *
                         interp(g["compute_efficiency"][1]["points"], m);
    const double expected = std::max(flops / (peak * eff_c), bytes / (bw * eff_m));

    dev::OpCost c = cm.gemm_time({1, 7168, 7168, dev::Precision::BF16, dev::Precision::BF16});
    CHECK(c.bound == dev::Bound::Memory);
    CHECK(c.bytes == bytes);
    CHECK(c.flops == flops);
    CHECK(c.seconds == doctest::Approx(expected).epsilon(1e-12));
    CHECK(c.seconds == doctest::Approx(bytes / (bw * eff_m)).epsilon(1e-12));
    CHECK(c.executed_as == dev::Precision::BF16);
    CHECK(c.assumptions.empty());
}

TEST_CASE("hand-computed: RMSNorm and MLA decode attention on H800") {
    auto cm = dev::CostModel::for_device("h800");
    dssim::Json cal = dssim::load_json_file(dssim::config_dir() / "calibration/nvidia-hopper.json");
    const double bw = raw("devices", "h800", {"memory", "bandwidth", "value"}) * 1e9;

    // RMSNorm over [4096, 7168] BF16: read x and the weight, write y.
    const double norm_bytes = 4096.0 * 7168 * 2 * 2 + 7168 * 2;
    const double e = cal["elementwise"]["memory_efficiency"][0]["points"][0][1].get<double>();
    const double overhead = cal["elementwise"]["overhead"]["value"].get<double>() * 1e-6;
    dev::OpCost norm = cm.memory_op_time(dev::rmsnorm_work(4096, 7168));
    CHECK(norm.seconds == doctest::Approx(overhead + norm_bytes / (bw * e)).epsilon(1e-12));

    // FlashMLA-shaped decode with 16 query heads per device: 64 sequences, 1 new token, 4096
    // context, absorbed MLA (576 / 512), BF16 latent cache of 576 values per token.
    dev::AttentionWork w;
    w.phase = dev::AttentionPhase::Decode;
    w.batch = 64;
    w.q_len = 1;
    w.kv_len = 4096;
    w.heads = 16;
    w.qk_head_dim = 576;
    w.v_head_dim = 512;
    w.kv_bytes_per_token = 576 * 2;
    const double bytes = 64.0 * 4096 * 1152 + 64.0 * 16 * (576 * 2 + 512 * 2);
    const double em = cal["attention_decode"]["memory_efficiency"][0]["points"][0][1].get<double>();
    dev::OpCost a = cm.attention_time(w);
    CHECK(a.bytes == bytes);
    CHECK(a.flops == 2.0 * 64 * 16 * 4096 * (576 + 512));
    CHECK(a.bound == dev::Bound::Memory);
    CHECK(a.seconds == doctest::Approx(bytes / (bw * em)).epsilon(1e-12));
    // FlashMLA's compute-bound threshold is h_q * s_q >= ~128 on H800: all 128 heads of V3 on
    // one device with one new token sit at it; 16 heads x 16 tokens are compute bound.
    w.q_len = 16;
    CHECK(cm.attention_time(w).bound == dev::Bound::Compute);
}

TEST_CASE("calibrated DeepGEMM rows are reproduced (these cases are calibrated, not predicted)") {
    auto cm = dev::CostModel::for_device("h800");
    struct Row {
        int64_t m, n, k;
        double tflops;
    };
    // Single-row points of the K curve (M = 4096, dense, 2025-04-09 column).
    for (Row r : {Row{4096, 7168, 16384, 1520}, Row{4096, 24576, 1536, 1212},
                  Row{4096, 7168, 2048, 1168}}) {
        CAPTURE(r.k);
        dev::OpCost c = cm.gemm_time({r.m, r.n, r.k, dev::Precision::FP8, dev::Precision::BF16});
        double published = 2.0 * r.m * r.n * r.k / (r.tflops * 1e12);
        CHECK(c.bound == dev::Bound::Compute);
        CHECK(c.seconds == doctest::Approx(published).epsilon(0.001));
    }
}

TEST_CASE("FP8 layers run natively, as INT8 or as BF16 as the device and mode say") {
    auto h800 = dev::CostModel::for_device("h800");
    auto b910 = dev::CostModel::for_device("ascend-910b");
    CHECK(h800.execution_precision(dev::Precision::FP8) == dev::Precision::FP8);
    CHECK(b910.execution_precision(dev::Precision::FP8) == dev::Precision::INT8);
    CHECK(b910.execution_precision(dev::Precision::BF16) == dev::Precision::BF16);
    dev::GemmShape s{4096, 7168, 2048, dev::Precision::FP8, dev::Precision::BF16};
    dev::OpCost as_int8 = b910.gemm_time(s);
    CHECK(as_int8.executed_as == dev::Precision::INT8);

    dev::DeviceSpec d = dev::load_device("ascend-910b");
    dev::CostModel bf16(d, dev::single_node_system(d), dev::load_calibration(d.calibration),
                        dev::Fp8Mode::Bf16);
    dev::OpCost as_bf16 = bf16.gemm_time(s);
    CHECK(as_bf16.executed_as == dev::Precision::BF16);
    CHECK(as_bf16.seconds > as_int8.seconds);  // half the rate, twice the operand bytes
    CHECK(as_bf16.bytes > as_int8.bytes);

    // What-if: a 910C with native FP8 but no published FP8 rate takes the INT8 rate, and says so.
    dev::DeviceSpec c = dev::load_device("ascend-910c").with_fp8_native(true);
    dev::CostModel native(c, dev::single_node_system(c), dev::load_calibration(c.calibration));
    dev::OpCost n = native.gemm_time(s);
    CHECK(n.executed_as == dev::Precision::FP8);
    bool said = false;
    for (const auto& a : n.assumptions) {
        said = said || a.find("peak_dense.fp8 unknown: used peak_dense.int8") != std::string::npos;
    }
    CHECK(said);

    // No usable peak at all -> InputError naming the field.
    dev::DeviceSpec p = dev::load_device("kunlun-p800");
    dev::CostModel kl(p, dev::single_node_system(p), dev::load_calibration(p.calibration));
    CHECK_NOTHROW(kl.gemm_time(s));  // FP8 unknown -> INT8 rate
    CHECK_THROWS_AS(kl.gemm_time({64, 64, 64, dev::Precision::FP32, dev::Precision::FP32}),
                    dssim::InputError);
}

TEST_CASE("collectives: scale-up inside a domain, NIC across domains") {
    auto node = dev::CostModel::for_system("hgx-h800-8");
    auto cluster = dev::CostModel::for_system("h800-cluster-2048");
    dssim::Json cal = dssim::load_json_file(dssim::config_dir() / "calibration/nvidia-hopper.json");
    const double eff_up = cal["collective"]["scale_up_efficiency"]["value"].get<double>();
    const double eff_out = cal["collective"]["scale_out_efficiency"]["value"].get<double>();
    const double up =
        raw("devices", "h800", {"scale_up", "bandwidth_per_direction", "value"}) * 1e9;
    const double nic =
        raw("systems", "h800-cluster-2048", {"scale_out", "nic_bandwidth_per_device", "value"}) *
        1e9 / 8;
    const double bytes = 128.0 * 8 * 7168;  // 128 tokens x top-8 x 7168 FP8

    // Latencies unknown in the H800 configs: the calibration's estimates, reported.
    const double lat_up = cal["assumptions"]["scale_up_latency"]["value"].get<double>() * 1e-6;
    const double lat_out = cal["assumptions"]["scale_out_latency"]["value"].get<double>() * 1e-6;
    REQUIRE(lat_up > 0);
    REQUIRE(lat_out > 0);
    dev::OpCost ep8 = node.collective_time({dev::CollectiveKind::Dispatch, bytes, 8, 0});
    CHECK(ep8.bound == dev::Bound::ScaleUp);
    CHECK(ep8.seconds == doctest::Approx(lat_up + bytes * 7 / 8 / (up * eff_up)).epsilon(1e-12));
    CHECK(!ep8.assumptions.empty());
    CHECK(ep8.assumptions[0].find("scale_up.latency unknown: estimated") == 0);

    dev::OpCost ep16 = cluster.collective_time({dev::CollectiveKind::Dispatch, bytes, 16, 0});
    CHECK(ep16.bound == dev::Bound::ScaleOut);
    CHECK(ep16.seconds ==
          doctest::Approx(std::max(lat_up, lat_out) + bytes * 8 / 16 / (nic * eff_out))
              .epsilon(1e-12));

    // Spreading the same group one per node sends everything over the NIC: slower.
    dev::OpCost spread = cluster.collective_time({dev::CollectiveKind::Dispatch, bytes, 16, 1});
    CHECK(spread.seconds > ep16.seconds);

    // Ring all-reduce inside a switched node: 2 (p-1)/p of the buffer over the link, and
    // 2 (p-1) transfer latencies.
    dev::OpCost ar = node.collective_time({dev::CollectiveKind::AllReduce, 64e6, 8, 0});
    CHECK(ar.seconds ==
          doctest::Approx(2.0 * 7 * lat_up + 2.0 * 7 / 8 * 64e6 / (up * eff_up)).epsilon(1e-12));
    // One participant: free.
    CHECK(node.collective_time({dev::CollectiveKind::AllReduce, 64e6, 1, 0}).seconds == 0.0);

    // HCCS full mesh: a 4-member group only uses 3 of the 7 links.
    auto atlas = dev::CostModel::for_system("atlas-800-a2");
    double t4 = atlas.collective_time({dev::CollectiveKind::AllToAll, 1e8, 4, 0}).seconds;
    double t8 = atlas.collective_time({dev::CollectiveKind::AllToAll, 1e8, 8, 0}).seconds;
    CHECK(t4 > t8 * 0.99);
    // CloudMatrix: EP320 stays inside the unified-bus domain.
    auto cm384 = dev::CostModel::for_system("cloudmatrix-384");
    dev::OpCost ep320 = cm384.collective_time({dev::CollectiveKind::Dispatch, 1e7, 320, 0});
    CHECK(ep320.bound != dev::Bound::ScaleOut);
    CHECK(ep320.scale_out_seconds == 0.0);
}

TEST_CASE("EP all-to-all: DeepEP's normal kernels deduplicate, low-latency kernels send copies") {
    auto node = dev::CostModel::for_system("hgx-h800-8");
    auto cluster = dev::CostModel::for_system("h800-cluster-2048");
    dssim::Json cal = dssim::load_json_file(dssim::config_dir() / "calibration/nvidia-hopper.json");
    auto value = [&](const char* block, const char* field) {
        return cal[block][field]["value"].get<double>();
    };
    const double up =
        raw("devices", "h800", {"scale_up", "bandwidth_per_direction", "value"}) * 1e9;
    const double nic =
        raw("systems", "h800-cluster-2048", {"scale_out", "nic_bandwidth_per_device", "value"}) *
        1e9 / 8;
    const double lat_up = value("assumptions", "scale_up_latency") * 1e-6;
    const double lat_out = value("assumptions", "scale_out_latency") * 1e-6;

    dev::EpAllToAllWork w;
    w.kind = dev::CollectiveKind::Dispatch;
    w.kernel = dev::EpKernel::Normal;
    w.tokens = 4096;
    w.bytes_per_copy = 7392;
    w.copies = 8;
    w.ranks = 5.3;
    w.domains = 1;
    w.participants = 8;
    // Inside one node: (token, rank) deliveries to the 7 other ranks over NVLink.
    const double nvl = 4096 * 5.3 * 7 / 8 * 7392;
    dev::OpCost intra = node.ep_all_to_all_time(w);
    CHECK(intra.bound == dev::Bound::ScaleUp);
    CHECK(intra.bytes == doctest::Approx(nvl));
    CHECK(intra.seconds == doctest::Approx(value("ep_normal", "dispatch_overhead") * 1e-6 + lat_up +
                                           nvl / (up * value("ep_normal", "scale_up_efficiency")))
                               .epsilon(1e-12));
    // Combine has its own fixed cost.
    w.kind = dev::CollectiveKind::Combine;
    CHECK(node.ep_all_to_all_time(w).overhead_seconds ==
          doctest::Approx(value("ep_normal", "combine_overhead") * 1e-6 + lat_up));
    w.kind = dev::CollectiveKind::Dispatch;

    // Two SMs cannot move the bytes at link speed: the compute units bound the call.
    w.compute_units = 2;
    dev::OpCost few = node.ep_all_to_all_time(w);
    CHECK(few.bound == dev::Bound::Compute);
    CHECK(few.seconds ==
          doctest::Approx(value("ep_normal", "dispatch_overhead") * 1e-6 + lat_up +
                          nvl / (2 * value("ep_normal", "dispatch_unit_bandwidth") * 1e9))
              .epsilon(1e-12));
    w.compute_units = 0;

    // Across nodes: once per destination node over the NIC, forwarded inside the node.
    w.participants = 32;
    w.ranks = 7.2;
    w.domains = 3.6;
    const dev::EpTraffic t = dev::ep_traffic(w, 8);
    CHECK(t.members == 8);
    CHECK(t.domains == 4);
    CHECK(t.scale_out_bytes == doctest::Approx(4096 * 3.6 * 3 / 4 * 7392));
    CHECK(t.scale_up_bytes == doctest::Approx(4096 * 7.2 * 7 / 8 * 7392));
    dev::OpCost inter = cluster.ep_all_to_all_time(w);
    CHECK(inter.bound == dev::Bound::ScaleOut);
    CHECK(inter.seconds ==
          doctest::Approx(value("ep_normal", "dispatch_overhead") * 1e-6 +
                          std::max(lat_up, lat_out) +
                          t.scale_out_bytes / (nic * value("ep_normal", "scale_out_efficiency")))
              .epsilon(1e-12));

    // Low-latency kernels send every copy: more bytes than the deduplicated normal kernels.
    w.kernel = dev::EpKernel::LowLatency;
    const dev::EpTraffic ll = dev::ep_traffic(w, 8);
    CHECK(ll.scale_out_bytes == doctest::Approx(4096 * 8 * 24.0 / 32 * 7392));
    CHECK(ll.scale_out_bytes > t.scale_out_bytes);
    CHECK(cluster.ep_all_to_all_time(w).overhead_seconds ==
          doctest::Approx(value("ep_low_latency", "dispatch_overhead") * 1e-6 +
                          std::max(lat_up, lat_out)));

    // One participant: nothing leaves the device. Bad work: InputError.
    w.participants = 1;
    CHECK(cluster.ep_all_to_all_time(w).seconds == 0.0);
    w.participants = 8;
    w.kind = dev::CollectiveKind::AllReduce;
    CHECK_THROWS_AS(node.ep_all_to_all_time(w), dssim::InputError);
    w.kind = dev::CollectiveKind::Dispatch;
    w.tokens = -1;
    CHECK_THROWS_AS(node.ep_all_to_all_time(w), dssim::InputError);
}

TEST_CASE("monotonicity: more bandwidth or compute is never slower, on every device") {
    const std::vector<dev::GemmShape> gemms = {
        {1, 7168, 7168, dev::Precision::BF16, dev::Precision::BF16},
        {64, 2112, 7168, dev::Precision::FP8, dev::Precision::BF16},
        {4096, 7168, 16384, dev::Precision::FP8, dev::Precision::BF16},
        {16384, 4096, 512, dev::Precision::BF16, dev::Precision::BF16}};
    dev::AttentionWork att;
    att.batch = 32;
    att.q_len = 2;
    att.kv_len = 4096;
    att.heads = 128;
    att.qk_head_dim = 576;
    att.v_head_dim = 512;
    att.kv_bytes_per_token = 1152;
    const char* fields[] = {"memory.bandwidth",
                            "compute.peak_dense.bf16",
                            "compute.peak_dense.fp8",
                            "compute.peak_dense.int8",
                            "on_chip.l2",
                            "scale_up.bandwidth_per_direction",
                            "scale_out.nic_bandwidth"};
    for (const auto& name : dev::list_devices()) {
        CAPTURE(name);
        dev::DeviceSpec base = dev::load_device(name);
        dev::Calibration cal = dev::load_calibration(base.calibration);
        auto total = [&](const dev::DeviceSpec& d) {
            dev::CostModel m(d, dev::single_node_system(d), cal);
            double t = 0;
            for (const auto& g : gemms) {
                t += m.gemm_time(g).seconds;
            }
            t += m.grouped_gemm_time(
                      {{0, 17, 300, 64}, 4096, 7168, dev::Precision::FP8, dev::Precision::BF16})
                     .seconds;
            t += m.attention_time(att).seconds;
            t += m.memory_op_time(dev::quantize_work(4096, 7168)).seconds;
            t += m.collective_time({dev::CollectiveKind::Combine, 1e7, 32, 0}).seconds;
            t += m.collective_time({dev::CollectiveKind::AllReduce, 1e7, 16, 0}).seconds;
            return t;
        };
        const double t0 = total(base);
        CHECK(t0 > 0);
        for (const char* f : fields) {
            CAPTURE(f);
            if (!base.quantity(f).known()) {
                continue;
            }
            double prev = t0;
            for (double factor : {1.25, 2.0, 4.0, 16.0}) {
                double t = total(base.scaled(f, factor));
                CHECK(t <= prev * (1 + 1e-12));
                prev = t;
            }
        }
        // Twice the memory bandwidth makes a memory-bound GEMV strictly faster.
        dev::CostModel m1(base, dev::single_node_system(base), cal);
        dev::DeviceSpec fast = base.scaled("memory.bandwidth", 2.0);
        dev::CostModel m2(fast, dev::single_node_system(fast), cal);
        CHECK(m2.gemm_time(gemms[0]).seconds < m1.gemm_time(gemms[0]).seconds);
    }
}

TEST_CASE("bad op descriptors are InputErrors") {
    auto cm = dev::CostModel::for_device("h800");
    CHECK_THROWS_AS(cm.gemm_time({4, 0, 8, dev::Precision::BF16, dev::Precision::BF16}),
                    dssim::InputError);
    CHECK_THROWS_AS(cm.grouped_gemm_time({{}, 8, 8, dev::Precision::FP8, dev::Precision::BF16}),
                    dssim::InputError);
    dev::AttentionWork w;
    w.heads = 1;
    w.qk_head_dim = 1;
    w.v_head_dim = 1;
    w.q_len = 4;
    w.kv_len = 2;  // fewer keys than new queries
    CHECK_THROWS_AS(cm.attention_time(w), dssim::InputError);
    CHECK_THROWS_AS(cm.collective_time({dev::CollectiveKind::AllToAll, -1, 8, 0}),
                    dssim::InputError);
    CHECK_THROWS_AS(cm.collective_time({dev::CollectiveKind::AllToAll, 1, 32, 16}),
                    dssim::InputError);
}
