// Trace import, classification, dependency inference, scheduling, re-timing and reports on
// small committed traces (tests/data/traces) and hand-written text.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "dssim/base/error.h"
#include "dssim/traces.h"

using namespace dssim;
using namespace dssim::traces;

namespace {

std::string data(const std::string& name) {
    return std::string(DSSIM_SOURCE_DIR) + "/tests/data/traces/" + name;
}

size_t find_kernel(const Trace& t, const std::string& part) {
    for (size_t i = 0; i < t.kernels.size(); ++i)
        if (t.name_of(t.kernels[i]).find(part) != std::string::npos) return i;
    FAIL("no kernel named like " << part);
    return 0;
}

const RuleTable& rules() {
    static RuleTable r = load_rule_table("default");
    return r;
}

std::string category_of(const Trace& t, const Classification& c, const std::string& part) {
    return rules().categories[c.category[find_kernel(t, part)]].name;
}

}  // namespace

TEST_CASE("parse_us_to_ns reads decimal text exactly") {
    Ns v = 0;
    CHECK(parse_us_to_ns("1740461679471346", v));
    CHECK(v == 1740461679471346000LL);
    CHECK(parse_us_to_ns("1740461679471346.123", v));
    CHECK(v == 1740461679471346123LL);  // a double would lose the last digits
    CHECK(parse_us_to_ns("20.5", v));
    CHECK(v == 20500);
    CHECK(parse_us_to_ns("0.0004", v));
    CHECK(v == 0);
    CHECK(parse_us_to_ns("0.0005", v));
    CHECK(v == 1);
    CHECK(parse_us_to_ns("1.5e3", v));
    CHECK(v == 1500000);
    CHECK(parse_us_to_ns("-3", v));
    CHECK(v == -3000);
    CHECK_FALSE(parse_us_to_ns("1e30", v));
    CHECK_FALSE(parse_us_to_ns("abc", v));
    CHECK_FALSE(parse_us_to_ns("", v));
}

TEST_CASE("Kineto trace: device kernels kept, host events counted, metadata read") {
    Trace t = import_trace_file(data("small_kineto.json"));
    CHECK(t.info.format == "kineto");
    CHECK(t.info.device_name == "NVIDIA H800");
    CHECK(t.info.world_size == 16);
    CHECK(t.kernels.size() == 9);
    REQUIRE(t.streams.size() == 2);
    CHECK(t.streams[0].label == "stream 7");
    CHECK(t.streams[1].label == "stream 27");
    CHECK(t.stats.host_events == 3);
    CHECK(t.stats.stream_waits == 1);
    CHECK(t.stats.warning_count() == 0);
    const Kernel& ln = t.kernels[find_kernel(t, "ln_fwd")];
    CHECK(ln.dur == 20500);
    CHECK(ln.correlation == 11);
    CHECK(ln.grid[0] == 396);
    CHECK(ln.block[0] == 128);
    CHECK(t.kernels[find_kernel(t, "Memcpy")].bytes == 131072);
    // Sorted by stream, then start.
    for (size_t i = 1; i < t.kernels.size(); ++i)
        if (t.kernels[i].stream == t.kernels[i - 1].stream)
            CHECK(t.kernels[i].start >= t.kernels[i - 1].start);
}

TEST_CASE("Chrome dialect: bare array, B/E pairs, flows bound to kernels") {
    Trace t = import_trace_file(data("small_chrome.json"));
    CHECK(t.info.format == "chrome");
    CHECK(t.kernels.size() == 5);
    const Kernel& norm = t.kernels[find_kernel(t, "rms_norm")];
    CHECK(norm.dur == 10000);
    REQUIRE(t.flow_edges.size() == 1);
    CHECK(t.name_of(t.kernels[t.flow_edges[0].from]) == "gemm_fp8 q_proj");
    CHECK(t.name_of(t.kernels[t.flow_edges[0].to]) == "ep::intranode::dispatch<8>");
}

