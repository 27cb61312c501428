// corun::net: asyncio streams over libuv TCP (open_connection, start_server,
// StreamReader, StreamWriter).
#pragma once

#include "corun/net/errors.hpp"
#include "corun/net/server.hpp"
#include "corun/net/stream.hpp"
