// Simulator tests: determinism, symmetric == full on balanced cases, a hand-computed roofline
// step, memory-fit reporting, imbalanced routing in full mode, the trace format, and bad
// input. All cases run in one process on purpose: the SystemC kernel is elaborated once and
// reused by every simulate() call, which is what sweeps rely on. Input errors are tested in
// test_sim_errors.cpp, one process per case (see there why).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/devices.h"
#include "dssim/models/model_config.h"
#include "dssim/models/parallel.h"
#include "dssim/sim.h"
#include "sim_test_fixtures.h"

using namespace dssim;
using namespace dssim::sim;
using namespace dssim::sim::test;
using models::Phase;

namespace {

SimResult run(const char* model,
              const Hardware& hw,
              Deployment dep,
              Workload wl,
              Mode mode,
              bool trace = false) {
    SimOptions opt;
    opt.mode = mode;
    opt.trace = trace;
    return simulate(models::resolve_model_config(model), hw, dep, wl, opt);
}

// The report without the fields that name the mode.
OrderedJson comparable(const SimResult& r) {
    OrderedJson j = result_to_json(r);
    j.erase("mode");
    j.erase("simulated_devices");
    j.erase("reported_device");
    return j;
}

}  // namespace

TEST_CASE("the same run twice gives identical JSON and trace bytes") {
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    const SimResult a =
        run("deepseek-tiny", hw, ep_deployment(16, 16), decode(4, 300), Mode::Full, true);
    const SimResult b =
        run("deepseek-tiny", hw, ep_deployment(16, 16), decode(4, 300), Mode::Full, true);
    CHECK(result_to_json(a).dump(2) == result_to_json(b).dump(2));
    CHECK(trace_json(a) == trace_json(b));
    CHECK(a.step_time_ps > 0);
}

TEST_CASE("symmetric and full mode agree exactly on balanced deployments") {
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    SUBCASE("DeepSeek-V3 decode, EP32 over 4 nodes, two micro-batches") {
        const auto s =
            run("deepseek-v3", hw, ep_deployment(32, 32), decode(8, 1024), Mode::Symmetric);
        const auto f = run("deepseek-v3", hw, ep_deployment(32, 32), decode(8, 1024), Mode::Full);
        CHECK(f.simulated_devices == 32);
        CHECK(s.simulated_devices == 1);
        CHECK(s.step_time_ps == f.step_time_ps);
        CHECK(comparable(s).dump() == comparable(f).dump());
    }
    SUBCASE("tiny model prefill with TP2 all-reduces and EP16 over two nodes") {
        const auto s =
            run("deepseek-tiny", hw, ep_deployment(16, 16, 2), prefill(2, 256), Mode::Symmetric);
        const auto f =
            run("deepseek-tiny", hw, ep_deployment(16, 16, 2), prefill(2, 256), Mode::Full);
        CHECK(s.step_time_ps == f.step_time_ps);
        CHECK(comparable(s).dump() == comparable(f).dump());
    }
    SUBCASE("one prompt per device: token-split micro-batches") {
        Deployment two = ep_deployment(8, 8);
        two.micro_batches = 2;
        const auto s = run("deepseek-tiny", hw, two, prefill(1, 512), Mode::Symmetric);
        const auto f = run("deepseek-tiny", hw, two, prefill(1, 512), Mode::Full);
        CHECK(s.deployment.micro_batches == 2);
        CHECK(s.step_time_ps == f.step_time_ps);
    }
}