TEST_CASE("dssim simulator trace: op kinds classify through the cat field") {
    Trace t = import_trace_file(data("small_dssim.json"));
    CHECK(t.info.format == "dssim");
    CHECK(t.info.device_name == "h800");
    CHECK(t.kernels.size() == 7);
    CHECK(t.flow_edges.size() == 2);
    Classification c = classify(t, rules());
    CHECK(c.unknown_kernels == 0);
    CHECK(category_of(t, c, "wq_a") == "gemm_fp8");
    CHECK(category_of(t, c, "experts") == "grouped_gemm");
    CHECK(category_of(t, c, "dispatch") == "ep_dispatch");
    CHECK(category_of(t, c, "combine") == "ep_combine");
    CHECK(category_of(t, c, "attn_norm") == "norm");
}

TEST_CASE("bad input: exit-2 errors name the file, per-event problems are counted") {
    CHECK_THROWS_WITH_AS(import_trace_file(data("bad_truncated.json")),
                         doctest::Contains("bad_truncated.json: byte"), InputError);
    CHECK_THROWS_WITH_AS(import_trace_file(data("bad_scalar_root.json")),
                         doctest::Contains("bad_scalar_root.json"), InputError);
    CHECK_THROWS_WITH_AS(import_trace_file(data("bad_no_events.json")),
                         doctest::Contains("no traceEvents array"), InputError);
    CHECK_THROWS_WITH_AS(import_trace_file(data("bad_no_device_events.json")),
                         doctest::Contains("no device events"), InputError);
    CHECK_THROWS_AS(import_trace_file(data("no_such_file.json")), InputError);
    CHECK_THROWS_AS(import_trace_text("", "empty"), InputError);
    CHECK_THROWS_AS(import_trace_text("{\"traceEvents\": [", "open"), InputError);

    Trace m = import_trace_file(data("bad_missing_fields.json"));
    CHECK(m.kernels.size() == 2);  // k1 (no ts) and k2 (no dur) and k4 (bad ts) skipped
    CHECK(m.stats.warnings.at("event without ts (skipped)") == 1);
    CHECK(m.stats.warnings.at("complete event without dur (skipped)") == 1);
    CHECK(m.stats.warnings.at("event without a name (named <unnamed>)") == 1);
    CHECK(m.stats.warnings.at("ts is not a number (event skipped)") == 1);

    Trace n = import_trace_file(data("bad_negative_dur.json"));
    CHECK(n.kernels.size() == 2);
    CHECK(n.kernels[0].dur == 0);
    CHECK(n.stats.warnings.at("negative duration (set to 0)") == 1);

    Trace u = import_trace_file(data("bad_unsorted.json"));
    REQUIRE(u.kernels.size() == 3);
    CHECK(u.name_of(u.kernels[0]) == "rms_norm a");
    CHECK(u.name_of(u.kernels[2]) == "rms_norm c");
    CHECK(u.stats.warnings.at("events out of time order on their stream (sorted)") == 2);
    CHECK(u.stats.warnings.at("E event without a matching B (skipped)") == 1);
    CHECK(u.stats.warnings.at("B event never closed (skipped)") == 1);
}

TEST_CASE("rule table: DeepSeek kernel names, unknown kernels counted and kept") {
    Trace t = import_trace_file(data("small_kineto.json"));
    Classification c = classify(t, rules());
    CHECK(category_of(t, c, "ln_fwd") == "norm");
    CHECK(category_of(t, c, "per_token_cast") == "quant_cast");
    CHECK(category_of(t, c, "internode::dispatch") == "ep_dispatch");
    CHECK(category_of(t, c, "internode::combine") == "ep_combine");
    CHECK(category_of(t, c, "fp8_ptp128c") == "gemm_fp8");
    CHECK(category_of(t, c, "m_grouped_fp8") == "grouped_gemm");
    CHECK(category_of(t, c, "compute_attn") == "attention_fwd");
    CHECK(category_of(t, c, "Memcpy") == "memcpy");
    CHECK(category_of(t, c, "mystery") == "other");
    CHECK(c.unknown_kernels == 1);
    CHECK(c.unknown.at("mystery_kernel_without_rule(int)") == 1);
    bool matched = true;
    CHECK(rules()
              .categories[rules().classify("void cutlass::device_kernel<flash::FlashAttnBwd<x>>",
                                           "kernel", matched)]
              .name == "attention_bwd");
    CHECK(rules()
              .categories[rules().classify("dpsk::grouped_gemm::cuda::utils::transpose<512>",
                                           "kernel", matched)]
              .name == "elementwise");
}

