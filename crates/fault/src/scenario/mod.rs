//! The scenarios, and the steps and checks they share.
//!
//! | name | what | settings |
//! |---|---|---|
//! | `kill` | SIGKILL one of 3 under write load | replica_count 2, write_quorum 2 |
//! | `pause` | SIGSTOP one of 3 for 2.5 s, then SIGCONT | replica_count 2, write_quorum 2, member_count_quorum 2 |
//! | `minority` | 1 of 3 cut off (DROP) | replica_count 2, member_count_quorum 2 |
//! | `split-refuse` | 4 nodes split 2/2 | member_count_quorum 3 |
//! | `split-lww` | 4 nodes split 2/2, both sides write | member_count_quorum 1 |
//! | `bridge` | A–C cut, A–B and B–C work | member_count_quorum 2 |
//! | `gossip` | gossip (UDP) of 1 of 3 cut, RPC works | member_count_quorum 2 |
//! | `loss10`, `loss30` | 10% / 30% packet loss between all nodes | member_count_quorum 2 |
//! | `blackhole` | RPC between two nodes dropped (then rejected) on open connections | request_timeout 1 s |
//! | `rolling` | SIGTERM and restart every node in turn under load | replica_count 2 |
//! | `chaos` | all of the above at random for N minutes | replica_count 2, write_quorum 2, member_count_quorum 2 |

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cluster::Cluster;
use crate::history::{History, Op};
use crate::node::Settings;
use crate::report::Report;
use crate::workload::{Client, Recorder, Spec, Workload};

mod chaos;
mod kill;
mod network;
mod partition;
mod rolling;

/// Each client operation's timeout: above two hops of `request_timeout` (1 s) and a local step.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);
/// What an operation may take beyond its timeout (scheduling on a loaded 2-core machine).
pub const SLACK: Duration = Duration::from_millis(750);
/// How long replicas may take to agree after a fault heals.
pub const CONVERGE_WITHIN: Duration = Duration::from_secs(30);

/// What a scenario runs with.
pub struct Ctx {
    /// The `relaycache-server` binary.
    pub server: PathBuf,
    /// Where configurations and logs go.
    pub dir: PathBuf,
    /// The operations of the run.
    pub recorder: Recorder,
    /// The outcome.
    pub report: Report,
    /// Seed of every random choice (printed in the report).
    pub seed: u64,
    /// Length of the chaos run.
    pub minutes: f64,
}

/// Every scenario name, in gate order.
pub const NAMES: &[&str] = &[
    "kill",
    "pause",
    "minority",
    "split-refuse",
    "split-lww",
    "bridge",
    "gossip",
    "loss10",
    "loss30",
    "blackhole",
    "rolling",
    "chaos",
];

/// Runs scenario `name`; violations go to `ctx.report`, an `Err` is a harness failure (a node that
/// would not start, a cluster that never formed).
///
/// # Errors
/// Unknown scenario, or a step of the harness that failed.
pub async fn run(name: &str, ctx: &mut Ctx) -> Result<()> {
    match name {
        "kill" => kill::kill(ctx).await,
        "pause" => kill::pause(ctx).await,
        "minority" => partition::minority(ctx, partition::Cut::All).await,
        "gossip" => partition::minority(ctx, partition::Cut::GossipOnly).await,
        "split-refuse" => partition::split_refuse(ctx).await,
        "split-lww" => partition::split_lww(ctx).await,
        "bridge" => network::bridge(ctx).await,
        "loss10" => network::loss(ctx, 0.10, Duration::from_secs(40), Some(5.0)).await,
        "loss30" => network::loss(ctx, 0.30, Duration::from_secs(30), None).await,
        "blackhole" => network::blackhole(ctx).await,
        "rolling" => rolling::rolling(ctx).await,
        "chaos" => chaos::chaos(ctx).await,
        other => anyhow::bail!("unknown scenario {other:?}; known: {}", NAMES.join(", ")),
    }
}

