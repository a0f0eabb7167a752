//! Configuration: defaults, reference examples, `${VAR}`, overrides, and one test per validation rule.

use std::time::Duration;

use relaycache::config::{Environment, LogFormat};
use relaycache::{Config, ConfigError, Mode};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(yaml: &str) -> Result<Config, ConfigError> {
    Config::from_yaml_str_with_env(yaml, &[])
}

/// Loads `yaml`, expects an error, and checks the message names every one of `fields`.
#[track_caller]
fn rejects(yaml: &str, fields: &[&str]) -> String {
    let err = load(yaml)
        .expect_err("config should be rejected")
        .to_string();
    for field in fields {
        assert!(err.contains(field), "message {err:?} does not name {field}");
    }
    err
}

fn repo_file(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    std::fs::read_to_string(format!("{root}{path}")).unwrap()
}

#[test]
fn defaults_are_the_reference_ones() {
    let c = load("").unwrap();
    assert_eq!(c.cache.mode, Mode::Single);
    assert_eq!(c.cache.ristretto.num_counters, 1_000_000);
    assert_eq!(c.cache.ristretto.max_cost, 104_857_600);
    assert_eq!(c.cache.ristretto.buffer_items, 64);
    let ha = &c.cache.olric;
    assert_eq!(ha.dmap_name, "cc-relay");
    assert_eq!(ha.environment, Environment::Local);
    assert_eq!(
        (
            ha.replica_count,
            ha.read_quorum,
            ha.write_quorum,
            ha.member_count_quorum
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(ha.leave_timeout, Duration::from_secs(5));
    assert!(!ha.embedded);
    assert_eq!(c.server.bind, "127.0.0.1");
    assert_eq!(c.logging.format, LogFormat::Text);
    assert_eq!(c, Config::default());
}

#[test]
fn sample_config_lists_every_default() {
    let sample = load(Config::SAMPLE_YAML).unwrap();
    assert_eq!(sample, Config::default());
}

#[test]
fn environment_presets_match_the_reference_table() {
    let ms = Duration::from_millis;
    let local = Environment::Local.preset();
    assert_eq!(
        (
            local.gossip_interval,
            local.probe_interval,
            local.probe_timeout
        ),
        (ms(100), ms(100), ms(200))
    );
    let lan = Environment::Lan.preset();
    assert_eq!(
        (lan.gossip_interval, lan.probe_interval, lan.probe_timeout),
        (ms(200), ms(1000), ms(500))
    );
    let wan = Environment::Wan.preset();
    assert_eq!(
        (wan.gossip_interval, wan.probe_interval, wan.probe_timeout),
        (ms(500), ms(3000), ms(2000))
    );
}

#[test]
fn reference_examples_load() {
    let single = load(&repo_file("examples/single.yaml")).unwrap();
    assert_eq!(single.cache.mode, Mode::Single);
    let ha = load(&repo_file("examples/ha.yaml")).unwrap();
    assert_eq!(ha.cache.mode, Mode::Ha);
    assert_eq!(ha.cache.olric.replica_count, 2);
    assert_eq!(ha.cache.olric.environment, Environment::Lan);
    assert_eq!(ha.cache.olric.peers, ["cc-relay-2:3322", "cc-relay-3:3322"]);
    for node in 1..=3 {
        let c = load(&repo_file(&format!(
            "examples/cluster/config-node{node}.yaml"
        )))
        .unwrap();
        assert_eq!(c.cache.olric.peers.len(), 2);
        assert!(
            !c.cache
                .olric
                .peers
                .iter()
                .any(|p| p == &format!("relaycache-{node}:3322"))
        );
    }
    let vars = env(&[("REDIS_URL", "redis://cache.internal:7000/2")]);
    let redis = Config::from_yaml_str_with_env(&repo_file("examples/redis.yaml"), &vars).unwrap();
    assert_eq!(
        redis.cache.redis.url.as_deref(),
        Some("redis://cache.internal:7000/2")
    );
}

#[test]
fn aliases_single_and_ha_are_accepted() {
    let c = load("cache:\n  mode: ha\n  ha:\n    embedded: true\n    bind_addr: 127.0.0.1:7000\n  single:\n    max_cost: 10MiB\n").unwrap();
    assert_eq!(c.cache.ristretto.max_cost, 10 << 20);
    assert_eq!(c.cache.olric.bind_addr.as_deref(), Some("127.0.0.1:7000"));
    rejects(
        "cache:\n  single:\n    max_cost: 1\n  ristretto:\n    max_cost: 2\n",
        &["cache.single", "ristretto"],
    );
}

#[test]
fn humanized_durations_and_sizes() {
    let c = load(
        "cache:\n  ristretto:\n    max_cost: 1.5GiB\n  olric:\n    leave_timeout: 1m 30s\n    request_timeout: 250ms\nserver:\n  limits:\n    max_bulk_len: 64 KiB\n",
    )
    .unwrap();
    assert_eq!(c.cache.ristretto.max_cost, 3 << 29);
    assert_eq!(c.cache.olric.leave_timeout, Duration::from_secs(90));
    assert_eq!(c.cache.olric.request_timeout, Duration::from_millis(250));
    assert_eq!(c.server.limits.max_bulk_len, 64 << 10);
    rejects(
        "cache:\n  ristretto:\n    max_cost: lots\n",
        &["cache.ristretto.max_cost", "lots"],
    );
    rejects(
        "cache:\n  ristretto:\n    max_cost: -5\n",
        &["cache.ristretto.max_cost"],
    );
    rejects(
        "cache:\n  olric:\n    leave_timeout: soon\n",
        &["cache.olric.leave_timeout"],
    );
}

#[test]
fn env_expansion() {
    let vars = env(&[("MAXC", "2048"), ("NAME", "shop")]);
    let c = Config::from_yaml_str_with_env(
        "cache:\n  ristretto:\n    max_cost: ${MAXC}\n  olric:\n    dmap_name: \"${NAME}-${SUFFIX:-eu}\"\n    secret: \"a$$b\"\n",
        &vars,
    )
    .unwrap();
    assert_eq!(c.cache.ristretto.max_cost, 2048);
    assert_eq!(c.cache.olric.dmap_name, "shop-eu");
    assert_eq!(c.cache.olric.secret.as_deref(), Some("a$b"));
    let err = Config::from_yaml_str_with_env("cache:\n  mode: ${MODE}\n", &[]).unwrap_err();
    assert_eq!(err, ConfigError::MissingEnv { var: "MODE".into() });
    assert!(err.to_string().contains("MODE"));
    // A commented-out reference needs no variable.
    Config::from_yaml_str_with_env("# password: ${UNSET_SECRET}\ncache:\n  mode: single\n", &[])
        .unwrap();
    assert!(matches!(
        Config::from_yaml_str_with_env("cache:\n  mode: ${MODE\n", &[]),
        Err(ConfigError::Parse(_))
    ));
}

#[test]
fn env_overrides_keys() {
    let vars = env(&[
        ("RELAYCACHE_CACHE__MODE", "disabled"),
        ("RELAYCACHE_CACHE__SINGLE__MAX_COST", "64MiB"),
        ("RELAYCACHE_CACHE__OLRIC__PEERS", "[a:3322, b:3322]"),
        ("RELAYCACHE_SERVER__PORT", "7000"),
        ("RELAYCACHE_CONFIG", "/not/an/override.yaml"),
        ("UNRELATED__VAR", "x"),
    ]);
    let c = Config::from_yaml_str_with_env(
        "cache:\n  mode: single\n  ristretto:\n    max_cost: 1\n",
        &vars,
    )
    .unwrap();
    assert_eq!(c.cache.mode, Mode::Disabled);
    assert_eq!(c.cache.ristretto.max_cost, 64 << 20);
    assert_eq!(c.cache.olric.peers, ["a:3322", "b:3322"]);
    assert_eq!(c.server.port, 7000);
    let bad = env(&[("RELAYCACHE_CACHE__RISTRETTO__MAX_CST", "1")]);
    let err = Config::from_yaml_str_with_env("", &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_cst"), "{err}");
}

#[test]
fn unknown_keys_and_modes_are_named() {
    rejects("cache:\n  mode: memcached\n", &["cache.mode", "memcached"]);
    rejects(
        "cache:\n  ristretto:\n    max_cst: 5\n",
        &["cache.ristretto.max_cst"],
    );
    rejects(
        "cache:\n  olric:\n    replicas: 2\n",
        &["cache.olric.replicas"],
    );
    rejects("caches:\n  mode: single\n", &["caches"]);
    rejects(
        "server:\n  limits:\n    max_bulk: 5\n",
        &["server.limits.max_bulk"],
    );
    rejects("- a\n- b\n", &["mapping"]);
    rejects("cache: [\n", &[]);
}

#[test]
fn rule_max_cost_positive() {
    rejects(
        "cache:\n  ristretto:\n    max_cost: 0\n",
        &["cache.ristretto.max_cost"],
    );
}

#[test]
fn rule_num_counters_positive() {
    rejects(
        "cache:\n  ristretto:\n    num_counters: 0\n",
        &["cache.ristretto.num_counters"],
    );
}

#[test]
fn rule_buffer_items_positive() {
    rejects(
        "cache:\n  ristretto:\n    buffer_items: 0\n",
        &["cache.ristretto.buffer_items"],
    );
}

#[test]
fn rule_quorums_within_replica_count() {
    rejects(
        "cache:\n  olric:\n    replica_count: 2\n    write_quorum: 3\n",
        &["write_quorum", "replica_count", "3", "2"],
    );
    rejects(
        "cache:\n  olric:\n    replica_count: 2\n    read_quorum: 3\n",
        &["read_quorum", "replica_count"],
    );
    rejects("cache:\n  olric:\n    read_quorum: 0\n", &["read_quorum"]);
    rejects("cache:\n  olric:\n    write_quorum: 0\n", &["write_quorum"]);
    rejects(
        "cache:\n  olric:\n    replica_count: 0\n",
        &["replica_count"],
    );
    load("cache:\n  olric:\n    replica_count: 3\n    read_quorum: 2\n    write_quorum: 3\n")
        .unwrap();
}

#[test]
fn rule_member_count_quorum_at_least_one() {
    rejects(
        "cache:\n  olric:\n    member_count_quorum: 0\n",
        &["member_count_quorum"],
    );
}

#[test]
fn rule_bind_addr_required_when_embedded() {
    rejects(
        "cache:\n  mode: ha\n  olric:\n    embedded: true\n",
        &["cache.olric.bind_addr", "embedded"],
    );
    rejects(
        "cache:\n  olric:\n    bind_addr: nowhere\n",
        &["cache.olric.bind_addr"],
    );
    // Not active: only the structural rules apply.
    load("cache:\n  mode: single\n  olric:\n    embedded: true\n").unwrap();
}

#[test]
fn rule_client_mode_needs_addresses() {
    rejects(
        "cache:\n  mode: ha\n  olric:\n    embedded: false\n",
        &["cache.olric.addresses"],
    );
    load("cache:\n  mode: ha\n  olric:\n    addresses: [\"10.0.0.1:3320\"]\n").unwrap();
}

#[test]
fn rule_node_may_not_list_itself() {
    let base =
        "cache:\n  mode: ha\n  olric:\n    embedded: true\n    bind_addr: \"0.0.0.0:3320\"\n";
    rejects(
        &format!("{base}    peers: [\"127.0.0.1:3322\"]\n"),
        &["cache.olric.peers[0]", "itself"],
    );
    rejects(
        &format!("{base}    peers: [\"other:3322\", \"localhost:3322\"]\n"),
        &["cache.olric.peers[1]"],
    );
    let own =
        "cache:\n  mode: ha\n  olric:\n    embedded: true\n    bind_addr: \"127.0.0.2:4000\"\n";
    rejects(
        &format!("{own}    peers: [\"127.0.0.2:4002\"]\n"),
        &["peers[0]", "itself"],
    );
    load(&format!("{own}    peers: [\"127.0.0.3:4002\"]\n")).unwrap();
}

#[test]
fn rule_peers_must_use_the_gossip_port() {
    let err = rejects(
        "cache:\n  mode: ha\n  olric:\n    embedded: true\n    bind_addr: \"0.0.0.0:3320\"\n    peers: [\"other-node:3320\"]\n",
        &["cache.olric.peers[0]", "3322"],
    );
    assert!(err.contains("client"), "{err}");
    rejects(
        "cache:\n  olric:\n    peers: [\"no-port\"]\n",
        &["cache.olric.peers[0]"],
    );
}

#[test]
fn rule_redis_needs_a_url() {
    rejects("cache:\n  mode: redis\n", &["cache.redis.url"]);
    rejects(
        "cache:\n  redis:\n    url: \"http://x\"\n",
        &["cache.redis.url"],
    );
    rejects(
        "cache:\n  redis:\n    url: \"redis://a:1\"\n    cluster: [\"redis://b:1\"]\n",
        &["cache.redis.url", "cache.redis.cluster"],
    );
    rejects(
        "cache:\n  redis:\n    cluster: [\"b:1\"]\n",
        &["cache.redis.cluster[0]"],
    );
    load("cache:\n  mode: redis\n  redis:\n    cluster: [\"redis://127.0.0.1:7000\"]\n").unwrap();
}

#[test]
fn rule_server_fields() {
    rejects("server:\n  bind: localhost\n", &["server.bind"]);
    rejects(
        "server:\n  admin:\n    bind: everywhere\n",
        &["server.admin.bind"],
    );
    rejects("server:\n  max_clients: 0\n", &["server.max_clients"]);
    rejects("server:\n  requirepass: \"\"\n", &["server.requirepass"]);
    rejects(
        "server:\n  limits:\n    max_args: 0\n",
        &["server.limits.max_args"],
    );
    rejects("server:\n  port: 70000\n", &["server.port"]);
    rejects("logging:\n  format: xml\n", &["logging.format"]);
    rejects("logging:\n  level: \"\"\n", &["logging.level"]);
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "cache:\n  mode: disabled\n").unwrap();
    assert_eq!(Config::load(&path).unwrap().cache.mode, Mode::Disabled);
    let err = Config::load(dir.path().join("missing.yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.yaml"), "{err}");
}

#[test]
fn rule_server_tls() {
    use relaycache::config::TlsAuthClients;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, "not checked here").unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key, ca) = (file("server.pem"), file("server.key"), file("ca.pem"));
    let files = format!("  tls_cert_file: {cert}\n  tls_key_file: {key}\n");
    rejects(
        "server:\n  tls_port: 6390\n",
        &["server.tls_cert_file", "server.tls_port"],
    );
    rejects(
        &format!("server:\n  tls_port: 6390\n  tls_cert_file: {cert}\n"),
        &["server.tls_key_file"],
    );
    rejects(
        &format!(
            "server:\n  tls_port: 6390\n  tls_cert_file: {cert}\n  tls_key_file: /nonexistent/k.pem\n"
        ),
        &["server.tls_key_file", "/nonexistent/k.pem"],
    );
    rejects(
        &format!("server:\n  tls_port: 6380\n{files}"),
        &["server.tls_port", "server.port"],
    );
    rejects(
        "server:\n  admin:\n    tls: true\n",
        &["server.tls_cert_file", "server.admin.tls"],
    );
    rejects(
        &format!("server:\n{files}"),
        &["server.tls_cert_file", "nothing is served with TLS"],
    );
    rejects(
        "server:\n  tls_auth_clients: no\n",
        &["server.tls_auth_clients", "nothing is served with TLS"],
    );
    rejects(
        &format!("server:\n  tls_port: 6390\n{files}  tls_auth_clients: yes\n"),
        &["server.tls_ca_cert_file", "tls_auth_clients"],
    );
    rejects(
        &format!("server:\n  tls_port: 6390\n{files}  tls_auth_clients: sometimes\n"),
        &["server.tls_auth_clients"],
    );
    rejects(
        &format!("server:\n  tls_port: 6390\n{files}  limits:\n    tls_handshake_timeout: 0s\n"),
        &["server.limits.tls_handshake_timeout"],
    );

    // Without a CA no client certificate is asked for; with one, it is required unless said otherwise.
    let c = load(&format!("server:\n  tls_port: 6390\n{files}")).unwrap();
    assert_eq!(c.server.client_auth(), TlsAuthClients::No);
    assert_eq!(c.server.plaintext_port(), Some(6380));
    let c = load(&format!(
        "server:\n  port: 0\n  tls_port: 6390\n{files}  tls_ca_cert_file: {ca}\n"
    ))
    .unwrap();
    assert_eq!(c.server.client_auth(), TlsAuthClients::Yes);
    assert_eq!(
        c.server.plaintext_port(),
        None,
        "port 0 beside tls_port: TLS only"
    );
    for (written, mode) in [
        ("optional", TlsAuthClients::Optional),
        ("no", TlsAuthClients::No),
        ("\"yes\"", TlsAuthClients::Yes),
        ("false", TlsAuthClients::No),
    ] {
        let c = load(&format!(
            "server:\n  tls_port: 6390\n{files}  tls_ca_cert_file: {ca}\n  tls_auth_clients: {written}\n"
        ))
        .unwrap();
        assert_eq!(c.server.client_auth(), mode, "{written}");
    }
    // Paths come through ${VAR} expansion, and the policy through an override.
    let yaml = "server:\n  tls_port: 0\n  tls_cert_file: ${TLS_DIR}/server.pem\n  tls_key_file: ${TLS_DIR}/server.key\n  tls_ca_cert_file: ${TLS_DIR}/ca.pem\n";
    let dir_text = dir.path().to_str().unwrap();
    let c = Config::from_yaml_str_with_env(
        yaml,
        &env(&[
            ("TLS_DIR", dir_text),
            ("RELAYCACHE_SERVER__TLS_AUTH_CLIENTS", "optional"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.tls_cert_file.as_deref(), Some(cert.as_str()));
    assert_eq!(c.server.client_auth(), TlsAuthClients::Optional);
    // Without a port 0 beside it, port 0 still picks a free port.
    assert_eq!(
        load("server:\n  port: 0\n")
            .unwrap()
            .server
            .plaintext_port(),
        Some(0)
    );
}
