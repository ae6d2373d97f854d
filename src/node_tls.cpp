// OpenSSL checks of a node's TLS files (see node_tls.hpp).
#include "node_tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace mode::detail {

namespace {

/// OpenSSL's queued errors as text (and the queue emptied), or `fallback`.
std::string ssl_errors(const char* fallback) {
  std::string out;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string{buf};
  }
  return out.empty() ? fallback : out;
}

int passphrase_callback(char* buf, int size, int, void* user) {
  const auto& phrase = *static_cast<const std::string*>(user);
  if (size <= 0)
    return 0;
  auto n = std::min(phrase.size(), static_cast<std::size_t>(size - 1));
  std::memcpy(buf, phrase.data(), n);
  buf[n] = '\0';
  return static_cast<int>(n);
}

}  // namespace

void check_tls_files(const NodeOptions& opts) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_method()), &SSL_CTX_free};
  if (!ctx)
    throw std::runtime_error("mode::Node: OpenSSL cannot make a TLS context: " +
                             ssl_errors("unknown error"));
  auto fail = [](const char* field, const char* option, const std::string& path, const char* what) {
    return std::invalid_argument(fmt::format("node option {} ({}): cannot {} '{}': {}", field,
                                             option, what, path, ssl_errors("unknown error")));
  };
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), opts.tls_certificate.c_str()) != 1)
    throw fail("tls_certificate", "--tls-certificate", opts.tls_certificate,
               "load a PEM certificate chain from");
  // A copy the callback may read: no passphrase means an empty one, never a prompt.
  std::string phrase = opts.tls_key_passphrase;
  SSL_CTX_set_default_passwd_cb(ctx.get(), passphrase_callback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), &phrase);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), opts.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the key against the certificate as it loads it.
    bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    throw fail("tls_key", "--tls-key", opts.tls_key,
               mismatch ? "match the certificate with the key in"
                        : "load a PEM private key (wrong passphrase?) from");
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw fail("tls_key", "--tls-key", opts.tls_key, "match the certificate with the key in");
  if (SSL_CTX_load_verify_locations(ctx.get(), opts.tls_ca_file.c_str(), nullptr) != 1)
    throw fail("tls_ca_file", "--tls-ca-file", opts.tls_ca_file, "load CA certificates from");
}

}  // namespace mode::detail