/// One looping client per node of `nodes`, over `keys`.
#[must_use]
pub fn specs(
    cluster: &Cluster,
    nodes: &[usize],
    keys: &Arc<Vec<String>>,
    write_ratio: f64,
) -> Vec<Spec> {
    nodes
        .iter()
        .map(|&i| Spec {
            node: i,
            addr: cluster.nodes[i].resp(),
            keys: Arc::clone(keys),
            write_ratio,
            pace: Duration::from_millis(5),
            timeout: CLIENT_TIMEOUT,
        })
        .collect()
}

/// Lets the load run for `d` (the clients record meanwhile; nothing is asserted by waiting).
pub async fn run_for(d: Duration) {
    tokio::time::sleep(d).await;
}

/// The checks every history must pass: no value that was never written, no refused write visible,
/// every operation within its timeout, every failure an explicit error.
pub fn history_checks(report: &mut Report, history: &History) {
    report.note(history.summary());
    report.check(
        "every value read was written to that key",
        history.unwritten_values(),
    );
    report.check(
        "no write refused with the member count quorum error became visible",
        history.refused_visible(),
    );
    report.check(
        &format!(
            "every operation ended within the client timeout ({CLIENT_TIMEOUT:?}) + {SLACK:?}"
        ),
        history.slow_ops(CLIENT_TIMEOUT + SLACK),
    );
    report.check(
        "every failure is an explicit error (RESP error, connection failure or client timeout)",
        history.unexplained_errors(),
    );
}

