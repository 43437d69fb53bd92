// `dssim sweep`: runs a what-if study (docs/studies.md) and writes results.csv, results.h5,
// SVG plots and summary.md into --out; --resume continues from the points journal.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/sweep.h"

namespace dssim::cli {
namespace {

struct SweepCli {
    std::string study;
    std::string out;
    bool resume = false;
    int threads = 0;
    std::string engine = "analytic";
    int64_t stop_after = -1;
};

void run(const SweepCli& o) {
    sweep::Study st = sweep::load_study(o.study);
    sweep::SweepOptions opt;
    opt.out_dir = o.out.empty() ? "sweep-" + st.name : o.out;
    opt.resume = o.resume;
    opt.threads = o.threads > 0 ? o.threads : hardware_threads();
    if (o.engine == "analytic")
        opt.engine = sweep::Engine::Analytical;
    else if (o.engine == "systemc")
        opt.engine = sweep::Engine::SystemC, opt.threads = 1;  // one SystemC kernel per process
    else
        throw_input_error("", "--engine", "expected analytic or systemc, got '" + o.engine + "'");
    opt.stop_after = o.stop_after;
    const auto rs = sweep::run_sweep(st, opt);
    if (rs.size() < st.points.size()) {
        std::printf("stopped after %zu of %zu points; continue with --resume\n", rs.size(),
                    st.points.size());
        return;
    }
    std::fputs(sweep::summary_md(st, rs).c_str(), stdout);
    std::printf("\nwrote %s/{results.csv,results.h5,summary.md,*.svg}\n", opt.out_dir.c_str());
}

}  // namespace

void add_sweep_command(CLI::App& app) {
    auto o = std::make_shared<SweepCli>();
    CLI::App* cmd = app.add_subcommand(
        "sweep",
        "Run a what-if study: a grid or list of points over device figures, deployment "
        "and workload (docs/studies.md)");
    cmd->add_option("--study", o->study,
                    "Study file (JSON) or built-in name from configs/studies "
                    "(e.g. chips-head-to-head)")
        ->required();
    cmd->add_option("--out", o->out, "Output directory (default: sweep-<study name>)");
    cmd->add_flag("--resume", o->resume,
                  "Skip the points already in OUT/points.journal (same study and engine)");
    cmd->add_option("--threads", o->threads,
                    "Worker threads (default: all cores); the output does not depend on it");
    cmd->add_option("--engine", o->engine,
                    "analytic (fast list scheduling of the simulator's plan, default) or systemc "
                    "(the full simulator, one point at a time)");
    cmd->add_option("--stop-after", o->stop_after,
                    "Stop after computing this many new points (tests of --resume)")
        ->group("");
    cmd->callback([o] { run(*o); });
}

}  // namespace dssim::cli
