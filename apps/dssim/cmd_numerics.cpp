// `dssim numerics`: the number formats of numerics from the command line.
//   convert  FP32 value(s) -> bits of a narrow format and the value those bits hold
//   decode   bits -> value
// Values are taken as trailing arguments (not a CLI11 positional) so that "-inf", "-nan" or
// "-.5" are read as numbers rather than rejected as unknown short options.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base/error.h"
#include "dssim/numerics.h"

namespace dssim::cli {
namespace {

using numerics::DType;
using numerics::Overflow;

// The formats `convert --to-all` shows, in table order.
constexpr DType kConvertFormats[] = {DType::BF16,   DType::F16,   DType::F8E4M3,
                                     DType::F8E5M2, DType::UE8M0, DType::I8};
constexpr const char* kFormatList = "bf16, f16, e4m3, e5m2, ue8m0, i8 (int8), f32";

struct NumericsOptions {
    std::string to;
    bool to_all = false;
    std::string from;
    std::string overflow = "satfinite";
    bool json = false;
};

DType format_option(const std::string& text, const char* option) {
    const std::optional<DType> type = numerics::parse_dtype(text);
    if (!type || *type == DType::I32 || *type == DType::I64 || *type == DType::U8) {
        throw_input_error("", option,
                          "unknown format '" + text + "' (expected one of " + kFormatList + ")");
    }
    return *type;
}

// Parses a decimal or hex-float number (C strtof syntax, also inf/nan) and rounds it to FP32
// with RNE. Out-of-range magnitudes round to +-inf or +-0 as the FP32 rounding says.
float parse_value(const std::string& text) {
    if (text.empty()) throw_input_error("", "value ''", "empty; expected a number");
    const unsigned char first = static_cast<unsigned char>(text.front());
    char* end = nullptr;
    errno = 0;
    const float x = std::strtof(text.c_str(), &end);
    if (std::isspace(first) != 0 || end != text.c_str() + text.size()) {
        throw_input_error("", "value '" + text + "'",
                          "not a number (expected e.g. 0.1, -1e-3, 448, 0x1p-9, inf, nan)");
    }
    return x;
}

// Bits given as 0x-prefixed hex or decimal; must fit the format's width.
uint32_t parse_bits(const std::string& text, DType type) {
    const int width = static_cast<int>(numerics::dtype_size(type) * 8);
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const std::string digits = hex ? text.substr(2) : text;
    uint64_t value = 0;
    bool ok = !digits.empty() && digits.size() <= 20;
    for (char c : digits) {
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        if (d < 0 || value > (uint64_t{1} << 40)) {
            ok = false;
            break;
        }
        value = value * (hex ? 16 : 10) + static_cast<uint64_t>(d);
    }
    if (!ok) {
        throw_input_error("", "bits '" + text + "'", "not an unsigned integer (e.g. 0x7e or 126)");
    }
    if (value >> width != 0) {
        throw_input_error("", "bits '" + text + "'",
                          "does not fit the " + std::to_string(width) + " bits of " +
                              std::string(numerics::dtype_name(type)));
    }
    return static_cast<uint32_t>(value);
}

std::string format_str(const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}
std::string decimal(float v) {
    return format_str("%.9g", static_cast<double>(v));
}
std::string hexfloat(float v) {
    return format_str("%a", static_cast<double>(v));
}
std::string hex_bits(uint32_t bits, DType type) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%0*x", static_cast<int>(numerics::dtype_size(type) * 2),
                  bits);
    return buf;
}

// JSON has no inf/NaN: finite values are numbers, the rest the strings "inf", "-inf", "nan".
nlohmann::ordered_json json_value(float v) {
    if (std::isnan(v)) return std::signbit(v) ? "-nan" : "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return static_cast<double>(v);
}

// zero / subnormal / normal / inf / nan of the value in the format's own terms.
std::string value_class(DType type, float v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return "inf";
    if (type == DType::I8) return "integer";
    if (v == 0) return "zero";
    if (type == DType::UE8M0) return "normal";
    return std::fabs(v) < numerics::min_normal(type) ? "subnormal" : "normal";
}

