// Unit tests of dssim_validation: case and deployment loaders (every schema error names file
// and field), kernel predictions against the devices CostModel, runner statuses, and the
// shipped case and deployment files.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/devices.h"
#include "dssim/validation.h"

using namespace dssim;
using namespace dssim::validation;

namespace {

// A valid kernel case; tests replace one field to break it.
Json good_case() {
    return parse_json_text(R"({
      "name": "t.gemm",
      "kind": "kernel",
      "source": "fixture",
      "published": {"value": 1520, "unit": "TFLOPS"},
      "tolerance": 0.15,
      "calibration": "calibrated",
      "calibration_note": "fixture",
      "expected": "pass",
      "setup": {"op": "gemm", "device": "h800", "m": 4096, "n": 7168, "k": 16384}
    })",
                           "fixture");
}

Json file_with(const Json& c) {
    Json f;
    f["schema"] = "dssim-validation/1";
    f["cases"] = Json::array({c});
    return f;
}

std::string load_error(const Json& c) {
    try {
        parse_case_file(file_with(c), "cases.json");
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

Json good_deployment() {
    return load_json_file(std::string(DSSIM_SOURCE_DIR) +
                          "/configs/deployments/profile-decode-h800.json");
}

std::string deployment_error(const Json& d) {
    try {
        parse_deployment(d, "dep.json");
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a good case loads with its fields") {
    auto cases = parse_case_file(file_with(good_case()), "cases.json");
    REQUIRE(cases.size() == 1);
    const Case& c = cases[0];
    CHECK(c.name == "t.gemm");
    CHECK(c.kind == CaseKind::Kernel);
    CHECK(c.published == 1520);
    CHECK(c.unit == "TFLOPS");
    CHECK(c.calibrated);
    CHECK(c.expected == Expected::Pass);
    CHECK(c.metric == Metric::Tflops);
    const auto& g = std::get<GemmSetup>(c.setup);
    CHECK(g.m == 4096);
    CHECK(g.dtype == "fp8");
}

TEST_CASE("bad case fields are named in the error") {
    struct Bad {
        const char* field;
        Json patch;  // merged into the good case
        const char* erase = nullptr;
    };
    const Bad bads[] = {
        {"cases[0].source", Json::object(), "source"},
        {"cases[0].name", Json::object(), "name"},
        {"cases[0].published.value", {{"published", {{"value", -3}, {"unit", "TFLOPS"}}}}},
        {"cases[0].published.value", {{"published", {{"value", "fast"}, {"unit", "TFLOPS"}}}}},
        {"cases[0].published.unit", {{"published", {{"value", 1}, {"unit", "GB/s"}}}}},
        {"cases[0].tolerance", {{"tolerance", 1.5}}},
        {"cases[0].tolerance", {{"tolerance", nullptr}}},
        {"cases[0].kind", {{"kind", "rack"}}},
        {"cases[0].calibration", {{"calibration", "fitted"}}},
        {"cases[0].calibration_note", Json::object(), "calibration_note"},
        {"cases[0].expected", {{"expected", "maybe"}}},
        {"cases[0].explanation", {{"expected", "known_gap"}}},
        {"cases[0].setup.op", {{"setup", {{"op", "conv"}}}}},
        {"cases[0].setup.m",
         {{"setup", {{"op", "gemm"}, {"device", "h800"}, {"m", 0}, {"n", 1}, {"k", 1}}}}},
        {"cases[0].setup.k", {{"setup", {{"op", "gemm"}, {"device", "h800"}, {"m", 1}, {"n", 1}}}}},
        {"cases[0].setup.dtype",
         {{"setup",
           {{"op", "gemm"}, {"device", "h800"}, {"m", 1}, {"n", 1}, {"k", 1}, {"dtype", "fp4"}}}}},
        {"cases[0].setup.colour",
         {{"setup",
           {{"op", "gemm"}, {"device", "h800"}, {"m", 1}, {"n", 1}, {"k", 1}, {"colour", 1}}}}},
        {"cases[0].setup.metric",
         {{"setup",
           {{"op", "collective"},
            {"system", "x"},
            {"kind", "dispatch"},
            {"kernel", "normal"},
            {"tokens", 1},
            {"hidden", 1},
            {"topk", 1},
            {"participants", 2},
            {"experts", 8},
            {"kept_groups", 1},
            {"metric", "tflops"}}}}},
        {"cases[0].kind",
         {{"setup", {{"op", "serving"}, {"deployment", "x"}, {"metric", "tokens_per_s_per_node"}}},
          {"published", {{"value", 1}, {"unit", "tokens/s/node"}}}}},
        {"cases[0].surprise", {{"surprise", true}}},
    };
    for (const Bad& b : bads) {
        Json c = good_case();
        if (b.erase) c.erase(b.erase);
        for (auto& [k, v] : b.patch.items())
            c[k] = v;
        const std::string err = load_error(c);
        INFO("expected field ", b.field, ", got: ", err);
        CHECK(err.find("cases.json") != std::string::npos);
        CHECK(err.find(b.field) != std::string::npos);
    }
}

TEST_CASE("case file structure errors") {
    Json f = file_with(good_case());
    f["schema"] = "dssim-validation/9";
    CHECK_THROWS_WITH_AS(parse_case_file(f, "x.json"), doctest::Contains("x.json: schema"),
                         InputError);
    Json dup;
    dup["schema"] = "dssim-validation/1";
    dup["cases"] = Json::array({good_case(), good_case()});
    CHECK_THROWS_WITH_AS(parse_case_file(dup, "x.json"), doctest::Contains("duplicate case name"),
                         InputError);
    Json notlist;
    notlist["schema"] = "dssim-validation/1";
    notlist["cases"] = 3;
    CHECK_THROWS_WITH_AS(parse_case_file(notlist, "x.json"), doctest::Contains("cases"),
                         InputError);
    const std::string bad =
        std::string(DSSIM_SOURCE_DIR) + "/tests/unit/validation/data/bad_missing_source.json";
    CHECK_THROWS_WITH_AS(load_cases(bad), doctest::Contains("cases[0].source"), InputError);
    CHECK_THROWS_AS(load_cases("/nonexistent/cases.json"), InputError);
}

TEST_CASE("shipped case and deployment files load") {
    const auto cases = load_cases(default_case_dir());
    CHECK(cases.size() >= 68);
    int kernel = 0, system = 0, tables = 0;
    for (const Case& c : cases) {
        (c.kind == CaseKind::Kernel ? kernel : system)++;
        CHECK_FALSE(c.source.empty());
        if (c.expected != Expected::Pass) CHECK_FALSE(c.explanation.empty());
        // Kernels within 15%, systems within 10%, measured tables by their median error 10%.
        const bool table = !c.table.empty();
        tables += table ? 1 : 0;
        CHECK(c.tolerance == doctest::Approx(table || c.kind == CaseKind::System ? 0.10 : 0.15));
        if (const auto* d = std::get_if<DeploymentSetup>(&c.setup)) {
            CHECK_NOTHROW(load_deployment(d->deployment));
        }
    }
    CHECK(kernel == 69);
    CHECK(system == 6);
    CHECK(tables == 19);
    for (const auto& name : list_deployments()) {
        INFO(name);
        CHECK_NOTHROW(load_deployment(name));
    }
    const auto pre = load_deployment("deepseek-serving-prefill-h800");
    CHECK(pre.parallel.ep == 32);
    CHECK(pre.parallel.redundant_experts == 32);
    CHECK((256 + pre.parallel.redundant_experts) / pre.parallel.ep == 9);
    const auto dec = load_deployment("deepseek-serving-decode-h800");
    CHECK((256 + dec.parallel.redundant_experts) / dec.parallel.ep == 2);
    const auto train = load_deployment("deepseek-v3-pretrain-h800");
    REQUIRE(train.training);
    CHECK(train.training->pipeline_parallel * train.parallel.dp == 2048);
}

TEST_CASE("bad deployment fields are named in the error") {
    {
        Json d = good_deployment();
        d["parallel"]["ep"] = 0;
        CHECK(deployment_error(d).find("dep.json: parallel.ep") != std::string::npos);
    }
    {
        Json d = good_deployment();
        d["parallel"]["dp"] = 7;
        CHECK(deployment_error(d).find("parallel.dp") != std::string::npos);
    }
    {
        Json d = good_deployment();
        d["precision"]["combine"] = "fp8";
        CHECK(deployment_error(d).find("precision.combine") != std::string::npos);
    }
    {
        Json d = good_deployment();
        d["workload"]["source"] = "nowhere";
        CHECK(deployment_error(d).find("workload.source") != std::string::npos);
    }
    {
        Json d = good_deployment();
        d["workload"]["input_len"] = 5;
        CHECK(deployment_error(d).find("workload.input_len") != std::string::npos);
    }
    {
        Json d = good_deployment();
        d["phase"] = "serve";
        CHECK(deployment_error(d).find("dep.json: phase") != std::string::npos);
    }
    {
        Json d = good_deployment();
        d["extra"] = 1;
        CHECK(deployment_error(d).find("dep.json: extra") != std::string::npos);
    }
    {
        Json d = good_deployment();
        d["phase"] = "train";
        CHECK(deployment_error(d).find("training") != std::string::npos);
    }
}

TEST_CASE("kernel predictions come from the devices CostModel") {
    auto cases = parse_case_file(file_with(good_case()), "cases.json");
    const Prediction p = predict(cases[0]);
    const auto cm = devices::CostModel::for_device("h800");
    const auto o =
        cm.gemm_time({4096, 7168, 16384, devices::Precision::FP8, devices::Precision::BF16});
    CHECK(p.value == doctest::Approx(2.0 * 4096 * 7168 * 16384 / o.seconds / 1e12));
    // The M=4096, K=16384 row set the K curve's end point: a calibrated consistency check.
    CHECK(p.value == doctest::Approx(1520).epsilon(0.01));
}

TEST_CASE("runner statuses follow tolerance and the expected status") {
    Json near = good_case();
    Json far = good_case();
    far["name"] = "t.far";
    far["published"]["value"] = 100;
    Json gap = far;
    gap["name"] = "t.gap";
    gap["expected"] = "known_gap";
    gap["explanation"] = "fixture";
    Json gap_ok = near;
    gap_ok["name"] = "t.gap_ok";
    gap_ok["expected"] = "known_gap";
    gap_ok["explanation"] = "fixture";
    Json pending = far;
    pending["name"] = "t.pending";
    pending["expected"] = "pending";
    pending["explanation"] = "waiting for a mechanism";
    Json f;
    f["schema"] = "dssim-validation/1";
    f["cases"] = Json::array({near, far, gap, gap_ok, pending});
    const auto cases = parse_case_file(f, "x.json");
    const auto out = run_cases(cases);
    REQUIRE(out.size() == 5);
    CHECK(out[0].status == Status::Pass);
    CHECK(std::fabs(out[0].error) < 0.01);
    CHECK(out[1].status == Status::Fail);
    CHECK(out[1].error > 10);
    CHECK(out[2].status == Status::KnownGap);
    CHECK(out[3].status == Status::Pass);
    CHECK(out[3].gap_now_passes);
    CHECK(out[4].status == Status::Pending);
    CHECK_FALSE(out[4].predicted);
    CHECK_FALSE(all_ok(out));
    CHECK(all_ok(std::vector<Outcome>{out[0], out[2], out[3], out[4]}));
    const std::string table = outcomes_table(out);
    CHECK(table.find("t.far") != std::string::npos);
    CHECK(table.find("1 FAIL") != std::string::npos);
    CHECK(table.find("set expected to pass") != std::string::npos);
    const auto j = outcomes_to_json(out);
    CHECK(j["failed"] == 1);
    CHECK(j["cases"][2]["status"] == "known_gap");
    // Same inputs, same bytes.
    CHECK(outcomes_to_json(run_cases(cases)).dump() == j.dump());
}
