//! Degraded networks: a bridge (one pair cut), packet loss, and a black hole on open RPC connections.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::{Ctx, SLACK, end_checks, history_checks, run_for, specs, start_cluster, start_loaded};
use crate::cluster::Cluster;
use crate::history::{History, Op};
use crate::netns::{Action, Firewall, Rule, Traffic};
use crate::node::{RPC_PORT, Settings, node_ip};
use crate::workload::{Spec, Workload, keys};

/// Membership failures the nodes logged between two marks of their logs: (distinct identities declared
/// down, `member failed` lines of all nodes together, `member joined` lines). One flap of a node is
/// usually logged by each of the others; the first figure counts it once.
fn flaps(cluster: &Cluster, marks: &[usize], to: Option<&[usize]>) -> (usize, usize, usize) {
    let mut identities = std::collections::HashSet::new();
    let mut failed = 0;
    let mut joined = 0;
    for (i, node) in cluster.nodes.iter().enumerate() {
        let end = to.map(|t| t[i]);
        for line in node.lines_since(marks[i], end, "member failed") {
            failed += 1;
            let id: Vec<&str> = line
                .split_whitespace()
                .filter(|w| w.starts_with("member=") || w.starts_with("generation="))
                .collect();
            identities.insert(id.join(" "));
        }
        joined += node.lines_since(marks[i], end, "member joined").len();
    }
    (identities.len(), failed, joined)
}

fn marks(cluster: &Cluster) -> Vec<usize> {
    cluster
        .nodes
        .iter()
        .map(crate::node::Node::log_len)
        .collect()
}

