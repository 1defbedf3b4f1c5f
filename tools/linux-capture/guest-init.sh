#!/bin/busybox sh
# /init of the capture initramfs: runs inside the Linux guest. The capture script fills in
# @PINGS@, @PINGSIZE@, @DISK_BLOCKS@ and @DEVICES@ (e1000e, nvme, both or virtio-net-ats) before
# packing it.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || mount -t debugfs debugfs /sys/kernel/debug

# Output goes through the kernel log: the serial console then writes it by polling. Written to
# the tty, every character would be an interrupt through the remapper.
say() { echo "<2>$*" > /dev/kmsg; }
exec > /dev/null 2>&1

T=/sys/kernel/tracing
[ -d $T/events ] || T=/sys/kernel/debug/tracing
echo 16384 > $T/buffer_size_kb
echo 1 > $T/events/iommu/map/enable
echo 1 > $T/events/iommu/unmap/enable

say "@@CAPTURE-DMESG-BEGIN"
dmesg | grep -E 'DMAR|IOMMU|iommu' | grep -v 'ACPI' | while read -r l; do say "$l"; done
say "@@CAPTURE-DMESG-END"

# The drivers are modules of the kernel package; their dependencies first.
for m in crct10dif_common crct10dif_generic crc-t10dif crc64 crc64_rocksoft_generic crc64-rocksoft \
         t10-pi nvme-core nvme e1000e virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
         virtio_pci failover net_failover virtio_net; do
  f=$(find /lib/modules -name "$m.ko" | head -1)
  [ -n "$f" ] && insmod "$f" 2>/dev/null
done
sleep 1

case "@DEVICES@" in *e1000e*|both|virtio-net-ats)
  ip link set eth0 up
  ip addr add 10.0.2.15/24 dev eth0
  sleep 1
  ping -c @PINGS@ -i 0.05 -s @PINGSIZE@ 10.0.2.2 > /dev/null
  ping -c @PINGS@ -i 0.05 10.0.2.2 | tail -2 | while read -r l; do say "$l"; done
  ;;
esac

case "@DEVICES@" in *nvme*|both)
  n=0
  while [ ! -b /dev/nvme0n1 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
  if [ -b /dev/nvme0n1 ]; then
    dd if=/dev/urandom of=/tmp/pattern bs=64k count=@DISK_BLOCKS@ 2>/dev/null
    dd if=/tmp/pattern of=/dev/nvme0n1 bs=64k count=@DISK_BLOCKS@ conv=fsync 2>/dev/null
    echo 3 > /proc/sys/vm/drop_caches
    dd if=/dev/nvme0n1 of=/tmp/readback bs=64k count=@DISK_BLOCKS@ 2>/dev/null
    if cmp -s /tmp/pattern /tmp/readback; then say "nvme: data read back intact"; else say "nvme: READBACK MISMATCH"; fi
  else
    say "nvme: no /dev/nvme0n1"
  fi
  ;;
esac

echo 0 > $T/events/iommu/map/enable
echo 0 > $T/events/iommu/unmap/enable
say "@@CAPTURE-FTRACE-BEGIN"
grep -E ' (map|unmap): ' $T/trace | gzip -9 | base64 | while read -r l; do say "$l"; done
say "@@CAPTURE-FTRACE-END"
say "@@CAPTURE-DONE"
# The host stops the machine here and saves its memory and registers.
while true; do sleep 60; done