TEST_CASE("a GEMV-heavy decode step matches the roofline computed by hand") {
    // An H800 with every efficiency 1, no fixed costs and an on-chip buffer large enough that
    // each GEMM streams its operands once: every op takes max(flops / peak, bytes / bandwidth).
    Hardware hw = load_hardware("h800");
    for (devices::OpCalibration* c :
         {&hw.calibration.gemm, &hw.calibration.attention_decode, &hw.calibration.attention_prefill,
          &hw.calibration.elementwise}) {
        *c = devices::OpCalibration{};
    }
    hw.device.on_chip.l2.value = 1e6;  // MB
    const double peak = *hw.device.compute.peak_bf16.value * 1e12;
    const double bw = *hw.device.memory.bandwidth.value * 1e9;

    const models::ModelConfig cfg = models::resolve_model_config("deepseek-tiny");
    Deployment dep;
    dep.micro_batches = 1;
    Workload wl = decode(1, 100);
    wl.gemm = models::GemmMode::Bf16;
    SimOptions opt;
    const SimResult r = simulate(cfg, hw, dep, wl, opt);

    models::StepSpec step;
    step.phase = Phase::Decode;
    step.batch = 1;
    step.context = 100;
    step.gemm = models::GemmMode::Bf16;
    const models::OpGraph g = models::build_op_graph(cfg, step);
    double expected = 0;
    int64_t ops = 0;
    for (models::OpVertex v : g.topological_order()) {
        const models::Op& op = g.op(v);
        ++ops;
        const double b = 2.0;  // BF16 operands
        double flops = 0, bytes = 0;
        switch (op.kind) {
            case models::OpKind::Gemm:
            case models::OpKind::Head:
            case models::OpKind::Gate: {
                const double m = op.gemm.m, n = op.gemm.n, k = op.gemm.k, h = op.gemm.batch;
                flops = 2 * h * m * n * k;
                bytes = h * (m * k * b + n * k * b + m * n * b);
                break;
            }
            case models::OpKind::GroupedGemm: {
                // 1 token x 4 experts: four experts get one row each.
                const double n = op.gemm.n, k = op.gemm.k;
                const double active = cfg.num_experts_per_tok;
                flops = 2 * active * n * k;
                bytes = active * (k * b + n * k * b + n * b);
                break;
            }
            case models::OpKind::MlaAttention: {
                const auto& a = op.attention;
                const double q = a.queries_per_seq, kv = a.context + q;
                const double pairs = q * a.context + q * (q + 1) / 2;
                flops = 2.0 * a.sequences * a.heads * pairs * (a.qk_dim + a.v_dim);
                bytes = a.sequences * kv * a.cache_bytes_per_token +
                        a.sequences * q * a.heads * (a.qk_dim * b + a.v_dim * b);
                break;
            }
            default:
                bytes = op.per_device.bytes();
                break;
        }
        expected += std::max(flops / peak, bytes / bw);
    }
    const auto expected_ps = static_cast<double>(std::llround(expected * 1e12));
    INFO("simulated " << r.step_time_ps << " ps, by hand " << std::llround(expected_ps) << " ps");
    // Exact up to the picosecond rounding of each op's duration.
    CHECK(std::abs(static_cast<double>(r.step_time_ps) - expected_ps) <= static_cast<double>(ops));
    CHECK(r.exposed_comm_ms == 0.0);
}

TEST_CASE("a deployment that does not fit says what overflows") {
    const Hardware hw = load_hardware("h800");
    Deployment dep;
    dep.micro_batches = 1;
    const auto r = run("deepseek-v3", hw, dep, decode(1, 128), Mode::Symmetric);
    CHECK_FALSE(r.fits);
    CHECK(r.memory.weights > r.memory.capacity);
    CHECK(r.fit_message.find("weights") != std::string::npos);
    CHECK(r.fit_message.find("does not fit") != std::string::npos);
    CHECK(result_to_json(r)["fits"] == false);

    // The same model spread over 32 devices fits; a huge context overflows the KV cache.
    const Hardware cluster = load_hardware("h800", "h800-cluster-2048");
    CHECK(
        run("deepseek-v3", cluster, ep_deployment(32, 32), decode(8, 1024), Mode::Symmetric).fits);
    const auto kv =
        run("deepseek-v3", cluster, ep_deployment(32, 32), decode(256, 16000), Mode::Symmetric);
    CHECK_FALSE(kv.fits);
    CHECK(kv.fit_message.find("KV cache") != std::string::npos);
}

