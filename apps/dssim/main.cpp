// dssim: the command line. Exit codes: 0 ok, 1 a check ran and failed, 2 bad input or usage.
#include <cstdio>
#include <exception>
#include <new>

#include "commands.h"
#include "dssim/base.h"

int main(int argc, char** argv) {
    CLI::App app{
        "dssim: a deterministic simulator and bit-exact reference model of DeepSeek "
        "(V2/V3/R1/V3.1) on accelerators.\n"
        "Exit codes: 0 success, 1 a check ran and failed, 2 bad input or usage.",
        "dssim"};
    app.set_version_flag("--version", std::string("dssim ") + dssim::version() +
                                          " (numerics spec " + dssim::numerics_spec_version() +
                                          ")");
    app.require_subcommand(1);
    app.fallthrough(false);

    dssim::cli::add_numerics_command(app);
    dssim::cli::add_check_command(app);
    dssim::cli::add_golden_command(app);
    dssim::cli::add_run_command(app);
    dssim::cli::add_checkpoint_command(app);
    dssim::cli::add_devices_command(app);
    dssim::cli::add_graph_command(app);
    dssim::cli::add_simulate_command(app);
    dssim::cli::add_validate_command(app);
    dssim::cli::add_replay_command(app);
    dssim::cli::add_sweep_command(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        // Also --help, --help-all and --version (CLI11 derives them from Success).
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "dssim: error: %s\nRun with --help for usage.\n", e.what());
        return 2;
    } catch (const dssim::InputError& e) {
        std::fprintf(stderr, "dssim: error: %s\n", e.what());
        return 2;
    } catch (const dssim::cli::ExitWith& e) {
        return e.code;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "dssim: error: out of memory\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dssim: internal error: %s\n", e.what());
        return 3;
    }
    return 0;
}
