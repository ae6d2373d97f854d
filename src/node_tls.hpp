// Checks a node's TLS files with OpenSSL before CAF's openssl module reads them: that module
// reads them again for every connection, on its I/O thread, and throws there on a bad file,
// which would end the process. Private to the library.
#pragma once

#include "mode/node_options.hpp"

namespace mode::detail {

/// Loads opts.tls_certificate, tls_key (with tls_key_passphrase) and tls_ca_file as CAF's
/// openssl module will, and checks that the key matches the certificate.
/// std::invalid_argument naming the option, the file and OpenSSL's reason.
void check_tls_files(const NodeOptions& opts);

}  // namespace mode::detail
