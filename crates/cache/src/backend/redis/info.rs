//! The server-side half of [`Stats`](crate::Stats): key count from `DBSIZE` and memory, evictions and
//! expirations from `INFO`, summed over the masters of a cluster.

/// What one node reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NodeInfo {
    /// `DBSIZE`: keys in the selected database, ours and anyone else's.
    pub(crate) keys: u64,
    /// `used_memory`: bytes the server allocated.
    pub(crate) used_memory: u64,
    /// `evicted_keys`: keys evicted under `maxmemory`.
    pub(crate) evicted_keys: u64,
    /// `expired_keys`: keys removed because their TTL passed.
    pub(crate) expired_keys: u64,
    /// `maxmemory`: the server's memory bound, 0 for none.
    pub(crate) maxmemory: u64,
}

impl NodeInfo {
    /// Reads the fields we use from the text of `INFO` (`name:value` lines; unknown or malformed lines are
    /// ignored, missing fields stay 0).
    pub(crate) fn parse(keys: u64, info: &str) -> Self {
        let mut node = NodeInfo {
            keys,
            ..NodeInfo::default()
        };
        for line in info.lines() {
            let Some((name, value)) = line.trim_end().split_once(':') else {
                continue;
            };
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            match name {
                "used_memory" => node.used_memory = value,
                "evicted_keys" => node.evicted_keys = value,
                "expired_keys" => node.expired_keys = value,
                "maxmemory" => node.maxmemory = value,
                _ => {}
            }
        }
        node
    }

    /// The sum of two nodes' figures (a cluster's total).
    pub(crate) fn add(self, other: NodeInfo) -> NodeInfo {
        NodeInfo {
            keys: self.keys.saturating_add(other.keys),
            used_memory: self.used_memory.saturating_add(other.used_memory),
            evicted_keys: self.evicted_keys.saturating_add(other.evicted_keys),
            expired_keys: self.expired_keys.saturating_add(other.expired_keys),
            maxmemory: self.maxmemory.saturating_add(other.maxmemory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_and_ignores_the_rest() {
        let text = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\n\
                    # Stats\r\nexpired_keys:7\r\nevicted_keys:3\r\nnot a field\r\nexpired_stale_perc:0.00\r\n";
        let info = NodeInfo::parse(42, text);
        assert_eq!(
            info,
            NodeInfo {
                keys: 42,
                used_memory: 1_048_576,
                evicted_keys: 3,
                expired_keys: 7,
                maxmemory: 0,
            }
        );
        assert_eq!(info.add(info).used_memory, 2_097_152);
        assert_eq!(NodeInfo::parse(0, ""), NodeInfo::default());
    }
}
