// SHA-256 digests (OpenSSL) for logits digests and checkpoint identities.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace dssim {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t size);
    void update(std::string_view text) { update(text.data(), text.size()); }
    // Lower-case hex of the digest; the object cannot be updated afterwards.
    std::string hex_digest();

  private:
    struct State;
    std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view bytes);

}  // namespace dssim