void run_convert(const NumericsOptions& opt, const std::vector<std::string>& args) {
    if (opt.to_all == !opt.to.empty()) {
        throw_input_error("", "--to", "give exactly one of --to FORMAT or --to-all");
    }
    if (args.empty()) throw_input_error("", "VALUE", "no value to convert");
    const std::optional<Overflow> policy = numerics::parse_overflow(opt.overflow);
    if (!policy) {
        throw_input_error("", "--overflow",
                          "unknown policy '" + opt.overflow + "' (expected satfinite or torch)");
    }
    std::vector<DType> formats;
    if (opt.to_all) {
        formats.assign(std::begin(kConvertFormats), std::end(kConvertFormats));
    } else {
        formats.push_back(format_option(opt.to, "--to"));
    }
    // Parse everything first: a bad value prints nothing but the error.
    std::vector<float> inputs;
    for (const std::string& a : args)
        inputs.push_back(parse_value(a));

    if (opt.json) {
        nlohmann::ordered_json out;
        out["command"] = "numerics convert";
        out["overflow"] = numerics::overflow_name(*policy);
        nlohmann::ordered_json results = nlohmann::ordered_json::array();
        for (size_t i = 0; i < inputs.size(); ++i) {
            const float x = inputs[i];
            nlohmann::ordered_json r;
            r["input"] = args[i];
            r["f32"] = json_value(x);
            r["f32_hex"] = hexfloat(x);
            r["f32_bits"] = hex_bits(numerics::encode_from_f32(DType::F32, x, *policy), DType::F32);
            nlohmann::ordered_json conv = nlohmann::ordered_json::array();
            for (DType t : formats) {
                const uint32_t bits = numerics::encode_from_f32(t, x, *policy);
                const float v = numerics::decode_to_f32(t, bits);
                nlohmann::ordered_json c;
                c["format"] = numerics::dtype_name(t);
                c["bits"] = hex_bits(bits, t);
                c["value"] = json_value(v);
                c["value_hex"] = hexfloat(v);
                c["class"] = value_class(t, v);
                conv.push_back(std::move(c));
            }
            r["conversions"] = std::move(conv);
            results.push_back(std::move(r));
        }
        out["results"] = std::move(results);
        std::printf("%s\n", out.dump(2).c_str());
        return;
    }

    // Column widths fit the longest input and FP32 hex-float so the table stays aligned.
    int in_w = 5, hex_w = 10;
    for (size_t i = 0; i < inputs.size(); ++i) {
        in_w = std::max(in_w, static_cast<int>(args[i].size()));
        hex_w = std::max(hex_w, static_cast<int>(hexfloat(inputs[i]).size()));
    }
    std::printf("overflow policy: %s\n", std::string(numerics::overflow_name(*policy)).c_str());
    std::printf("%-*s %-15s %-*s %-6s %-10s %-16s %-16s %s\n", in_w, "input", "fp32", hex_w,
                "fp32 (hex)", "format", "bits", "value", "value (hex)", "class");
    for (size_t i = 0; i < inputs.size(); ++i) {
        const float x = inputs[i];
        bool first = true;
        for (DType t : formats) {
            const uint32_t bits = numerics::encode_from_f32(t, x, *policy);
            const float v = numerics::decode_to_f32(t, bits);
            const std::string in = first ? args[i] : "";
            const std::string f = first ? decimal(x) : "";
            const std::string fh = first ? hexfloat(x) : "";
            std::printf("%-*s %-15s %-*s %-6s %-10s %-16s %-16s %s\n", in_w, in.c_str(), f.c_str(),
                        hex_w, fh.c_str(), std::string(numerics::dtype_name(t)).c_str(),
                        hex_bits(bits, t).c_str(), decimal(v).c_str(), hexfloat(v).c_str(),
                        value_class(t, v).c_str());
            first = false;
        }
    }
}

