// HDF5 helpers: reproducible property lists and typed access with InputError reporting.
#include "hdf5_util.h"

#include <cstring>

#include "dssim/base/error.h"

namespace dssim::golden::h5 {

void Handle::reset() {
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = H5I_INVALID_HID;
}

void silence_errors() {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

namespace {

[[noreturn]] void fail(std::string_view file, std::string_view object, std::string_view problem) {
    throw_input_error(file, object, problem);
}

Handle check(hid_t id, std::string_view file, std::string_view object, std::string_view what) {
    if (id < 0) fail(file, object, std::string("HDF5 could not ") + std::string(what));
    return Handle(id);
}

void check_status(herr_t status,
                  std::string_view file,
                  std::string_view object,
                  std::string_view what) {
    if (status < 0) fail(file, object, std::string("HDF5 could not ") + std::string(what));
}

// Creation properties shared by groups, datasets and the file's root group: no access,
// modification, change or birth times in object headers, so identical content gives
// identical bytes.
void no_times(hid_t plist) {
    if (H5Pset_obj_track_times(plist, false) < 0) {
        throw InputError("HDF5: cannot disable object time tracking");
    }
}

Handle dataspace(const std::vector<int64_t>& shape) {
    if (shape.empty()) return Handle(H5Screate(H5S_SCALAR));
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
}

}  // namespace

Handle reproducible_fapl() {
    Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
    // Fixed format bounds: the bytes must not change with the library's default format
    // choices, and 1.8-format files open in every HDF5 (and h5py) still in use.
    if (H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18) < 0) {
        throw InputError("HDF5: cannot set format version bounds");
    }
    return fapl;
}

Handle reproducible_gcpl() {
    Handle gcpl(H5Pcreate(H5P_GROUP_CREATE));
    no_times(gcpl.get());
    return gcpl;
}

Handle reproducible_dcpl() {
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
    no_times(dcpl.get());
    // Data is always written whole right after creation; a fill pass would only cost time.
    H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER);
    H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY);
    return dcpl;
}

hid_t native_type(ElemType type) {
    switch (type) {
        case ElemType::F64:
            return H5T_IEEE_F64LE;
        case ElemType::F32:
            return H5T_IEEE_F32LE;
        case ElemType::F16:
        case ElemType::BF16:
        case ElemType::U16:
            return H5T_STD_U16LE;
        case ElemType::E4M3:
        case ElemType::E5M2:
        case ElemType::U8:
            return H5T_STD_U8LE;
        case ElemType::I64:
            return H5T_STD_I64LE;
        case ElemType::I32:
            return H5T_STD_I32LE;
        case ElemType::I16:
            return H5T_STD_I16LE;
        case ElemType::I8:
            return H5T_STD_I8LE;
        case ElemType::U64:
            return H5T_STD_U64LE;
        case ElemType::U32:
            return H5T_STD_U32LE;
    }
    return H5T_STD_U8LE;
}

std::optional<ElemType> elem_type_of_h5(hid_t type) {
    const H5T_class_t cls = H5Tget_class(type);
    const size_t size = H5Tget_size(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) return std::nullopt;
    if (size > 1 && H5Tget_order(type) != H5T_ORDER_LE) return std::nullopt;
    if (cls == H5T_FLOAT) {
        if (size == 8) return ElemType::F64;
        if (size == 4) return ElemType::F32;
        if (size == 2) return ElemType::F16;  // h5py's float16
        return std::nullopt;
    }
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
        case 8:
            return is_signed ? ElemType::I64 : ElemType::U64;
        case 4:
            return is_signed ? ElemType::I32 : ElemType::U32;
        case 2:
            return is_signed ? ElemType::I16 : ElemType::U16;
        case 1:
            return is_signed ? ElemType::I8 : ElemType::U8;
        default:
            return std::nullopt;
    }
}

