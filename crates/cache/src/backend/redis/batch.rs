//! `get_multi` and `set_multi`: one `MGET` or one pipeline on a single server; on a cluster the keys are
//! grouped by hash slot (keys sharing a `{hash tag}` share a slot) and the groups run concurrently, each
//! one command or pipeline to the slot's master.

use std::collections::HashMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use redis::cluster_routing::Slot;

use super::{RedisCache, set_cmd};
use crate::error::Result;

/// The key indexes of one group and the `MGET` reply for them.
type GroupReply = (Vec<usize>, Vec<Option<Vec<u8>>>);

/// Slot groups of one cluster batch sent at once.
const CONCURRENT_GROUPS: usize = 16;

/// Indexes of `keys` grouped by the cluster hash slot of their server key, in first-seen order.
fn group_by_slot<'a>(keys: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<usize>> {
    let mut slots: HashMap<Slot, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, key) in keys.enumerate() {
        let group = *slots.entry(Slot::for_key(key)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(i);
    }
    groups
}

impl RedisCache {
    /// `MGET` of every key (per slot on a cluster); found keys only.
    pub(super) async fn get_many(&self, keys: &[&[u8]]) -> Result<HashMap<Bytes, Bytes>> {
        let mut found = HashMap::with_capacity(keys.len());
        if keys.is_empty() {
            self.conn()?;
            return Ok(found);
        }
        let conn = self.conn()?;
        let full: Vec<Vec<u8>> = keys.iter().map(|k| self.keys.full(k)).collect();
        let groups = if conn.is_cluster() {
            group_by_slot(full.iter().map(Vec::as_slice))
        } else {
            vec![(0..full.len()).collect()]
        };
        let mget = |group: Vec<usize>| {
            let mut conn = conn.clone();
            let mut cmd = redis::cmd("MGET");
            for &i in &group {
                cmd.arg(&full[i]);
            }
            async move {
                let values: Vec<Option<Vec<u8>>> = cmd.query_async(&mut conn).await?;
                Ok::<_, redis::RedisError>((group, values))
            }
        };
        let replies: Vec<GroupReply> = self
            .call(
                "get_multi",
                futures::stream::iter(groups)
                    .map(mget)
                    .buffer_unordered(CONCURRENT_GROUPS)
                    .try_collect(),
            )
            .await?;
        for (group, values) in replies {
            for (i, value) in group.into_iter().zip(values) {
                self.count(value.is_some());
                if let Some(value) = value {
                    found.insert(Bytes::copy_from_slice(keys[i]), Bytes::from(value));
                }
            }
        }
        Ok(found)
    }

    /// A pipeline of `SET ... [PX ms]` (per slot on a cluster).
    pub(super) async fn set_many(
        &self,
        items: &[(&[u8], &[u8])],
        ttl_ms: Option<u64>,
    ) -> Result<()> {
        let conn = self.conn()?;
        if items.is_empty() {
            return Ok(());
        }
        let full: Vec<Vec<u8>> = items.iter().map(|(k, _)| self.keys.full(k)).collect();
        let groups = if conn.is_cluster() {
            group_by_slot(full.iter().map(Vec::as_slice))
        } else {
            vec![(0..full.len()).collect()]
        };
        let pipeline = |group: Vec<usize>| {
            let mut conn = conn.clone();
            let mut pipe = redis::pipe();
            for i in group {
                pipe.add_command(set_cmd(&full[i], items[i].1, ttl_ms))
                    .ignore();
            }
            async move { pipe.query_async::<()>(&mut conn).await }
        };
        self.call(
            "set_multi",
            futures::stream::iter(groups)
                .map(pipeline)
                .buffer_unordered(CONCURRENT_GROUPS)
                .try_collect::<Vec<()>>(),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_one_hash_tag_share_a_group() {
        let keys: [&[u8]; 5] = [b"{user1}:a", b"x", b"{user1}:b", b"y", b"{user1}:c"];
        let groups = group_by_slot(keys.iter().copied());
        assert!(groups.contains(&vec![0, 2, 4]), "{groups:?}");
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 5);
        assert!(group_by_slot(std::iter::empty()).is_empty());
    }
}