TEST_CASE("full mode: an imbalanced routing makes the busiest device the critical path") {
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    const models::ModelConfig cfg = models::resolve_model_config("deepseek-tiny");
    const Deployment dep = ep_deployment(16, 16);
    const Workload wl = decode(32, 200);
    SimOptions opt;
    opt.mode = Mode::Full;
    const SimResult balanced = simulate(cfg, hw, dep, wl, opt);
    const double pairs = 32.0 * 16 * cfg.num_experts_per_tok;  // tokens x k over the step
    for (int64_t layer = cfg.first_k_dense_replace; layer < cfg.num_hidden_layers; ++layer) {
        std::vector<double> loads(static_cast<size_t>(cfg.n_routed_experts),
                                  pairs / 2 / static_cast<double>(cfg.n_routed_experts - 1));
        loads[5] = pairs / 2;  // expert 5 (EP rank 5) gets half of all pairs
        opt.expert_loads[layer] = loads;
    }
    const SimResult skewed = simulate(cfg, hw, dep, wl, opt);
    CHECK(skewed.reported_device == 5);
    CHECK(skewed.step_time_ps > balanced.step_time_ps);
}

TEST_CASE("the trace is Chrome trace-event JSON with one process per device") {
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    const SimResult r =
        run("deepseek-tiny", hw, ep_deployment(16, 16), decode(4, 300), Mode::Full, true);
    const Json j = parse_json_text(trace_json(r), "trace");
    std::set<int64_t> pids, named;
    int64_t starts = 0, finishes = 0, slices = 0;
    bool saw_dispatch = false;
    for (const auto& e : j.at("traceEvents")) {
        const std::string ph = e.at("ph");
        if (ph == "M" && e.at("name") == "process_name") named.insert(e.at("pid").get<int64_t>());
        if (ph == "X") {
            ++slices;
            pids.insert(e.at("pid").get<int64_t>());
            CHECK(e.at("dur").get<double>() >= 0);
            if (e.at("name") == "layers.1.moe.dispatch") {
                saw_dispatch = true;
                CHECK(e.at("args").at("bound") == "communication");
                CHECK(e.at("args").at("bytes_sent").get<double>() > 0);
            }
            // Every op says why it took its time.
            const Json& a = e.at("args");
            CHECK(a.contains("bound"));
            if (e.at("tid") == 0) {
                CHECK(a.at("hbm_bytes").get<double>() >= 0);
                CHECK(a.at("compute_us").get<double>() >= 0);
                CHECK(a.at("memory_us").get<double>() >= 0);
                if (e.at("cat") == "Gemm") CHECK(a.at("flops").get<double>() > 0);
            }
        }
        starts += ph == "s";
        finishes += ph == "f";
    }
    CHECK(pids.size() == 16);
    CHECK(named == pids);
    CHECK(saw_dispatch);
    CHECK(slices == static_cast<int64_t>(r.timeline.size()));
    CHECK(starts > 0);
    CHECK(starts == finishes);

    // Symmetric mode: one device, dependency flows only.
    const SimResult s =
        run("deepseek-tiny", hw, ep_deployment(16, 16), decode(4, 300), Mode::Symmetric, true);
    const Json js = parse_json_text(trace_json(s), "trace");
    std::set<int64_t> spids;
    for (const auto& e : js.at("traceEvents"))
        if (e.at("ph") == "X") spids.insert(e.at("pid").get<int64_t>());
    CHECK(spids.size() == 1);
}