bool exists(hid_t parent, const std::string& path) {
    size_t pos = 0;
    while (pos <= path.size()) {
        const size_t slash = path.find('/', pos);
        const std::string prefix = path.substr(0, slash);
        if (H5Lexists(parent, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
        if (slash == std::string::npos) break;
        pos = slash + 1;
    }
    return !path.empty();
}

void ensure_groups(hid_t parent, std::string_view path, std::string_view file) {
    Handle gcpl = reproducible_gcpl();
    size_t pos = 0;
    while (pos < path.size()) {
        size_t slash = path.find('/', pos);
        if (slash == std::string_view::npos) slash = path.size();
        const std::string prefix(path.substr(0, slash));
        if (slash == pos) fail(file, path, "empty path component");
        if (H5Lexists(parent, prefix.c_str(), H5P_DEFAULT) <= 0) {
            check(H5Gcreate2(parent, prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), file,
                  prefix, "create the group");
        }
        pos = slash + 1;
    }
}

void write_dataset(hid_t parent,
                   const std::string& path,
                   ElemType type,
                   const std::vector<int64_t>& shape,
                   const void* data,
                   int64_t order,
                   std::string_view file) {
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos)
        ensure_groups(parent, std::string_view(path).substr(0, slash), file);
    if (H5Lexists(parent, path.c_str(), H5P_DEFAULT) > 0) {
        fail(file, path, "written twice (tensor names must be unique)");
    }
    Handle space = dataspace(shape);
    Handle dcpl = reproducible_dcpl();
    Handle dset = check(H5Dcreate2(parent, path.c_str(), native_type(type), space.get(),
                                   H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                        file, path, "create the dataset");
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    if (n > 0) {
        check_status(H5Dwrite(dset.get(), native_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                     file, path, "write the dataset");
    }
    write_string_attr(dset.get(), "dtype", elem_type_name(type), file);
    write_int_attr(dset.get(), "order", order, file);
}

void write_string_dataset(hid_t parent,
                          const std::string& path,
                          const std::vector<std::string>& values,
                          std::string_view file) {
    size_t width = 1;
    for (const auto& v : values)
        width = std::max(width, v.size());
    Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.get(), width);
    H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Handle space = dataspace({static_cast<int64_t>(values.size())});
    Handle dcpl = reproducible_dcpl();
    Handle dset = check(H5Dcreate2(parent, path.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                   dcpl.get(), H5P_DEFAULT),
                        file, path, "create the dataset");
    std::string buffer(values.size() * width, '\0');
    for (size_t i = 0; i < values.size(); ++i)
        std::copy(values[i].begin(), values[i].end(), buffer.begin() + i * width);
    if (!values.empty()) {
        check_status(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()),
                     file, path, "write the dataset");
    }
}

void write_string_attr(hid_t object,
                       const char* name,
                       std::string_view value,
                       std::string_view file) {
    // Fixed-length strings: variable-length ones live in a global heap whose unused bytes
    // HDF5 does not clear, which would make files differ from run to run.
    Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.get(), std::max<size_t>(value.size(), 1));
    H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Handle space(H5Screate(H5S_SCALAR));
    Handle attr = check(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        file, name, "create the attribute");
    std::string buffer(value);
    if (buffer.empty()) buffer.push_back('\0');
    check_status(H5Awrite(attr.get(), type.get(), buffer.data()), file, name,
                 "write the attribute");
}

void write_int_attr(hid_t object, const char* name, int64_t value, std::string_view file) {
    Handle space(H5Screate(H5S_SCALAR));
    Handle attr =
        check(H5Acreate2(object, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), file,
              name, "create the attribute");
    check_status(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), file, name, "write the attribute");
}

