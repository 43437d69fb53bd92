// One model description, two interpreters: for the same step, the simulator's plan and the
// reference runtime execute the same ops of the op graph, by name. The runtime's ops are read
// from the tensors it hands a sink (each tensor maps to the op producing it); the simulator's
// from its timeline on the one device a TP1 step runs on.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"
#include "dssim/models/synth.h"
#include "dssim/reference/runtime.h"
#include "dssim/reference/tensor_sink.h"
#include "dssim/sim.h"

using namespace dssim;

namespace {

class OpNames : public reference::TensorSink {
  public:
    explicit OpNames(const models::OpGraph& graph) : graph_(graph) {}
    [[nodiscard]] bool wants(std::string_view) const override { return true; }
    void on_tensor(const reference::TensorView& t) override {
        std::string_view name = t.name;
        REQUIRE(name.starts_with("step0/"));
        name.remove_prefix(6);
        const auto v = graph_.producer(name);
        REQUIRE_MESSAGE(v.has_value(), "no op of the graph produces " << name);
        ops.insert(graph_.op(*v).name);
    }
    std::set<std::string> ops;

  private:
    const models::OpGraph& graph_;
};

std::set<std::string> simulated_ops(const models::ModelConfig& model,
                                    models::AttentionMode attention) {
    sim::Workload wl;
    wl.phase = models::Phase::Prefill;
    wl.batch = 2;
    wl.input_len = 4;
    wl.context = 0;
    wl.attention = attention;
    wl.gemm = models::GemmMode::Bf16;  // the reference's demo numerics
    sim::SimOptions opt;
    opt.trace = true;
    sim::Deployment dep;
    dep.micro_batches = 1;
    const sim::SimResult r = sim::simulate(model, sim::load_hardware("h800"), dep, wl, opt);
    std::set<std::string> names;
    for (const auto& e : r.timeline)
        names.insert(e.name);
    return names;
}

}  // namespace

TEST_CASE("the simulator and the reference runtime execute the same ops for one prefill step") {
    const models::ModelConfig model = models::resolve_model_config("deepseek-tiny");
    const std::filesystem::path dir =
        std::filesystem::path(DSSIM_BINARY_DIR) / "test_tmp" / "same_ops" / "tiny";
    if (!std::filesystem::exists(dir / "model.safetensors.index.json")) {
        models::SynthOptions o;
        o.seed = 5;
        models::synth_checkpoint(model, dir, o);
    }
    for (const auto attention : {models::AttentionMode::Absorbed, models::AttentionMode::Naive}) {
        CAPTURE(models::attention_mode_name(attention));
        models::StepSpec step;
        step.phase = models::Phase::Prefill;
        step.batch = 2;
        step.seq = 4;
        step.attention = attention;
        const models::OpGraph graph = models::build_op_graph(model, step);

        reference::RuntimeOptions ro;
        ro.attention = attention;
        reference::Runtime runtime(dir, ro);
        OpNames executed(graph);
        (void)runtime.generate({{1, 2, 3, 4}, {5, 6, 7, 8}}, reference::GenerateOptions{},
                               &executed);

        const std::set<std::string> simulated = simulated_ops(model, attention);
        CHECK(executed.ops.size() == graph.size());
        CHECK(simulated == executed.ops);
    }
}
