//! The chaos run: one fault after another, chosen at random, under a client that writes unique values
//! and reads them back; after each fault heals, the replicas must agree within 30 s.

use std::time::Duration;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{CONVERGE_WITHIN, Ctx, converge, end_checks, history_checks, specs, start_cluster};
use crate::cluster::{Cluster, START_WITHIN};
use crate::netns::{Action, Firewall, Rule, Traffic};
use crate::node::{GOSSIP_PORT, RPC_PORT, Settings, node_ip};
use crate::workload::{Workload, keys};

/// The faults the chaos run draws from.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Kill(usize),
    Terminate(usize),
    Pause(usize),
    Minority(usize, Action),
    Bridge(usize, usize),
    Gossip(usize),
    Loss(f64),
    Blackhole(usize, usize),
}

fn draw(rng: &mut StdRng, n: usize) -> Fault {
    let a = rng.random_range(0..n);
    let b = (a + rng.random_range(1..n)) % n;
    match rng.random_range(0..9) {
        0 => Fault::Kill(a),
        1 => Fault::Terminate(a),
        2 => Fault::Pause(a),
        3 => Fault::Minority(a, Action::Drop),
        4 => Fault::Minority(a, Action::Reject),
        5 => Fault::Bridge(a, b),
        6 => Fault::Gossip(a),
        7 => Fault::Loss(if rng.random_bool(0.5) { 0.1 } else { 0.3 }),
        _ => Fault::Blackhole(a, b),
    }
}

/// Runs faults for `ctx.minutes` on 3 nodes (replica_count 2, write_quorum 2, member_count_quorum 2).
pub(super) async fn chaos(ctx: &mut Ctx) -> Result<()> {
    let n = 3;
    let settings = Settings {
        replica_count: 2,
        write_quorum: 2,
        member_count_quorum: 2,
        ..Settings::default()
    };
    let mut cluster = start_cluster(ctx, n, settings).await?;
    let all: Vec<usize> = (0..n).collect();
    let keys = keys("chaos:", 500);
    let run_for = Duration::from_secs_f64(ctx.minutes.max(0.1) * 60.0);
    let load = Workload::start(
        &ctx.recorder,
        specs(&cluster, &all, &keys, 0.5),
        run_for + Duration::from_secs(600),
        ctx.seed,
    );
    let mut rng = StdRng::seed_from_u64(ctx.seed);
    let started = ctx.recorder.now();
    let mut rounds = 0;
    let mut converge_times = Vec::new();
    let mut last_heal = started;
    // Bounded: one round takes at least its hold time (2 s).
    for _ in 0..10_000 {
        if ctx.recorder.now() - started >= run_for {
            break;
        }
        rounds += 1;
        let fault = draw(&mut rng, n);
        let hold = Duration::from_millis(rng.random_range(2000..8000));
        let begin = ctx.recorder.now();
        let mut fw = Firewall::new();
        apply(&mut cluster, &mut fw, fault).await?;
        tokio::time::sleep(hold).await;
        restore(&mut cluster, &mut fw, fault).await?;
        let healed = ctx.recorder.now();
        last_heal = healed;
        let formed = cluster.wait_formed(&all, Duration::from_secs(60)).await;
        let settled = cluster.wait_settled(&all, Duration::from_secs(30)).await;
        let budget = CONVERGE_WITHIN.saturating_sub(ctx.recorder.now() - healed);
        let agreed = converge(&cluster, &all, &keys, budget).await;
        let line = format!(
            "round {rounds} at {:.1}s: {fault:?} for {hold:?}; view {}; pulls {}; replicas {}",
            begin.as_secs_f64(),
            formed.as_ref().map_or_else(
                |e| format!("NOT formed: {e:#}"),
                |d| format!("formed {:.2}s after healing", d.as_secs_f64())
            ),
            settled.as_ref().map_or_else(
                |_| "not done in 30 s".to_owned(),
                |d| format!("done {:.2}s later", d.as_secs_f64())
            ),
            match &agreed {
                Ok(_) => format!(
                    "agree {:.2}s after healing",
                    (ctx.recorder.now() - healed).as_secs_f64()
                ),
                Err(bad) => format!("DISAGREE on {} keys after 30 s", bad.len()),
            },
        );
        ctx.report.note(line);
        match agreed {
            Ok(_) => converge_times.push(ctx.recorder.now() - healed),
            Err(bad) => ctx.report.check(
                &format!("round {rounds}: replicas agree within 30 s of healing"),
                bad,
            ),
        }
        if let Err(e) = formed {
            ctx.report.check(
                &format!("round {rounds}: the cluster re-forms within 60 s"),
                vec![format!("{e:#}")],
            );
            break;
        }
    }
    load.stop().await;
    converge_times.sort();
    if let (Some(first), Some(last)) = (converge_times.first(), converge_times.last()) {
        ctx.report.note(format!(
            "{rounds} rounds; heal to replicas agreeing: min {:.2}s, median {:.2}s, max {:.2}s",
            first.as_secs_f64(),
            converge_times[converge_times.len() / 2].as_secs_f64(),
            last.as_secs_f64()
        ));
    }
    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    let stale = history.stale_reads(&|_| true, &|_| true);
    let mut text = format!(
        "{} reads during faults returned an older value than an acknowledged write (not promised under faults)",
        stale.len()
    );
    for s in stale.iter().take(5) {
        text.push_str("\n    - ");
        text.push_str(s);
    }
    ctx.report.note(text);
    end_checks(ctx, &cluster, &all, &keys, last_heal, &|_| true).await;
    Ok(())
}

async fn apply(cluster: &mut Cluster, fw: &mut Firewall, fault: Fault) -> Result<()> {
    let n = cluster.nodes.len();
    let others = |a: usize| {
        (0..n)
            .filter(move |j| *j != a)
            .map(node_ip)
            .collect::<Vec<_>>()
    };
    match fault {
        Fault::Kill(a) => cluster.nodes[a].kill()?,
        Fault::Terminate(a) => {
            cluster.nodes[a].terminate(Duration::from_secs(20)).await?;
        }
        Fault::Pause(a) => cluster.nodes[a].pause()?,
        Fault::Minority(a, action) => fw.split(&[node_ip(a)], &others(a), action)?,
        Fault::Bridge(a, b) => fw.cut(node_ip(a), node_ip(b), Action::Drop)?,
        Fault::Gossip(a) => {
            for peer in others(a) {
                fw.add_both_ways(Rule {
                    src: node_ip(a),
                    dst: peer,
                    traffic: Traffic::UdpTo(GOSSIP_PORT),
                    action: Action::Drop,
                })?;
            }
        }
        Fault::Loss(p) => {
            for a in 0..n {
                for b in 0..n {
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
        }
        Fault::Blackhole(a, b) => {
            for traffic in [Traffic::TcpTo(RPC_PORT), Traffic::TcpFrom(RPC_PORT)] {
                fw.add_both_ways(Rule {
                    src: node_ip(a),
                    dst: node_ip(b),
                    traffic,
                    action: Action::Drop,
                })?;
            }
        }
    }
    Ok(())
}

async fn restore(cluster: &mut Cluster, fw: &mut Firewall, fault: Fault) -> Result<()> {
    fw.heal()?;
    match fault {
        Fault::Kill(a) | Fault::Terminate(a) => {
            cluster.nodes[a].spawn()?;
            cluster.nodes[a].wait_serving(START_WITHIN).await?;
        }
        Fault::Pause(a) => cluster.nodes[a].resume()?,
        _ => {}
    }
    Ok(())
}
