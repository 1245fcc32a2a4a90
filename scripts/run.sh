#!/usr/bin/env bash
# Builds cpmd (Release) and runs it in the foreground on its embedded defaults
# (domain localhost, SIP 127.0.0.1:5060 UDP+TCP, MSRP 127.0.0.1:2855, data in
# ./cpmd-data). Extra arguments go to cpmd, e.g. scripts/run.sh --domain example.org
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# -Werror is off here so that a new compiler warning never stops someone from
# running cpmd; scripts/test.sh builds this same Release configuration with
# -Werror and fails there.
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCPM_WERROR=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target cpmd cpm
exec build-release/cpmd "$@"
