//! The conformance suite can fail: a correct backend passes every check, and for every check there is a
//! deliberately broken backend that makes it fail.

use relaycache::testing::{CHECKS, Semantics, Suite};

use crate::faulty::{Fault, FaultyCache};

/// For every check, a fault that must make it fail.
const BREAKS: &[(&str, Fault)] = &[
    ("get_missing_is_not_found", Fault::MissReturnsEmpty),
    ("set_then_get", Fault::DropsWrites),
    ("overwrite_replaces_value", Fault::KeepsFirstWrite),
    ("delete_removes", Fault::DeleteNoop),
    ("delete_missing_is_ok", Fault::DeleteMissingErrs),
    ("exists_reports_presence", Fault::ExistsAlwaysFalse),
    ("ttl_expires", Fault::IgnoresTtl),
    ("ttl_reports_remaining", Fault::TtlAlwaysNone),
    ("set_clears_ttl", Fault::SetKeepsTtl),
    ("zero_ttl_never_expires", Fault::ZeroTtlExpiresNow),
    ("binary_safe_keys_and_values", Fault::TruncatesAtNul),
    ("large_values", Fault::TruncatesLarge),
    ("concurrent_use", Fault::RacyWrites),
    ("get_multi_returns_found_only", Fault::MultiIncludesMissing),
    ("set_multi_stores_all", Fault::SetMultiFirstOnly),
    ("set_multi_with_ttl_expires", Fault::MultiIgnoresTtl),
    ("dropped_future_leaves_cache_consistent", Fault::TornWrites),
    ("deadline_passes_cleanly", Fault::WedgesOnCancel),
    ("close_is_idempotent_and_final", Fault::IgnoresClose),
    ("stats_count_hits_and_misses", Fault::StatsNoHits),
    ("ping_when_open", Fault::PingFails),
    ("expire_and_persist", Fault::PersistNoop),
    ("scan_lists_prefix", Fault::ScanIgnoresPrefix),
    (
        "invalidate_prefix_removes_only_prefix",
        Fault::InvalidateAll,
    ),
    (
        "get_or_load_runs_one_loader_for_concurrent_misses",
        Fault::LoadsPerCaller,
    ),
    (
        "get_or_load_hands_over_when_the_leader_is_cancelled",
        Fault::LoadsPerCaller,
    ),
    ("try_get_or_load_caches_no_error", Fault::CachesLoadError),
    ("read_modify_writes_answer_as_redis", Fault::AppendReplaces),
    (
        "concurrent_read_modify_writes_lose_no_update",
        Fault::LosesUpdates,
    ),
    (
        "concurrent_renames_neither_copy_nor_lose",
        Fault::RenameCopies,
    ),
    ("concurrent_msetnx_has_one_winner", Fault::MsetnxRaces),
    ("concurrent_getex_loses_no_update", Fault::GetexRewrites),
    ("concurrent_copies_have_one_winner", Fault::CopyRaces),
    ("concurrent_renamenx_has_one_winner", Fault::RenameNxRaces),
    ("concurrent_expire_nx_has_one_winner", Fault::ExpireIfRaces),
];

#[test]
fn every_check_has_a_breaking_fault() {
    for check in CHECKS {
        assert!(
            BREAKS.iter().any(|(name, _)| name == check),
            "check {check} has no deliberately broken backend"
        );
    }
    assert_eq!(BREAKS.len(), CHECKS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_backend_passes_everything() {
    let report = Suite::new(Semantics::Stores)
        .run(|| async { FaultyCache::new(Fault::None) })
        .await;
    report.assert_passed();
    assert_eq!(report.passed(), CHECKS.len(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_fails_against_its_broken_backend() {
    let mut missed = Vec::new();
    for (check, fault) in BREAKS {
        let report = Suite::new(Semantics::Stores)
            .only(&[check])
            .run(|| async { FaultyCache::new(*fault) })
            .await;
        if !report.failed().contains(check) {
            missed.push(format!("{check} did not fail with {fault:?}:\n{report}"));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storing_backend_fails_the_discarding_expectations() {
    let report = Suite::new(Semantics::Discards)
        .run(|| async { FaultyCache::new(Fault::None) })
        .await;
    assert!(report.failed().contains(&"set_then_get"), "{report}");
}
