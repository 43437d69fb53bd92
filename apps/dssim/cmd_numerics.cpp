// `dssim numerics`: inspect the number formats of reference/numerics from the command line.
#include "commands.h"
#include "dssim/numerics.h"

namespace dssim::cli {

void add_numerics_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("numerics", "Number formats: convert and decode values.");
    cmd->require_subcommand(1);
}

}  // namespace dssim::cli
