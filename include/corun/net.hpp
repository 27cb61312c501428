// corun::net: TCP streams and servers (asyncio streams).
#pragma once

#include "corun/net/errors.hpp"
#include "corun/net/stream.hpp"
