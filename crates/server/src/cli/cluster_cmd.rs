//! `relaycache cluster members|partitions`: an `ha` server's view of its cluster (`CLUSTER.MEMBERS`,
//! `CLUSTER.PARTITIONS`), as a table or as JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use relaycache_resp::Frame;
use serde_json::{Map, Value, json};

use super::ClusterCommand;
use super::client_cmd::call;
use crate::client::Client;

/// Runs `cluster members` or `cluster partitions` on a connected client.
pub(super) async fn run(client: &mut Client, command: &ClusterCommand) -> Result<ExitCode, String> {
    match command {
        ClusterCommand::Members { json } => {
            let reply = call(client, &[b"CLUSTER.MEMBERS".as_slice()]).await?;
            let view = members_json(&reply)?;
            if *json {
                println!("{}", pretty(&view));
            } else {
                print!("{}", members_table(&view));
            }
        }
        ClusterCommand::Partitions { json } => {
            let reply = call(client, &[b"CLUSTER.PARTITIONS".as_slice()]).await?;
            let table = partitions(&reply)?;
            if *json {
                let rows: Vec<Value> = table
                    .iter()
                    .map(|(id, owners)| json!({ "partition": id, "owners": owners }))
                    .collect();
                println!("{}", pretty(&Value::Array(rows)));
            } else {
                print!("{}", partitions_table(&table));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The elements of a map reply (RESP3 `%`) or of its RESP2 form (a flat array), as key-value pairs.
fn pairs(frame: &Frame) -> Result<Vec<(String, &Frame)>, String> {
    let (Frame::Map(items) | Frame::Array(items)) = frame else {
        return Err(format!("expected a map, got {frame:?}"));
    };
    if items.len() % 2 != 0 {
        return Err("a map reply with an odd number of elements".to_owned());
    }
    items
        .chunks(2)
        .map(|kv| {
            let key = kv[0]
                .as_bytes()
                .ok_or_else(|| format!("a map key that is not a string: {:?}", kv[0]))?;
            Ok((String::from_utf8_lossy(key).into_owned(), &kv[1]))
        })
        .collect()
}

/// A scalar reply element as JSON (integers as numbers, booleans as booleans, strings as strings).
fn scalar(frame: &Frame) -> Value {
    match frame {
        Frame::Integer(n) => json!(n),
        Frame::Boolean(b) => json!(b),
        Frame::Double(d) => json!(d),
        Frame::Null | Frame::NullArray => Value::Null,
        other => other
            .as_bytes()
            .map_or(Value::Null, |b| json!(String::from_utf8_lossy(b))),
    }
}

/// The `CLUSTER.MEMBERS` reply as JSON: its fields, with `members` an array of objects.
fn members_json(reply: &Frame) -> Result<Value, String> {
    let mut out = Map::new();
    for (key, value) in pairs(reply)? {
        let value = if key == "members" {
            let (Frame::Array(members) | Frame::Set(members)) = value else {
                return Err(format!("members is not an array: {value:?}"));
            };
            let mut list = Vec::with_capacity(members.len());
            for member in members {
                let mut m = Map::new();
                for (k, v) in pairs(member)? {
                    let v = if k == "is_self" {
                        json!(matches!(v, Frame::Integer(1) | Frame::Boolean(true)))
                    } else {
                        scalar(v)
                    };
                    m.insert(k, v);
                }
                list.push(Value::Object(m));
            }
            Value::Array(list)
        } else if key == "is_embedded" {
            json!(matches!(value, Frame::Integer(1) | Frame::Boolean(true)))
        } else {
            scalar(value)
        };
        out.insert(key, value);
    }
    Ok(Value::Object(out))
}

fn field(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Rows as aligned columns (two spaces between them), the header first.
fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (cell, w) in cells.zip(&widths) {
            let _ = write!(text, "{cell:<w$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// The members view as text: this node's state, then one row per member.
fn members_table(view: &Value) -> String {
    let mut out = String::new();
    for (label, key) in [
        ("node", "memberlist_addr"),
        ("state", "state"),
        ("epoch", "epoch"),
        ("members", "cluster_members"),
        ("embedded", "is_embedded"),
    ] {
        let _ = writeln!(out, "{label:<10}{}", field(view, key));
    }
    let rows: Vec<Vec<String>> = view
        .get("members")
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .map(|m| {
                    vec![
                        field(m, "gossip_addr"),
                        field(m, "rpc_addr"),
                        field(m, "generation"),
                        if m.get("is_self") == Some(&Value::Bool(true)) {
                            "*".to_owned()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push('\n');
    out.push_str(&columns(&["GOSSIP", "RPC", "GENERATION", "SELF"], &rows));
    out
}

/// The `CLUSTER.PARTITIONS` reply: (partition, owners primary first) per entry.
fn partitions(reply: &Frame) -> Result<Vec<(i64, Vec<String>)>, String> {
    let Frame::Array(entries) = reply else {
        return Err(format!("expected an array, got {reply:?}"));
    };
    entries
        .iter()
        .map(|entry| match entry {
            Frame::Array(parts) => match parts.as_slice() {
                [Frame::Integer(id), Frame::Array(owners)] => Ok((
                    *id,
                    owners
                        .iter()
                        .filter_map(Frame::as_bytes)
                        .map(|o| String::from_utf8_lossy(o).into_owned())
                        .collect(),
                )),
                _ => Err(format!("unexpected partition entry {entry:?}")),
            },
            _ => Err(format!("unexpected partition entry {entry:?}")),
        })
        .collect()
}

/// The routing table as text: partition, primary, backups.
fn partitions_table(table: &[(i64, Vec<String>)]) -> String {
    let rows: Vec<Vec<String>> = table
        .iter()
        .map(|(id, owners)| {
            let (primary, backups) = owners
                .split_first()
                .map_or((String::new(), &[][..]), |(p, b)| (p.clone(), b));
            vec![id.to_string(), primary, backups.join(" ")]
        })
        .collect();
    columns(&["PARTITION", "PRIMARY", "BACKUPS"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members_reply() -> Frame {
        let member = |gossip: &str, rpc: &str, me: i64| {
            Frame::Array(vec![
                Frame::bulk("gossip_addr"),
                Frame::bulk(gossip),
                Frame::bulk("rpc_addr"),
                Frame::bulk(rpc),
                Frame::bulk("generation"),
                Frame::Integer(17),
                Frame::bulk("is_self"),
                Frame::Integer(me),
            ])
        };
        Frame::Array(vec![
            Frame::bulk("memberlist_addr"),
            Frame::bulk("127.0.0.1:4322"),
            Frame::bulk("cluster_members"),
            Frame::Integer(2),
            Frame::bulk("is_embedded"),
            Frame::Integer(1),
            Frame::bulk("state"),
            Frame::bulk("serving"),
            Frame::bulk("epoch"),
            Frame::Integer(3),
            Frame::bulk("members"),
            Frame::Array(vec![
                member("127.0.0.1:4322", "127.0.0.1:4320", 1),
                member("127.0.0.1:5322", "127.0.0.1:5320", 0),
            ]),
        ])
    }

    #[test]
    fn members_as_json_and_table() {
        let view = members_json(&members_reply()).unwrap();
        assert_eq!(view["cluster_members"], 2);
        assert_eq!(view["is_embedded"], true);
        assert_eq!(view["members"][0]["is_self"], true);
        assert_eq!(view["members"][1]["rpc_addr"], "127.0.0.1:5320");
        let table = members_table(&view);
        assert!(table.contains("state     serving"), "{table}");
        assert!(
            table.contains("127.0.0.1:4322  127.0.0.1:4320  17          *\n"),
            "{table}"
        );
        assert!(
            table.contains("127.0.0.1:5322  127.0.0.1:5320  17\n"),
            "{table}"
        );
    }

    #[test]
    fn partitions_as_table() {
        let reply = Frame::Array(vec![Frame::Array(vec![
            Frame::Integer(0),
            Frame::Array(vec![Frame::bulk("127.0.0.1:1"), Frame::bulk("127.0.0.1:2")]),
        ])]);
        let table = partitions(&reply).unwrap();
        assert_eq!(
            table,
            vec![(0, vec!["127.0.0.1:1".to_owned(), "127.0.0.1:2".to_owned()])]
        );
        assert_eq!(
            partitions_table(&table),
            "PARTITION  PRIMARY      BACKUPS\n0          127.0.0.1:1  127.0.0.1:2\n"
        );
        assert!(partitions(&Frame::Integer(1)).is_err());
    }
}
