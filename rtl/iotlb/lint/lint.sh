#!/bin/sh
# Lints the RTL IOTLB with `verilator --lint-only -Wall` at the geometries and policies that
# exercise the corner cases of the parameter arithmetic. Usage: lint.sh [verilator binary]
set -eu
VERILATOR=${1:-verilator}
DIR=$(cd "$(dirname "$0")/.." && pwd)
SRC="$DIR/iotlb_pkg.sv $DIR/iotlb_repl.sv $DIR/iotlb.sv $DIR/iotlb_sc_top.sv"
# Fields: Sets Ways Policy Index (0: page number, 1: page number XOR domain).
for geom in "32 4 0 0" "32 4 1 0" "32 4 2 0" "1 16 1 0" "1 12 0 0" "64 1 2 0" "1 1 1 0" \
            "16 3 2 0" "4 8 1 0" "32 4 0 1" "1 16 0 1" "64 1 2 1" "16 3 2 1"; do
  set -- $geom
  echo "lint: Sets=$1 Ways=$2 Policy=$3 Index=$4"
  "$VERILATOR" --lint-only -Wall -GSets=$1 -GWays=$2 -GPolicy=$3 -GIndex=$4 \
    "$DIR/lint/iotlb.vlt" $SRC --top-module iotlb_sc_top
done
echo "lint: clean"
