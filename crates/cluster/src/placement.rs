//! Where a key lives: key → partition by XXH3-64, partition → owners by rendezvous hashing, and the
//! [`Table`] every node computes from the same member list. Pure: no I/O, no clock.

use std::net::SocketAddr;

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// The partition of `key`: `xxh3_64(key, seed 0) % partition_count`. Fixed and documented, so nodes and
/// clients of any version agree.
#[must_use]
pub fn partition_of(key: &[u8], partition_count: u32) -> u32 {
    (xxh3_64(key) % u64::from(partition_count.max(1))) as u32
}

/// A member as placement sees it: its advertised gossip address (which decides its score) and its
/// generation (which tells a restarted node from the one before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// Advertised gossip address.
    pub addr: SocketAddr,
    /// Generation.
    pub generation: u64,
}

impl Owner {
    /// The RPC address: the gossip port − 2.
    #[must_use]
    pub fn rpc_addr(&self) -> SocketAddr {
        let mut addr = self.addr;
        addr.set_port(addr.port().saturating_sub(2));
        addr
    }

    /// The tie-break this member writes into versions: a hash of its address.
    #[must_use]
    pub fn tie_break(&self) -> u32 {
        tie_break(self.addr)
    }
}

/// The version tie-break of the node at `addr`.
#[must_use]
pub fn tie_break(addr: SocketAddr) -> u32 {
    (xxh3_64(addr.to_string().as_bytes()) >> 32) as u32
}

/// The rendezvous score of `addr` for `partition`: `xxh3_64(partition LE ‖ addr)`.
#[must_use]
pub fn score(partition: u32, addr: SocketAddr) -> u64 {
    let text = addr.to_string();
    let mut buf = Vec::with_capacity(4 + text.len());
    buf.extend_from_slice(&partition.to_le_bytes());
    buf.extend_from_slice(text.as_bytes());
    xxh3_64_with_seed(&buf, 0)
}

/// The routing table: for every partition, its owners (primary first), computed from the live members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    members: Vec<Owner>,
    replica_count: u32,
    /// Owner indexes into `members`, `replicas` per partition.
    owners: Vec<u16>,
    replicas: usize,
    epoch: u64,
    fingerprint: u64,
}

impl Table {
    /// The table of `members` (deduplicated by address, highest generation kept) for `partition_count`
    /// partitions of `replica_count` copies, at `epoch`.
    #[must_use]
    pub fn new(members: &[Owner], partition_count: u32, replica_count: u32, epoch: u64) -> Table {
        let mut members: Vec<Owner> = members.to_vec();
        members.sort_by(|a, b| a.addr.cmp(&b.addr).then(b.generation.cmp(&a.generation)));
        members.dedup_by(|later, kept| later.addr == kept.addr);
        members.truncate(usize::from(u16::MAX));
        let replicas = (replica_count.max(1) as usize).min(members.len());
        let mut owners = Vec::with_capacity(partition_count as usize * replicas);
        let mut scored: Vec<(u64, u16)> = Vec::with_capacity(members.len());
        for p in 0..partition_count {
            scored.clear();
            scored.extend(
                members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (score(p, m.addr), i as u16)),
            );
            // Highest score first; the address order breaks (astronomically unlikely) ties.
            scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            owners.extend(scored.iter().take(replicas).map(|&(_, i)| i));
        }
        let fingerprint = fingerprint(&members);
        Table {
            members,
            replica_count,
            owners,
            replicas,
            epoch,
            fingerprint,
        }
    }

    /// Live members, sorted by address.
    #[must_use]
    pub fn members(&self) -> &[Owner] {
        &self.members
    }

    /// Number of partitions.
    #[must_use]
    pub fn partition_count(&self) -> u32 {
        self.owners
            .len()
            .checked_div(self.replicas)
            .map_or(0, |n| n as u32)
    }

    /// The configured `replica_count` (owners per partition is this or the member count, if smaller).
    #[must_use]
    pub fn replica_count(&self) -> u32 {
        self.replica_count
    }

    /// The local epoch: incremented on every change of this node's view.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A hash of the member identities (generations included): equal on nodes with the same view.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The owners of `partition`, primary first. Empty for an unknown partition or an empty table.
    pub fn owners(&self, partition: u32) -> impl ExactSizeIterator<Item = Owner> + '_ {
        let start = partition as usize * self.replicas;
        let slots = self.owners.get(start..start + self.replicas).unwrap_or(&[]);
        slots.iter().map(|&i| self.members[usize::from(i)])
    }

    /// The owners of `key`'s partition, primary first.
    pub fn owners_of(&self, key: &[u8]) -> impl ExactSizeIterator<Item = Owner> + '_ {
        self.owners(partition_of(key, self.partition_count()))
    }

    /// True when `addr` owns `partition` (any generation).
    #[must_use]
    pub fn is_owner(&self, partition: u32, addr: SocketAddr) -> bool {
        self.owners(partition).any(|o| o.addr == addr)
    }

    /// The partitions `addr` owns as primary and as backup.
    #[must_use]
    pub fn owned_by(&self, addr: SocketAddr) -> (u32, u32) {
        let mut primary = 0;
        let mut backup = 0;
        for p in 0..self.partition_count() {
            for (rank, o) in self.owners(p).enumerate() {
                if o.addr == addr {
                    if rank == 0 {
                        primary += 1;
                    } else {
                        backup += 1;
                    }
                }
            }
        }
        (primary, backup)
    }
}

