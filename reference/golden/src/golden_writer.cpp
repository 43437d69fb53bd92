// GoldenWriter: streams sink tensors into an HDF5 file opened on an AtomicFile temporary path.
// Every object is created with reproducible property lists (hdf5_util.h) and in an order that
// depends only on the call sequence, so the same run gives the same bytes.
#include "dssim/golden/golden_writer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "dssim/base/error.h"
#include "dssim/base/sha256.h"
#include "dssim/base/version.h"
#include "dssim/models/safetensors.h"
#include "hdf5_util.h"

namespace dssim::golden {

std::string_view tensor_selection_name(TensorSelection selection) {
    switch (selection) {
        case TensorSelection::Logits:
            return "logits";
        case TensorSelection::Layers:
            return "layers";
        case TensorSelection::All:
            return "all";
    }
    return "?";
}

std::optional<TensorSelection> parse_tensor_selection(std::string_view name) {
    if (name == "logits") return TensorSelection::Logits;
    if (name == "layers") return TensorSelection::Layers;
    if (name == "all") return TensorSelection::All;
    return std::nullopt;
}

bool is_selected(TensorSelection selection, std::string_view name) {
    if (selection == TensorSelection::All) return true;
    if (selection == TensorSelection::Logits) return false;
    const size_t slash = name.find('/');
    const std::string_view op = slash == std::string_view::npos ? name : name.substr(slash + 1);
    static constexpr std::array<std::string_view, 4> kTop = {"embed", "norm", "head", "sampling"};
    for (std::string_view top : kTop) {
        if (op == top) return true;
    }
    static constexpr std::array<std::string_view, 2> kBlock = {".attn_residual", ".ffn_residual"};
    for (std::string_view suffix : kBlock) {
        if (op.ends_with(suffix)) return true;
    }
    if (op.starts_with("mtp.")) {
        for (std::string_view top : kTop) {
            if (op.size() > top.size() && op.ends_with(top) &&
                op[op.size() - top.size() - 1] == '.' &&
                op.find('.', 4) == op.size() - top.size() - 1) {
                return true;  // mtp.<k>.<top>
            }
        }
    }
    return false;
}

// Logit rows of one root dataset (/logits or /mtp_logits), buffered until commit (they are
// small next to the tensors).
struct LogitRows {
    std::string dataset;         // "/logits", "/mtp_logits": names it in errors
    std::vector<int64_t> index;  // [rows, 3]: step, sequence, position
    std::vector<float> values;   // [rows, vocab]
    int64_t last_step = -1;
};

struct GoldenWriter::Impl {
    AtomicFile atomic;
    std::string file_name;
    h5::Handle file;
    h5::Handle tensors;  // the /tensors group
    LogitRows logits{"/logits"};
    LogitRows mtp_logits{"/mtp_logits"};  // the MTP module's draft logits
    int64_t vocab = -1;                   // shared by both: one head, one vocabulary
    std::vector<std::vector<int64_t>> sequences;
    std::vector<int64_t> prompt_lengths;
    bool tokens_set = false;

    // Appends one step's rows to `rows` after checking that they fit the buffer.
    void append(LogitRows& rows,
                int64_t step,
                std::span<const int64_t> sequence,
                std::span<const int64_t> position,
                std::span<const float> values,
                int64_t row_vocab);

