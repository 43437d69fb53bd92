// safetensors reader (mmap + full validation) and streaming writer. The validation rules follow
// the reference implementation (huggingface/safetensors): header length capped, tensors tile the
// data section exactly (no gap, no overlap, no trailing bytes), shape x dtype size == byte length.
#include "dssim/models/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"

namespace dssim::models {

namespace {

struct DTypeName {
    DType type;
    std::string_view name;
};
constexpr DTypeName kDTypeNames[] = {
    {DType::F32, "F32"},        {DType::F16, "F16"},        {DType::BF16, "BF16"},
    {DType::F8E4M3, "F8_E4M3"}, {DType::F8E5M2, "F8_E5M2"}, {DType::I8, "I8"},
    {DType::I32, "I32"},        {DType::I64, "I64"},        {DType::U8, "U8"},
};

std::string tensor_field(std::string_view name) {
    return "tensor '" + std::string(name) + "'";
}

// Rejects JSON nested deeper than `limit` before handing it to the parser, so adversarial
// headers ("[[[[...") cannot exhaust the stack. Strings are skipped (brackets inside them
// do not count).
bool nesting_within(std::string_view text, int limit) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\') {
                ++i;
            } else if (ch == '"') {
                in_string = false;
            }
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > limit) {
                return false;
            }
        } else if (ch == '}' || ch == ']') {
            --depth;
        }
    }
    return true;
}

// Parses `text` as a JSON object, rejecting duplicate keys at the top level (nlohmann would
// silently keep the last one, hiding a defect).
Json parse_object_no_duplicates(std::string_view text,
                                std::string_view origin,
                                std::string_view what) {
    if (!nesting_within(text, 32)) {
        throw_input_error(origin, what, "JSON nested deeper than 32 levels");
    }
    std::set<std::string> seen;
    std::string duplicate;
    auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
        if (event == Json::parse_event_t::key && depth == 1 && duplicate.empty()) {
            std::string key = parsed.get<std::string>();
            if (!seen.insert(key).second) {
                duplicate = key;
            }
        }
        return true;
    };
    Json j;
    try {
        j = Json::parse(text.begin(), text.end(), callback);
    } catch (const Json::exception& e) {
        throw_input_error(origin, what, std::string("malformed JSON: ") + e.what());
    }
    if (!j.is_object()) {
        throw_input_error(origin, what,
                          std::string("expected a JSON object, got ") + j.type_name());
    }
    if (!duplicate.empty()) {
        throw_input_error(origin, what, "duplicate key '" + duplicate + "'");
    }
    return j;
}

bool as_u64(const Json& v, uint64_t& out) {
    if (v.is_number_unsigned()) {
        out = v.get<uint64_t>();
        return true;
    }
    if (v.is_number_integer() && v.get<int64_t>() >= 0) {
        out = static_cast<uint64_t>(v.get<int64_t>());
        return true;
    }
    return false;
}