TEST_CASE("rule table errors name file and field") {
    Json j = load_json_file(std::string(DSSIM_SOURCE_DIR) + "/configs/kernel-rules/default.json");
    Json bad = j;
    bad["rules"][0]["match"] = "([unclosed";
    CHECK_THROWS_WITH_AS(parse_rule_table(bad, "x.json"),
                         doctest::Contains("x.json: rules[0].match: bad regular expression"),
                         InputError);
    bad = j;
    bad["rules"][0]["category"] = "nope";
    CHECK_THROWS_WITH_AS(parse_rule_table(bad, "x.json"),
                         doctest::Contains("rules[0].category: unknown category 'nope'"),
                         InputError);
    bad = j;
    bad["categories"][0]["resource"] = "magic";
    CHECK_THROWS_AS(parse_rule_table(bad, "x.json"), InputError);
    bad = j;
    bad["surprise"] = 1;
    CHECK_THROWS_WITH_AS(parse_rule_table(bad, "x.json"), doctest::Contains("surprise"),
                         InputError);
}

TEST_CASE("dependency inference: idle stream + other stream's end just before") {
    Trace t = import_trace_file(data("small_kineto.json"));
    Classification c = classify(t, rules());
    Dependencies d = infer_dependencies(t, c, rules());
    CHECK(d.inferred_edges == 4);
    auto deps_of = [&](const std::string& part) {
        std::vector<std::string> out;
        for (uint32_t p : d.cross[find_kernel(t, part)])
            out.push_back(t.name_of(t.kernels[p]));
        return out;
    };
    CHECK(deps_of("internode::dispatch") ==
          std::vector<std::string>{"void cuda::per_token_cast_to_fp8_with_channels<bf16>(x)"});
    CHECK(deps_of("m_grouped") ==
          std::vector<std::string>{"void dpsk::ep::internode::dispatch<false, 8>(int4*)"});
    CHECK(deps_of("fp8_ptp128c").empty());  // started right after its stream predecessor
    CHECK(deps_of("compute_attn").empty());
    CHECK(d.lag[find_kernel(t, "m_grouped")] == 3000);
}

TEST_CASE("list schedule with recorded durations reproduces the recording exactly") {
    for (const char* f : {"small_kineto.json", "small_chrome.json", "small_dssim.json"}) {
        Trace t = import_trace_file(data(f));
        Classification c = classify(t, rules());
        Dependencies d = infer_dependencies(t, c, rules());
        std::vector<Ns> dur;
        for (const Kernel& k : t.kernels)
            dur.push_back(k.dur);
        Schedule s = list_schedule(t, d, dur);
        for (size_t i = 0; i < t.kernels.size(); ++i)
            CHECK(s.start[i] == t.kernels[i].start);
    }
}

TEST_CASE("a slower producer delays its consumer on another stream, overlap follows") {
    Trace t = import_trace_file(data("small_kineto.json"));
    Classification c = classify(t, rules());
    Dependencies d = infer_dependencies(t, c, rules());
    std::vector<Ns> dur;
    for (const Kernel& k : t.kernels)
        dur.push_back(k.dur);
    size_t disp = find_kernel(t, "internode::dispatch");
    size_t grouped = find_kernel(t, "m_grouped");
    dur[disp] += 1000000;  // +1 ms
    Schedule s = list_schedule(t, d, dur);
    CHECK(s.start[grouped] == t.kernels[grouped].start + 1000000);
    CHECK(s.binding[grouped] == static_cast<int64_t>(disp));
    // The GEMM that ran beside the dispatch does not move.
    size_t gemm = find_kernel(t, "fp8_ptp128c");
    CHECK(s.start[gemm] == t.kernels[gemm].start);
}

