// Helpers shared by the shared crawl's producer, collector, status and worker
// (src/fetch/queue.cpp, src/fetch/frontier_redis.cpp). Private to corun::fetch.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "corun/fetch/queue.hpp"
#include "corun/redis/connection.hpp"

namespace corun::fetch::queue_detail {

// Connects; any redis::Error becomes a QueueError naming the crawl.
Task<redis::Connection> open(const QueueAddress& address, redis::ConnectOptions options);
// Throws QueueError when a key of the crawl holds another type than it must
// (NAME used by something else).
Task<void> check_types(redis::Connection& conn, const QueueAddress& address);
// HGETALL's flat array as a map.
std::map<std::string, std::string> as_map(const redis::Reply& reply);
// Settings from {NAME}:meta's fields (missing ones keep their defaults).
QueueSettings settings_from_meta(const std::map<std::string, std::string>& meta);
// Settings as HSET field/value pairs.
std::vector<std::string> settings_to_fields(const QueueSettings& s);
// A script's refusal when the crawl's keys are gone (queue_scripts.hpp's prelude).
bool is_crawl_gone(const std::exception& e) noexcept;
// The QueueError for it: what happened and what to do.
QueueError crawl_gone(const QueueAddress& address);
// A fresh crawl id (16 hex digits, random).
std::string new_crawl_id();
// The first argument of a script step (queue_scripts.hpp): the crawl's id from
// its meta (empty for a crawl made before ids) and '|' before the prefix, so
// that the step refuses a crawl of the same name made anew since.
std::string script_prefix(const QueueAddress& address,
                          const std::map<std::string, std::string>& meta);
// The host key of a URL (scheme://host:port, lower case), empty when malformed.
std::string host_of(const std::string& url);

}  // namespace corun::fetch::queue_detail