    explicit Impl(std::filesystem::path out) : atomic(std::move(out)) {
        file_name = atomic.target().string();
    }
};

GoldenWriter::GoldenWriter(std::filesystem::path out, TensorSelection selection)
    : impl_(std::make_unique<Impl>(std::move(out))), selection_(selection) {
    h5::silence_errors();
    h5::Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
    // The root group is created with the file: its header must not carry times either.
    H5Pset_obj_track_times(fcpl.get(), false);
    h5::Handle fapl = h5::reproducible_fapl();
    const hid_t f =
        H5Fcreate(impl_->atomic.temp_path().c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
    if (f < 0) throw_input_error(impl_->file_name, "", "cannot create the HDF5 file");
    impl_->file = h5::Handle(f);
    h5::Handle gcpl = h5::reproducible_gcpl();
    const hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, gcpl.get(), H5P_DEFAULT);
    if (g < 0) throw_input_error(impl_->file_name, "/tensors", "cannot create the group");
    impl_->tensors = h5::Handle(g);
}

GoldenWriter::~GoldenWriter() {
    // Close HDF5 objects before the AtomicFile removes the temporary file.
    if (impl_) {
        impl_->tensors.reset();
        impl_->file.reset();
    }
}

bool GoldenWriter::wants(std::string_view name) const {
    return is_selected(selection_, name);
}

void GoldenWriter::on_tensor(const reference::TensorView& tensor) {
    if (!is_selected(selection_, tensor.name)) return;
    const std::string name(tensor.name);
    if (name.empty() || name.front() == '/' || name.back() == '/' ||
        name.find("//") != std::string::npos) {
        throw_input_error(impl_->file_name, name, "tensor name is not a valid dataset path");
    }
    std::vector<int64_t> shape(tensor.shape.begin(), tensor.shape.end());
    for (int64_t d : shape) {
        if (d < 0) throw_input_error(impl_->file_name, name, "negative dimension");
    }
    h5::write_dataset(impl_->tensors.get(), name, elem_type_of(tensor.dtype), shape, tensor.data,
                      next_order_, impl_->file_name);
    ++next_order_;
}

void GoldenWriter::Impl::append(LogitRows& rows,
                                int64_t step,
                                std::span<const int64_t> sequence,
                                std::span<const int64_t> position,
                                std::span<const float> values,
                                int64_t row_vocab) {
    const size_t n = sequence.size();
    if (position.size() != n || row_vocab <= 0 ||
        values.size() != n * static_cast<size_t>(row_vocab)) {
        throw_input_error(file_name, rows.dataset, "rows, positions and [rows, vocab] disagree");
    }
    if (vocab >= 0 && vocab != row_vocab) {
        throw_input_error(file_name, rows.dataset,
                          "vocabulary size " + std::to_string(row_vocab) +
                              " differs from the earlier logit rows' " + std::to_string(vocab));
    }
    if (step <= rows.last_step) {
        throw_input_error(file_name, rows.dataset, "steps must be added in increasing order");
    }
    vocab = row_vocab;
    rows.last_step = step;
    for (size_t r = 0; r < n; ++r) {
        rows.index.insert(rows.index.end(), {step, sequence[r], position[r]});
    }
    rows.values.insert(rows.values.end(), values.begin(), values.end());
}

void GoldenWriter::add_logits(int64_t step,
                              std::span<const int64_t> sequence,
                              std::span<const int64_t> position,
                              std::span<const float> logits,
                              int64_t vocab) {
    impl_->append(impl_->logits, step, sequence, position, logits, vocab);
}

void GoldenWriter::add_mtp_logits(int64_t step,
                                  std::span<const int64_t> sequence,
                                  std::span<const int64_t> position,
                                  std::span<const float> logits,
                                  int64_t vocab) {
    impl_->append(impl_->mtp_logits, step, sequence, position, logits, vocab);
}

void GoldenWriter::set_tokens(const std::vector<std::vector<int64_t>>& sequences,
                              const std::vector<int64_t>& prompt_lengths) {
    if (sequences.size() != prompt_lengths.size()) {
        throw_input_error(impl_->file_name, "/tokens", "one prompt length per sequence needed");
    }
    impl_->sequences = sequences;
    impl_->prompt_lengths = prompt_lengths;
    impl_->tokens_set = true;
}

void GoldenWriter::commit(const GoldenMetadata& m) {
    Impl& s = *impl_;
    const std::string& fn = s.file_name;
    const hid_t root = s.file.get();
    if (!s.tokens_set) throw_input_error(fn, "/tokens", "set_tokens() was not called");

    // /tokens: [sequences, longest], padded with -1 after each sequence's end.
    size_t longest = 0;
    for (const auto& seq : s.sequences)
        longest = std::max(longest, seq.size());
    std::vector<int64_t> tokens(s.sequences.size() * longest, -1);
    std::vector<int64_t> lengths;
    for (size_t i = 0; i < s.sequences.size(); ++i) {
        std::copy(s.sequences[i].begin(), s.sequences[i].end(), tokens.begin() + i * longest);
        lengths.push_back(static_cast<int64_t>(s.sequences[i].size()));
    }
    const auto n_seq = static_cast<int64_t>(s.sequences.size());
    h5::write_dataset(root, "tokens", ElemType::I64, {n_seq, static_cast<int64_t>(longest)},
                      tokens.data(), -1, fn);
    h5::write_dataset(root, "sequence_lengths", ElemType::I64, {n_seq}, lengths.data(), -1, fn);
    h5::write_dataset(root, "prompt_lengths", ElemType::I64, {n_seq}, s.prompt_lengths.data(), -1,
                      fn);

    // /logits always (it may have no rows), /mtp_logits only when MTP rows were added.
    const int64_t vocab = std::max<int64_t>(s.vocab, 0);
    auto write_rows = [&](const LogitRows& rows) {
        const std::string name = rows.dataset.substr(1);
        const auto n = static_cast<int64_t>(rows.index.size() / 3);
        h5::write_dataset(root, name, ElemType::F32, {n, vocab}, rows.values.data(), -1, fn);
        h5::write_dataset(root, name + "_index", ElemType::I64, {n, 3}, rows.index.data(), -1, fn);
    };
    write_rows(s.logits);
    if (!s.mtp_logits.index.empty()) write_rows(s.mtp_logits);

    nlohmann::json prompts = m.prompts;
    h5::write_int_attr(root, "layout_version", kGoldenLayoutVersion, fn);
    h5::write_string_attr(root, "dssim_version", version(), fn);
    h5::write_string_attr(root, "numerics_spec_version", numerics_spec_version(), fn);
    h5::write_string_attr(root, "config", m.config_json, fn);
    h5::write_string_attr(root, "mode", m.mode, fn);
    h5::write_string_attr(root, "attention", m.attention, fn);
    h5::write_string_attr(root, "scale_fmt", m.scale_fmt, fn);
    h5::write_string_attr(root, "checkpoint_sha256", m.checkpoint_digest, fn);
    h5::write_string_attr(root, "prompts", prompts.dump(), fn);
    h5::write_int_attr(root, "max_new_tokens", m.max_new_tokens, fn);
    h5::write_string_attr(root, "tensors", tensor_selection_name(selection_), fn);
    h5::write_int_attr(root, "tensor_count", next_order_, fn);
    if (m.mtp) {
        h5::write_int_attr(root, "mtp_drafted", m.mtp_drafted, fn);
        h5::write_int_attr(root, "mtp_accepted", m.mtp_accepted, fn);
    }
    if (!m.prompt_texts.empty()) {
        h5::write_string_dataset(root, "prompt_texts", m.prompt_texts, fn);
        h5::write_string_dataset(root, "generated_texts", m.generated_texts, fn);
        h5::write_string_attr(root, "tokenizer_sha256", m.tokenizer_digest, fn);
    }

    s.tensors.reset();
    if (H5Fclose(s.file.release()) < 0) throw_input_error(fn, "", "HDF5 could not close the file");
    s.atomic.commit();
}

namespace {
void hash_file(Sha256& sha, const std::filesystem::path& path, const std::string& name) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_input_error(path.string(), "", "cannot open file");
    const uint64_t size = std::filesystem::file_size(path);
    sha.update(name);
    sha.update("\0", 1);
    std::array<unsigned char, 8> le{};
    for (size_t i = 0; i < 8; ++i)
        le[i] = static_cast<unsigned char>(size >> (8 * i));
    sha.update(le.data(), le.size());
    std::vector<char> buffer(1 << 20);
    uint64_t total = 0;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto got = static_cast<size_t>(in.gcount());
        sha.update(buffer.data(), got);
        total += got;
    }
    if (total != size) throw_input_error(path.string(), "", "file changed while hashing");
}
}  // namespace

std::string checkpoint_digest(const std::filesystem::path& checkpoint) {
    const models::Checkpoint ckpt = models::Checkpoint::open(checkpoint);
    Sha256 sha;
    const std::filesystem::path dir =
        std::filesystem::is_directory(checkpoint) ? checkpoint : checkpoint.parent_path();
    if (std::filesystem::is_directory(checkpoint)) {
        for (const char* name : {"config.json", "model.safetensors.index.json"}) {
            if (std::filesystem::exists(dir / name)) hash_file(sha, dir / name, name);
        }
    }
    std::vector<std::string> shards;
    for (const auto& shard : ckpt.shards())
        shards.push_back(shard->path().filename().string());
    std::sort(shards.begin(), shards.end());
    for (const auto& name : shards)
        hash_file(sha, dir / name, name);
    return sha.hex_digest();
}

}  // namespace dssim::golden