TEST_CASE("re-timing: same device is the identity; categories scale with their resource") {
    Trace t = import_trace_file(data("small_kineto.json"));
    Classification c = classify(t, rules());
    devices::CostModel h800 = load_cost_model("h800");
    devices::CostModel h100 = load_cost_model("h100");
    devices::CostModel ascend = load_cost_model("ascend-910c");
    Retimer same(h800, h800, rules(), std::nullopt, std::nullopt, t.info.world_size);
    for (size_t i = 0; i < t.kernels.size(); ++i)
        CHECK(same.retime(t.kernels[i], c.category[i]) == t.kernels[i].dur);

    // EP over 16 ranks leaves each node through the same 400 Gb/s NIC on H800 and H100.
    Retimer to_h100(h800, h100, rules(), std::nullopt, std::nullopt, 16);
    size_t disp = rules().category_index("ep_dispatch");
    CHECK(to_h100.scaling()[disp].ratio == doctest::Approx(1.0));
    // Ascend 910C: no FP8, FP8 GEMMs run at its INT8 rate (1504 vs 1979): slower compute;
    // the 384-device UB domain holds all 16 EP ranks: much faster dispatch.
    Retimer to_ascend(h800, ascend, rules(), std::nullopt, std::nullopt, 16);
    CHECK(to_ascend.scaling()[rules().category_index("gemm_fp8")].ratio > 1.2);
    CHECK(to_ascend.scaling()[disp].ratio < 0.5);
    size_t k = find_kernel(t, "internode::dispatch");
    CHECK(to_ascend.retime(t.kernels[k], disp) < t.kernels[k].dur / 2);
}

TEST_CASE("model-derived work changes the basis, not the identity") {
    Trace t = import_trace_file(data("small_kineto.json"));
    Classification c = classify(t, rules());
    devices::CostModel h800 = load_cost_model("h800");
    devices::CostModel ascend = load_cost_model("ascend-910c");
    auto model = models::resolve_model_config("deepseek-v3");
    auto dep = load_replay_deployment(data("deployment-train-ep64.json"));
    CHECK(dep.ep == 64);
    Retimer same(h800, h800, rules(), model, dep, 0);
    for (size_t i = 0; i < t.kernels.size(); ++i)
        CHECK(same.retime(t.kernels[i], c.category[i]) == t.kernels[i].dur);
    Retimer r(h800, ascend, rules(), model, dep, 0);
    const auto& g = r.scaling()[rules().category_index("grouped_gemm")];
    CHECK(g.basis.find("model experts: 4 local x 8192 rows") != std::string::npos);
    CHECK(r.scaling()[rules().category_index("ep_combine")].basis.find("EP64") !=
          std::string::npos);
}

TEST_CASE("replay deployment files: optional phase, context and attention keep old meaning") {
    auto dep = load_replay_deployment(data("deployment-train-ep64.json"));
    CHECK(dep.name == "train-ep64");
    CHECK(dep.schema == "dssim-replay-deployment/1");
    CHECK(dep.tokens == 4096);
    CHECK(dep.seq_len == 4096);
    CHECK(dep.context == 0);
    CHECK(dep.phase == models::Phase::Prefill);
    CHECK_FALSE(dep.absorbed);
    CHECK(describe(dep) == "EP64, 4096 tokens per micro-batch, sequence 4096");

    auto decode = load_replay_deployment(data("deployment-decode-ep128.json"));
    CHECK(decode.phase == models::Phase::Decode);
    CHECK(decode.tokens == 64);
    CHECK(decode.seq_len == 1);
    CHECK(decode.context == 4096);
    CHECK(decode.absorbed);

    auto parse = [](const char* text) {
        return parse_replay_deployment(parse_json_text(text, "d.json"), "d.json");
    };
    CHECK_THROWS_WITH_AS(parse(R"({"schema": "dssim-replay-deployment/1", "ep": 8,
        "tokens_per_micro_batch": 64, "seq_len": 1, "phase": "verify"})"),
                         doctest::Contains("d.json: phase: 'verify'"), InputError);
    CHECK_THROWS_WITH_AS(parse(R"({"schema": "dssim-replay-deployment/1", "ep": 8,
        "tokens_per_micro_batch": 64, "seq_len": 1, "context": -1})"),
                         doctest::Contains("d.json: context: must be >= 0"), InputError);
    CHECK_THROWS_WITH_AS(parse(R"({"schema": "dssim-replay-deployment/1", "ep": 8,
        "tokens_per_micro_batch": 64, "seq_len": 1, "attention": "mqa"})"),
                         doctest::Contains("d.json: attention:"), InputError);
    CHECK_THROWS_WITH_AS(parse(R"({"schema": "dssim-replay-deployment/1", "ep": 8, "seq_len": 1})"),
                         doctest::Contains("d.json: tokens_per_micro_batch"), InputError);
    CHECK_THROWS_WITH_AS(parse("[1, 2]"), doctest::Contains("d.json: schema"), InputError);
}

