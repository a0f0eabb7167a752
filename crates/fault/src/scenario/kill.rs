//! Process faults: SIGKILL (`kill`) and SIGSTOP/SIGCONT (`pause`).

use std::time::Duration;

use anyhow::Result;

use super::{
    CLIENT_TIMEOUT, Ctx, end_checks, failures_between, history_checks, last_failure_after, run_for,
    start_loaded,
};
use crate::node::Settings;
use crate::workload::{Client, keys};

/// SIGKILL one of 3 nodes under write load (replica_count 2, write_quorum 2): acknowledged writes stay
/// readable after detection, operations meanwhile succeed or fail explicitly within the timeout, and
/// both survivors hold a copy of every key once the table settles.
pub(super) async fn kill(ctx: &mut Ctx) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 2,
        ..Settings::default()
    };
    let keys = keys("kill:", 300);
    let (mut cluster, load) = start_loaded(
        ctx,
        3,
        settings,
        &keys,
        Duration::from_secs(90),
        Duration::from_secs(3),
    )
    .await?;

    let killed = ctx.recorder.now();
    cluster.nodes[2].kill()?;
    ctx.report.note(format!(
        "SIGKILL {} at {:.3}s",
        cluster.nodes[2].name(),
        killed.as_secs_f64()
    ));
    let detection = cluster
        .wait_formed(&[0, 1], Duration::from_secs(30))
        .await?;
    let detected = ctx.recorder.now();
    ctx.report
        .measure("crash detection (both survivors see 2 members)", detection);
    let settled = cluster
        .wait_settled(&[0, 1], Duration::from_secs(30))
        .await?;
    ctx.report
        .measure("detection to pulls done (no incoming partition)", settled);
    run_for(Duration::from_secs(3)).await;
    load.stop().await;

    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    let failover = last_failure_after(&history, &[0, 1], killed).unwrap_or_default();
    ctx.report.measure(
        "kill to the survivors' last failed operation (failover)",
        failover,
    );
    let outage = failures_between(&history, &[0, 1], killed, detected);
    ctx.report.note(format!(
        "{} survivor operations failed between the kill and detection (explicit errors)",
        outage.len()
    ));
    let grace = detected + Duration::from_millis(500);
    ctx.report.check(
        "survivors serve every operation from 0.5 s after detection",
        failures_between(&history, &[0, 1], grace, ctx.recorder.now()),
    );
    ctx.report.check(
        "every read through a survivor after detection returns the last acknowledged write",
        history.stale_reads(&|op| op.node != 2 && op.start > detected, &|_| true),
    );
    end_checks(ctx, &cluster, &[0, 1], &keys, detected, &|_| true).await;
    Ok(())
}

/// SIGSTOP one of 3 for 2.5 s (over twice the 1 s suspicion time), then SIGCONT: the others serve
/// meanwhile, the paused node rejoins, and nothing it answers after waking is older than what was
/// acknowledged while it slept.
pub(super) async fn pause(ctx: &mut Ctx) -> Result<()> {
    let settings = Settings {
        replica_count: 2,
        write_quorum: 2,
        member_count_quorum: 2,
        ..Settings::default()
    };
    let keys = keys("pause:", 200);
    let (cluster, load) = start_loaded(
        ctx,
        3,
        settings,
        &keys,
        Duration::from_secs(90),
        Duration::from_secs(2),
    )
    .await?;
    // Connections to the sleeper opened beforehand, used the moment it wakes.
    let mut wakers = Vec::new();
    for _ in 0..4 {
        let mut c = Client::new(&ctx.recorder, 2, cluster.nodes[2].resp(), CLIENT_TIMEOUT);
        c.connect().await;
        wakers.push(c);
    }

    let stopped = ctx.recorder.now();
    cluster.nodes[2].pause()?;
    ctx.report.note(format!(
        "SIGSTOP {} at {:.3}s",
        cluster.nodes[2].name(),
        stopped.as_secs_f64()
    ));
    let detection = cluster
        .wait_formed(&[0, 1], Duration::from_secs(30))
        .await?;
    let detected = ctx.recorder.now();
    ctx.report
        .measure("pause detection (the others see 2 members)", detection);
    // While it sleeps, after the others noticed and acknowledged writes without it: every key through
    // the sleeper, pipelined on four connections. The requests wait in its sockets and are the first
    // thing it answers when it wakes.
    let chunks: Vec<Vec<String>> = keys
        .chunks(keys.len().div_ceil(4))
        .map(<[String]>::to_vec)
        .collect();
    let queued_at = ctx.recorder.now();
    let queued: Vec<_> = wakers
        .into_iter()
        .zip(chunks)
        .map(|(mut c, chunk)| {
            tokio::spawn(async move {
                c.pipelined_gets(&chunk).await;
                // And once more, one by one, now that it is awake.
                for k in &chunk {
                    c.get(k).await;
                }
            })
        })
        .collect();
    let sleep_until =
        (stopped + Duration::from_millis(2500)).max(queued_at + Duration::from_millis(300));
    if let Some(rest) = sleep_until.checked_sub(ctx.recorder.now()) {
        tokio::time::sleep(rest).await;
    }
    let woke = ctx.recorder.now();
    cluster.nodes[2].resume()?;
    ctx.report.note(format!(
        "SIGCONT {} at {:.3}s (paused {:.3}s); {} GETs queued in its sockets at {:.3}s",
        cluster.nodes[2].name(),
        woke.as_secs_f64(),
        (woke - stopped).as_secs_f64(),
        keys.len(),
        queued_at.as_secs_f64()
    ));
    for q in queued {
        let _ = q.await;
    }
    let rejoin = cluster
        .wait_formed(&[0, 1, 2], Duration::from_secs(30))
        .await;
    let rejoined = ctx.recorder.now();
    match rejoin {
        Ok(_) => ctx
            .report
            .measure("SIGCONT to one view of 3 members (rejoin)", rejoined - woke),
        Err(e) => ctx.report.check(
            "the paused node rejoins within 30 s",
            vec![format!("{e:#}")],
        ),
    }
    let _ = cluster
        .wait_settled(&[0, 1, 2], Duration::from_secs(30))
        .await;
    run_for(Duration::from_secs(2)).await;
    load.stop().await;

    let history = ctx.recorder.history();
    history_checks(&mut ctx.report, &history);
    ctx.report.check(
        "the others serve every operation from 0.5 s after detection until SIGCONT",
        failures_between(
            &history,
            &[0, 1],
            detected + Duration::from_millis(500),
            woke,
        ),
    );
    let answered_after_wake = history
        .ops
        .iter()
        .filter(|op| op.node == 2 && op.end >= woke && op.error().is_none())
        .count();
    ctx.report.note(format!(
        "the woken node answered {answered_after_wake} operations after SIGCONT"
    ));
    ctx.report.check(
        "nothing the woken node answers is older than a write acknowledged while it slept",
        history.stale_reads(&|op| op.node == 2 && op.end >= woke, &|w| {
            w.start >= stopped && w.end <= woke
        }),
    );
    end_checks(ctx, &cluster, &[0, 1, 2], &keys, woke, &|_| true).await;
    Ok(())
}
