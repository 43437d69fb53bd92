// dssim: the command line. Exit codes: 0 ok, 1 a check ran and failed, 2 bad input or usage.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base.h"

namespace {

// Edit distance (insert, delete, substitute, swap of neighbours) between two names.
size_t distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i)
        d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j)
        d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                                d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

// " (did you mean X?)" for the nearest candidate within a third of the name's length (at
// least 2 edits), or a candidate the name is a prefix of; "" if none is close.
std::string suggestion(const std::string& name, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_d = std::max<size_t>(2, name.size() / 3) + 1;
    for (const auto& c : candidates) {
        size_t dd = distance(name, c);
        if (c.size() > name.size() && c.compare(0, name.size(), name) == 0 && name.size() >= 3)
            dd = std::min<size_t>(dd, 1);
        if (dd < best_d) {
            best_d = dd;
            best = c;
        }
    }
    return best.empty() ? "" : " (did you mean " + best + "?)";
}

// Walks the command line before CLI11 parses it: a word where a subcommand is expected that
// names none, or a --option the (sub)command does not have, is an error naming the nearest
// valid name. CLI11 alone reports "The following argument was not expected", or takes an
// unknown option after positional values as a value ("--overflw: not a number").
void check_names(CLI::App& app, int argc, char** argv) {
    CLI::App* cur = &app;
    std::string path = "dssim";
    bool value_next = false;  // the previous word was an option that takes a value
    for (int i = 1; i < argc; ++i) {
        const std::string t = argv[i];
        if (t == "--") break;
        const bool is_value = value_next;
        value_next = false;
        auto subcommands = cur->get_subcommands([](CLI::App* a) { return !a->get_name().empty(); });
        if (t.rfind("--", 0) == 0) {
            const std::string name = t.substr(0, t.find('='));
            if (name == "--help" || name == "--help-all") continue;
            if (const CLI::Option* o = cur->get_option_no_throw(name)) {
                value_next = t.find('=') == std::string::npos && o->get_type_size_max() > 0;
                continue;
            }
            std::vector<std::string> names = {"--help"};
            for (const CLI::Option* o : cur->get_options())
                for (const auto& l : o->get_lnames())
                    names.push_back("--" + l);
            throw dssim::InputError(path + ": unknown option " + name + suggestion(name, names) +
                                    "; `" + path + " --help` lists the options");
        }
        if (is_value || t.empty() || t[0] == '-') continue;  // a value or a short option
        if (subcommands.empty()) continue;                   // a positional argument
        auto match = std::find_if(subcommands.begin(), subcommands.end(),
                                  [&](CLI::App* a) { return a->check_name(t); });
        if (match != subcommands.end()) {
            cur = *match;
            path += " " + t;
            continue;
        }
        if (cur->get_require_subcommand_min() > 0) {
            std::vector<std::string> names;
            for (const CLI::App* a : subcommands)
                names.push_back(a->get_name());
            throw dssim::InputError("unknown command '" + t + "' for " + path +
                                    suggestion(t, names) + "; `" + path +
                                    " --help` lists the commands");
        }
    }
}

}  // namespace

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
    dssim::cli::add_tokenize_command(app);

    try {
        check_names(app, argc, argv);
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
