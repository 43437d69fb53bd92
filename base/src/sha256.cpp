// SHA-256 through OpenSSL's EVP interface.
#include "dssim/base/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace dssim {

struct Sha256::State {
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
    state_->ctx = EVP_MD_CTX_new();
    if (state_->ctx == nullptr || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL SHA-256 initialisation failed");
    }
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(state_->ctx);
}

void Sha256::update(const void* data, size_t size) {
    if (EVP_DigestUpdate(state_->ctx, data, size) != 1) {
        throw std::runtime_error("OpenSSL SHA-256 update failed");
    }
}

std::string Sha256::hex_digest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(state_->ctx, digest, &length) != 1) {
        throw std::runtime_error("OpenSSL SHA-256 finalisation failed");
    }
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned i = 0; i < length; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

std::string sha256_hex(std::string_view bytes) {
    Sha256 h;
    h.update(bytes);
    return h.hex_digest();
}

}  // namespace dssim