TEST_CASE("metrics follow their definitions") {
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    const auto d = run("deepseek-v3", hw, ep_deployment(32, 32), decode(16, 2048), Mode::Symmetric);
    REQUIRE(d.tpot_ms);
    CHECK_FALSE(d.ttft_ms);
    CHECK(*d.tpot_ms == doctest::Approx(d.step_time_ms));
    CHECK(d.tokens_per_s == doctest::Approx(32.0 * 16 / (d.step_time_ms * 1e-3)));
    CHECK(d.mfu > 0);
    CHECK(d.mfu < 1);
    CHECK(d.hbm_bandwidth_utilization > 0);
    CHECK(d.hbm_bandwidth_utilization <= 1.0 + 1e-9);
    CHECK(d.exposed_comm_ms <= d.comm_busy_ms + 1e-12);

    const auto p = run("deepseek-v3", hw, ep_deployment(32, 32), prefill(2, 1024), Mode::Symmetric);
    REQUIRE(p.ttft_ms);
    CHECK_FALSE(p.tpot_ms);
    CHECK(p.tokens_per_s_per_device == doctest::Approx(2.0 * 1024 / (p.step_time_ms * 1e-3)));

    // One micro-batch exposes the all-to-all; two hide part of it.
    Deployment one = ep_deployment(32, 32);
    one.micro_batches = 1;
    Deployment two = ep_deployment(32, 32);
    two.micro_batches = 2;
    const auto single = run("deepseek-v3", hw, one, decode(16, 2048), Mode::Symmetric);
    const auto pair = run("deepseek-v3", hw, two, decode(16, 2048), Mode::Symmetric);
    CHECK(single.exposed_comm_ms > pair.exposed_comm_ms);

    // MTP: one draft per step, accepted 85% of the time.
    Workload mtp = decode(16, 2048);
    mtp.mtp = true;
    const auto m = run("deepseek-v3", hw, ep_deployment(32, 32), mtp, Mode::Symmetric);
    REQUIRE(m.tpot_ms);
    CHECK(*m.tpot_ms == doctest::Approx(m.step_time_ms / 1.85));
}

TEST_CASE("one process runs many simulations with stable results") {
    const Hardware hw = load_hardware("ascend-910c", "cloudmatrix-384");
    const SimResult first =
        run("deepseek-tiny", hw, ep_deployment(16, 16), decode(8, 500), Mode::Symmetric);
    for (int i = 0; i < 50; ++i) {
        const SimResult again =
            run("deepseek-tiny", hw, ep_deployment(16, 16), decode(8, 500), Mode::Symmetric);
        REQUIRE(again.step_time_ps == first.step_time_ps);
    }
}

TEST_CASE("topology: routes stay inside the scale-up domain and leave it through the NIC") {
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    const Topology t(hw.device, hw.system, hw.calibration, 16);
    const Route& in = t.route(0, 5);
    CHECK(in.cls == LinkClass::ScaleUp);
    CHECK(in.ports.size() == 2);
    const Route& out = t.route(0, 9);
    CHECK(out.cls == LinkClass::ScaleOut);
    CHECK(out.bandwidth ==
          doctest::Approx(400e9 / 8 * hw.calibration.collective.scale_out_efficiency.value));
    const Hardware mesh = load_hardware("ascend-910b", "atlas-800-a2");
    const Topology m(mesh.device, mesh.system, mesh.calibration, 8);
    const Route& direct = m.route(2, 6);
    CHECK(direct.ports.size() == 1);
    CHECK(direct.bandwidth ==
          doctest::Approx(*mesh.device.scale_up.bandwidth_per_direction.value * 1e9 / 7 *
                          mesh.calibration.collective.scale_up_efficiency.value));
}

