// dssim_base: atomic files, JSON field access errors, deterministic partitioning, SHA-256.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <vector>

#include "dssim/base.h"

using namespace dssim;
namespace fs = std::filesystem;

namespace {
fs::path scratch_dir(const char* name) {
    fs::path dir =
        fs::temp_directory_path() / ("dssim_base_test_" + std::to_string(::getpid())) / name;
    fs::create_directories(dir);
    return dir;
}
std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("atomic file appears only on commit and leaves nothing on failure") {
    fs::path dir = scratch_dir("atomic");
    fs::path target = dir / "out.bin";
    {
        AtomicFile f(target);
        f.write("partial");
        CHECK_FALSE(fs::exists(target));
        CHECK(fs::exists(f.temp_path()));
    }  // destroyed without commit
    CHECK_FALSE(fs::exists(target));
    CHECK(fs::is_empty(dir));
    write_file_atomic(target, "whole");
    CHECK(read_file(target) == "whole");
    CHECK(fs::is_empty(dir) == false);
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
    fs::remove_all(dir);
}

TEST_CASE("json fields name file and path in every error") {
    Json j = parse_json_text(R"({"memory": {"bandwidth": -1, "kind": "hbm3", "x": 1}, "n": 2.5})",
                             "dev.json");
    JsonFields root(j, "dev.json");
    JsonFields mem = root.object("memory");
    CHECK(mem.number("bandwidth") == -1.0);
    CHECK(error_of([&] { (void)mem.integer("kind"); }) ==
          "dev.json: memory.kind: expected an integer, got string \"hbm3\"");
    CHECK(error_of([&] { (void)mem.number("latency"); }) ==
          "dev.json: memory.latency: missing required field");
    CHECK(error_of([&] { mem.reject_unknown(); }).find("unknown field") != std::string::npos);
    CHECK(error_of([&] { (void)root.integer("n"); }) ==
          "dev.json: n: expected an integer, got number");
    CHECK(root.integer_or("absent", 7) == 7);
    CHECK(error_of([] {
              (void)parse_json_text("{\"a\": ", "bad.json");
          }).rfind("bad.json: malformed JSON", 0) == 0);
    // A number that overflows a double is nlohmann's out_of_range, not a parse_error (found by
    // fuzz_model_config): still one line of bad input.
    CHECK(error_of([] {
              (void)parse_json_text("{\"dropout\": 1.0e99999}", "big.json");
          }).rfind("big.json: malformed JSON", 0) == 0);
}

TEST_CASE("duplicate JSON keys are refused, naming the key and its object") {
    // nlohmann would keep the last value silently.
    CHECK(error_of([] {
              (void)parse_json_text(R"({"hidden_size": 1, "hidden_size": 2})", "config.json");
          }) == "config.json: hidden_size: duplicate key");
    CHECK(error_of([] {
              (void)parse_json_text(R"({"layers": {"2": [1], "3": [2], "2": [3]}})", "loads.json");
          }) == "loads.json: layers.2: duplicate key");
    CHECK(error_of([] {
              (void)parse_json_text(R"({"a": [{"x": 1}, {"x": 2, "x": 3}]})", "arr.json");
          }) == "arr.json: a[].x: duplicate key");
    // The same key in sibling objects, or in an object and its parent, is fine.
    CHECK_NOTHROW(parse_json_text(R"({"a": {"x": 1}, "b": {"x": 2}, "x": {"x": 3}})", "ok.json"));
    CHECK_NOTHROW(parse_json_text(R"([{"x": 1}, {"x": 2}])", "ok.json"));
}

TEST_CASE("parallel_for covers every index once with thread-independent chunks") {
    for (int threads : {1, 2, 3, 8}) {
        for (size_t n : {0u, 1u, 7u, 64u, 1000u}) {
            std::vector<std::atomic<int>> hits(n);
            parallel_for(
                n, threads,
                [&](size_t b, size_t e) {
                    for (size_t i = b; i < e; ++i) {
                        hits[i]++;
                    }
                },
                4);
            for (size_t i = 0; i < n; ++i) {
                CHECK(hits[i] == 1);
            }
        }
    }
    CHECK_THROWS_AS(parallel_for(10, 2, [](size_t, size_t) { throw InputError("x"); }), InputError);
}

TEST_CASE("sha256 matches the FIPS 180-2 test vector") {
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
