#!/bin/sh
# cvmm_binary_test.sh CVMM CASE: runs the built cvmm binary and checks its exit status and
# that errors are exactly one "cvmm: " line on stderr.
set -u
cvmm=$1
case_name=$2
out=$(mktemp)
err=$(mktemp)
dir=$(mktemp -d)
trap 'rm -f "$out" "$err"; rm -rf "$dir"' EXIT

expect() {  # expect STATUS STREAM(out|err) REGEX -- ARGS...
  want=$1 stream=$2 regex=$3
  shift 4
  "$cvmm" "$@" >"$out" 2>"$err"
  status=$?
  file=$out
  [ "$stream" = err ] && file=$err
  lines=$(wc -l <"$file")
  if [ "$status" -ne "$want" ] || [ "$lines" -ne 1 ] || ! grep -Eq "$regex" "$file"; then
    echo "cvmm $*: status $status (want $want), $stream has $lines line(s) (want 1 matching '$regex')"
    echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"
    exit 1
  fi
}

case $case_name in
  version) expect 0 out '^cvmm [0-9]+\.[0-9]+\.[0-9]+$' -- --version ;;
  bad_flag) expect 2 err "^cvmm: unknown flag '--kernal'" -- run --kernal /boot/vmlinux ;;
  bad_value) expect 2 err '^cvmm: --cpus boot: 0 is out of range' -- run --kernel /k --cpus boot=0 ;;
  missing_kernel) expect 1 err '^cvmm: ' -- run --kernel /nonexistent/cvmm-test/vmlinux ;;
  host_check)
    # Every backend gets a verdict line; where /dev/kvm is absent all are unavailable with
    # that reason and the status is 1.
    "$cvmm" host-check >"$out" 2>"$err"
    status=$?
    for tee in plain tdx sev-snp; do
      if ! grep -Eq "^$tee +(available|unavailable: .+)$" "$out"; then
        echo "host-check: no verdict line for $tee"; cat "$out" "$err"; exit 1
      fi
    done
    if [ ! -e /dev/kvm ]; then
      grep -q '^plain    unavailable: /dev/kvm is absent' "$out" && [ "$status" -eq 1 ] || {
        echo "host-check without /dev/kvm: status $status"; cat "$out"; exit 1; }
    fi ;;
  disk_*)
    # Image locking: disks are opened (and locked) before /dev/kvm, so a conflict is the
    # startup error on any host, and the vsock socket (created after the disks) never appears.
    printf 'not a kernel' >"$dir/vmlinux"
    head -c 4096 /dev/zero >"$dir/disk.img"
    set -- run --kernel "$dir/vmlinux" --vsock "cid=3,socket=$dir/vsock"
    case $case_name in
      disk_twice)
        expect 1 err "^cvmm: --disk: disk image $dir/disk.img: cannot take a write lock: .*F_OFD_SETLK" \
          -- "$@" --disk "path=$dir/disk.img" --disk "path=$dir/disk.img" ;;
      disk_readonly_after_writable)
        expect 1 err "^cvmm: --disk: disk image $dir/disk.img: cannot take a read lock: .*F_OFD_SETLK" \
          -- "$@" --disk "path=$dir/disk.img" --disk "path=$dir/disk.img,readonly=on" ;;
      disk_readonly_shared)
        # Two readers share the image: whatever stops this run later, it is not the lock.
        "$cvmm" "$@" --disk "path=$dir/disk.img,readonly=on" \
          --disk "path=$dir/disk.img,readonly=on" >"$out" 2>"$err"
        status=$?
        if [ "$status" -eq 0 ] || grep -q 'lock' "$err"; then
          echo "two read-only --disk of one image: status $status"; cat "$out" "$err"; exit 1
        fi
        exit 0 ;;
      *) echo "unknown case $case_name"; exit 2 ;;
    esac
    if [ -e "$dir/vsock" ]; then
      echo "a failed start left $dir/vsock behind"; exit 1
    fi ;;
  *) echo "unknown case $case_name"; exit 2 ;;
esac