TensorInfo parse_entry(const std::string& name,
                       const Json& entry,
                       uint64_t data_size,
                       std::string_view origin) {
    std::string field = tensor_field(name);
    auto fail = [&](const std::string& problem) { throw_input_error(origin, field, problem); };
    if (name.empty()) {
        fail("empty tensor name");
    }
    if (!entry.is_object()) {
        fail(std::string("expected an object with dtype/shape/data_offsets, got ") +
             entry.type_name());
    }
    for (const auto& [key, value] : entry.items()) {
        if (key != "dtype" && key != "shape" && key != "data_offsets") {
            fail("unknown key '" + key + "' (expected dtype, shape, data_offsets)");
        }
    }
    TensorInfo info;
    info.name = name;
    auto dt = entry.find("dtype");
    if (dt == entry.end() || !dt->is_string()) {
        fail("missing or non-string \"dtype\"");
    }
    auto parsed = parse_safetensors_dtype(dt->get<std::string>());
    if (!parsed) {
        fail("unknown dtype \"" + dt->get<std::string>() +
             "\" (known: F32 F16 BF16 F8_E4M3 F8_E5M2 I8 I32 I64 U8)");
    }
    info.dtype = *parsed;
    auto sh = entry.find("shape");
    if (sh == entry.end() || !sh->is_array()) {
        fail("missing or non-array \"shape\"");
    }
    uint64_t elements = 1;
    bool overflow = false;
    for (const auto& d : *sh) {
        uint64_t dim = 0;
        if (!as_u64(d, dim) || dim > static_cast<uint64_t>(INT64_MAX)) {
            fail("shape entries must be non-negative integers");
        }
        info.shape.push_back(static_cast<int64_t>(dim));
        uint64_t next = 0;
        if (__builtin_mul_overflow(elements, dim, &next)) {
            overflow = true;
        }
        elements = next;
    }
    uint64_t bytes = 0;
    if (overflow || __builtin_mul_overflow(elements, dtype_size(info.dtype), &bytes)) {
        // A zero dimension makes the product 0 regardless of the overflowing part.
        bool has_zero = std::find(info.shape.begin(), info.shape.end(), 0) != info.shape.end();
        if (!has_zero) {
            fail("shape product overflows 64 bits");
        }
        bytes = 0;
    }
    auto off = entry.find("data_offsets");
    if (off == entry.end() || !off->is_array() || off->size() != 2) {
        fail("missing \"data_offsets\" or not an array [begin, end]");
    }
    if (!as_u64((*off)[0], info.begin) || !as_u64((*off)[1], info.end)) {
        fail("data_offsets must be non-negative integers");
    }
    if (info.begin > info.end) {
        fail("data_offsets begin " + std::to_string(info.begin) + " > end " +
             std::to_string(info.end));
    }
    if (info.end > data_size) {
        fail("data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
             ") out of range: the data section has " + std::to_string(data_size) + " bytes");
    }
    if (info.end - info.begin != bytes) {
        fail("shape x dtype size = " + std::to_string(bytes) + " bytes but data_offsets span " +
             std::to_string(info.end - info.begin) + " bytes");
    }
    return info;
}

uint64_t read_le64(const std::byte* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
        v = (v << 8) | static_cast<uint64_t>(p[i]);
    }
    return v;
}

}  // namespace

std::string_view safetensors_dtype_name(DType type) {
    for (const auto& d : kDTypeNames) {
        if (d.type == type) {
            return d.name;
        }
    }
    return "?";
}

std::optional<DType> parse_safetensors_dtype(std::string_view name) {
    for (const auto& d : kDTypeNames) {
        if (d.name == name) {
            return d.type;
        }
    }
    return std::nullopt;
}

uint64_t TensorInfo::num_elements() const {
    uint64_t n = 1;
    for (int64_t d : shape) {
        n *= static_cast<uint64_t>(d);
    }
    return n;
}

SafetensorsHeader parse_safetensors(std::span<const std::byte> file, std::string_view origin) {
    if (file.size() < 8) {
        throw_input_error(origin, "header",
                          "file is " + std::to_string(file.size()) +
                              " bytes, too short for the 8-byte header length");
    }
    SafetensorsHeader h;
    h.header_size = read_le64(file.data());
    uint64_t available = file.size() - 8;
    if (h.header_size > kMaxSafetensorsHeader) {
        throw_input_error(origin, "header",
                          "header length " + std::to_string(h.header_size) + " exceeds the " +
                              std::to_string(kMaxSafetensorsHeader) + "-byte limit");
    }
    if (h.header_size > available) {
        throw_input_error(origin, "header",
                          "header length " + std::to_string(h.header_size) + " exceeds the " +
                              std::to_string(available) + " bytes after the length field");
    }
    if (h.header_size < 2) {
        throw_input_error(
            origin, "header",
            "header length " + std::to_string(h.header_size) + " is too small for a JSON object");
    }
    h.data_size = available - h.header_size;
    std::string_view text(reinterpret_cast<const char*>(file.data() + 8), h.header_size);
    if (text.front() != '{') {
        throw_input_error(origin, "header", "header does not start with '{'");
    }
    Json j = parse_object_no_duplicates(text, origin, "header");

    for (const auto& [key, value] : j.items()) {
        if (key == "__metadata__") {
            if (!value.is_object()) {
                throw_input_error(origin, "__metadata__", "must be an object of strings");
            }
            for (const auto& [mk, mv] : value.items()) {
                if (!mv.is_string()) {
                    throw_input_error(origin, "__metadata__." + mk,
                                      std::string("must be a string, got ") + mv.type_name());
                }
                h.metadata.emplace(mk, mv.get<std::string>());
            }
            continue;
        }
        h.tensors.push_back(parse_entry(key, value, h.data_size, origin));
    }
    std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.begin != b.begin ? a.begin < b.begin
                                  : (a.end != b.end ? a.end < b.end : a.name < b.name);
    });
    uint64_t cursor = 0;
    const TensorInfo* previous = nullptr;
    for (const auto& t : h.tensors) {
        if (t.begin < cursor) {
            throw_input_error(origin, tensor_field(t.name),
                              "data_offsets [" + std::to_string(t.begin) + ", " +
                                  std::to_string(t.end) + ") overlap tensor '" + previous->name +
                                  "' [" + std::to_string(previous->begin) + ", " +
                                  std::to_string(previous->end) + ")");
        }
        if (t.begin > cursor) {
            throw_input_error(origin, tensor_field(t.name),
                              "gap of " + std::to_string(t.begin - cursor) +
                                  " unused bytes before this tensor (data_offsets begin " +
                                  std::to_string(t.begin) + ", previous data ends at " +
                                  std::to_string(cursor) + ")");
        }
        if (t.end > cursor) {
            cursor = t.end;
            previous = &t;
        }
    }
    if (cursor != h.data_size) {
        throw_input_error(origin, "data",
                          std::to_string(h.data_size - cursor) +
                              " trailing bytes after the last tensor (data section " +
                              std::to_string(h.data_size) + " bytes, tensors cover " +
                              std::to_string(cursor) + ")");
    }
    return h;
}

