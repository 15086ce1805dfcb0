#!/bin/sh
# run_fuzz.sh BINARY SEED_CORPUS_DIR WORK_DIR [libFuzzer args...]
# Copies the seed corpus (if any) to WORK_DIR so CTest never writes into the source tree,
# then runs the fuzzer on it.
set -eu
binary=$1 seeds=$2 work=$3
shift 3
rm -rf "$work"
mkdir -p "$work"
if [ -d "$seeds" ]; then
  cp -r "$seeds"/. "$work"/
fi
exec "$binary" "$@" "$work"
