//! Network partitions: a minority of one (all traffic, or gossip only), and 2/2 splits of 4 nodes.

use std::time::Duration;

use anyhow::Result;

use super::{
    Ctx, end_checks, failures_between, history_checks, run_for, specs, start_cluster, start_loaded,
};
use crate::history::{ErrorClass, Outcome};
use crate::netns::{Action, Firewall, Rule, Traffic};
use crate::node::{GOSSIP_PORT, Settings, node_ip};
use crate::workload::{Client, Workload, keys};

/// What a minority partition cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    /// Every packet (DROP).
    All,
    /// Only gossip (UDP to the gossip port, DROP); RPC still works.
    GossipOnly,
}

/// Node 2 of 3 cut off from the others (member_count_quorum 2): after detection it refuses every call
/// with the quorum error, the majority serves, and after healing the replicas agree within 30 s with
/// no acknowledged majority write lost.
pub(super) async fn minority(ctx: &mut Ctx, cut: Cut) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 1,
        member_count_quorum: 2,
        ..Settings::default()
    };
    let cluster = start_cluster(ctx, 3, settings).await?;
    ctx.report.note(format!("cut: {cut:?}"));
    let majority_keys = keys("maj:", 300);
    let minority_keys = keys("min:", 100);
    let mut all = majority_keys.as_ref().clone();
    all.extend(minority_keys.iter().cloned());
    let mut plan = specs(&cluster, &[0, 1], &majority_keys, 0.5);
    plan.extend(specs(&cluster, &[2], &minority_keys, 0.5));
    let load = Workload::start(&ctx.recorder, plan, Duration::from_secs(100), ctx.seed);
    run_for(Duration::from_secs(2)).await;

    let mut fw = Firewall::new();
    let cut_at = ctx.recorder.now();
    match cut {
        Cut::All => fw.split(&[node_ip(2)], &[node_ip(0), node_ip(1)], Action::Drop)?,
        Cut::GossipOnly => {
            for peer in [node_ip(0), node_ip(1)] {
                fw.add_both_ways(Rule {
                    src: node_ip(2),
                    dst: peer,
                    traffic: Traffic::UdpTo(GOSSIP_PORT),
                    action: Action::Drop,
                })?;
            }
        }
    }
    ctx.report
        .note(format!("partition at {:.3}s", cut_at.as_secs_f64()));
    let minority_detect = cluster
        .wait_info(2, Duration::from_secs(30), "1 member", |i| i.members == 1)
        .await?;
    let minority_detected = ctx.recorder.now();
    cluster
        .wait_formed(&[0, 1], Duration::from_secs(30))
        .await?;
    let majority_detected = ctx.recorder.now();
    ctx.report.measure(
        "detection on the minority (it sees 1 member)",
        minority_detect,
    );
    ctx.report.measure(
        "detection on the majority (both see 2 members)",
        majority_detected - cut_at,
    );
    run_for(Duration::from_secs(4)).await;
    let healed = ctx.recorder.now();
    fw.heal()?;
    ctx.report
        .note(format!("healed at {:.3}s", healed.as_secs_f64()));
    let rejoin = cluster
        .wait_formed(&[0, 1, 2], Duration::from_secs(30))
        .await?;
    ctx.report.measure("heal to one view of 3 members", rejoin);
    let settled = cluster
        .wait_settled(&[0, 1, 2], Duration::from_secs(30))
        .await;
    if let Ok(d) = settled {
        ctx.report.measure("view to pulls done", d);
    }
    run_for(Duration::from_secs(2)).await;
    load.stop().await;

    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    let after = minority_detected + Duration::from_millis(100);
    let on_minority: Vec<_> = history
        .ops
        .iter()
        .filter(|op| op.node == 2 && op.start >= after && op.end <= healed)
        .collect();
    let not_refused: Vec<String> = on_minority
        .iter()
        .filter(|op| op.error() != Some(ErrorClass::MemberQuorum))
        .map(|op| op.describe())
        .collect();
    ctx.report.note(format!(
        "{} operations on the minority between detection and healing",
        on_minority.len()
    ));
    ctx.report.require(
        "operations were made on the minority after detection",
        on_minority.len() >= 10,
        || format!("only {}", on_minority.len()),
    );
    ctx.report.check(
        "after detection every operation on the minority gets `member count quorum not reached`",
        not_refused,
    );
    ctx.report.check(
        "the majority serves every operation from 0.5 s after its detection until healing",
        failures_between(
            &history,
            &[0, 1],
            majority_detected + Duration::from_millis(500),
            healed,
        ),
    );
    let minority_acked_in_window = history
        .ops
        .iter()
        .filter(|op| {
            op.node == 2 && op.acknowledged() && op.start >= cut_at && op.start < minority_detected
        })
        .count();
    ctx.report.note(format!(
        "{minority_acked_in_window} writes acknowledged by the minority inside the detection window (may be lost)"
    ));
    end_checks(ctx, &cluster, &[0, 1, 2], &all, healed, &|w| {
        w.node != 2 || w.start < cut_at
    })
    .await;
    Ok(())
}

