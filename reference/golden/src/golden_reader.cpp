// Golden and candidate file readers.
#include "dssim/golden/golden_reader.h"

#include <zip.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <set>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/models/safetensors.h"
#include "hdf5_util.h"

namespace dssim::golden {

const HostTensor* GoldenFile::find(std::string_view name) const {
    for (const auto& t : tensors) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

namespace {

// Root datasets compared like tensors, in execution order (/logits is required in a golden).
constexpr std::array<const char*, 2> kOutputDatasets = {"logits", "mtp_logits"};

h5::Handle open_h5(const std::filesystem::path& path) {
    h5::silence_errors();
    if (!std::filesystem::exists(path)) throw_input_error(path.string(), "", "file not found");
    if (H5Fis_hdf5(path.c_str()) <= 0) {
        throw_input_error(path.string(), "", "not an HDF5 file (or truncated)");
    }
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        throw_input_error(path.string(), "", "HDF5 cannot open the file (truncated or corrupt?)");
    return h5::Handle(f);
}

herr_t collect_attr_name(hid_t /*loc*/, const char* name, const H5A_info_t* /*info*/, void* data) {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
}

void read_root_attributes(hid_t file, GoldenFile& g) {
    const std::string where = g.path.string();
    h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
    std::vector<std::string> names;
    if (!root.valid() || H5Aiterate2(root.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
                                     collect_attr_name, &names) < 0) {
        throw_input_error(where, "/", "unreadable root attributes");
    }
    for (const std::string& name : names) {
        h5::Handle attr(H5Aopen(root.get(), name.c_str(), H5P_DEFAULT));
        if (!attr.valid()) throw_input_error(where, name, "unreadable root attribute");
        h5::Handle type(H5Aget_type(attr.get()));
        if (H5Tget_class(type.get()) == H5T_STRING) {
            g.string_attributes[name] = *h5::read_string_attr(root.get(), name.c_str(), where);
        } else if (H5Tget_class(type.get()) == H5T_INTEGER) {
            g.int_attributes[name] = *h5::read_int_attr(root.get(), name.c_str(), where);
        }
    }
}

}  // namespace

GoldenFile read_golden(const std::filesystem::path& path) {
    GoldenFile g;
    g.path = path;
    const std::string fn = path.string();
    h5::Handle file = open_h5(path);
    read_root_attributes(file.get(), g);
    if (!g.int_attributes.contains("layout_version") || !h5::exists(file.get(), "tensors") ||
        !h5::exists(file.get(), "logits") || !h5::exists(file.get(), "tokens")) {
        throw_input_error(fn, "/",
                          "not a dssim golden file (needs /tensors, /logits, /tokens "
                          "and the layout_version attribute)");
    }
    h5::Handle group(H5Gopen2(file.get(), "tensors", H5P_DEFAULT));
    if (!group.valid()) throw_input_error(fn, "/tensors", "cannot open the group");
    std::set<int64_t> orders;
    for (const auto& name : h5::list_datasets(group.get(), fn)) {
        HostTensor t = h5::read_dataset(group.get(), name, fn);
        if (t.order < 0 || !orders.insert(t.order).second) {
            throw_input_error(fn, "/tensors/" + name + ".order",
                              "missing, negative or duplicate execution order");
        }
        g.tensors.push_back(std::move(t));
    }
    std::sort(g.tensors.begin(), g.tensors.end(),
              [](const HostTensor& a, const HostTensor& b) { return a.order < b.order; });
    // The model outputs close the execution order: /logits, then the MTP module's draft
    // logits, which each step computes after its main logits.
    for (const char* name : kOutputDatasets) {
        if (!h5::exists(file.get(), name)) continue;
        HostTensor t = h5::read_dataset(file.get(), name, fn);
        t.name = name;
        t.order = -1;
        g.tensors.push_back(std::move(t));
    }
    g.tokens = h5::read_dataset(file.get(), "tokens", fn);
    return g;
}

namespace {

std::vector<HostTensor> read_h5_candidate(const std::filesystem::path& path) {
    const std::string fn = path.string();
    h5::Handle file = open_h5(path);
    std::vector<HostTensor> out;
    if (h5::exists(file.get(), "tensors")) {
        h5::Handle group(H5Gopen2(file.get(), "tensors", H5P_DEFAULT));
        if (!group.valid()) throw_input_error(fn, "/tensors", "cannot open the group");
        for (const auto& name : h5::list_datasets(group.get(), fn)) {
            out.push_back(h5::read_dataset(group.get(), name, fn));
        }
        for (const char* name : kOutputDatasets) {
            if (!h5::exists(file.get(), name)) continue;
            HostTensor t = h5::read_dataset(file.get(), name, fn);
            t.name = name;
            out.push_back(std::move(t));
        }
    } else {
        for (const auto& name : h5::list_datasets(file.get(), fn)) {
            out.push_back(h5::read_dataset(file.get(), name, fn));
        }
    }
    return out;
}

std::vector<HostTensor> read_safetensors_candidate(const std::filesystem::path& path) {
    const models::SafetensorsFile file(path);
    std::vector<HostTensor> out;
    for (const auto& info : file.header().tensors) {
        HostTensor t;
        t.name = info.name;
        t.type = elem_type_of(info.dtype);
        t.shape = info.shape;
        const models::TensorView view = file.view(info);
        t.bytes.assign(view.data.begin(), view.data.end());
        out.push_back(std::move(t));
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

// Value text of `'key': value` in the npy header dict (up to the next top-level comma).
std::string_view dict_value(std::string_view header,
                            std::string_view key,
                            std::string_view origin,
                            const std::string& name) {
    std::string quoted(1, '\'');  // built by append: GCC 12 warns (falsely) on operator+ here
    quoted.append(key);
    quoted.push_back('\'');
    size_t pos = header.find(quoted);
    if (pos == std::string_view::npos)
        throw_input_error(origin, name, "npy header lacks " + quoted);
    pos = header.find(':', pos + quoted.size());
    if (pos == std::string_view::npos) throw_input_error(origin, name, "malformed npy header");
    ++pos;
    int depth = 0;
    size_t end = pos;
    for (; end < header.size(); ++end) {
        const char c = header[end];
        if (c == '(') ++depth;
        if (c == ')') --depth;
        if ((c == ',' && depth == 0) || (c == '}' && depth == 0)) break;
    }
    return trim(header.substr(pos, end - pos));
}

std::optional<ElemType> npy_type(std::string_view descr) {
    if (descr.size() < 3) return std::nullopt;
    const char order = descr[0];
    const std::string_view code = descr.substr(1);
    const bool single = code.size() == 2 && code[1] == '1';
    if (order == '>' && !single) return std::nullopt;  // big-endian multi-byte
    if (order != '<' && order != '|' && order != '=' && order != '>') return std::nullopt;
    static constexpr std::pair<std::string_view, ElemType> kCodes[] = {
        {"f8", ElemType::F64}, {"f4", ElemType::F32}, {"f2", ElemType::F16}, {"i8", ElemType::I64},
        {"i4", ElemType::I32}, {"i2", ElemType::I16}, {"i1", ElemType::I8},  {"u8", ElemType::U64},
        {"u4", ElemType::U32}, {"u2", ElemType::U16}, {"u1", ElemType::U8}};
    for (const auto& [c, t] : kCodes) {
        if (code == c) return t;
    }
    return std::nullopt;
}

}  // namespace

HostTensor parse_npy(std::string_view bytes, std::string_view origin, std::string name) {
    static constexpr std::string_view kMagic = "\x93NUMPY";
    if (bytes.size() < 10 || bytes.substr(0, 6) != kMagic) {
        throw_input_error(origin, name, "not a .npy array (bad magic)");
    }
    const auto major = static_cast<uint8_t>(bytes[6]);
    size_t header_len = 0;
    size_t offset = 0;
    if (major == 1) {
        header_len = static_cast<uint8_t>(bytes[8]) |
                     (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) throw_input_error(origin, name, "truncated .npy header");
        for (int i = 0; i < 4; ++i) {
            header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
        }
        offset = 12;
    } else {
        throw_input_error(origin, name, "unsupported .npy version " + std::to_string(major));
    }
    if (bytes.size() < offset + header_len)
        throw_input_error(origin, name, "truncated .npy header");
    const std::string_view header = bytes.substr(offset, header_len);
    std::string_view descr = dict_value(header, "descr", origin, name);
    if (descr.size() < 2 || descr.front() != '\'' || descr.back() != '\'') {
        throw_input_error(origin, name, "npy descr is not a simple type string");
    }
    descr = descr.substr(1, descr.size() - 2);
    const std::optional<ElemType> type = npy_type(descr);
    if (!type) {
        throw_input_error(origin, name,
                          "unsupported npy dtype '" + std::string(descr) +
                              "' (little-endian float/int types only)");
    }
    if (dict_value(header, "fortran_order", origin, name) != "False") {
        throw_input_error(origin, name, "Fortran-order arrays are not supported (save C order)");
    }
    std::string_view shape_text = dict_value(header, "shape", origin, name);
    if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')') {
        throw_input_error(origin, name, "malformed npy shape");
    }
    shape_text = shape_text.substr(1, shape_text.size() - 2);
    HostTensor t;
    t.name = std::move(name);
    t.type = *type;
    while (!trim(shape_text).empty()) {
        const size_t comma = shape_text.find(',');
        const std::string_view item = trim(shape_text.substr(0, comma));
        int64_t d = 0;
        auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), d);
        if (ec != std::errc() || ptr != item.data() + item.size() || d < 0) {
            throw_input_error(origin, t.name,
                              "malformed npy shape entry '" + std::string(item) + "'");
        }
        t.shape.push_back(d);
        if (comma == std::string_view::npos) break;
        shape_text = shape_text.substr(comma + 1);
    }
    const size_t data_offset = offset + header_len;
    size_t expected = 0;
    if (__builtin_mul_overflow(static_cast<size_t>(t.elements()), elem_size(t.type), &expected)) {
        throw_input_error(origin, t.name, "npy shape " + shape_string(t.shape) + " is too large");
    }
    if (bytes.size() - data_offset != expected) {
        throw_input_error(origin, t.name,
                          "npy data is " + std::to_string(bytes.size() - data_offset) +
                              " bytes, shape " + shape_string(t.shape) + " needs " +
                              std::to_string(expected));
    }
    t.bytes.resize(expected);
    // memcpy's pointers must be valid even for 0 bytes: a zero-element array copies nothing.
    if (expected > 0) std::memcpy(t.bytes.data(), bytes.data() + data_offset, expected);
    return t;
}

namespace {

std::vector<HostTensor> read_npz_candidate(const std::filesystem::path& path) {
    const std::string fn = path.string();
    int error = 0;
    zip_t* archive = zip_open(fn.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error);
    if (archive == nullptr) throw_input_error(fn, "", "not a readable .npz (zip) archive");
    struct Closer {
        zip_t* z;
        ~Closer() { zip_discard(z); }
    } closer{archive};
    std::vector<HostTensor> out;
    const zip_int64_t n = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
        zip_stat_t st;
        if (zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &st) != 0) {
            throw_input_error(fn, "entry " + std::to_string(i), "unreadable zip entry");
        }
        std::string name = st.name;
        if (name.ends_with("/")) continue;  // directory entry
        if (!name.ends_with(".npy")) throw_input_error(fn, name, "npz member is not a .npy file");
        zip_file_t* member = zip_fopen_index(archive, static_cast<zip_uint64_t>(i), 0);
        if (member == nullptr) throw_input_error(fn, name, "cannot open the zip member");
        std::string data(static_cast<size_t>(st.size), '\0');
        const zip_int64_t got = zip_fread(member, data.data(), data.size());
        zip_fclose(member);
        if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) {
            throw_input_error(fn, name, "truncated or corrupt zip member");
        }
        name.resize(name.size() - 4);
        out.push_back(parse_npy(data, fn, name));
    }
    return out;
}

}  // namespace

std::vector<HostTensor> read_candidate(const std::filesystem::path& path) {
    const std::string fn = path.string();
    if (!std::filesystem::exists(path)) throw_input_error(fn, "", "file not found");
    const std::string ext = path.extension().string();
    if (ext == ".h5" || ext == ".hdf5") return read_h5_candidate(path);
    if (ext == ".safetensors") return read_safetensors_candidate(path);
    if (ext == ".npz") return read_npz_candidate(path);
    if (ext == ".npy") {
        std::vector<HostTensor> out;
        out.push_back(parse_npy(read_file(path), fn, path.stem().string()));
        return out;
    }
    throw_input_error(fn, "",
                      "unknown candidate format (expected .h5, .hdf5, .safetensors, "
                      ".npy or .npz)");
}

}  // namespace dssim::golden