// ---- SafetensorsFile ----

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
    std::string origin = path.string();
    int fd = ::open(origin.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw_input_error(origin, "", std::string("cannot open: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw_input_error(origin, "", "not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
        void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            ::close(fd);
            throw_input_error(origin, "", std::string("cannot map: ") + std::strerror(errno));
        }
        map_ = static_cast<const std::byte*>(m);
    }
    ::close(fd);
    try {
        header_ = parse_safetensors(std::span<const std::byte>(map_, size_), origin);
    } catch (...) {
        if (map_ != nullptr) {
            ::munmap(const_cast<std::byte*>(map_), size_);
        }
        throw;
    }
    for (size_t i = 0; i < header_.tensors.size(); ++i) {
        by_name_.emplace(header_.tensors[i].name, i);
    }
}

SafetensorsFile::~SafetensorsFile() {
    if (map_ != nullptr) {
        ::munmap(const_cast<std::byte*>(map_), size_);
    }
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &header_.tensors[it->second];
}

TensorView SafetensorsFile::view(const TensorInfo& info) const {
    const std::byte* base = map_ + 8 + header_.header_size;
    return TensorView{&info, std::span<const std::byte>(base + info.begin, info.num_bytes())};
}

// ---- Index ----

SafetensorsIndex parse_safetensors_index(std::string_view text, std::string_view origin) {
    Json j = parse_object_no_duplicates(text, origin, "(root)");
    SafetensorsIndex index;
    for (const auto& [key, value] : j.items()) {
        if (key != "metadata" && key != "weight_map") {
            throw_input_error(origin, key, "unknown field (expected metadata, weight_map)");
        }
    }
    auto meta = j.find("metadata");
    if (meta != j.end() && !meta->is_null()) {
        if (!meta->is_object()) {
            throw_input_error(origin, "metadata", "must be an object");
        }
        for (const auto& [k, v] : meta->items()) {
            if (k == "total_size") {
                uint64_t total = 0;
                // HF writes an integer; accept an integral float too (some tools do).
                if (v.is_number_float() && v.get<double>() >= 0 && v.get<double>() < 1.8e19 &&
                    v.get<double>() ==
                        static_cast<double>(static_cast<uint64_t>(v.get<double>()))) {
                    total = static_cast<uint64_t>(v.get<double>());
                } else if (!as_u64(v, total)) {
                    throw_input_error(origin, "metadata.total_size",
                                      "must be a non-negative integer");
                }
                index.total_size = total;
            } else if (v.is_string()) {
                index.metadata.emplace(k, v.get<std::string>());
            } else {
                throw_input_error(origin, "metadata." + k,
                                  std::string("must be a string, got ") + v.type_name());
            }
        }
    }
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) {
        throw_input_error(origin, "weight_map", "missing or not an object");
    }
    for (const auto& [name, shard] : wm->items()) {
        std::string field = "weight_map['" + name + "']";
        if (!shard.is_string()) {
            throw_input_error(origin, field, "shard must be a file name string");
        }
        std::string file = shard.get<std::string>();
        if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
            file.find('\\') != std::string::npos || file.find('\0') != std::string::npos) {
            throw_input_error(origin, field,
                              "shard '" + file + "' must be a plain file name in the directory");
        }
        index.weight_map.emplace(name, file);
    }
    if (index.weight_map.empty()) {
        throw_input_error(origin, "weight_map", "is empty");
    }
    return index;
}