/// Polls the owners' own copies (`PEEK`) of `keys` until, for every key, each owner (per the table of
/// `group`'s first node) holds the same version, or none does; returns how long that took, or the
/// disagreements left after `within`.
pub async fn converge(
    cluster: &Cluster,
    group: &[usize],
    keys: &[String],
    within: Duration,
) -> Result<Duration, Vec<String>> {
    let started = Instant::now();
    loop {
        let bad = disagreements(cluster, group, keys).await;
        if bad.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > within {
            return Err(bad);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn disagreements(cluster: &Cluster, group: &[usize], keys: &[String]) -> Vec<String> {
    let Some(&first) = group.first() else {
        return Vec::new();
    };
    let Some(info) = cluster.info(first).await else {
        return vec![format!(
            "{} does not answer /cluster",
            cluster.nodes[first].name()
        )];
    };
    let mut held = HashMap::new();
    for &i in group {
        match cluster.peek(i, keys).await {
            Ok(found) => {
                held.insert(i, found);
            }
            Err(e) => return vec![format!("{e:#}")],
        }
    }
    let want = (cluster.settings.replica_count as usize).min(group.len());
    let mut bad = Vec::new();
    for key in keys {
        let owners: Vec<usize> = info
            .owners_of(key)
            .iter()
            .filter_map(|o| cluster.index_of_rpc(o))
            .collect();
        if owners.len() != want || owners.iter().any(|o| !group.contains(o)) {
            bad.push(format!(
                "{key}: owners {owners:?}, expected {want} of {group:?}"
            ));
            continue;
        }
        let copies: Vec<(usize, Option<&relaycache_cluster::rpc::Entry>)> = owners
            .iter()
            .map(|&o| (o, held.get(&o).and_then(|h| h.get(key))))
            .collect();
        if copies.iter().all(|(_, c)| c.is_none()) {
            continue;
        }
        let first = copies[0].1.map(|e| (e.version, e.value.clone()));
        if copies
            .iter()
            .any(|(_, c)| c.map(|e| (e.version, e.value.clone())) != first)
        {
            let shown: Vec<String> = copies
                .iter()
                .map(|(o, c)| match c {
                    Some(e) => format!(
                        "n{o}: {} @{:?}",
                        e.value
                            .as_ref()
                            .map_or("<tombstone>".into(), |v| String::from_utf8_lossy(v)),
                        e.version
                    ),
                    None => format!("n{o}: missing"),
                })
                .collect();
            bad.push(format!("{key}: replicas differ: {}", shown.join(", ")));
        }
    }
    bad
}

/// Reads every key of `keys` through every node of `group` (MGET in chunks, fresh clients) and
/// returns the ids of the clients used; the reads are recorded.
pub async fn final_reads(
    ctx: &Ctx,
    cluster: &Cluster,
    group: &[usize],
    keys: &[String],
) -> HashSet<u32> {
    let mut ids = HashSet::new();
    for &i in group {
        let mut client = Client::new(&ctx.recorder, i, cluster.nodes[i].resp(), CLIENT_TIMEOUT);
        ids.insert(client.id);
        for chunk in keys.chunks(200) {
            client.mget(chunk).await;
        }
    }
    ids
}

/// Settles the cluster after the last fault and runs the end checks: replicas agree (within
/// [`CONVERGE_WITHIN`], measured from `healed`), then every key read through every node of `group`
/// returns its last acknowledged write or a later one (among the writes `counts` accepts).
pub async fn end_checks(
    ctx: &mut Ctx,
    cluster: &Cluster,
    group: &[usize],
    keys: &[String],
    healed: Duration,
    counts: &dyn Fn(&Op) -> bool,
) {
    let since_heal = ctx.recorder.now().saturating_sub(healed);
    let budget = CONVERGE_WITHIN.saturating_sub(since_heal);
    match converge(cluster, group, keys, budget).await {
        Ok(_) => {
            let total = ctx.recorder.now().saturating_sub(healed);
            ctx.report
                .measure("heal to replicas agreeing (PEEK on every owner)", total);
            ctx.report.check(
                &format!("replicas agree within {CONVERGE_WITHIN:?} of healing"),
                Vec::new(),
            );
        }
        Err(bad) => ctx.report.check(
            &format!("replicas agree within {CONVERGE_WITHIN:?} of healing"),
            bad,
        ),
    }
    let readers = final_reads(ctx, cluster, group, keys).await;
    let history = ctx.recorder.history();
    let lost = history.stale_reads(&|op| readers.contains(&op.client), counts);
    let failed: Vec<String> = history
        .ops
        .iter()
        .filter(|op| readers.contains(&op.client) && op.error().is_some())
        .map(Op::describe)
        .collect();
    ctx.report.check("every final read succeeds", failed);
    ctx.report.check(
        "every acknowledged write is read back at the end through every node (or a later one)",
        lost,
    );
}

/// The time of the last failed operation of `nodes`' clients after `from`, relative to `from`.
#[must_use]
pub fn last_failure_after(history: &History, nodes: &[usize], from: Duration) -> Option<Duration> {
    history
        .ops
        .iter()
        .filter(|op| nodes.contains(&op.node) && op.start >= from && op.error().is_some())
        .map(|op| op.end.saturating_sub(from))
        .max()
}

/// Failures of `nodes`' operations that started in `[from, to]`.
#[must_use]
pub fn failures_between(
    history: &History,
    nodes: &[usize],
    from: Duration,
    to: Duration,
) -> Vec<String> {
    history
        .ops
        .iter()
        .filter(|op| {
            nodes.contains(&op.node) && op.start >= from && op.end <= to && op.error().is_some()
        })
        .map(Op::describe)
        .collect()
}

/// The settings line of a report.
pub fn note_settings(report: &mut Report, n: usize, settings: &Settings, seed: u64) {
    report.note(format!("{n} nodes, {settings}; seed {seed}"));
}

/// Starts `n` nodes with `settings`, noted in the report first.
///
/// # Errors
/// A node that does not start or join.
pub async fn start_cluster(ctx: &mut Ctx, n: usize, settings: Settings) -> Result<Cluster> {
    note_settings(&mut ctx.report, n, &settings, ctx.seed);
    Cluster::start(&ctx.server, &ctx.dir, n, settings).await
}

/// As [`start_cluster`], with one client on every node over `keys` (half of the calls writes) for at
/// most `limit`; returns once the load has run for `warm`.
///
/// # Errors
/// As [`start_cluster`].
pub async fn start_loaded(
    ctx: &mut Ctx,
    n: usize,
    settings: Settings,
    keys: &Arc<Vec<String>>,
    limit: Duration,
    warm: Duration,
) -> Result<(Cluster, Workload)> {
    let cluster = start_cluster(ctx, n, settings).await?;
    let all: Vec<usize> = (0..n).collect();
    let load = Workload::start(
        &ctx.recorder,
        specs(&cluster, &all, keys, 0.5),
        limit,
        ctx.seed,
    );
    run_for(warm).await;
    Ok((cluster, load))
}
