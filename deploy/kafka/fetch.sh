#!/usr/bin/env bash
# Fetch the jars of a single-node Apache Kafka broker (KRaft) from Maven Central.
#
# Usage: deploy/kafka/fetch.sh [LIB_DIR]
#   LIB_DIR defaults to $DEMANDHUB_KAFKA_HOME, else <repo>/.cache/kafka-libs.
#
# Contract: on success the directory holds kafka_2.13-<version>.jar (the version pinned in
# deploy/kafka/pom.xml) and every runtime dependency the broker needs, and its absolute path is
# the only line printed on stdout. Idempotent: when the pinned version is already there, Maven is
# not run. A new version is copied into a temporary directory first and swapped in whole, so an
# interrupted fetch never leaves a half-filled or mixed-version directory behind; a directory
# holding anything but jars is never replaced.
# Needs only Maven and a Java 17 runtime; Maven's own output goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"
lib_dir="${1:-${DEMANDHUB_KAFKA_HOME:-$repo_root/.cache/kafka-libs}}"

kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
if [[ -z "$kafka_version" ]]; then
  echo "fetch.sh: no <kafka.version> in $pom" >&2
  exit 1
fi

if [[ -f "$lib_dir/kafka_2.13-$kafka_version.jar" ]]; then
  (cd "$lib_dir" && pwd)
  exit 0
fi

for tool in mvn java; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fetch.sh: '$tool' is required (Maven and Java 17)" >&2
    exit 1
  fi
done

if [[ -d "$lib_dir" ]] && find "$lib_dir" -mindepth 1 ! -name '*.jar' -print -quit | grep -q .; then
  echo "fetch.sh: $lib_dir holds files other than jars; refusing to replace it" >&2
  exit 1
fi

mkdir -p "$(dirname "$lib_dir")"
# Concurrent fetches into the same directory take turns (flock is in util-linux).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$lib_dir.lock"
  flock 9
  if [[ -f "$lib_dir/kafka_2.13-$kafka_version.jar" ]]; then
    (cd "$lib_dir" && pwd)
    exit 0
  fi
fi

staging="$(mktemp -d "$lib_dir.partial.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

echo "fetch.sh: resolving org.apache.kafka:kafka_2.13:$kafka_version into $lib_dir" >&2
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$staging" >&2

if [[ ! -f "$staging/kafka_2.13-$kafka_version.jar" ]]; then
  echo "fetch.sh: Maven finished but kafka_2.13-$kafka_version.jar is missing" >&2
  exit 1
fi

rm -rf "$lib_dir"
mv "$staging" "$lib_dir"
trap - EXIT
(cd "$lib_dir" && pwd)
