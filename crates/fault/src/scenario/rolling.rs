//! Rolling restart: SIGTERM every node in turn, wait for its exit, start it again on the same address.

use std::time::Duration;

use anyhow::Result;

use super::{CLIENT_TIMEOUT, Ctx, end_checks, history_checks, run_for, specs, start_cluster};
use crate::cluster::START_WITHIN;
use crate::history::Outcome;
use crate::node::Settings;
use crate::workload::{Client, Workload, keys};

/// Restarts each of 3 nodes in turn, twice round (SIGTERM, exit, start), under load with replica_count 2: no key is
/// lost, and no read returns a miss or an older value for a key written and acknowledged before.
pub(super) async fn rolling(ctx: &mut Ctx) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 1,
        member_count_quorum: 1,
        leave_timeout: Duration::from_secs(3),
        ..Settings::default()
    };
    let mut cluster = start_cluster(ctx, 3, settings).await?;
    let keys = keys("roll:", 1000);
    // Every key written once before the restarts begin.
    let mut pre = Client::new(&ctx.recorder, 0, cluster.nodes[0].resp(), CLIENT_TIMEOUT);
    let mut refused = Vec::new();
    for k in keys.iter() {
        let (v, o) = pre.set(k).await;
        if o != Outcome::Ok {
            refused.push(format!("{k} {v}: {o:?}"));
        }
    }
    ctx.report
        .check("the preload of 1000 keys is acknowledged", refused);
    let load = Workload::start(
        &ctx.recorder,
        specs(&cluster, &[0, 1, 2], &keys, 0.3),
        Duration::from_secs(150),
        ctx.seed,
    );
    run_for(Duration::from_secs(1)).await;
    let started = ctx.recorder.now();
    // Two full rounds: every node restarts twice, one at a time.
    for i in [0, 1, 2, 0, 1, 2] {
        let others: Vec<usize> = (0..3).filter(|j| *j != i).collect();
        let (status, took) = cluster.nodes[i].terminate(Duration::from_secs(20)).await?;
        ctx.report.require(
            &format!("n{i} exits 0 after SIGTERM"),
            status.success(),
            || format!("{status}"),
        );
        ctx.report
            .measure(&format!("n{i}: SIGTERM to exit (graceful leave)"), took);
        let noticed = cluster
            .wait_formed(&others, Duration::from_secs(30))
            .await?;
        ctx.report.measure(
            &format!("n{i}: exit to the others seeing 2 members"),
            noticed,
        );
        cluster.nodes[i].spawn()?;
        let up = cluster.nodes[i].wait_serving(START_WITHIN).await?;
        ctx.report.measure(&format!("n{i}: start to serving"), up);
        let joined = cluster
            .wait_formed(&[0, 1, 2], Duration::from_secs(30))
            .await?;
        ctx.report
            .measure(&format!("n{i}: serving to one view of 3 members"), joined);
        let pulled = cluster
            .wait_settled(&[0, 1, 2], Duration::from_secs(30))
            .await?;
        ctx.report
            .measure(&format!("n{i}: view to pulls done"), pulled);
    }
    let done = ctx.recorder.now();
    ctx.report
        .measure("the whole rolling restart", done - started);
    run_for(Duration::from_secs(2)).await;
    load.stop().await;
    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    ctx.report.check(
        "no read returns a miss or an older value than a write acknowledged before it (no hit turns into a miss)",
        history.stale_reads(&|_| true, &|_| true),
    );
    end_checks(ctx, &cluster, &[0, 1, 2], &keys, done, &|_| true).await;
    Ok(())
}