// ---- Checkpoint ----

Checkpoint Checkpoint::open(const std::filesystem::path& path) {
    Checkpoint ck;
    namespace fs = std::filesystem;
    if (fs::is_regular_file(path)) {
        ck.dir_ = path.parent_path();
        ck.shards_.push_back(std::make_unique<SafetensorsFile>(path));
    } else if (fs::is_directory(path)) {
        ck.dir_ = path;
        fs::path index_path = path / "model.safetensors.index.json";
        fs::path single = path / "model.safetensors";
        if (fs::exists(index_path)) {
            std::string origin = index_path.string();
            ck.index_ = parse_safetensors_index(read_file(index_path), origin);
            std::set<std::string> files;
            for (const auto& [name, file] : ck.index_->weight_map) {
                if (!fs::is_regular_file(path / file)) {
                    throw_input_error(origin, "weight_map['" + name + "']",
                                      "shard '" + file + "' does not exist");
                }
                files.insert(file);
            }
            std::map<std::string, const SafetensorsFile*> by_file;
            for (const auto& file : files) {
                ck.shards_.push_back(std::make_unique<SafetensorsFile>(path / file));
                by_file[file] = ck.shards_.back().get();
            }
            for (const auto& [name, file] : ck.index_->weight_map) {
                if (by_file[file]->find(name) == nullptr) {
                    throw_input_error(origin, "weight_map['" + name + "']",
                                      "tensor is not in shard '" + file + "'");
                }
            }
            uint64_t total = 0;
            for (const auto& shard : ck.shards_) {
                std::string file = shard->path().filename().string();
                for (const auto& t : shard->header().tensors) {
                    auto it = ck.index_->weight_map.find(t.name);
                    if (it == ck.index_->weight_map.end() || it->second != file) {
                        throw_input_error(
                            shard->path().string(), tensor_field(t.name),
                            it == ck.index_->weight_map.end()
                                ? "not listed in model.safetensors.index.json"
                                : "index maps it to another shard '" + it->second + "'");
                    }
                    total += t.num_bytes();
                }
            }
            if (ck.index_->total_size && *ck.index_->total_size != total) {
                throw_input_error(origin, "metadata.total_size",
                                  std::to_string(*ck.index_->total_size) +
                                      " does not match the tensor bytes in the shards (" +
                                      std::to_string(total) + ")");
            }
        } else if (fs::is_regular_file(single)) {
            ck.shards_.push_back(std::make_unique<SafetensorsFile>(single));
        } else {
            throw_input_error(path.string(), "",
                              "no model.safetensors.index.json or model.safetensors in directory");
        }
    } else {
        throw_input_error(path.string(), "", "no such checkpoint file or directory");
    }
    for (const auto& shard : ck.shards_) {
        for (const auto& t : shard->header().tensors) {
            ck.tensors_.emplace(t.name, Entry{&t, shard.get()});
        }
    }
    return ck;
}

