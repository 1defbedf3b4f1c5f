#!/bin/sh
# Every benchmark refuses arguments it does not accept: exit status 2 and a message on stderr
# that says what is accepted, before any measuring starts.
#   bench_arguments_test.sh BENCH_DIR
dir=$1
failed=0
expect_refused() {
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 2 ] || [ -z "$err" ]; then
    echo "FAIL: '$*' exited $rc (expected 2 with a message)${err:+: $err}"
    failed=1
  else
    echo "ok: '$*': $err" | head -n 1
  fi
}
for b in cache-bench interrupt-bench iommu-bench one-pass-bench one-pass-run-bench scalable-bench \
         soak-bench sriov-bench stats-bench strategies-bench trace-bench; do
  expect_refused "$dir/$b" --no-such-option 1
done
# Counts that are not counts.
expect_refused "$dir/cache-bench" --repeats 0
expect_refused "$dir/cache-bench" --accesses lots
expect_refused "$dir/trace-bench" --ops 12x
expect_refused "$dir/one-pass-bench" --max-ways -1
expect_refused "$dir/one-pass-run-bench" --repeats 0
expect_refused "$dir/soak-bench" --max ten
expect_refused "$dir/interrupt-bench" 0
expect_refused "$dir/interrupt-bench" 2e6
expect_refused "$dir/iommu-bench" --dmas abc
expect_refused "$dir/scalable-bench" --repeats 0
expect_refused "$dir/sriov-bench" --packets 0
exit $failed
