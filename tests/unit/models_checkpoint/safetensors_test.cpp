// safetensors reader/writer: round trip, determinism, sharding, and the malformed corpus.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "dssim/base.h"
#include "dssim/models.h"

using namespace dssim;
using namespace dssim::models;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = DSSIM_SOURCE_DIR;

fs::path scratch(const std::string& name) {
    fs::path p = fs::path(DSSIM_BINARY_DIR) / "test_scratch" / "models_safetensors" / name;
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

TensorToWrite pattern_tensor(std::string name,
                             DType dtype,
                             std::vector<int64_t> shape,
                             uint8_t salt) {
    TensorToWrite t;
    t.name = std::move(name);
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.fill = [salt](uint64_t offset, std::span<std::byte> out) {
        for (size_t i = 0; i < out.size(); ++i) {
            out[i] = std::byte(static_cast<uint8_t>((offset + i) * 31 + salt));
        }
    };
    return t;
}

std::string error_of_bytes(const std::string& bytes) {
    try {
        (void)parse_safetensors(std::span<const std::byte>(
                                    reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                                "mem");
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

std::string with_header(const std::string& json, size_t data_bytes) {
    std::string s(8, '\0');
    uint64_t n = json.size();
    for (int i = 0; i < 8; ++i) {
        s[i] = static_cast<char>(n >> (8 * i));
    }
    return s + json + std::string(data_bytes, '\0');
}

}  // namespace

TEST_CASE("dtype names cover every safetensors dtype") {
    for (const char* name :
         {"F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I8", "I32", "I64", "U8"}) {
        auto t = parse_safetensors_dtype(name);
        REQUIRE(t.has_value());
        CHECK(safetensors_dtype_name(*t) == name);
    }
    CHECK_FALSE(parse_safetensors_dtype("F64").has_value());
    CHECK_FALSE(parse_safetensors_dtype("f32").has_value());
}

TEST_CASE("sharded write then read returns the same bytes; files are deterministic") {
    std::vector<TensorToWrite> ts;
    ts.push_back(pattern_tensor("b.weight", DType::BF16, {3, 5}, 1));
    ts.push_back(pattern_tensor("a.weight", DType::F8E4M3, {7, 3}, 2));
    ts.push_back(pattern_tensor("c.bias", DType::F32, {9}, 3));
    ts.push_back(pattern_tensor("d.empty", DType::I64, {0, 4}, 4));
    ts.push_back(pattern_tensor("e.idx", DType::I32, {2, 2}, 5));
    ts.push_back(pattern_tensor("f.u8", DType::U8, {3}, 6));
    ts.push_back(pattern_tensor("g.i8", DType::I8, {3}, 7));
    ts.push_back(pattern_tensor("h.f16", DType::F16, {3}, 8));
    ts.push_back(pattern_tensor("i.e5m2", DType::F8E5M2, {3}, 9));

    fs::path d1 = scratch("rt1");
    fs::path d2 = scratch("rt2");
    write_sharded_checkpoint(d1, ts, 40, {{"note", "x"}});
    write_sharded_checkpoint(d2, ts, 40, {{"note", "x"}});
    auto plans = plan_shards(ts, 40);
    CHECK(plans.size() >= 3);
    CHECK(plans.front().file_name ==
          "model-00001-of-0000" + std::to_string(plans.size()) + ".safetensors");
    for (const auto& p : plans) {
        CHECK(read_file(d1 / p.file_name) == read_file(d2 / p.file_name));
        std::string bytes = read_file(d1 / p.file_name);
        uint64_t n = 0;
        std::memcpy(&n, bytes.data(), 8);
        CHECK(n % 8 == 0);  // data section 8-byte aligned
    }
    CHECK(read_file(d1 / "model.safetensors.index.json") ==
          read_file(d2 / "model.safetensors.index.json"));

    Checkpoint ck = Checkpoint::open(d1);
    REQUIRE(ck.index().has_value());
    CHECK(ck.index()->metadata.at("note") == "x");
    uint64_t total = 0;
    for (const auto& t : ts) {
        total += t.num_bytes();
    }
    CHECK(*ck.index()->total_size == total);
    CHECK(ck.tensors().size() == ts.size());
    for (const auto& t : ts) {
        CAPTURE(t.name);
        TensorView v = ck.tensor(t.name);
        CHECK(v.info->dtype == t.dtype);
        CHECK(v.info->shape == t.shape);
        std::vector<std::byte> expect(t.num_bytes());
        if (!expect.empty()) {
            t.fill(0, expect);
        }
        REQUIRE(v.data.size() == expect.size());
        CHECK((expect.empty() || std::memcmp(v.data.data(), expect.data(), expect.size()) == 0));
    }
    CHECK_THROWS_WITH_AS((void)ck.tensor("nope"),
                         doctest::Contains("tensor 'nope': not in the checkpoint"), InputError);

    // A single file opens on its own too.
    Checkpoint one = Checkpoint::open(d1 / plans.front().file_name);
    CHECK(one.tensors().size() == plans.front().tensor_indices.size());
}

TEST_CASE("chunked writes do not depend on the chunk size") {
    std::vector<TensorToWrite> ts;
    ts.push_back(pattern_tensor("x", DType::F32, {1000}, 3));
    ts.push_back(pattern_tensor("y", DType::BF16, {777}, 4));
    std::vector<const TensorToWrite*> list{&ts[0], &ts[1]};
    fs::path d = scratch("chunks");
    write_safetensors_file(d / "a.safetensors", list, {}, 8);
    write_safetensors_file(d / "b.safetensors", list, {}, 1 << 20);
    CHECK(read_file(d / "a.safetensors") == read_file(d / "b.safetensors"));
}

TEST_CASE("in-memory parser rejects each defect with one line naming tensor and problem") {
    CHECK(error_of_bytes("abc") ==
          "mem: header: file is 3 bytes, too short for the 8-byte header length");
    CHECK(error_of_bytes(with_header("{}", 0)) == "");  // empty file is valid
    CHECK(error_of_bytes(with_header(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                                     4)) == "");  // scalar
    CHECK(
        error_of_bytes(with_header(
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[0],"data_offsets":[8,8]}})",
            8)) == "");  // zero-size tensor at the end
    CHECK(error_of_bytes(
              with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8))
              .find("tensor 'a': unknown key 'x'") != std::string::npos);
    CHECK(error_of_bytes(
              with_header(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8))
              .find("tensor 'a': shape entries must be non-negative integers") !=
          std::string::npos);
    CHECK(error_of_bytes(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8))
              .find("tensor 'a': missing \"data_offsets\"") != std::string::npos);
    CHECK(error_of_bytes(with_header(R"({"a":5})", 0)).find("tensor 'a': expected an object") !=
          std::string::npos);
    CHECK(error_of_bytes(with_header(R"({"__metadata__":[1]})", 0))
              .find("__metadata__: must be an object") != std::string::npos);
    CHECK(error_of_bytes(with_header(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4))
              .find("empty tensor name") != std::string::npos);
    CHECK(
        error_of_bytes(
            with_header(
                R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", 8))
            .find("out of range") != std::string::npos);
    std::string huge(8, '\xff');
    CHECK(error_of_bytes(huge).find("exceeds the 100000000-byte limit") != std::string::npos);
}

TEST_CASE("every file of the malformed corpus is rejected by the reader") {
    const fs::path bad = kSource / "tests/data/safetensors/bad";
    int cases = 0;
    for (const auto& e : fs::directory_iterator(bad)) {
        CAPTURE(e.path().string());
        std::string message;
        try {
            (void)Checkpoint::open(e.path());
        } catch (const InputError& err) {
            message = err.what();
        }
        CHECK(!message.empty());
        CHECK(message.find('\n') == std::string::npos);
        CHECK(message.find(e.path().filename().string()) != std::string::npos);
        ++cases;
    }
    CHECK(cases >= 25);
}

TEST_CASE("index parser") {
    CHECK_THROWS_WITH_AS(parse_safetensors_index(R"({"weight_map":{}})", "i.json"),
                         "i.json: weight_map: is empty", InputError);
    CHECK_THROWS_WITH_AS(parse_safetensors_index(R"({"weight_map":{"a":"x"},"extra":1})", "i.json"),
                         "i.json: extra: unknown field (expected metadata, weight_map)",
                         InputError);
    CHECK_THROWS_WITH_AS(parse_safetensors_index(R"({"weight_map":{"a":3}})", "i.json"),
                         "i.json: weight_map['a']: shard must be a file name string", InputError);
    CHECK_THROWS_WITH_AS(parse_safetensors_index(
                             R"({"metadata":{"total_size":-1},"weight_map":{"a":"x"}})", "i.json"),
                         "i.json: metadata.total_size: must be a non-negative integer", InputError);
    SafetensorsIndex ok = parse_safetensors_index(
        R"({"metadata":{"total_size":12,"k":"v"},"weight_map":{"a":"m.safetensors"}})", "i.json");
    CHECK(*ok.total_size == 12);
    CHECK(ok.metadata.at("k") == "v");
    CHECK(ok.weight_map.at("a") == "m.safetensors");
}
