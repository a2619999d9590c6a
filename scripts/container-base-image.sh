#!/usr/bin/env bash
# Makes the base image deploy/Dockerfile starts from, docker.io/library/debian:bookworm-slim,
# without a registry: `debootstrap --variant=minbase bookworm` from the Debian mirror this
# machine's apt uses, slimmed like the official image (no apt lists or caches, no documentation),
# with the host's apt sources, then `podman import`ed under that name. Does nothing when the
# image exists already (it is kept in podman's storage across runs); --force makes it again.
set -euo pipefail

cd "$(dirname "$0")/.."
readonly IMAGE=docker.io/library/debian:bookworm-slim
readonly PODMAN=scripts/podman.sh

log() { printf 'container-base-image: %s\n' "$*" >&2; }

# The first URI of a source that carries the bookworm suite, from the one-line (*.list) or the
# deb822 (*.sources) format: the mirror apt already uses here, so no other host is contacted.
debian_mirror() {
  local file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $file ]] || continue
    awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$file"
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f $file ]] || continue
    # deb822: paragraphs separated by blank lines; take URIs of a paragraph whose Suites list
    # bookworm itself (not only bookworm-security or bookworm-updates).
    awk 'BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; suite = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, f, /[ \t]+/); uri = f[2] }
          if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) suite = 1
        }
        if (uri != "" && suite) { print uri; exit }
      }' "$file"
  done
}

if [[ ${1:-} != --force ]] && "$PODMAN" image exists "$IMAGE"; then
  log "$IMAGE present"
  exit 0
fi

mirror=$(debian_mirror | sed -n 1p)
if [[ -z $mirror ]]; then
  log "no bookworm source in /etc/apt/sources.list or /etc/apt/sources.list.d/: cannot choose a mirror"
  exit 1
fi

root=$(mktemp -d /var/tmp/agentauth-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT

log "debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -20 "$root.log" >&2
  rm -f "$root.log"
  exit 1
}
rm -f "$root.log"

# What the official slim image leaves out: documentation, manuals and translations, for every
# package installed later too, and apt's downloaded lists and packages.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CFG
find "$root/usr/share/doc" -mindepth 2 -not -name copyright -not -type d -delete
for folder in man info locale lintian; do
  [[ -d $root/usr/share/$folder ]] && find "$root/usr/share/$folder" -mindepth 1 -delete
done
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/*

# The host's apt sources that use the mirror, so that apt inside the image uses it too (other
# sources, such as a vendor's repository, would need keys the image does not have).
rm -f "$root/etc/apt/sources.list"
mirror_host=$(sed -E 's|^[a-z]+://([^/]+).*|\1|' <<<"$mirror")
for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -f $file ]] && grep -qF "$mirror_host" "$file" && cp "$file" "$root$file"
done

log "importing as $IMAGE"
tar -C "$root" --numeric-owner -c . |
  "$PODMAN" import --quiet --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
log "$("$PODMAN" image inspect --format '{{.Id}} {{.Size}} bytes' "$IMAGE")"
