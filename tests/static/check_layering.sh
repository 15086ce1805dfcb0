#!/usr/bin/env bash
# Enforces the dependency direction of architecture-anchors §B.2 and the no-throw rule (§B.6)
# by reading #include lines. Exit 0 when clean; lists every violation otherwise.
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
status=0

violation() {
  echo "layering: $1"
  status=1
}

# rule DIR FORBIDDEN_REGEX REASON: no file under DIR may include a header matching the regex.
rule() {
  local dir=$1 pattern=$2 reason=$3
  [[ -d $dir ]] || return 0
  while IFS= read -r hit; do
    violation "$hit ($reason)"
  done < <(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" "$dir" \
             --include='*.h' --include='*.cc' --include='*.cpp' 2>/dev/null)
}

rule base 'vmm/|devices/|firmware/|tools/' "base/ is the leaf library"
rule firmware 'vmm/|devices/|tools/|linux/kvm\.h|sys/ioctl\.h' "firmware/ is pure"
rule devices 'vmm/|firmware/|tools/|linux/kvm\.h' "devices/ depends on base/ only"
rule vmm/tdx 'vmm/snp/|vmm/s390-se/|devices/' "TEE backends never include each other or devices/"
rule vmm/snp 'vmm/tdx/|vmm/s390-se/|devices/' "TEE backends never include each other or devices/"
rule vmm/s390-se 'vmm/tdx/|vmm/snp/|devices/' "TEE backends never include each other or devices/"
rule tools/measure 'vmm/|devices/' "cvmm-measure links firmware/ and base/ only"

# Debian's 6.1 <linux/kvm.h> lays out kvm_cpuid2/kvm_msrs/kvm_irq_routing wrongly under C++
# (its __DECLARE_FLEX_ARRAY); vmm/kvm/uapi.h fixes that before including it, so it is the only
# file allowed to include the kernel header.
while IFS= read -r hit; do
  violation "$hit (include vmm/kvm/uapi.h instead of <linux/kvm.h>)"
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<linux/kvm\.h>' \
           base firmware devices vmm tools tests bench --include='*.h' --include='*.cc' \
           --include='*.c' 2>/dev/null | grep -v '^vmm/kvm/uapi\.h:' | grep -v '^bench/.*\.c:')

# Our libraries never throw (Result<T> carries errors); tools/ catch at main.
while IFS= read -r hit; do
  violation "$hit (no 'throw' in library code; return an Error)"
done < <(grep -rnE '(^|[^_[:alnum:]])throw[[:space:]]*[^;[:space:]]?' base firmware devices vmm \
           --include='*.h' --include='*.cc' 2>/dev/null | grep -vE '//.*throw|noexcept|throw\(\)' )

exit $status