TEST_CASE("auto micro-batches run both counts on the kernel and keep the faster") {
    const models::ModelConfig v3 = models::resolve_model_config("deepseek-v3");
    struct Case {
        const char* device;
        const char* system;
        int64_t batch;
        int expected;  // the count auto must pick
    };
    // A memory-bound decode on a small chip re-reads the weights per micro-batch: one wins.
    // A large batch across 4 HGX nodes hides its all-to-alls behind the other half: two win.
    for (const Case& c :
         {Case{"ascend-910b", "", 8, 1}, Case{"h800", "h800-cluster-2048", 256, 2}}) {
        CAPTURE(c.device);
        const Hardware hw = load_hardware(c.device, c.system);
        Deployment dep = ep_deployment(32, 32);
        const Workload wl = decode(c.batch, 4096);
        dep.micro_batches = 1;
        const SimResult one = simulate(v3, hw, dep, wl);
        dep.micro_batches = 2;
        const SimResult two = simulate(v3, hw, dep, wl);
        dep.micro_batches = 0;
        const SimResult a = simulate(v3, hw, dep, wl);
        const SimResult& want = c.expected == 1 ? one : two;
        const SimResult& other = c.expected == 1 ? two : one;
        CHECK(a.deployment.micro_batches == c.expected);
        CHECK(a.step_time_ps == want.step_time_ps);
        CHECK(a.step_time_ps < other.step_time_ps);
        REQUIRE(a.micro_batches_other_step_ms);
        CHECK(*a.micro_batches_other_step_ms == other.step_time_ms);
        // Explicit counts run as asked.
        CHECK(one.deployment.micro_batches == 1);
        CHECK(two.deployment.micro_batches == 2);
        CHECK_FALSE(two.micro_batches_other_step_ms);
        // The analytical path makes the same choice.
        CHECK(analytic_simulate(v3, hw, dep, wl).deployment.micro_batches == c.expected);
    }
}

TEST_CASE("a training step times the op graph's forward, input-gradient and weight-gradient ops") {
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    Workload wl;
    wl.phase = Phase::Train;
    wl.batch = 1;
    wl.input_len = 64;
    wl.context = 0;
    wl.mtp = false;
    const SimResult whole =
        run("deepseek-tiny", hw, ep_deployment(4, 4), wl, Mode::Symmetric, true);
    REQUIRE(whole.by_pass.size() == 4);
    CHECK(whole.by_pass[0].pass == "forward");
    CHECK(whole.by_pass[1].pass == "backward_input");
    CHECK(whole.by_pass[2].pass == "backward_weight");
    CHECK(whole.by_pass[3].pass == "grad_sync");
    for (int p = 0; p < 3; ++p)
        CHECK(whole.by_pass[static_cast<size_t>(p)].compute_ms > 0);
    // EP: dispatch and combine forward, their gradients backward; the weight gradient sends
    // nothing; data-parallel gradients are all-reduced.
    CHECK(whole.by_pass[0].comm_ms > 0);
    CHECK(whole.by_pass[1].comm_ms > 0);
    CHECK(whole.by_pass[2].comm_ms == 0);
    CHECK(whole.by_pass[3].comm_ms > 0);
    CHECK(!whole.ttft_ms);
    CHECK(!whole.tpot_ms);
    CHECK(result_to_json(whole).contains("time_by_pass_ms"));
    std::set<std::string> names;
    for (const auto& e : whole.timeline)
        names.insert(e.name);
    CHECK(names.count("embed") == 1);
    CHECK(names.count("loss.grad_input") == 1);
    CHECK(names.count("layers.1.moe.experts.w2.grad_weight") == 1);

    // A middle pipeline stage: no embedding, head or loss; its backward starts from the
    // stage output.
    wl.stage = models::PipelineStage{false, false};
    const SimResult middle =
        run("deepseek-tiny", hw, ep_deployment(4, 4), wl, Mode::Symmetric, true);
    names.clear();
    for (const auto& e : middle.timeline)
        names.insert(e.name);
    CHECK(names.count("embed") == 0);
    CHECK(names.count("head") == 0);
    CHECK(names.count("loss") == 0);
    CHECK(names.count("layers.0.attn_residual.grad_input") == 1);
    CHECK(middle.by_pass[0].compute_ms < whole.by_pass[0].compute_ms);
}

