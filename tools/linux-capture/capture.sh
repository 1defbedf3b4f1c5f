#!/usr/bin/env bash
# Captures Linux driving QEMU's VT-d: boots Debian's Linux 6.1 on a q35 machine with an
# intel-iommu (interrupt remapping on), runs network and/or disk traffic in the guest, and writes
# a capture directory that `iommu-sim replay` reads. Debian packages only: qemu-system-x86,
# busybox-static, cpio, python3, and a linux-image-6.1.*-amd64 package fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` (never installed).
#
#   tools/linux-capture/capture.sh --out DIR [--device e1000e|nvme|both|virtio-net-ats] [--strict 1|0]
#       [--scalable 0|1] [--pings N] [--ping-size BYTES] [--disk-kib N] [--memory MIB]
#       [--work DIR] [--keep]
#
# Exit codes: 0 done, 2 bad arguments, 3 a tool is missing (the message names the package),
# 1 the guest or QEMU failed. docs: tools/linux-capture/README.md
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="" device="both" strict=1 scalable=0 pings=100 ping_size=1400 disk_kib=1024 memory_mib=256
work="" keep=0 timeout_s=${CAPTURE_TIMEOUT:-300}
readonly register_base=0xfed90000  # QEMU's q35 intel-iommu register window

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "capture: $*" >&2; exit "${2:-1}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --strict) strict="$2"; shift 2 ;;
    --scalable) scalable="$2"; shift 2 ;;
    --pings) pings="$2"; shift 2 ;;
    --ping-size) ping_size="$2"; shift 2 ;;
    --disk-kib) disk_kib="$2"; shift 2 ;;
    --memory) memory_mib="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" 2 ;;
  esac
done
[ -n "$out" ] || { usage >&2; die "--out DIR is required" 2; }
case "$device" in e1000e|nvme|both|virtio-net-ats) ;;
  *) die "--device: '$device' is not accepted; expected e1000e, nvme, both or virtio-net-ats" 2 ;; esac
case "$strict" in 0|1) ;; *) die "--strict: '$strict' is not accepted; expected 1 (strict) or 0 (lazy)" 2 ;; esac
case "$scalable" in 0|1) ;; *) die "--scalable: '$scalable' is not accepted; expected 0 (legacy) or 1 (x-scalable-mode=on)" 2 ;; esac
for n in "$pings" "$ping_size" "$disk_kib" "$memory_mib"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a whole number" 2
done
[ $((disk_kib % 64)) -eq 0 ] || die "--disk-kib must be a multiple of 64" 2

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: install the Debian package $2" 3; }
need qemu-system-x86_64 qemu-system-x86
need cpio cpio
need python3 python3
need dpkg-deb dpkg
need apt-get apt
# The initramfs has no C library: the busybox of busybox-static (the plain busybox package is
# dynamically linked and would not run there).
busybox=/bin/busybox
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" && [ -x "$busybox" ] ||
  die "a static busybox is needed: install the Debian package busybox-static" 3

cleanup_work=0
if [ -z "$work" ]; then work="$(mktemp -d /tmp/linux-capture.XXXXXX)"; cleanup_work=1; fi
mkdir -p "$work" "$out"
qemu_pid=""
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [ "$cleanup_work" = 1 ] && [ "$keep" = 0 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# ---- The kernel: Debian's linux-image-6.1.*-amd64, downloaded and unpacked, never installed.
kdir="$work/kernel"
if [ -z "$(ls "$kdir"/boot/vmlinuz-6.1.* 2>/dev/null)" ]; then
  mkdir -p "$kdir"
  deb="$(ls "$work"/linux-image-6.1.*-amd64_*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$deb" ]; then
    pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-6\.1\.[0-9.-]*-amd64\)$/\1/p' | head -1)"
    [ -n "$pkg" ] || die "apt cannot name the linux-image-6.1.*-amd64 package (run apt-get update)" 3
    (cd "$work" && apt-get download "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed" 3
    deb="$(ls "$work"/linux-image-6.1.*-amd64_*.deb | head -1)"
  fi
  dpkg-deb -x "$deb" "$kdir"
fi
vmlinuz="$(ls "$kdir"/boot/vmlinuz-6.1.* | head -1)"
kver="${vmlinuz##*/vmlinuz-}"
moddir="$kdir/lib/modules/$kver/kernel"

# ---- The initramfs: busybox, the driver modules, and the init script.
root="$work/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,lib/modules}
cp "$busybox" "$root/bin/busybox"
for m in lib/crc64.ko lib/crc64-rocksoft.ko lib/crc-t10dif.ko crypto/crct10dif_common.ko \
         crypto/crct10dif_generic.ko crypto/crc64_rocksoft_generic.ko block/t10-pi.ko \
         drivers/nvme/host/nvme-core.ko drivers/nvme/host/nvme.ko \
         drivers/net/ethernet/intel/e1000e/e1000e.ko \
         drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko drivers/virtio/virtio_pci_modern_dev.ko \
         drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci.ko net/core/failover.ko \
         drivers/net/net_failover.ko drivers/net/virtio_net.ko; do
  [ -f "$moddir/$m" ] || die "the kernel package has no $m" 1
  cp "$moddir/$m" "$root/lib/modules/"
done
sed -e "s/@PINGS@/$pings/g" -e "s/@PINGSIZE@/$ping_size/g" \
    -e "s/@DISK_BLOCKS@/$((disk_kib / 64))/g" -e "s/@DEVICES@/$device/g" \
    "$here/guest-init.sh" > "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# ---- The machine.
devices=()
iommu=intel-iommu,intremap=on
case "$device" in
  e1000e|both) devices+=(-netdev user,id=n0 -device e1000e,netdev=n0) ;;
  virtio-net-ats)
    # A PCIe virtio NIC with the ATS capability, behind a root port, and a VT-d with device TLBs
    # (ECAP.DT; QEMU then reports every root port in its DMAR ATSR): Linux enables ATS on the
    # NIC, gives its context TT = 01b and invalidates its device-TLB (descriptor 0x3).
    iommu+=,device-iotlb=on
    devices+=(-device pcie-root-port,id=rp0,chassis=1 -netdev user,id=n0
              -device virtio-net-pci,netdev=n0,bus=rp0,disable-legacy=on,iommu_platform=on,ats=on) ;;
