// corun::http: an aiohttp-style HTTP client (ClientSession, Response, errors)
// over libcurl's multi-socket interface, driven by the corun loop.
#pragma once

#include "corun/http/errors.hpp"
#include "corun/http/headers.hpp"
#include "corun/http/response.hpp"
#include "corun/http/session.hpp"
#include "corun/http/url.hpp"