void run_decode(const NumericsOptions& opt, const std::vector<std::string>& args) {
    const DType type = format_option(opt.from, "--from");
    if (args.empty()) throw_input_error("", "BITS", "no bit pattern to decode");
    std::vector<uint32_t> codes;
    for (const std::string& a : args)
        codes.push_back(parse_bits(a, type));
    if (opt.json) {
        nlohmann::ordered_json out;
        out["command"] = "numerics decode";
        out["format"] = numerics::dtype_name(type);
        nlohmann::ordered_json results = nlohmann::ordered_json::array();
        for (uint32_t bits : codes) {
            const float v = numerics::decode_to_f32(type, bits);
            nlohmann::ordered_json r;
            r["bits"] = hex_bits(bits, type);
            r["value"] = json_value(v);
            r["value_hex"] = hexfloat(v);
            r["class"] = value_class(type, v);
            results.push_back(std::move(r));
        }
        out["results"] = std::move(results);
        std::printf("%s\n", out.dump(2).c_str());
        return;
    }
    std::printf("%-6s %-10s %-16s %-16s %s\n", "format", "bits", "value", "value (hex)", "class");
    for (uint32_t bits : codes) {
        const float v = numerics::decode_to_f32(type, bits);
        std::printf("%-6s %-10s %-16s %-16s %s\n", std::string(numerics::dtype_name(type)).c_str(),
                    hex_bits(bits, type).c_str(), decimal(v).c_str(), hexfloat(v).c_str(),
                    value_class(type, v).c_str());
    }
}

}  // namespace

void add_numerics_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand(
        "numerics",
        "Number formats of the reference model (FP32, BF16, FP16, FP8 E4M3FN/E5M2, UE8M0, INT8): "
        "convert values and decode bit patterns exactly as numerics does "
        "(docs/numerics.md, \"Formats\").");
    cmd->require_subcommand(1);
    auto opt = std::make_shared<NumericsOptions>();

    CLI::App* convert = cmd->add_subcommand(
        "convert",
        "Convert VALUE... (decimal, hex-float like 0x1p-9, inf, -inf, nan) to a format.\n"
        "Each value is first rounded to FP32 (round to nearest even), then converted with RNE "
        "under the overflow policy. Prints the input, its FP32 value, the encoded bits in hex and "
        "the value those bits hold (%.9g and hex-float, both exact for FP32).\n"
        "Usage: dssim numerics convert (--to FORMAT | --to-all) [--overflow POLICY] [--json] "
        "VALUE...");
    convert->add_option("--to", opt->to,
                        "Target format: bf16, f16, e4m3, e5m2, ue8m0, i8 (aliases: int8, fp16, "
                        "bfloat16, fp8, float8_e4m3fn ...; f32 shows the FP32 bits).");
    convert->add_flag("--to-all", opt->to_all,
                      "Show every format (bf16 f16 e4m3 e5m2 ue8m0 i8) side by side in one table "
                      "instead of --to.");
    convert
        ->add_option("--overflow", opt->overflow,
                     "Overflow policy: 'satfinite' clamps to the largest finite value like "
                     "hardware cvt .satfinite (inf too; NaN stays NaN); 'torch' follows PyTorch: "
                     "e4m3 values beyond 464 become NaN, bf16/f16/e5m2 overflow to inf. Does "
                     "not affect ue8m0 (round up, clamp) or i8 (round, saturate, NaN -> 0).")
        ->capture_default_str();
    convert->add_flag("--json", opt->json, "Print JSON (stable key order) instead of a table.");
    convert->allow_extras();
    convert->footer(
        "Examples:\n"
        "  dssim numerics convert --to e4m3 0.1 448 500\n"
        "  dssim numerics convert --to e4m3 --overflow torch 500      # 0x7f (NaN)\n"
        "  dssim numerics convert --to-all --json 0.1 -1e-3 0x1p-9 -inf");
    convert->callback([opt, convert] { run_convert(*opt, convert->remaining()); });

    CLI::App* decode = cmd->add_subcommand(
        "decode",
        "Decode BITS... (hex like 0x7e or decimal) of a format into the value they hold.\n"
        "Usage: dssim numerics decode --from FORMAT [--json] BITS...");
    decode
        ->add_option("--from", opt->from,
                     "Format of the bits: bf16, f16, e4m3, e5m2, ue8m0, i8, f32.")
        ->required();
    decode->add_flag("--json", opt->json, "Print JSON (stable key order) instead of a table.");
    decode->allow_extras();
    decode->footer("Example:\n  dssim numerics decode --from e4m3 0x7e 0x08 0x01 0x7f");
    decode->callback([opt, decode] { run_decode(*opt, decode->remaining()); });
}

}  // namespace dssim::cli
