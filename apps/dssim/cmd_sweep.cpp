// `dssim sweep`: runs a what-if study (docs/studies.md) and writes results.csv, results.h5,
// SVG plots and summary.md into --out; --resume continues from the points journal. Under
// `mpirun -np N` (built with MPI) the points are spread over the ranks and rank 0 writes the
// same bytes a single process would; a plain `dssim sweep` never initialises MPI.
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#ifdef DSSIM_WITH_MPI
// The C API only (we link MPI::MPI_C, not OpenMPI's deprecated C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

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

// An integer from the environment OpenMPI's launcher sets (0 when absent or malformed).
int launcher_env(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return 0;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    return *end == 0 && x > 0 && x < 1 << 20 ? static_cast<int>(x) : 0;
}

#ifdef DSSIM_WITH_MPI
// MPI_COMM_WORLD as a sweep transport. MPI errors stay fatal (MPI's default handler aborts
// every rank), so a broken collective can never leave ranks waiting.
class MpiTransport final : public sweep::Transport {
  public:
    MpiTransport() {
        MPI_Init(nullptr, nullptr);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    ~MpiTransport() override { MPI_Finalize(); }
    MpiTransport(const MpiTransport&) = delete;
    MpiTransport& operator=(const MpiTransport&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }

    std::vector<std::string> gather(const std::string& mine) override {
        const int len = length(mine);
        std::vector<int> lens(rank_ == 0 ? static_cast<size_t>(size_) : 0);
        MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
        std::vector<int> displs(lens.size());
        long long total = 0;
        for (size_t r = 0; r < lens.size(); ++r) {
            displs[r] = static_cast<int>(total);
            total += lens[r];
        }
        if (total > std::numeric_limits<int>::max()) abort_all("sweep: gathered text too large");
        std::string buf(static_cast<size_t>(total), '\0');
        MPI_Gatherv(mine.data(), len, MPI_CHAR, buf.data(), lens.data(), displs.data(), MPI_CHAR, 0,
                    MPI_COMM_WORLD);
        std::vector<std::string> out;
        for (size_t r = 0; r < lens.size(); ++r)
            out.push_back(buf.substr(static_cast<size_t>(displs[r]), static_cast<size_t>(lens[r])));
        return out;
    }

    std::string broadcast(const std::string& text) override {
        int len = rank_ == 0 ? length(text) : 0;
        MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD);
        std::string buf = rank_ == 0 ? text : std::string(static_cast<size_t>(len), '\0');
        MPI_Bcast(buf.data(), len, MPI_CHAR, 0, MPI_COMM_WORLD);
        return buf;
    }

    // Last resort when the ranks can no longer agree: one line, then every rank stops.
    [[noreturn]] static void abort_all(const std::string& message) {
        std::fprintf(stderr, "dssim: error: %s\n", message.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 2);
        std::abort();
    }

  private:
    static int length(const std::string& s) {
        if (s.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
            abort_all("sweep: message too large for MPI");
        return static_cast<int>(s.size());
    }
    int rank_ = 0;
    int size_ = 1;
};
#endif

void run_ranked(const SweepCli& o, sweep::Transport* transport) {
    const bool root = !transport || transport->rank() == 0;
    // Every rank loads the study; a bad file fails on all of them and rank 0 reports it.
    std::optional<sweep::Study> loaded;
    sweep::gather_agreed(transport, [&] {
        loaded = sweep::load_study(o.study);
        return std::string();
    });
    const sweep::Study& st = *loaded;
    sweep::SweepOptions opt;
    opt.out_dir = o.out.empty() ? "sweep-" + st.name : o.out;
    opt.resume = o.resume;
    // Default: the machine's cores shared by the ranks placed on it.
    const int local = std::max(1, launcher_env("OMPI_COMM_WORLD_LOCAL_SIZE"));
    opt.threads = o.threads > 0 ? o.threads : std::max(1, hardware_threads() / local);
    if (o.engine == "analytic")
        opt.engine = sweep::Engine::Analytical;
    else if (o.engine == "systemc")
        opt.engine = sweep::Engine::SystemC, opt.threads = 1;  // one SystemC kernel per process
    else
        throw_input_error("", "--engine", "expected analytic or systemc, got '" + o.engine + "'");
    opt.stop_after = o.stop_after;
    opt.transport = transport;
    const auto rs = sweep::run_sweep(st, opt);
    if (!root) return;
    if (rs.size() < st.points.size()) {
        std::printf("stopped after %zu of %zu points; continue with --resume\n", rs.size(),
                    st.points.size());
        return;
    }
    std::fputs(sweep::summary_md(st, rs).c_str(), stdout);
    std::printf("\nwrote %s/{results.csv,results.h5,summary.md,*.svg}\n", opt.out_dir.c_str());
}

void run(const SweepCli& o) {
    // Launched by OpenMPI's mpirun/mpiexec? (A plain run never touches MPI.)
    const int world = launcher_env("OMPI_COMM_WORLD_SIZE");
    if (world == 0) return run_ranked(o, nullptr);
#ifdef DSSIM_WITH_MPI
    std::optional<MpiTransport> mpi;
    mpi.emplace();
    const bool root = mpi->rank() == 0;
    try {
        run_ranked(o, &*mpi);
    } catch (const sweep::PeerFailed&) {
        mpi.reset();  // MPI_Finalize: every rank reached the same agreement
        throw ExitWith{2};
    } catch (const std::exception& e) {
        // Errors thrown by the agreement reach rank 0 only; anything else on another rank is
        // outside the protocol, so stop the whole job rather than risk a hang.
        if (!root) MpiTransport::abort_all(e.what());
        mpi.reset();
        throw;
    }
    mpi.reset();
#else
    if (world > 1) {
        if (launcher_env("OMPI_COMM_WORLD_RANK") != 0) throw ExitWith{2};
        throw_input_error("", "mpirun",
                          "this dssim was built without MPI (install libopenmpi-dev and "
                          "reconfigure); " +
                              std::to_string(world) + " processes would each run the whole sweep");
    }
    run_ranked(o, nullptr);
#endif
}

}  // namespace

void add_sweep_command(CLI::App& app) {
    auto o = std::make_shared<SweepCli>();
    CLI::App* cmd = app.add_subcommand(
        "sweep",
        "Run a what-if study: a grid or list of points over device figures, deployment "
        "and workload (docs/studies.md). Under `mpirun -np N` the points are spread over the "
        "ranks; the outputs are byte-identical to a single-process run");
    cmd->add_option("--study", o->study,
                    "Study file (JSON) or built-in name from configs/studies "
                    "(e.g. chips-head-to-head)")
        ->required();
    cmd->add_option("--out", o->out, "Output directory (default: sweep-<study name>)");
    cmd->add_flag("--resume", o->resume,
                  "Skip the points already in OUT/points.journal (same study and engine)");
    cmd->add_option("--threads", o->threads,
                    "Worker threads per process (default: all cores, divided among the MPI "
                    "ranks on this machine); the output does not depend on it")
        ->check(at_least(0));
    cmd->add_option("--engine", o->engine,
                    "analytic (fast list scheduling of the simulator's plan, default) or systemc "
                    "(the full simulator, one point at a time per process)");
    cmd->add_option("--stop-after", o->stop_after,
                    "Stop after computing this many new points (tests of --resume)")
        ->group("");
    cmd->callback([o] { run(*o); });
}

}  // namespace dssim::cli