std::optional<std::string> read_string_attr(hid_t object,
                                            const char* name,
                                            std::string_view where) {
    if (H5Aexists(object, name) <= 0) return std::nullopt;
    Handle attr = check(H5Aopen(object, name, H5P_DEFAULT), where, name, "open the attribute");
    Handle type = check(H5Aget_type(attr.get()), where, name, "read the attribute type");
    if (H5Tget_class(type.get()) != H5T_STRING) fail(where, name, "attribute is not a string");
    Handle space(H5Aget_space(attr.get()));
    if (H5Sget_simple_extent_npoints(space.get()) != 1) {
        fail(where, name, "attribute is not a scalar string");
    }
    if (H5Tis_variable_str(type.get()) > 0) {
        Handle mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem.get(), H5T_VARIABLE);
        H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
        char* text = nullptr;
        check_status(H5Aread(attr.get(), mem.get(), &text), where, name, "read the attribute");
        std::string out = text != nullptr ? text : "";
        H5free_memory(text);
        return out;
    }
    const size_t size = H5Tget_size(type.get());
    std::string out(size, '\0');
    check_status(H5Aread(attr.get(), type.get(), out.data()), where, name, "read the attribute");
    const size_t end = out.find('\0');
    if (end != std::string::npos) out.resize(end);
    while (!out.empty() && out.back() == ' ')
        out.pop_back();  // H5T_STR_SPACEPAD
    return out;
}

std::optional<int64_t> read_int_attr(hid_t object, const char* name, std::string_view where) {
    if (H5Aexists(object, name) <= 0) return std::nullopt;
    Handle attr = check(H5Aopen(object, name, H5P_DEFAULT), where, name, "open the attribute");
    Handle type = check(H5Aget_type(attr.get()), where, name, "read the attribute type");
    if (H5Tget_class(type.get()) != H5T_INTEGER) fail(where, name, "attribute is not an integer");
    Handle space(H5Aget_space(attr.get()));
    if (H5Sget_simple_extent_npoints(space.get()) != 1)
        fail(where, name, "attribute is not a scalar");
    int64_t value = 0;
    check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), where, name, "read the attribute");
    return value;
}

HostTensor read_dataset(hid_t parent,
                        const std::string& path,
                        std::string_view file,
                        std::optional<ElemType> uint16_hint) {
    Handle dset =
        check(H5Dopen2(parent, path.c_str(), H5P_DEFAULT), file, path, "open the dataset");
    Handle type = check(H5Dget_type(dset.get()), file, path, "read the dataset type");
    const std::optional<ElemType> stored = elem_type_of_h5(type.get());
    if (!stored) {
        fail(file, path,
             "unsupported element type (expected little-endian integers or IEEE floats)");
    }
    HostTensor t;
    t.name = path;
    t.type = *stored;
    const std::string where = std::string(file) + ":" + path;
    if (auto declared = read_string_attr(dset.get(), "dtype", where)) {
        const std::optional<ElemType> d = parse_elem_type(*declared);
        if (!d) fail(file, path + ".dtype", "unknown dtype '" + *declared + "'");
        if (elem_size(*d) != elem_size(*stored)) {
            fail(file, path + ".dtype",
                 "declares " + *declared + " but the data has " +
                     std::to_string(elem_size(*stored)) + "-byte elements");
        }
        t.type = *d;
    } else if (t.type == ElemType::U16 && uint16_hint) {
        t.type = *uint16_hint;
    }
    if (auto order = read_int_attr(dset.get(), "order", where)) t.order = *order;

    Handle space = check(H5Dget_space(dset.get()), file, path, "read the dataspace");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) fail(file, path, "unreadable dataspace");
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    t.shape.assign(dims.begin(), dims.end());
    const int64_t n = t.elements();
    t.bytes.resize(static_cast<size_t>(n) * elem_size(t.type));
    if (n > 0) {
        // Memory type = stored type: the bytes are copied as stored (little-endian checked).
        check_status(H5Dread(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.bytes.data()),
                     file, path, "read the dataset (truncated or corrupt file?)");
    }
    return t;
}

namespace {
struct VisitState {
    std::vector<std::string>* out;
};

herr_t visit_cb(hid_t /*obj*/, const char* name, const H5O_info_t* info, void* data) {
    auto* state = static_cast<VisitState*>(data);
    if (info->type == H5O_TYPE_DATASET) state->out->emplace_back(name);
    return 0;
}
}  // namespace

std::vector<std::string> list_datasets(hid_t group, std::string_view file) {
    std::vector<std::string> out;
    VisitState state{&out};
    check_status(H5Ovisit2(group, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &state, H5O_INFO_BASIC),
                 file, "/", "list the objects (truncated or corrupt file?)");
    return out;
}

}  // namespace dssim::golden::h5
