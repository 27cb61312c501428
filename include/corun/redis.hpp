// corun::redis: an asyncio-style Redis client (connect, command, pipeline,
// scripts, timeouts, reconnection) over hiredis, driven by the corun loop.
// See docs/redis.md.
#pragma once

#include "corun/redis/connection.hpp"
#include "corun/redis/errors.hpp"
#include "corun/redis/pipeline.hpp"
#include "corun/redis/reply.hpp"
#include "corun/redis/script.hpp"
#include "corun/redis/url.hpp"
