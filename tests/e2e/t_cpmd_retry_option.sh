#!/usr/bin/env bash
# --delivery-retry MIN:MAX takes two strict decimals (the one integer parser, cpm_parse_u64),
# 1 <= MIN <= MAX <= 86400: a sign, a blank, a suffix, a missing part or a reversed range is
# refused with exit 2 and cpmd does not start; a valid range starts.
. "$(dirname "$0")/lib.sh"

for bad in "+5:10" " 5:10" "5:10x" "5" "5:" ":10" "0:10" "10:5" "5:86401" "5:10:20"; do
	cpmd_refused "retry-$(printf '%s' "$bad" | tr -c 'A-Za-z0-9' '_')" "delivery-retry" --domain "$DOMAIN" \
		--delivery-retry "$bad"
done
start_cpmd --delivery-retry 5:10