esac
if [ "$device" = nvme ] || [ "$device" = both ]; then
  truncate -s 64M "$work/disk.img"
  devices+=(-drive file="$work/disk.img",if=none,id=d0,format=raw -device nvme,drive=d0,serial=capture0)
fi
trace_args=()
for e in vtd_reg_write vtd_inv_desc vtd_dmar_translate vtd_dmar_fault vtd_iotlb_page_update \
         vtd_iotlb_page_hit vtd_iotlb_cc_update vtd_iotlb_cc_hit vtd_ir_irte_get vtd_ir_remap_msi \
         vtd_ir_remap_msi_req vtd_fault_disabled vtd_frr_new; do
  trace_args+=(-trace "$e")
done
rm -f "$work/vtd.log" "$work/console.log" "$work/qmp.sock"
# Scalable mode: QEMU offers it (ECAP.SMTS, second-level translation), and Debian's kernel,
# built with CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON, takes it.
[ "$scalable" = 1 ] && iommu+=,x-scalable-mode=on
append="console=ttyS0 intel_iommu=on iommu.strict=$strict quiet panic=-1 no_timer_check"
qemu_cmd=(qemu-system-x86_64 -machine q35,kernel-irqchip=split -m "$memory_mib" -smp 1
          -nographic -no-reboot -device "$iommu" "${devices[@]}"
          -kernel "$vmlinuz" -initrd "$work/initrd.gz" -append "$append"
          "${trace_args[@]}" -msg timestamp=on -D "$work/vtd.log" -qmp unix:"$work/qmp.sock",server=on,wait=off)
echo "capture: booting Linux $kver ($device, iommu.strict=$strict, scalable=$scalable) under QEMU (TCG)"
start=$(date +%s)
"${qemu_cmd[@]}" < /dev/null > "$work/console.log" 2>&1 &
qemu_pid=$!
while ! grep -q "@@CAPTURE-DONE" "$work/console.log" 2>/dev/null; do
  if ! kill -0 "$qemu_pid" 2>/dev/null; then
    tail -20 "$work/console.log" >&2
    die "QEMU ended before the guest finished (console above)" 1
  fi
  if [ $(( $(date +%s) - start )) -gt "$timeout_s" ]; then
    tail -20 "$work/console.log" >&2
    die "the guest did not finish within ${timeout_s}s (CAPTURE_TIMEOUT)" 1
  fi
  sleep 1
done
python3 "$here/capture_helper.py" snapshot "$work/qmp.sock" "$work" $((memory_mib << 20)) "$register_base"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""
sed -n 's/^\[ *[0-9.]*\] \(nvme:.*\|[0-9]* packets.*\|round-trip.*\)/guest: \1/p' "$work/console.log" || true
python3 "$here/capture_helper.py" extract "$work" "$out"
{
  echo "# capture of Linux driving QEMU's VT-d"
  echo "qemu $(qemu-system-x86_64 --version | head -1)"
  echo "kernel $kver"
  echo "device $device"
  echo "strict $strict"
  echo "scalable $scalable"
  echo "pings $pings"
  echo "ping_size $ping_size"
  echo "disk_kib $disk_kib"
  echo "memory_mib $memory_mib"
  echo "register_base $register_base"
  echo "command ${qemu_cmd[*]}"
  echo "seconds $(( $(date +%s) - start ))"
} > "$out/capture.txt"
echo "capture: done in $(( $(date +%s) - start )) s"
