# shellcheck shell=bash
# Sourced by the hack/ scripts that take files from a published Go module pinned by a go.mod
# under hack/modules/ (knative-crds.sh, kuadrant-crds.sh): one place that reads the pin and
# asks Go for the module, checked against that folder's go.sum.

# Prints the version hack/modules/$2/go.mod requires of Go module $3; exits 2 (naming script
# $1) when go is missing or the go.mod does not require the module.
pinned_module_version() {
  local script=$1 mod=$hack_dir/modules/$2 module=$3 version
  command -v go >/dev/null || { echo "$script: go is missing (hack/install-deps.sh installs it)" >&2; exit 2; }
  version=$(awk -v m="$module" '$1 == "require" && $2 == m { print $3 }' "$mod/go.mod")
  [[ -n $version ]] || { echo "$script: no $module in $mod/go.mod" >&2; exit 2; }
  echo "$version"
}

# Prints the folder of Go module $2 at version $3 in Go's module cache, downloaded (and
# checked against hack/modules/$1/go.sum) if it is not there yet.
pinned_module_dir() {
  (cd "$hack_dir/modules/$1" && go mod download -json "$2@$3") |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit("go mod download: " + d.get("Error", "no Dir")))'
}