namespace {

// deepseek-v3-pretrain-h800 as the CLI hands it down from configs/deployments.
DeploymentStep pretrain_step() {
    DeploymentStep s;
    s.file = "pretrain.json";
    s.name = "deepseek-v3-pretrain-h800";
    s.phase = models::Phase::Train;
    s.ep = 64;
    s.micro_batches = 1;
    s.batch = 1;
    s.input_len = 4096;
    return s;
}

}  // namespace

TEST_CASE("general deployment -> replay fields: one micro-batch per phase") {
    auto v3 = models::resolve_model_config("deepseek-v3");
    // Training: one 4K sequence per micro-batch (train.json), as the replay file says.
    ReplayDeployment train = replay_deployment_from(pretrain_step(), v3);
    auto file = load_replay_deployment(data("deployment-train-ep64.json"));
    CHECK(train.schema == "dssim-deployment/1");
    CHECK(train.phase == models::Phase::Train);
    CHECK(train.ep == file.ep);
    CHECK(train.tokens == file.tokens);
    CHECK(train.seq_len == file.seq_len);
    CHECK(train.context == file.context);
    CHECK(train.members_per_domain == file.members_per_domain);
    CHECK(train.absorbed == file.absorbed);

    // Prefill (profile-prefill-h800): 16K tokens per GPU in two micro-batches of 2 prompts.
    DeploymentStep p = pretrain_step();
    p.phase = models::Phase::Prefill;
    p.ep = 32;
    p.micro_batches = 2;
    p.batch = 4;
    ReplayDeployment prefill = replay_deployment_from(p, v3);
    CHECK(prefill.tokens == 8192);
    CHECK(prefill.seq_len == 4096);
    // One prompt in two micro-batches: its tokens are halved, the first half keeps the prefix.
    p.batch = 1;
    p.input_len = 1917;
    p.context = 100;
    prefill = replay_deployment_from(p, v3);
    CHECK(prefill.tokens == 959);
    CHECK(prefill.seq_len == 959);
    CHECK(prefill.context == 100);

    // Decode (profile-decode-h800): 128 requests per GPU in two micro-batches, one token each
    // (two with V3's one MTP module), attending over the 4K cache.
    DeploymentStep d;
    d.file = "decode.json";
    d.phase = models::Phase::Decode;
    d.ep = 128;
    d.micro_batches = 2;
    d.batch = 128;
    d.input_len = 1;
    d.context = 4096;
    d.absorbed = true;
    ReplayDeployment decode = replay_deployment_from(d, v3);
    CHECK(decode.tokens == 64);
    CHECK(decode.seq_len == 1);
    CHECK(decode.context == 4096);
    CHECK(decode.absorbed);
    CHECK(describe(decode) ==
          "EP128, 64 tokens per micro-batch, sequence 1 after 4096 cached, decode, absorbed "
          "attention");
    auto same = load_replay_deployment(data("deployment-decode-ep128.json"));
    CHECK(decode.tokens == same.tokens);
    CHECK(decode.seq_len == same.seq_len);
    CHECK(decode.context == same.context);
    d.mtp = true;
    CHECK(replay_deployment_from(d, v3).tokens == 128);
    CHECK(replay_deployment_from(d, v3).seq_len == 2);
    d.batch = 89;  // the first micro-batch takes the odd sequence
    d.mtp = false;
    CHECK(replay_deployment_from(d, v3).tokens == 45);
    d.micro_batches = 1;
    CHECK(replay_deployment_from(d, v3).tokens == 89);

    // Limits name the deployment's file and field.
    DeploymentStep tp = pretrain_step();
    tp.tp = 2;
    CHECK_THROWS_WITH_AS(replay_deployment_from(tp, v3),
                         doctest::Contains("pretrain.json: parallel.tp: replay derives"),
                         InputError);
    d.mtp = true;
    auto v2 = models::resolve_model_config("deepseek-v2");
    CHECK_THROWS_WITH_AS(
        replay_deployment_from(d, v2),
        doctest::Contains("decode.json: workload.mtp: model deepseek-v2 has no MTP"), InputError);
}

