# Helpers of the admin API tests (issue 13, docs/internals/admin.md), on top of lib.sh:
#   admin_setup                 picks the admin port; then start_cpmd "${ADMIN_OPTS[@]}" ...
#   api METHOD PATH [BODY]      curl with the test's token; sets API_CODE and API_BODY
#   api_expect CODE METHOD PATH [BODY]   the same, failing the test on another status
#   jqr FILTER                  jq -r FILTER on API_BODY
CPMCTL=${CPMCTL:-$CPM_BUILD/cpmctl}
ADMIN_TOKEN=${ADMIN_TOKEN:-t0k-$RANDOM$RANDOM}
ADMIN_PORT=""
need_bin "$CPMCTL"
command -v jq >/dev/null || fail "jq missing (scripts/setup.sh installs it)"

admin_setup() {
	ADMIN_PORT=$(pick_port)
	USED_PORTS="$USED_PORTS$ADMIN_PORT "
	ADMIN_OPTS=(--admin "$HOST:$ADMIN_PORT" --admin-token "$ADMIN_TOKEN")
}

api() {
	local method=$1 path=$2 body=${3-} out="$T_DIR/api.out"
	local args=(-s -o "$out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $ADMIN_TOKEN")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	API_CODE=$(curl "${args[@]}" "http://$HOST:$ADMIN_PORT$path") || API_CODE=000
	API_BODY=$(cat "$out" 2>/dev/null || true)
}

api_expect() {
	local code=$1
	shift
	api "$@"
	[ "$API_CODE" = "$code" ] || fail "$1 $2: expected HTTP $code, got $API_CODE: $API_BODY"
}

jqr() { printf '%s' "$API_BODY" | jq -r "$1"; }

ctl() { "$CPMCTL" --admin "$HOST:$ADMIN_PORT" --token "$ADMIN_TOKEN" "$@"; }
