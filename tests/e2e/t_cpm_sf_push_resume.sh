#!/usr/bin/env bash
# Delivery resume against the real cpmd (store-and-forward §3, §5): a file
# stored for bob is being pushed to his device when the device is killed
# (SIGKILL); its partial file and sidecar stay in --dir. The device starts
# again on the same --dir; cpmd pushes the rest (a=file-range:N+1-SIZE), the
# device continues its partial (no 488) and ends with the byte-identical
# file and no partial left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_resume.sh"

start_cpmd
push_resume_scenario
