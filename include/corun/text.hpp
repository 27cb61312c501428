// corun::text: browser-exact encoding sniffing and decoding. Depends on nothing
// else in corun.
#pragma once

#include "corun/text/decode.hpp"
#include "corun/text/encoding.hpp"
#include "corun/text/sniff.hpp"
#include "corun/text/utf8.hpp"