const Checkpoint::Entry* Checkpoint::find(std::string_view name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

TensorView Checkpoint::tensor(std::string_view name) const {
    const Entry* e = find(name);
    if (e == nullptr) {
        throw_input_error(dir_.string(), tensor_field(name), "not in the checkpoint");
    }
    return e->file->view(*e->info);
}

// ---- Writer ----

uint64_t TensorToWrite::num_bytes() const {
    uint64_t n = dtype_size(dtype);
    for (int64_t d : shape) {
        n *= static_cast<uint64_t>(d);
    }
    return n;
}

std::string safetensors_header_json(const std::vector<const TensorToWrite*>& tensors,
                                    const std::map<std::string, std::string>& metadata) {
    // Built by concatenation: an ordered JSON object looks keys up linearly, which is quadratic
    // for the thousands of tensors of a shard.
    std::string text = "{";
    if (!metadata.empty()) {
        Json m = Json::object();
        for (const auto& [k, v] : metadata) {
            m[k] = v;
        }
        text += "\"__metadata__\":" + m.dump();
    }
    uint64_t offset = 0;
    for (const TensorToWrite* t : tensors) {
        OrderedJson e;
        e["dtype"] = std::string(safetensors_dtype_name(t->dtype));
        e["shape"] = t->shape;
        uint64_t end = offset + t->num_bytes();
        e["data_offsets"] = OrderedJson::array({offset, end});
        if (text.size() > 1) {
            text += ",";
        }
        text += Json(t->name).dump() + ":" + e.dump();
        offset = end;
    }
    text += "}";
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

void write_safetensors_file(const std::filesystem::path& path,
                            const std::vector<const TensorToWrite*>& tensors,
                            const std::map<std::string, std::string>& metadata,
                            uint64_t chunk_bytes,
                            const std::function<void(uint64_t)>& on_bytes) {
    std::set<std::string_view> names;
    for (const TensorToWrite* t : tensors) {
        if (!names.insert(t->name).second) {
            throw_input_error(path.string(), tensor_field(t->name), "written twice");
        }
    }
    std::string header = safetensors_header_json(tensors, metadata);
    AtomicFile out(path);
    unsigned char len[8];
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) {
        len[i] = static_cast<unsigned char>(n >> (8 * i));
    }
    out.write(len, 8);
    out.write(header);
    chunk_bytes = std::max<uint64_t>(8, chunk_bytes - chunk_bytes % 8);
    std::vector<std::byte> buffer;
    for (const TensorToWrite* t : tensors) {
        uint64_t total = t->num_bytes();
        for (uint64_t offset = 0; offset < total; offset += chunk_bytes) {
            uint64_t size = std::min(chunk_bytes, total - offset);
            buffer.resize(size);
            t->fill(offset, std::span<std::byte>(buffer.data(), size));
            out.write(buffer.data(), size);
            if (on_bytes) {
                on_bytes(size);
            }
        }
    }
    out.commit();
}

std::vector<ShardPlan> plan_shards(const std::vector<TensorToWrite>& tensors, uint64_t shard_size) {
    std::vector<ShardPlan> plans;
    for (size_t i = 0; i < tensors.size(); ++i) {
        uint64_t bytes = tensors[i].num_bytes();
        if (plans.empty() ||
            (!plans.back().tensor_indices.empty() && plans.back().bytes + bytes > shard_size)) {
            plans.emplace_back();
        }
        plans.back().tensor_indices.push_back(i);
        plans.back().bytes += bytes;
    }
    if (plans.empty()) {
        plans.emplace_back();
    }
    char buf[64];
    for (size_t i = 0; i < plans.size(); ++i) {
        std::snprintf(buf, sizeof(buf), "model-%05zu-of-%05zu.safetensors", i + 1, plans.size());
        plans[i].file_name = buf;
    }
    return plans;
}

void write_sharded_checkpoint(const std::filesystem::path& dir,
                              const std::vector<TensorToWrite>& tensors,
                              uint64_t shard_size,
                              const std::map<std::string, std::string>& index_metadata,
                              const std::function<void(uint64_t)>& on_bytes) {
    if (tensors.empty()) {
        throw_input_error(dir.string(), "", "no tensors to write");
    }
    std::vector<ShardPlan> plans = plan_shards(tensors, shard_size);
    std::map<std::string, std::string> weight_map;
    uint64_t total = 0;
    for (const auto& plan : plans) {
        std::vector<const TensorToWrite*> list;
        for (size_t i : plan.tensor_indices) {
            list.push_back(&tensors[i]);
            weight_map[tensors[i].name] = plan.file_name;
        }
        write_safetensors_file(dir / plan.file_name, list, {{"format", "pt"}}, 64ull << 20,
                               on_bytes);
        total += plan.bytes;
    }
    // std::map-backed JSON: every object's keys are written sorted.
    Json index;
    Json meta = Json::object();
    for (const auto& [k, v] : index_metadata) {
        meta[k] = v;
    }
    meta["total_size"] = total;
    index["metadata"] = meta;
    index["weight_map"] = weight_map;
    write_file_atomic(dir / "model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace dssim::models
