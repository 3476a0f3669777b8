#!/bin/sh
# Checks compare's numbers against minimal C programs making the same system calls with the
# same placement (issue 6, "Speed"): each row's round trip within 10% of C, shm spin within
# 1.5x of a bare cache-line ping-pong, pipe and UDS stream throughput within 10% of the same
# C loop, the shm ring at least 2.5x the pipe's throughput.
#
#     compare/baseline/run.sh            # from anywhere in the workspace; needs cc
#     ITERS=50000 REPS=5 compare/baseline/run.sh
#
# Like with like: the pipe and UDS programs do compare's payload work on every message (the
# sender fills it with compare's per-message pattern, the receiver checks every byte, the echo
# is checked again), compiled with -O3 -march=native as compare's pattern loops use AVX2 where
# the CPU has it. The cache-line ping-pong carries no payload: it is the floor for shm spin.
# Each number is the median of REPS runs, C and compare alternating, so both see the same
# machine. Run it on a quiet machine: these are timings, not tests.
set -eu
cd "$(dirname "$0")/../.."
ITERS=${ITERS:-20000}
REPS=${REPS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

for prog in pipe uds cacheline; do
    cc -O3 -march=native -Wall -o "$work/$prog" "compare/baseline/${prog}_pingpong.c"
done
CARGO_TARGET_DIR=target/compare cargo build --release -q -p compare
second=$(( $(nproc) > 1 ? 1 : 0 ))

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# compare's CSV columns: mechanism,key,placement,size,status,reason,samples,rtt_p50_ns (8),
# rtt_p99_ns,rtt_max_ns,rtt_batch_ns,cpu_us_per_msg,throughput_mib_s (13),...
measure() { # key placement -> appends row 2 of compare's CSV to $work/KEY-PLACE.csv
    ./target/compare/release/compare --only "$1" --placement "$2" --sizes 64 \
        --iters "$ITERS" --format csv 2> /dev/null | sed -n 2p >> "$work/$1-$2.csv"
}
field() { # key placement column -> the median over the runs
    awk -F, -v c="$3" '{ printf "%.0f\n", $c }' "$work/$1-$2.csv" | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
verdict() { # ratio target ("<= 1.10" or ">= 0.90") -> ok / MISSED
    awk -v r="$1" -v op="${2%% *}" -v t="${2#* }" 'BEGIN {
        if (r == "-") print "-"; else if (op == "<=" ? r <= t + 0 : r >= t + 0) print "ok";
        else print "MISSED" }'
}
line() { printf '%-24s %-6s %10s %10s %7s  %-8s %s\n' "$@"; }
row() { # name place c compare target: prints the line with its ratio and verdict
    r=$(ratio "$4" "$3")
    line "$1" "$2" "$3" "$4" "$r" "$5" "$(verdict "$r" "$5")"
}

echo "C: same system calls and placement, same payload work per message (compare's pattern"
echo "filled by the sender, every byte checked by the receiver), cc -O3 -march=native."
echo "Each number: median of $REPS runs, C and compare alternating; round trips of 64 B, $ITERS samples."
echo
line row place C compare ratio target verdict
for place in same split; do
    if [ "$place" = split ] && [ "$second" = 0 ]; then echo "split: one CPU, skipped"; continue; fi
    child=$([ "$place" = same ] && echo 0 || echo "$second")
    for pair in pipe:pipe uds:uds-stream; do
        prog=${pair%%:*} key=${pair#*:}
        for _ in $(seq "$REPS"); do
            "$work/$prog" 0 "$child" "$ITERS" 64 | cut -d' ' -f1 >> "$work/$prog-$place.rtt"
            "$work/$prog" 0 "$child" 1 0 >> "$work/$prog-$place.tput"
            measure "$key" "$place"
        done
        c_rtt=$(median < "$work/$prog-$place.rtt")
        c_tput=$(median < "$work/$prog-$place.tput")
        row "$key p50 ns" "$place" "$c_rtt" "$(field "$key" "$place" 8)" "<= 1.10"
        row "$key MiB/s" "$place" "$c_tput" "$(field "$key" "$place" 13)" ">= 0.90"
    done
    for _ in $(seq "$REPS"); do
        "$work/cacheline" 0 "$child" "$ITERS" 0 | cut -d' ' -f1 >> "$work/line-$place"
        measure shm-spin "$place"
    done
    c_line=$(median < "$work/line-$place")
    if [ "$place" = same ]; then
        # On one core a spinner can only wait for the scheduler to run its peer: spinning
        # is the wrong tool there, and these two ratios are printed, not judged.
        line "shm-spin p50 ns vs line" same "$c_line" "$(field shm-spin same 8)" \
            "$(ratio "$(field shm-spin same 8)" "$c_line")" "(none)" "-"
        line "shm-spin / pipe MiB/s" same "$(field pipe same 13)" "$(field shm-spin same 13)" \
            "$(ratio "$(field shm-spin same 13)" "$(field pipe same 13)")" "(none)" "-"
        continue
    fi
    row "shm-spin p50 ns vs line" "$place" "$c_line" "$(field shm-spin "$place" 8)" "<= 1.50"
    row "shm-spin / pipe MiB/s" "$place" "$(field pipe "$place" 13)" \
        "$(field shm-spin "$place" 13)" ">= 2.50"
done
echo
echo "(shm-spin / pipe MiB/s: the two number columns are compare's pipe and shm-spin rows.)"