TEST_CASE("a deployment's model and --model: shapes decide") {
    auto v3 = models::resolve_model_config("deepseek-v3");
    CHECK(replay_shape_difference(v3, models::resolve_model_config("deepseek-r1")).empty());
    // The first difference among the ops replay's work reads, by op and dimension (V2's first
    // MoE layer is layer 1, V3's layer 3: the layer does not matter, the op does).
    CHECK(replay_shape_difference(v3, models::resolve_model_config("deepseek-v2")) ==
          "layers.3.attn.wq_a: k 7168 vs 5120");
    CHECK(replay_shape_difference(v3, models::resolve_model_config("deepseek-v2-lite")) ==
          "layers.3.attn.wq_a vs layers.1.attn.wq: different ops");
    // V2 has no MTP module: the MTP depth (decode drafts) is the only difference from a V2
    // config that declares one.
    Json j = load_json_file(std::string(DSSIM_SOURCE_DIR) + "/configs/models/deepseek-v2.json");
    j["num_nextn_predict_layers"] = 1;
    auto v2_mtp = models::model_config_from_json(j, "v2-mtp.json");
    CHECK(replay_shape_difference(models::resolve_model_config("deepseek-v2"), v2_mtp) ==
          "mtp: modules 0 vs 1");
}

TEST_CASE("model-derived work: EP groups that do not divide the experts, partial sequences") {
    devices::CostModel h800 = load_cost_model("h800");
    devices::CostModel cm = load_cost_model("cloudmatrix-384");
    auto model = models::resolve_model_config("deepseek-v3");
    auto dep = [](const char* text) {
        return parse_replay_deployment(parse_json_text(text, "d.json"), "d.json");
    };
    auto basis = [&](const ReplayDeployment& d, const char* category) {
        Retimer r(h800, cm, rules(), model, d, 0);
        return r.scaling()[rules().category_index(category)].basis;
    };
    // EP that does not divide the 256 experts gets the fewest redundant slots that make it
    // divide, placed as the graph places them (the simulator's placement). EP320 (CloudMatrix
    // decode): 320 slots, one per member, 64 x 8 x 320 / 256 rows for a full-load expert.
    // EP144 (DeepSeek's decode service): 288 slots, two per member (before models/parallel,
    // replay counted one: a bug), 44 x 8 x 144 / 256 rows each.
    auto ep320 = dep(R"({"schema": "dssim-replay-deployment/1", "ep": 320,
        "tokens_per_micro_batch": 64, "seq_len": 1, "context": 4096, "phase": "decode",
        "attention": "absorbed"})");
    CHECK(basis(ep320, "grouped_gemm").find("model experts: 1 local x 640 rows") !=
          std::string::npos);
    CHECK(basis(ep320, "ep_dispatch").find("model dispatch 3.8 MB over EP320") !=
          std::string::npos);
    auto ep144 = dep(R"({"schema": "dssim-replay-deployment/1", "ep": 144,
        "tokens_per_micro_batch": 44, "seq_len": 1, "context": 4989, "phase": "decode"})");
    CHECK(basis(ep144, "grouped_gemm").find("model experts: 2 local x 198 rows") !=
          std::string::npos);
    // EP48: 288 slots, 6 per member; the busiest holds 5 full-load experts and a replica's half
    // (5.5 x 3072 rows spread over its 6 slots).
    auto ep48 = dep(R"({"schema": "dssim-replay-deployment/1", "ep": 48,
        "tokens_per_micro_batch": 2048, "seq_len": 1024})");
    CHECK(basis(ep48, "grouped_gemm").find("model experts: 6 local x 2816 rows") !=
          std::string::npos);
    // 100 tokens of a 4096-token sequence: GEMM rows, expert rows and payload follow the
    // tokens, the attention the one sequence.
    auto part = dep(R"({"schema": "dssim-replay-deployment/1", "ep": 64,
        "tokens_per_micro_batch": 100, "seq_len": 4096})");
    CHECK(basis(part, "gemm_fp8").find("model MLA projections at 100 tokens") != std::string::npos);
    CHECK(basis(part, "grouped_gemm").find("model experts: 4 local x 200 rows") !=
          std::string::npos);
    CHECK(basis(part, "attention_fwd").find("model MLA attention 1x4096") != std::string::npos);
    CHECK(basis(part, "ep_combine").find("model combine 11.5 MB over EP64") != std::string::npos);
    // Without EP a member runs all 256 experts.
    auto ep1 = dep(R"({"schema": "dssim-replay-deployment/1", "ep": 1,
        "tokens_per_micro_batch": 512, "seq_len": 512})");
    CHECK(basis(ep1, "grouped_gemm").find("model experts: 256 local x 16 rows") !=
          std::string::npos);
    // A step the model cannot run is refused at the deployment's own field.
    auto far = dep(R"({"schema": "dssim-replay-deployment/1", "ep": 64,
        "tokens_per_micro_batch": 64, "seq_len": 1, "context": 200000, "phase": "decode"})");
    CHECK_THROWS_WITH_AS(Retimer(h800, cm, rules(), model, far, 0),
                         "d.json: context: context + new tokens = 200001 exceeds "
                         "max_position_embeddings 163840",
                         InputError);
    DeploymentStep s = pretrain_step();
    s.phase = models::Phase::Prefill;
    s.context = 200000;
    CHECK_THROWS_WITH_AS(Retimer(h800, cm, rules(), model, replay_deployment_from(s, model), 0),
                         doctest::Contains("pretrain.json: workload.context: context + new tokens"),
                         InputError);
}

