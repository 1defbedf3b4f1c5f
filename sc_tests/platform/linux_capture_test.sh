#!/usr/bin/env bash
# ctest linux_capture: captures Linux 6.1 driving QEMU's VT-d with tools/linux-capture/capture.sh
# (e1000e and NVMe, strict invalidation, a short workload), in legacy and in scalable mode, and
# replays each with iommu-sim: every comparison must agree and at least 90% of the translations
# must be compared. Then the same with a virtio NIC on which Linux enables ATS (QEMU's VT-d with
# device TLBs): its device-TLB invalidations must reach it as QEMU's did. Skipped (exit 77)
# with a message when QEMU or the other packages are missing; CI installs them
# (scripts/bootstrap --linux-capture).
#   linux_capture_test.sh SOURCE_DIR IOMMU_SIM WORK_DIR
set -euo pipefail
src="$1" sim="$2" work="$3"

missing=()
for p in qemu-system-x86 busybox-static cpio; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "SKIPPED: the Linux capture needs the Debian packages ${missing[*]} (scripts/bootstrap --linux-capture installs them)"
  exit 77
fi

mkdir -p "$work"
# Legacy mode, then scalable mode (QEMU's x-scalable-mode=on). The kernel package stays in
# $work/cache between runs.
for scalable in 0 1; do
  out="$work/capture-scalable$scalable"
  rm -rf "$out"
  "$src/tools/linux-capture/capture.sh" --out "$out" --work "$work/cache" \
      --device both --strict 1 --scalable "$scalable" --pings 20 --disk-kib 256
  "$sim" replay "$out" --details 5 | tee "$out.replay.txt"
  # Exit 0 above means no disagreement; the share of translations compared must reach 90%.
  read -r total compared < <(sed -n 's/^  translations *\([0-9]*\) in the trace: compared \([0-9]*\) .*/\1 \2/p' "$out.replay.txt")
  [ -n "${total:-}" ] && [ "$total" -gt 0 ] || { echo "FAILED: the replay compared no translations"; exit 1; }
  if [ $((compared * 100)) -lt $((total * 90)) ]; then
    echo "FAILED: only $compared of $total translations compared (at least 90% expected)"
    exit 1
  fi
  grep -q "^  MSIs .* not comparable 0$" "$out.replay.txt" || { echo "FAILED: not every MSI was compared"; exit 1; }
  echo "linux_capture (scalable $scalable): $compared of $total translations compared, every comparison agreed"
done

# PCIe ATS: Linux enables it on the virtio NIC and invalidates its device-TLB (descriptor 0x3).
rm -rf "$work/capture-ats"
"$src/tools/linux-capture/capture.sh" --out "$work/capture-ats" --work "$work/cache" \
    --device virtio-net-ats --strict 1 --pings 20
"$sim" replay "$work/capture-ats" --details 5 | tee "$work/replay-ats.txt"
read -r inv agreed < <(sed -n 's/^  device-TLB inval\. *\([0-9]*\) in the trace: compared [0-9]* ([0-9.]*%), agreed \([0-9]*\),.*/\1 \2/p' "$work/replay-ats.txt")
[ -n "${inv:-}" ] && [ "$inv" -gt 0 ] && [ "$inv" = "$agreed" ] ||
  { echo "FAILED: Linux queued no device-TLB invalidation, or some did not reach the function as QEMU's"; exit 1; }
echo "linux_capture: with ATS, $agreed of $inv device-TLB invalidations agreed"