/// 4 nodes split 2/2 with member_count_quorum 3: after detection both sides refuse every call.
pub(super) async fn split_refuse(ctx: &mut Ctx) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 1,
        member_count_quorum: 3,
        ..Settings::default()
    };
    let keys = keys("split:", 300);
    let (cluster, load) = start_loaded(
        ctx,
        4,
        settings,
        &keys,
        Duration::from_secs(100),
        Duration::from_secs(2),
    )
    .await?;
    let mut fw = Firewall::new();
    let cut_at = ctx.recorder.now();
    fw.split(
        &[node_ip(0), node_ip(1)],
        &[node_ip(2), node_ip(3)],
        Action::Drop,
    )?;
    let mut detected = cut_at;
    for i in 0..4 {
        cluster
            .wait_info(i, Duration::from_secs(30), "2 members", |info| {
                info.members == 2
            })
            .await?;
        detected = ctx.recorder.now();
    }
    ctx.report.measure(
        "detection on all four (each sees 2 members)",
        detected - cut_at,
    );
    run_for(Duration::from_secs(4)).await;
    let healed = ctx.recorder.now();
    fw.heal()?;
    let rejoin = cluster
        .wait_formed(&[0, 1, 2, 3], Duration::from_secs(30))
        .await?;
    ctx.report.measure("heal to one view of 4 members", rejoin);
    let _ = cluster
        .wait_settled(&[0, 1, 2, 3], Duration::from_secs(30))
        .await;
    run_for(Duration::from_secs(2)).await;
    load.stop().await;

    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    let after = detected + Duration::from_millis(100);
    let during: Vec<_> = history
        .ops
        .iter()
        .filter(|op| op.start >= after && op.end <= healed)
        .collect();
    ctx.report.require(
        "operations were made during the split",
        during.len() >= 20,
        || format!("only {}", during.len()),
    );
    ctx.report.check(
        "after detection both sides refuse every operation with `member count quorum not reached`",
        during
            .iter()
            .filter(|op| op.error() != Some(ErrorClass::MemberQuorum))
            .map(|op| op.describe())
            .collect(),
    );
    end_checks(ctx, &cluster, &[0, 1, 2, 3], &keys, healed, &|_| true).await;
    Ok(())
}

/// 4 nodes split 2/2 with member_count_quorum 1: both sides accept writes of the same keys; after
/// healing every key holds the write made last (by hybrid clock), as docs/cluster.md says.
pub(super) async fn split_lww(ctx: &mut Ctx) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 1,
        member_count_quorum: 1,
        ..Settings::default()
    };
    let cluster = start_cluster(ctx, 4, settings).await?;
    let shared = keys("lww:", 100);
    let random = keys("mix:", 200);
    let load = Workload::start(
        &ctx.recorder,
        specs(&cluster, &[0, 1, 2, 3], &random, 0.5),
        Duration::from_secs(100),
        ctx.seed,
    );
    run_for(Duration::from_secs(2)).await;
    let mut fw = Firewall::new();
    fw.split(
        &[node_ip(0), node_ip(1)],
        &[node_ip(2), node_ip(3)],
        Action::Drop,
    )?;
    let left = cluster
        .wait_formed(&[0, 1], Duration::from_secs(30))
        .await?;
    let right = cluster
        .wait_formed(&[2, 3], Duration::from_secs(30))
        .await?;
    ctx.report
        .measure("detection (each side sees its 2 members)", left.max(right));

    // The left side writes every shared key, then the right side, then the left side half of them.
    let mut a = Client::new(
        &ctx.recorder,
        0,
        cluster.nodes[0].resp(),
        super::CLIENT_TIMEOUT,
    );
    let mut b = Client::new(
        &ctx.recorder,
        2,
        cluster.nodes[2].resp(),
        super::CLIENT_TIMEOUT,
    );
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut unacked = Vec::new();
    for k in shared.iter() {
        let (v, o) = a.set(k).await;
        if o != Outcome::Ok {
            unacked.push(format!("left {k} {v}: {o:?}"));
        }
    }
    for k in shared.iter() {
        let (v, o) = b.set(k).await;
        if o != Outcome::Ok {
            unacked.push(format!("right {k} {v}: {o:?}"));
        }
        expected.push((k.clone(), v));
    }
    let half = shared.len() / 2;
    for (i, k) in shared.iter().enumerate().take(half) {
        let (v, o) = a.set(k).await;
        if o != Outcome::Ok {
            unacked.push(format!("left again {k} {v}: {o:?}"));
        }
        expected[i].1 = v;
    }
    ctx.report.check(
        "both sides acknowledge writes of the same keys during the split",
        unacked,
    );
    // Divergence: what each side reads now.
    let mut differ = 0;
    for k in shared.iter().skip(half) {
        let left = a.get(k).await;
        let right = b.get(k).await;
        if left != right {
            differ += 1;
        }
    }
    ctx.report.note(format!(
        "{differ} of {} keys written by both sides read differently on each side (divergence)",
        shared.len() - half
    ));
    ctx.report
        .require("the two sides diverge during the split", differ > 0, || {
            "both sides read the same values".to_owned()
        });
    run_for(Duration::from_secs(1)).await;
    let healed = ctx.recorder.now();
    fw.heal()?;
    let rejoin = cluster
        .wait_formed(&[0, 1, 2, 3], Duration::from_secs(30))
        .await?;
    ctx.report.measure("heal to one view of 4 members", rejoin);
    let _ = cluster
        .wait_settled(&[0, 1, 2, 3], Duration::from_secs(30))
        .await;
    run_for(Duration::from_secs(1)).await;
    load.stop().await;

    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    let mut all = shared.as_ref().clone();
    all.extend(random.iter().cloned());
    end_checks(ctx, &cluster, &[0, 1, 2, 3], &all, healed, &|_| true).await;
    // The exact LWW outcome of the scripted writes, through every node.
    let mut wrong = Vec::new();
    for i in 0..4 {
        let mut c = Client::new(
            &ctx.recorder,
            i,
            cluster.nodes[i].resp(),
            super::CLIENT_TIMEOUT,
        );
        for (k, v) in &expected {
            let got = c.get(k).await;
            if got != Outcome::Value(v.clone()) {
                wrong.push(format!("{k} via n{i}: {got:?}, the later write was {v}"));
            }
        }
    }
    ctx.report.check(
        "after healing each shared key holds the later write (left, right, left again)",
        wrong,
    );
    Ok(())
}