TEST_CASE("derived deployment re-times exactly as the equivalent replay file") {
    Trace t = import_trace_file(data("small_kineto.json"));
    Classification c = classify(t, rules());
    devices::CostModel h800 = load_cost_model("h800");
    devices::CostModel ascend = load_cost_model("ascend-910c");
    auto model = models::resolve_model_config("deepseek-v3");
    Retimer a(h800, ascend, rules(), model,
              load_replay_deployment(data("deployment-train-ep64.json")), 0);
    Retimer b(h800, ascend, rules(), model, replay_deployment_from(pretrain_step(), model), 0);
    for (size_t i = 0; i < rules().categories.size(); ++i) {
        CHECK(a.scaling()[i].ratio == b.scaling()[i].ratio);
        CHECK(a.scaling()[i].basis == b.scaling()[i].basis);
    }
    CHECK(a.retime_all(t, c) == b.retime_all(t, c));
}

TEST_CASE("decode attention reads the KV cache; prefill without a cache stays compute-bound") {
    devices::CostModel h800 = load_cost_model("h800");
    devices::CostModel ascend = load_cost_model("ascend-910c");
    auto model = models::resolve_model_config("deepseek-v3");
    const size_t att = rules().category_index("attention_fwd");
    // Absorbed (FlashMLA): 128 heads share the 576-byte-per-token latent, so 64 queries over a
    // 4K cache are compute-bound on both devices and scale with BF16 peak (989 -> 752).
    Retimer absorbed(h800, ascend, rules(), model,
                     load_replay_deployment(data("deployment-decode-ep128.json")), 0);
    const auto& a = absorbed.scaling()[att];
    CHECK(a.basis.find("model MLA attention 64x1 after 4096 decode absorbed") != std::string::npos);
    CHECK(a.basis.find("(compute) ->") != std::string::npos);
    CHECK(a.ratio == doctest::Approx(989.0 / 752.0).epsilon(0.01));
    // Naive decode reads 128 x (128 + 64 + 128) x 2 bytes of K/V per cached token: the cache
    // read bounds it, and it scales with HBM bandwidth (3352 -> 3200 GB/s).
    auto naive = parse_replay_deployment(parse_json_text(R"({"schema": "dssim-replay-deployment/1",
        "ep": 128, "tokens_per_micro_batch": 64, "seq_len": 1, "context": 4096,
        "phase": "decode"})",
                                                         "naive.json"),
                                         "naive.json");
    Retimer up(h800, ascend, rules(), model, naive, 0);
    const auto& n = up.scaling()[att];
    CHECK(n.basis.find("(memory) ->") != std::string::npos);
    CHECK(n.ratio == doctest::Approx(3352.0 / 3200.0).epsilon(0.01));
    // A fresh 4K prefill stays compute-bound, as files without a context always were.
    Retimer train(h800, ascend, rules(), model,
                  load_replay_deployment(data("deployment-train-ep64.json")), 0);
    CHECK(train.scaling()[att].basis.find("(compute) ->") != std::string::npos);
    CHECK(train.scaling()[att].ratio > 1.2);
}

