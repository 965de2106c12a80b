#!/usr/bin/env bash
# Builds both seat boards in release and prints, from each ELF, the flash it occupies
# (.vector_table + .text + .rodata + .data's load image) and its static RAM (.data + .bss +
# .uninit; the stack takes the rest of RAM). Fails if the QEMU board exceeds its budget of
# 32 KiB flash and 8 KiB static RAM.
set -euo pipefail
cd "$(dirname "$0")/.."

QEMU_FLASH_BUDGET=$((32 * 1024))
QEMU_RAM_BUDGET=$((8 * 1024))

# llvm-size from rustup's llvm-tools (installed here if missing), else a system one.
sysroot_bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
if [ ! -x "$sysroot_bin/llvm-size" ]; then
  rustup component add llvm-tools >/dev/null 2>&1 || true
fi
if [ -x "$sysroot_bin/llvm-size" ]; then
  SIZE="$sysroot_bin/llvm-size"
elif command -v llvm-size >/dev/null 2>&1; then
  SIZE=llvm-size
else
  echo "firmware-size: no llvm-size (rustup component add llvm-tools)" >&2
  exit 1
fi

# section sizes of an ELF as "name size" lines
sections() { "$SIZE" -A "$1" | awk 'NF == 3 && $2 ~ /^[0-9]+$/ { print $1, $2 }'; }
sum() { awk -v want="$2" 'BEGIN { split(want, w, " "); for (i in w) s[w[i]] = 1 } ($1 in s) { t += $2 } END { print t + 0 }' <<<"$1"; }

status=0
printf '%-28s %10s %10s\n' board flash static-RAM
for spec in "qemu-lm3s6965:thumbv7m-none-eabi:hemiwatch-board-qemu" \
            "blackpill-f411:thumbv7em-none-eabihf:hemiwatch-board-blackpill"; do
  IFS=: read -r board target bin <<<"$spec"
  (cd "firmware/boards/$board" && cargo build --release --locked --quiet)
  elf="firmware/boards/$board/target/$target/release/$bin"
  s="$(sections "$elf")"
  flash=$(sum "$s" ".vector_table .text .rodata .data")
  ram=$(sum "$s" ".data .bss .uninit")
  printf '%-28s %7d B %7d B   (%s)\n' "$board" "$flash" "$ram" \
    "$(awk -v f="$flash" -v r="$ram" 'BEGIN { printf "%.1f KiB flash, %.2f KiB RAM", f / 1024, r / 1024 }')"
  if [ "$board" = qemu-lm3s6965 ]; then
    if [ "$flash" -gt "$QEMU_FLASH_BUDGET" ]; then
      echo "firmware-size: $board flash $flash B exceeds the $QEMU_FLASH_BUDGET B budget" >&2
      status=1
    fi
    if [ "$ram" -gt "$QEMU_RAM_BUDGET" ]; then
      echo "firmware-size: $board static RAM $ram B exceeds the $QEMU_RAM_BUDGET B budget" >&2
      status=1
    fi
  fi
done
exit $status