TEST_CASE("an EP all-to-all takes the cost model's DeepEP time in the simulator") {
    // One model of the kernels: the simulator's deduplicated transfers, fixed costs and link
    // efficiencies give the CostModel's ep_all_to_all_time for the same call (prefill: normal
    // kernels; decode: low-latency kernels), up to the transfers' picosecond rounding.
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    const models::ModelConfig cfg = models::resolve_model_config("deepseek-v3");
    const devices::CostModel cm(hw.device, hw.system, hw.calibration, hw.fp8);
    const int64_t ep = 32;
    const models::TokenFanout f = models::expected_fanout(cfg, ep, 8);
    for (const bool decode_step : {false, true}) {
        INFO((decode_step ? "decode" : "prefill"));
        const Workload wl = decode_step ? decode(64, 1024) : prefill(1, 4096);
        const SimResult r =
            run("deepseek-v3", hw, ep_deployment(ep, ep, 1, 1), wl, Mode::Symmetric, true);
        devices::EpAllToAllWork w;
        w.kernel = decode_step ? devices::EpKernel::LowLatency : devices::EpKernel::Normal;
        w.tokens = decode_step ? 64 : 4096;
        w.copies = f.copies;
        w.ranks = f.ranks;
        w.domains = f.nodes;
        w.participants = ep;
        for (const bool is_dispatch : {true, false}) {
            w.kind =
                is_dispatch ? devices::CollectiveKind::Dispatch : devices::CollectiveKind::Combine;
            w.bytes_per_copy = is_dispatch ? models::dispatch_bytes_per_copy(cfg.hidden_size)
                                           : models::combine_bytes_per_copy(cfg.hidden_size);
            if (decode_step && is_dispatch) w.bytes_per_copy += models::kLowLatencyMessageHeader;
            const double expected = cm.ep_all_to_all_time(w).seconds;
            const models::OpKind kind =
                is_dispatch ? models::OpKind::Dispatch : models::OpKind::Combine;
            int found = 0;
            for (const auto& e : r.timeline) {
                if (e.kind != kind || e.device != r.reported_device) continue;
                ++found;
                const double got = static_cast<double>(e.end_ps - e.start_ps) * 1e-12;
                INFO(e.name);
                CHECK(got == doctest::Approx(expected).epsilon(2e-3));
            }
            CHECK(found == cfg.num_hidden_layers - cfg.first_k_dense_replace);
        }
    }
}

TEST_CASE("sensitivity: each estimate the step used, halved and doubled") {
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    const models::ModelConfig cfg = models::resolve_model_config("deepseek-tiny");
    const Deployment dep = ep_deployment(16, 16, 1, 1);
    const Workload wl = decode(8, 256);
    const SimResult base = simulate(cfg, hw, dep, wl, {});
    const Sensitivity s = sensitivity(cfg, hw, dep, wl, {}, base);
    CHECK(s.step_ms == base.step_time_ms);
    std::set<std::string> figures;
    for (const auto& r : s.rows) {
        INFO(r.figure);
        figures.insert(r.figure);
        // More latency or less memory reserve never makes the step shorter.
        CHECK(r.step_ms_double >= r.step_ms_half);
        CHECK(r.calibration == hw.calibration.name);
    }
    // The H800 configs quote no link latencies and no runtime reserve; they do quote the NIC
    // and the L2, so those estimates are not used and not varied.
    CHECK(figures.count("assumptions.scale_up_latency") == 1);
    CHECK(figures.count("assumptions.scale_out_latency") == 1);
    CHECK(figures.count("assumptions.runtime_memory_reserve") == 1);
    CHECK(figures.count("assumptions.nic_bandwidth") == 0);
    CHECK(figures.count("assumptions.onchip_buffer") == 0);
    for (size_t i = 1; i < s.rows.size(); ++i)
        CHECK(s.rows[i - 1].swing_ms() >= s.rows[i].swing_ms());
    // Deterministic bytes.
    CHECK(sensitivity_svg(s, "t") == sensitivity_svg(sensitivity(cfg, hw, dep, wl, {}, base), "t"));
    CHECK(sensitivity_to_json(s).dump() ==
          sensitivity_to_json(sensitivity(cfg, hw, dep, wl, {}, base)).dump());
}
