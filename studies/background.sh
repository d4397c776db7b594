#!/usr/bin/env bash
# A search of hours that survives losing its machine: snapshots of the study database are committed.
#
#   studies/background.sh SPEC.toml SNAPSHOT.db [MINUTES] [-- extra `tinynas search` options]
#
# Resumes the study from SNAPSHOT.db when its live database (studies/<name>.db, the default
# storage) is missing, e.g. on a fresh clone; runs `tinynas search SPEC` in the background
# (log: studies/<name>.log) with the study's own cache, studies/<name>.cache (TINYNAS_CACHE);
# every MINUTES (20) copies the live database to SNAPSHOT.db with SQLite's online backup (a
# consistent copy, never a half-written file), and the saved states of its runs in flight to
# SNAPSHOT.runs/, and commits the two. So a trial cut short by a lost machine is retried
# elsewhere from its last snapshotted epoch, not its first. A `tinynas worker` joining the
# study sets the same TINYNAS_CACHE. Stop it with Ctrl-C, or `kill -TERM PID` when it was
# started with & or nohup (a background shell ignores SIGINT): the search records its running
# trial and stops, no trial is left RUNNING, and a last snapshot is committed. Run it again,
# same command, to go on.
set -euo pipefail
spec=$1 snap=$2 minutes=${3:-20}
shift $(($# < 3 ? $# : 3)); [ "${1:-}" = "--" ] && shift
name=$(python -c 'import sys; from search.study.spec import load_spec; from pathlib import Path; print(load_spec(Path(sys.argv[1])).name)' "$spec")
live=studies/$name.db
export TINYNAS_CACHE=$PWD/studies/$name.cache
states=$(python -c 'from search.training.cache import cache_folder; from search.training.checkpoint import RUNS; print(cache_folder(RUNS))')
snap_states=${snap%.db}.runs
mkdir -p "$(dirname "$snap")" "$states"
if [ ! -e "$live" ] && [ -e "$snap" ]; then
    cp "$snap" "$live"
    if [ -d "$snap_states" ]; then cp "$snap_states"/*.pt "$states"/ 2>/dev/null || true; fi
    echo "resumed $live from $snap"
fi

snapshot() {
    [ -e "$live" ] || return 0
    python -c 'import sqlite3, sys; src, dst = (sqlite3.connect(p) for p in sys.argv[1:]); src.backup(dst); dst.close()' "$live" "$snap"
    # each state is replaced whole (a rename), so a copy is the old file or the new one; one
    # removed meanwhile (its run ended) is skipped
    rm -rf "$snap_states" && mkdir -p "$snap_states"
    for f in "$states"/*.pt; do [ -e "$f" ] && { cp "$f" "$snap_states"/ 2>/dev/null || true; }; done
    local paths=("$snap")  # the states' folder too, unless git has never seen a file of it
    if [ -n "$(ls -A "$snap_states")" ] || [ -n "$(git ls-tree -r --name-only HEAD -- "$snap_states" 2>/dev/null)" ]; then
        paths+=("$snap_states")
    fi
    git add -A -f -- "${paths[@]}" && git commit -q -m "$name: study snapshot $(date -u +%FT%TZ)" -- "${paths[@]}" \
        || echo "snapshot written, commit skipped (nothing new or git busy)"
}

tinynas search "$spec" "$@" >> "studies/$name.log" 2>&1 &
pid=$!
# a trap runs only once the foreground command ends: the waits below are `wait`s on a sleep in
# the background, which a signal ends at once, so the stop reaches the search at once; under
# `set -e` a failing command would end the stop itself, and the sleep or the search may have
# ended already
nap=
stop() {
    kill "$nap" 2>/dev/null || true
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || true
    snapshot
    exit 130
}
trap stop INT TERM
echo "search pid $pid, log studies/$name.log, snapshot every $minutes min to $snap"
while kill -0 $pid 2>/dev/null; do
    for _ in $(seq $((minutes * 6))); do sleep 10 & nap=$!; wait $nap || true; kill -0 $pid 2>/dev/null || break; done
    kill -0 $pid 2>/dev/null && snapshot
done
wait $pid || echo "search exited with $?"
snapshot