/// A–C cut (DROP), A–B and B–C fine, for 12 s under load.
pub(super) async fn bridge(ctx: &mut Ctx) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 1,
        member_count_quorum: 2,
        ..Settings::default()
    };
    let keys = keys("bridge:", 300);
    let (cluster, load) = start_loaded(
        ctx,
        3,
        settings,
        &keys,
        Duration::from_secs(100),
        Duration::from_secs(2),
    )
    .await?;
    let mut fw = Firewall::new();
    let from = marks(&cluster);
    let cut_at = ctx.recorder.now();
    fw.cut(node_ip(0), node_ip(2), Action::Drop)?;
    let mut min_seen = [3usize; 3];
    let window = Duration::from_secs(12);
    while ctx.recorder.now() < cut_at + window {
        for (i, seen) in min_seen.iter_mut().enumerate() {
            if let Some(info) = cluster.info(i).await {
                *seen = (*seen).min(info.members);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let to = marks(&cluster);
    let healed = ctx.recorder.now();
    fw.heal()?;
    let (flapped, failed, joined) = flaps(&cluster, &from, Some(&to));
    ctx.report.note(format!(
        "during the {window:?} bridge: {flapped} identities declared down ({failed} `member failed` and \
         {joined} `member joined` lines); fewest members seen by n0, n1, n2: {min_seen:?}"
    ));
    let rejoin = cluster
        .wait_formed(&[0, 1, 2], Duration::from_secs(30))
        .await?;
    ctx.report.measure("heal to one view of 3 members", rejoin);
    let _ = cluster
        .wait_settled(&[0, 1, 2], Duration::from_secs(30))
        .await;
    run_for(Duration::from_secs(2)).await;
    load.stop().await;
    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    note_errors_by_node(ctx, &history, cut_at, healed);
    end_checks(ctx, &cluster, &[0, 1, 2], &keys, healed, &|_| true).await;
    Ok(())
}

fn note_errors_by_node(ctx: &mut Ctx, history: &History, from: Duration, to: Duration) {
    for node in 0..3 {
        let ops: Vec<&Op> = history
            .ops
            .iter()
            .filter(|op| op.node == node && op.start >= from && op.end <= to)
            .collect();
        let failed = ops.iter().filter(|op| op.error().is_some()).count();
        ctx.report.note(format!(
            "n{node}: {failed} of {} operations failed during the fault",
            ops.len()
        ));
    }
}

/// `p` packet loss on every packet between any two nodes for `hold`, under load. With
/// `max_flaps_per_minute`, fewer membership failures than that per minute are required.
pub(super) async fn loss(
    ctx: &mut Ctx,
    p: f64,
    hold: Duration,
    max_flaps_per_minute: Option<f64>,
) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 1,
        member_count_quorum: 2,
        ..Settings::default()
    };
    let cluster = start_cluster(ctx, 3, settings).await?;
    ctx.report
        .note(format!("loss {:.0}% for {hold:?}", p * 100.0));
    let keys = keys("loss:", 300);
    let load = Workload::start(
        &ctx.recorder,
        specs(&cluster, &[0, 1, 2], &keys, 0.5),
        Duration::from_secs(120),
        ctx.seed,
    );
    run_for(Duration::from_secs(2)).await;
    let mut fw = Firewall::new();
    let from = marks(&cluster);
    let cut_at = ctx.recorder.now();
    for a in 0..3 {
        for b in 0..3 {
            if a != b {
                fw.add(Rule {
                    src: node_ip(a),
                    dst: node_ip(b),
                    traffic: Traffic::All,
                    action: Action::Loss(p),
                })?;
            }
        }
    }
    let mut drops = 0;
    let mut last = [3usize; 3];
    while ctx.recorder.now() < cut_at + hold {
        for (i, seen) in last.iter_mut().enumerate() {
            if let Some(info) = cluster.info(i).await {
                if info.members < *seen {
                    drops += 1;
                }
                *seen = info.members;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let to = marks(&cluster);
    let held = ctx.recorder.now() - cut_at;
    let healed = ctx.recorder.now();
    fw.heal()?;
    let (flapped, failed, joined) = flaps(&cluster, &from, Some(&to));
    let minutes = held.as_secs_f64() / 60.0;
    let rate = flapped as f64 / minutes;
    ctx.report.note(format!(
        "during {held:.1?} of loss: {flapped} identities declared down = {rate:.1} flaps/minute \
         ({failed} `member failed` and {joined} `member joined` lines of all nodes together); \
         {drops} drops of a member count seen in /cluster (sampled every 100 ms)"
    ));
    if let Some(max) = max_flaps_per_minute {
        ctx.report.require(
            &format!("fewer than {max} membership flaps a minute"),
            rate < max,
            || format!("{rate:.1} a minute ({flapped} in {held:.1?})"),
        );
    }
    let rejoin = cluster
        .wait_formed(&[0, 1, 2], Duration::from_secs(30))
        .await?;
    ctx.report.measure("heal to one view of 3 members", rejoin);
    let _ = cluster
        .wait_settled(&[0, 1, 2], Duration::from_secs(30))
        .await;
    run_for(Duration::from_secs(2)).await;
    load.stop().await;
    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    note_errors_by_node(ctx, &history, cut_at, healed);
    end_checks(ctx, &cluster, &[0, 1, 2], &keys, healed, &|_| true).await;
    Ok(())
}

/// Keys whose owners in node 0's table start with `owners` (primary first).
async fn keys_owned_by(
    cluster: &Cluster,
    owners: &[usize],
    prefix: &str,
    n: usize,
) -> Result<Vec<String>> {
    let info = cluster
        .info(0)
        .await
        .ok_or_else(|| anyhow::anyhow!("n0 does not answer /cluster"))?;
    let want: Vec<String> = owners
        .iter()
        .map(|&i| cluster.nodes[i].rpc().to_string())
        .collect();
    Ok((0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| info.owners_of(k).starts_with(&want))
        .take(n)
        .collect())
}

/// The RPC connections between n0 and n1 black-holed (DROP, both directions, both ways of connecting)
/// for 8 s, healed, then reset (REJECT with TCP resets) for 5 s, healed: each call through n0 for a
/// key whose primary is n1 fails within request_timeout (+ slack) and succeeds again within 5 s of
/// healing.
pub(super) async fn blackhole(ctx: &mut Ctx) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 1,
        member_count_quorum: 1,
        request_timeout: Duration::from_secs(1),
        ..Settings::default()
    };
    let request_timeout = settings.request_timeout;
    let cluster = start_cluster(ctx, 3, settings).await?;
    let general = keys("bh:", 300);
    let target = Arc::new(keys_owned_by(&cluster, &[1], "bh1:", 100).await?);
    // Keys n0 is primary of and n1 holds the backup of: n0 acknowledges their writes alone
    // (write_quorum 1) while its copy to n1 is lost in the black hole.
    let backed = Arc::new(keys_owned_by(&cluster, &[0, 1], "bh01:", 50).await?);
    let mut plan = specs(&cluster, &[0, 1, 2], &general, 0.5);
    // Two clients of n0 on keys whose primary is n1: every call crosses the black hole.
    for _ in 0..2 {
        plan.push(Spec {
            keys: Arc::clone(&target),
            ..plan[0].clone()
        });
    }
    let backed_spec = Spec {
        keys: Arc::clone(&backed),
        write_ratio: 1.0,
        ..plan[0].clone()
    };
    let load = Workload::start(&ctx.recorder, plan, Duration::from_secs(100), ctx.seed);
    run_for(Duration::from_secs(2)).await;
    let mut all = general.as_ref().clone();
    all.extend(target.iter().cloned());
    all.extend(backed.iter().cloned());

    let mut phases = Vec::new();
    for (action, hold) in [
        (Action::Drop, Duration::from_secs(8)),
        (Action::Reject, Duration::from_secs(5)),
    ] {
        let mut fw = Firewall::new();
        let cut_at = ctx.recorder.now();
        // DROP: every packet of the RPC connections. REJECT: the packets to the RPC port only, so the
        // resets it answers with (from the RPC port) get through.
        let traffics: &[Traffic] = match action {
            Action::Reject => &[Traffic::TcpTo(RPC_PORT)],
            _ => &[Traffic::TcpTo(RPC_PORT), Traffic::TcpFrom(RPC_PORT)],
        };
        for &traffic in traffics {
            fw.add_both_ways(Rule {
                src: node_ip(0),
                dst: node_ip(1),
                traffic,
                action,
            })?;
        }
        // During the DROP only, writes of keys n0 is primary of and n1 the backup of: none after it.
        let backed_load = (action == Action::Drop)
            .then(|| Workload::start(&ctx.recorder, vec![backed_spec.clone()], hold, ctx.seed));
        run_for(hold).await;
        if let Some(l) = backed_load {
            l.stop().await;
        }
        let healed = ctx.recorder.now();
        fw.heal()?;
        // Recovery: bounded wait until a call through n0 for an n1 key succeeds after healing.
        run_for(Duration::from_secs(6)).await;
        phases.push((action, cut_at, healed));
    }
    let last_heal = phases.last().map_or_else(|| ctx.recorder.now(), |p| p.2);
    load.stop().await;

    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    let crossing = |op: &Op| op.node == 0 && target.contains(&op.key);
    for (action, cut_at, healed) in phases {
        let during: Vec<&Op> = history
            .ops
            .iter()
            .filter(|op| crossing(op) && op.start >= cut_at && op.end <= healed)
            .collect();
        let failed = during.iter().filter(|op| op.error().is_some()).count();
        let longest = during
            .iter()
            .map(|op| op.end - op.start)
            .max()
            .unwrap_or_default();
        ctx.report.note(format!(
            "{action:?}: {failed} of {} calls through n0 for n1's keys failed; the longest took {:.3}s",
            during.len(),
            longest.as_secs_f64()
        ));
        ctx.report.require(
            &format!("{action:?}: calls crossed the fault"),
            during.len() >= 5,
            || format!("only {}", during.len()),
        );
        let limit = request_timeout + SLACK;
        ctx.report.check(
            &format!("{action:?}: every call through n0 for n1's keys ends within request_timeout + {SLACK:?}"),
            during
                .iter()
                .filter(|op| op.end - op.start > limit)
                .map(|op| op.describe())
                .collect(),
        );
        let first_ok = history
            .ops
            .iter()
            .filter(|op| crossing(op) && op.start >= healed && op.error().is_none())
            .map(|op| op.end)
            .min();
        match first_ok {
            Some(t) => ctx.report.measure(
                &format!("{action:?}: heal to the first call that crosses again"),
                t - healed,
            ),
            None => ctx
                .report
                .note(format!("{action:?}: no call crossed after healing")),
        }
        let recovered_by = healed + Duration::from_secs(5);
        let late: Vec<String> = history
            .ops
            .iter()
            .filter(|op| {
                crossing(op)
                    && op.start >= recovered_by
                    && op.start < healed + Duration::from_secs(6)
            })
            .filter(|op| op.error().is_some())
            .map(Op::describe)
            .collect();
        ctx.report.require(
            &format!("{action:?}: a call crosses again within 5 s of healing"),
            first_ok.is_some_and(|t| t <= recovered_by),
            || format!("first success {first_ok:?}, healed at {healed:?}"),
        );
        ctx.report.check(
            &format!("{action:?}: every call succeeds from 5 s after healing"),
            late,
        );
    }
    end_checks(ctx, &cluster, &[0, 1, 2], &all, last_heal, &|_| true).await;
    Ok(())
}
