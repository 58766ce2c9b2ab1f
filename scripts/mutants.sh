#!/usr/bin/env bash
# Mutation testing of the modules that decide what is true (issue 26): cargo-mutants changes
# one thing at a time in them (a `>` into `>=`, a body into `Default::default()`, ...) and
# runs the tests that guard them; a mutant the tests do not notice ("missed") is a promise no
# test holds. Not part of CI (.ci/run): it builds once per mutant; on a 2-core machine the
# selection without the pace, the throttle, merge/ and error.rs (121 mutants: add
# `-E 'rate/|merge/|error\.rs'`) took 23 min, and the pace, the throttle and error.rs alone
# (238 mutants) 70 min. Needs
# `cargo install --locked cargo-mutants`.
#
#   scripts/mutants.sh            # the whole selection
#   scripts/mutants.sh --list     # only list the mutants
#   scripts/mutants.sh --integration   # merge's summary and resume's rewrite, which only
#                                      # the integration tests hold (14 mutants, 15 min)
#
# The selection: the exactly-once decisions (dispatch/decide.rs), the retry and 429
# decisions (dispatch/retry.rs, rate/pace/, rate/throttle.rs and the resizing of the places in
# flight, and ApiError's retryable/acted/Retry-After answers in pingone/error.rs), resume's
# reading of earlier outcomes (record/resume.rs), merge's checks (merge/), and the shard
# assignment (shard.rs). The tests run are the unit tests (`--lib`) with names from those
# modules; results go to target/mutants (mutants.out/outcomes.json, missed.txt, caught.txt, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
# No debug info: a mutant's build links faster, and the tests do not need it.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
if [ "${1:-}" = "--integration" ]; then
    shift
    exec cargo mutants --jobs 1 --timeout 600 --output target/mutants-it \
        --file src/merge/mod.rs --file src/record/resume.rs \
        --re 'merged_summary|keep_only_finished' \
        "$@" -- --test it -- shards:: merge_checks:: resume_proof:: exactly_once:: \
        failpoints::a_crash_between failpoints::a_merge tidy_ends:: pairing_messages::
fi
exec cargo mutants --jobs 1 --timeout 120 --output target/mutants \
    --file src/dispatch/decide.rs --file src/dispatch/retry.rs \
    --file 'src/rate/pace/*.rs' --file src/rate/throttle.rs --file src/rate/in_flight.rs \
    --file src/pingone/error.rs \
    --file src/record/resume.rs --file src/merge/mod.rs --file src/merge/rows.rs \
    --file src/shard.rs \
    --re 'decide\.rs|retry\.rs|rate/pace/|throttle\.rs|in_flight\.rs.*Places::resize|resume\.rs|rows\.rs|shard\.rs|error\.rs.*(is_retryable|may_have_acted|retry_after|from_status)|merge/mod\.rs.*(check_|prepare_out|ShardDir::open)' \
    "$@" -- --lib
