#!/usr/bin/env bash
# Installs retentiond: the binary, the systemd units, the policy (never over an existing one), the
# example policies, the man pages and the bash completion, and the directories they need.
#
#   sudo scripts/install.sh                      build a binary that needs no Swift toolchain at run
#                                                time (--static-swift-stdlib) and install it under /
#   scripts/install.sh --root /tmp/stage         install into a staging root (packaging, tests)
#   scripts/install.sh --binary PATH             install this binary instead of building one
#
# The units run as a systemd dynamic user: no account is created. After installing, follow
# docs/deployment.md from "2. Configure" (the audit key, then `check` and a dry run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=""
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done

if [ -z "$binary" ]; then
  # The Swift runtime libraries are linked in, so the binary runs where no toolchain is installed.
  swift build -c release --static-swift-stdlib --product retentiond
  binary=.build/release/retentiond
fi
[ -x "$binary" ] || { echo "install.sh: $binary is not an executable" >&2; exit 1; }
# The binary links the system's SQLite and MariaDB Connector/C only. Built without
# --static-swift-stdlib it also links the Swift runtime from the toolchain's own directory: it
# starts here, but stops with "libswiftCore.so: cannot open shared object file" wherever the
# toolchain is not installed, or once it is upgraded or removed. Refuse both.
command -v ldd >/dev/null || { echo "install.sh: ldd is needed to check the binary's libraries (Debian: libc-bin)" >&2; exit 1; }
libraries=$(ldd "$binary" 2>/dev/null || true)
missing=$(echo "$libraries" | awk '/not found/ { print $1 }' | paste -sd ' ')
if [ -n "$missing" ]; then
  echo "install.sh: $binary needs libraries this machine lacks: $missing" >&2
  echo "  on Debian: apt-get install libsqlite3-0 libmariadb3; for libswift*, build with --static-swift-stdlib (as install.sh does without --binary)" >&2
  exit 1
fi
swift_runtime=$(echo "$libraries" | awk '$1 ~ /^lib(swift|_?Foundation|dispatch|BlocksRuntime)/ { print $1 }' | paste -sd ' ')
if [ -n "$swift_runtime" ]; then
  echo "install.sh: $binary is linked to the Swift toolchain's runtime ($swift_runtime): it would stop working where the toolchain is not installed" >&2
  echo "  build it with: swift build -c release --static-swift-stdlib --product retentiond (what install.sh does without --binary)" >&2
  exit 1
fi

install -d -m 0755 "$root/usr/local/bin" "$root/etc/retentiond" "$root/etc/retentiond/examples" "$root/etc/systemd/system" \
  "$root/usr/local/share/man/man1" "$root/usr/share/bash-completion/completions"
install -d -m 0700 "$root/etc/retentiond/credentials"
install -m 0755 "$binary" "$root/usr/local/bin/retentiond"
# Debug information is half the size of a release binary; the installed one does without it.
strip "$root/usr/local/bin/retentiond" 2>/dev/null || true
if [ -e "$root/etc/retentiond/retentiond.yaml" ]; then
  echo "install.sh: keeping the existing $root/etc/retentiond/retentiond.yaml (the shipped one is in etc/retentiond/)"
else
  # The installed policy names the key the units load as a credential, so that a command run by
  # hand (as root) reads the same key as the units.
  sed 's|^audit: { key_file: audit.key }$|audit: { key_file: /etc/retentiond/credentials/audit.key }|' \
    etc/retentiond/retentiond.yaml > "$root/etc/retentiond/retentiond.yaml.new"
  grep -q '^audit: { key_file: /etc/retentiond/credentials/audit.key }$' "$root/etc/retentiond/retentiond.yaml.new" \
    || { rm -f "$root/etc/retentiond/retentiond.yaml.new"; echo "install.sh: etc/retentiond/retentiond.yaml has no 'audit: { key_file: audit.key }' line to point at the credential" >&2; exit 1; }
  chmod 0644 "$root/etc/retentiond/retentiond.yaml.new"
  mv "$root/etc/retentiond/retentiond.yaml.new" "$root/etc/retentiond/retentiond.yaml"
fi
install -m 0644 etc/examples/dolibarr.yaml etc/examples/znuny.yaml "$root/etc/retentiond/examples/"
install -m 0644 systemd/retentiond.service systemd/retentiond-run.service systemd/retentiond-run.timer \
  systemd/retentiond-dry-run.service "$root/etc/systemd/system/"
install -m 0644 docs/man/*.1 "$root/usr/local/share/man/man1/"
"$root/usr/local/bin/retentiond" --generate-completion-script bash > "$root/usr/share/bash-completion/completions/retentiond"
chmod 0644 "$root/usr/share/bash-completion/completions/retentiond"

if [ -z "$root" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
echo "installed retentiond into ${root:-/}; next: docs/deployment.md, \"2. Configure\""
