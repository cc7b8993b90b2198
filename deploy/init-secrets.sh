#!/bin/sh
# The compose deployment's secrets, made once before the first `docker compose up`:
#
#   deploy/secrets/codec-keys           payload encryption ring  kid:base64(32 bytes)
#   deploy/secrets/actor-keys           actor-token signing ring kid:base64(32 bytes)
#   deploy/secrets/codec-server-token   the codec server's sign-in token (UI, CLI)
#
# An existing file is never overwritten: rotate by editing it (prepend a new kid:key line,
# keep the old ones while anything still needs them; SECURITY.md) and restarting the
# services that read it. The folder is private to its owner (0700); the files inside are
# readable by all (0444) because compose bind-mounts them as they are and the containers
# run as another user (uid 10001), so the folder's mode is what keeps other users out.
set -eu

dir="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$dir"
chmod 0700 "$dir"

random_b64() {
  # 32 bytes from the kernel's CSPRNG, base64 on one line.
  head -c 32 /dev/urandom | base64 | tr -d '\n'
}

make_secret() {
  file="$dir/$1"
  if [ -s "$file" ]; then
    echo "kept    $file"
    return
  fi
  umask 077
  printf '%s\n' "$2" >"$file"
  chmod 0444 "$file"
  echo "created $file"
}

kid="k$(date -u +%Y%m%d)"
make_secret codec-keys "$kid:$(random_b64)"
make_secret actor-keys "$kid:$(random_b64)"
# URL- and header-safe: letters and digits only.
make_secret codec-server-token "$(random_b64 | tr -dc 'A-Za-z0-9')"