TEST_CASE("metrics: busy, exposed communication, overlap and critical path") {
    Trace t = import_trace_file(data("small_chrome.json"));
    Classification c = classify(t, rules());
    Dependencies d = infer_dependencies(t, c, rules());
    Schedule s = recorded_schedule(t, d);
    TimelineMetrics m = measure(t, c, rules(), s);
    CHECK(m.span == 383000);
    CHECK(m.comm_busy == 200000);     // dispatch 150..350
    CHECK(m.compute_busy == 190000);  // 0..160 and 353..383
    CHECK(m.exposed_comm == 190000);  // only 150..160 overlaps compute
    CHECK(m.overlap_ratio == doctest::Approx(0.05));
    // swiglu <- dispatch <- (flow) gemm <- rms_norm
    REQUIRE(m.critical_path.size() == 4);
    CHECK(t.name_of(t.kernels[m.critical_path.front()]) == "rms_norm");
    CHECK(t.name_of(t.kernels[m.critical_path.back()]) == "swiglu");
}

TEST_CASE("re-timed Chrome trace re-imports with the same kernels; output is deterministic") {
    Trace t = import_trace_file(data("small_kineto.json"));
    Comparison cmp;
    cmp.rules = &rules();
    // Assigned from std::string: assigning these short literals draws a false GCC 12
    // -Wrestrict warning (PR 105329).
    cmp.title = std::string("t");
    cmp.before.label = std::string("a");
    cmp.after.label = std::string("b");
    cmp.before.trace = cmp.after.trace = &t;
    cmp.before.cls = cmp.after.cls = classify(t, rules());
    Dependencies d = infer_dependencies(t, cmp.before.cls, rules());
    cmp.before.schedule = recorded_schedule(t, d);
    devices::CostModel h800 = load_cost_model("h800");
    devices::CostModel ascend = load_cost_model("ascend-910c");
    Retimer r(h800, ascend, rules(), std::nullopt, std::nullopt, t.info.world_size);
    cmp.after.schedule = list_schedule(t, d, r.retime_all(t, cmp.before.cls));
    cmp.before.metrics = measure(t, cmp.before.cls, rules(), cmp.before.schedule);
    cmp.after.metrics = measure(t, cmp.after.cls, rules(), cmp.after.schedule);
    match_kernels(cmp);
    CHECK(cmp.matched == 9);
    REQUIRE(cmp.top_changes.size() == 9);
    CHECK(t.name_of(t.kernels[cmp.top_changes[0].before]).find("combine") != std::string::npos);

    std::string json = chrome_trace(cmp.after, rules(), &d);
    CHECK(json == chrome_trace(cmp.after, rules(), &d));
    Trace back = import_trace_text(json, "replayed");
    REQUIRE(back.kernels.size() == t.kernels.size());
    CHECK(back.flow_edges.size() == 4);  // the inferred dependencies, as arrows
    Ns sum_a = 0, sum_b = 0;
    for (size_t i = 0; i < t.kernels.size(); ++i)
        sum_a += cmp.after.schedule.dur[i], sum_b += back.kernels[i].dur;
    CHECK(sum_a == sum_b);
    std::string md = report_markdown(cmp);
    CHECK(md.find("exposed communication") != std::string::npos);
    CHECK(md.find("mystery") != std::string::npos);  // unknown kernels are listed
    std::string html = report_html(cmp);
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(report_json(cmp) == report_json(cmp));
}
