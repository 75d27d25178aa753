#!/usr/bin/env bash
# A demo backend for `casm agent --backend exec --script examples/exec-backend/demo-backend.sh`.
#
# It drives no real device: it keeps the prefixes it was given in a text file, one per line
# ("prefix grant state used"), so the whole exec contract can be tried out and tested. A real
# script would configure a DHCP server or a BNG in the same places. docs/agent.md describes the
# contract: `SCRIPT <action>`, the JSON on stdin, the CASM_* variables, the output of `usage`
# and `holds`, and exit status 64 for an action the script does not implement.
#
# State file: $DEMO_BACKEND_STATE (default ./demo-backend.state), one per user plane ($CASM_PLANE).
# Extra action for demos and tests: `demo-backend.sh set-used PREFIX N` sets what usage reports.
set -euo pipefail

state="${DEMO_BACKEND_STATE:-./demo-backend.state}"
if [[ -n "${CASM_PLANE:-}" ]]; then state="$state.$CASM_PLANE"; fi
touch "$state"
action="${1:-}"
prefix="${CASM_PREFIX:-}"
grant="${CASM_GRANT:-}"

# Rewrites the state file through awk (atomically: temp file, then rename).
edit() {
  awk "$@" "$state" >"$state.tmp"
  mv "$state.tmp" "$state"
}

case "$action" in
  install)
    if awk -v p="$prefix" '$1 == p { found = 1 } END { exit !found }' "$state"; then
      # Installed already: only adopt the grant id if the line had none.
      edit -v p="$prefix" -v g="$grant" '$1 == p && $2 == "-" && g != "" { $2 = g } { print }'
    else
      printf '%s %s %s 0\n' "$prefix" "${grant:--}" "${CASM_GRANT_STATE:-active}" >>"$state"
    fi
    ;;
  drain | undrain)
    [[ "$action" == drain ]] && to=draining || to=active
    edit -v p="$prefix" -v s="$to" '$1 == p { $3 = s } { print }'
    ;;
  remove)
    edit -v p="$prefix" '$1 != p { print }'
    ;;
  usage)
    awk 'BEGIN { printf "[" }
      { printf "%s{\"prefix\":\"%s\",%s\"used\":%d}", (NR > 1 ? "," : ""), $1,
          ($2 == "-" ? "" : "\"grant\":\"" $2 "\","), $4 }
      END { print "]" }' "$state"
    ;;
  holds)
    awk 'BEGIN { printf "[" }
      { printf "%s{\"prefix\":\"%s\",%s\"state\":\"%s\"}", (NR > 1 ? "," : ""), $1,
          ($2 == "-" ? "" : "\"grant\":\"" $2 "\","), $3 }
      END { print "]" }' "$state"
    ;;
  set-used)
    edit -v p="$2" -v n="$3" '$1 == p { $4 = n } { print }'
    ;;
  *)
    echo "demo-backend: unknown action '$action'" >&2
    exit 64
    ;;
esac
