#!/usr/bin/env bash
# Resume of a delivery behind Kamailio (as tests/e2e/t_cpm_sf_push_resume.sh, through the
# core): a file stored for bob is being pushed (INVITE through the core, MSRP straight from
# cpmd) when his device is killed (SIGKILL); its partial file stays. The device starts
# again on the same --dir and registers with the core; the third-party REGISTER makes cpmd
# push the rest (a=file-range:N+1-SIZE) and the device ends with the byte-identical file.
. "$(dirname "$0")/lib_core.sh"
. "$CPM_SRC/tests/e2e/lib_resume.sh"

start_core_pair
start_receiver alice alice phone --timeout 90
push_resume_scenario
assert_grep "$RESUME_ERR" "recv [0-9]+ bytes from (udp|tcp)/\\[127\\.0\\.0\\.1\\]:$KAM_UA_PORT " "the resumed push did not come through the core"
cpmd_alive
kam_alive
