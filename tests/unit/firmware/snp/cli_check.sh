#!/usr/bin/env bash
# cli_check.sh STATUS REGEX -- COMMAND...: runs COMMAND and passes when its exit status is
# STATUS and its combined stdout+stderr matches the extended REGEX (grep -E). Exits 77
# (CTest skip) when Debian's OVMF.fd, which most cases use, is absent.
set -u
status=$1 regex=$2
shift 3
for arg in "$@"; do
  case $arg in
    *OVMF.fd|--firmware=*OVMF.fd) [[ -e ${arg#--firmware=} || $arg == /nonexistent/* ]] || {
      echo "skip: ${arg#--firmware=} is absent"; exit 77; } ;;
  esac
done
output=$("$@" 2>&1)
actual=$?
echo "$output"
if [[ $actual -ne $status ]]; then
  echo "cli_check: exit status $actual, expected $status"
  exit 1
fi
if ! grep -qE -- "$regex" <<<"$output"; then
  echo "cli_check: output does not match: $regex"
  exit 1
fi
exit 0
