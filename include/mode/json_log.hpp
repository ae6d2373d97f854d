// mode::json_formatter: log records as one JSON object per line, for log shippers
// (Loki, Elasticsearch, journald's JSON export, ...). setup_logging uses it when
// LoggingOptions::log_format is "json"; the Worker's `--log-format json` sets that.
//
//   {"time":"2026-12-07T12:00:00.123Z","level":"ERROR","logger":"mode.services",
//    "service":"Fetcher","message":"Crashed reason=...","pid":4242}
//
// `service` is the label of the service that logged (the `[^--Fetcher]: ` prefix of
// mode's text format, taken off the message), absent for other records. Time is UTC
// with milliseconds; level is Python's level name, as in the text format. Text that is
// not valid UTF-8 is written with U+FFFD in its place, so every line parses.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

namespace mode {

/// An spdlog formatter writing each record as one line of JSON (see above). Set it on
/// any sink: `sink->set_formatter(mode::make_json_formatter())`.
std::unique_ptr<spdlog::formatter> make_json_formatter();

/// The service label and the message of a service's log line (`[^--Label]: text`):
/// {"Label", "text"}; {"", line} for a line without that prefix.
std::pair<std::string_view, std::string_view> split_service_prefix(std::string_view line) noexcept;

}  // namespace mode