/// The fingerprint of a member list.
#[must_use]
pub fn fingerprint(members: &[Owner]) -> u64 {
    let mut text = String::new();
    for m in members {
        text.push_str(&m.addr.to_string());
        text.push('#');
        text.push_str(&m.generation.to_string());
        text.push(';');
    }
    xxh3_64(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(port: u16) -> Owner {
        Owner {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            generation: 1,
        }
    }

    #[test]
    fn partition_hash_is_the_documented_one() {
        // Fixed values: changing the hash would move every key of every deployed cluster.
        assert_eq!(partition_of(b"", 271), (xxh3_64(b"") % 271) as u32);
        assert_eq!(partition_of(b"hello", 271), partition_of(b"hello", 271));
        assert!(partition_of(b"x", 271) < 271);
        assert_eq!(partition_of(b"x", 0), 0);
    }

    #[test]
    fn every_partition_has_distinct_owners_and_load_is_balanced() {
        let members: Vec<Owner> = (0..5).map(|i| member(4000 + i * 10)).collect();
        let t = Table::new(&members, 271, 2, 1);
        let mut primaries = [0u32; 5];
        for p in 0..271 {
            let owners: Vec<Owner> = t.owners(p).collect();
            assert_eq!(owners.len(), 2);
            assert_ne!(owners[0].addr, owners[1].addr);
            let i = members
                .iter()
                .position(|m| m.addr == owners[0].addr)
                .unwrap();
            primaries[i] += 1;
        }
        for n in primaries {
            assert!((30..=85).contains(&n), "primaries per node {primaries:?}");
        }
    }

    #[test]
    fn adding_a_member_moves_only_what_it_takes() {
        let members: Vec<Owner> = (0..4).map(|i| member(5000 + i * 10)).collect();
        let before = Table::new(&members, 271, 1, 1);
        let mut more = members.clone();
        more.push(member(6000));
        let after = Table::new(&more, 271, 1, 2);
        for p in 0..271 {
            let old = before.owners(p).next().unwrap();
            let new = after.owners(p).next().unwrap();
            assert!(
                new == old || new.addr == member(6000).addr,
                "partition {p} moved between old members"
            );
        }
    }

    #[test]
    fn owners_are_capped_by_members_and_fingerprint_sees_generations() {
        let one = [member(7000)];
        let t = Table::new(&one, 271, 3, 1);
        assert_eq!(t.owners(5).len(), 1);
        let mut reborn = member(7000);
        reborn.generation = 2;
        assert_ne!(
            t.fingerprint(),
            Table::new(&[reborn], 271, 3, 1).fingerprint()
        );
        let dup = [member(7000), reborn];
        let t = Table::new(&dup, 271, 3, 1);
        assert_eq!(t.members(), &[reborn], "the higher generation is kept");
        assert_eq!(Table::new(&[], 271, 2, 0).owners(3).len(), 0);
    }
}
