#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# CLI tests for `cvmm-measure tdx`: measure_cli_test.sh CASE CVMM_MEASURE OVMF_FD
# Exits 0 on pass, 1 on failure, 77 (skip) when the reference OVMF.fd is absent or different.
set -u
case_name=$1
bin=$2
ovmf=$3
ref_sha256=7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773
mrtd=4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47
cmdline_digest=799728bc56f2a2e2ec0f99fadf8a091ad1b29cf5133c2c0d0cc8c389d178ddeb7e54bd87e46ae99879277aef84ed6036

if [ ! -r "$ovmf" ] || [ "$(sha256sum "$ovmf" | cut -d' ' -f1)" != "$ref_sha256" ]; then
  echo "SKIP: $ovmf is absent or not the Debian 2022.11-6+deb12u2 reference build"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; exit 1; }
# run EXPECTED_STATUS ARGS...: runs the tool, checks the exit status.
run() {
  expected=$1; shift
  "$bin" tdx "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
  [ "$status" -eq "$expected" ] || fail "exit status $status, expected $expected for: $*"
}
expect_out() { grep -qF -- "$1" "$tmp/out" || fail "stdout lacks '$1'"; }
expect_err() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks '$1'"; }
one_error_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "stderr is not exactly one line"; }

case $case_name in
  mrtd)
    run 0 --firmware "$ovmf"
    [ "$(cat "$tmp/out")" = "$mrtd" ] || fail "MRTD differs from the reference"
    ;;
  json)
    run 0 --firmware "$ovmf" --memory 4G --append "console=ttyS0 loglevel=7" --json
    expect_out "\"mrtd\": \"$mrtd\""
    expect_out "\"digest\": \"$cmdline_digest\""
    expect_out "\"memory_size\": 4294967296"
    expect_out "\"events\": []"
    expect_out "\"mrconfigid\": \"$(printf '%096d' 0)\""
    ;;
  initdata)
    printf 'algorithm = "sha384"\nversion = "0.1.0"\n\n[data]\n' >"$tmp/initdata.toml"
    run 0 --firmware "$ovmf" --initdata "$tmp/initdata.toml" --json
    expect_out "\"mrconfigid\": \"$(sha384sum "$tmp/initdata.toml" | cut -d' ' -f1)\""
    printf 'algorithm = "md5"\n' >"$tmp/bad.toml"
    run 1 --firmware "$ovmf" --initdata "$tmp/bad.toml"
    expect_err "initdata algorithm 'md5' is not supported"
    one_error_line
    ;;
  mrconfigid)
    hex=$(printf 'ab%.0s' $(seq 48))
    run 0 --firmware "$ovmf" --mrconfigid "$hex" --json
    expect_out "\"mrconfigid\": \"$hex\""
    run 2 --firmware "$ovmf" --mrconfigid abcd
    expect_err "--mrconfigid must be 48 bytes"
    ;;
  truncated)
    # The CODE half alone (what OVMF_CODE.fd is): its metadata offsets assume the unified image.
    tail -c 1966080 "$ovmf" >"$tmp/code.fd"
    run 1 --firmware "$tmp/code.fd"
    expect_err "runs past the end of the 0x1e0000-byte image"
    expect_err "pass the unified OVMF.fd"
    one_error_line
    head -c 4096 "$ovmf" >"$tmp/short.fd"
    run 1 --firmware "$tmp/short.fd"
    expect_err "no TDVF metadata"
    one_error_line
    ;;
  unknown_firmware)
    # Same layout, different bytes: MRTD works, the RTMR model refuses.
    cp "$ovmf" "$tmp/other.fd"
    printf 'x' | dd of="$tmp/other.fd" bs=1 seek=65536 conv=notrunc 2>/dev/null
    run 0 --firmware "$tmp/other.fd" --json
    expect_out '"rtmr": null'
    expect_out 'refusing to predict RTMRs'
    run 1 --firmware "$tmp/other.fd" --append "console=ttyS0"
    expect_err "rtmr model: firmware with sha256"
    one_error_line
    ;;
  usage)
    run 2
    expect_err "--firmware is required"
    run 2 --firmware "$ovmf" --bogus 1
    expect_err "unknown option '--bogus'"
    run 2 --firmware "$ovmf" --memory 12Q
    expect_err "--memory: '12Q' is not a size"
    run 2 --firmware
    expect_err "'--firmware' needs a value"
    run 2 --firmware "$ovmf" --mrconfigid "$(printf '%096d' 0)" --initdata x
    run 1 --firmware "$tmp/missing.fd"
    expect_err "missing.fd: No such file or directory"
    printf 'not a kernel' >"$tmp/vmlinuz"
    run 1 --firmware "$ovmf" --kernel "$tmp/vmlinuz"
    # cvmm's own refusal for --firmware with --kernel (firmware/fw_cfg_kernel.h)
    rule="firmware direct boot needs a bzImage (the firmware loads the kernel through fw_cfg)"
    expect_err "$tmp/vmlinuz: $rule: a 12-byte file is too short for a setup header"
    one_error_line
    # A bzImage without an EFI stub passes that rule; the RTMR model then needs the PE image.
    head -c 1025 /dev/zero >"$tmp/bzimage"
    poke() { printf "$2" | dd of="$tmp/bzimage" bs=1 seek=$(($1)) conv=notrunc 2>/dev/null; }
    poke 0x1f1 '\001'; poke 0x202 'HdrS'; poke 0x206 '\000\002'; poke 0x211 '\001'
    run 1 --firmware "$ovmf" --kernel "$tmp/bzimage"
    expect_err "an EFI-stub bzImage is required"
    one_error_line
    run 1 --firmware "$ovmf" --memory 1M
    expect_err "give the TD more memory"
    run 0 --help
    expect_out "usage: cvmm-measure tdx"
    ;;
  *)
    echo "unknown case $case_name"; exit 1 ;;
esac
echo PASS
