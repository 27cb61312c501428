# Finds the Debian packages corun builds on. scripts/install-deps.sh installs them.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET GLOBAL libuv)
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET GLOBAL libcurl)
# libcurl's TLS library, for the verified-certificate cache (http/detail/verified_certs.hpp).
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET GLOBAL libssl libcrypto)
# International host names to their ASCII (punycode) form (http/url.cpp).
pkg_check_modules(IDN2 REQUIRED IMPORTED_TARGET GLOBAL libidn2)
pkg_check_modules(UCHARDET REQUIRED IMPORTED_TARGET GLOBAL uchardet)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET GLOBAL hiredis)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)
