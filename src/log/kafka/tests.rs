//! The Kafka backend against librdkafka's mock cluster (no broker process). The mock has no
//! CreateTopics, so topics are made on the mock itself; the tests with a real broker are in
//! `tests/kafka.rs`.

use super::write::{decode_origin, encode_origin};
use super::*;
use crate::log::Origin;
use crate::log::{Header, Record};
use rdkafka::mocking::MockCluster;
use std::collections::BTreeMap;

fn mock(
    topics: &[(&str, i32)],
) -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    KafkaLog,
) {
    let cluster = MockCluster::new(1).expect("a mock cluster");
    let config = KafkaConfig::from_settings(Some(&cluster.bootstrap_servers()), &BTreeMap::new())
        .unwrap()
        .unwrap();
    cluster.create_topic(&config.offsets_topic(), 1, 1).unwrap();
    for (t, n) in topics {
        cluster.create_topic(t, *n, 1).unwrap();
    }
    let log = KafkaLog::connect(config).expect("connects to the mock");
    (cluster, log)
}

fn record(key: &str, value: Option<&str>, ts: i64) -> Record {
    Record {
        key: Some(key.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        timestamp: ts,
        headers: vec![Header {
            key: "source".into(),
            value: Some(b"test".to_vec()),
        }],
        origin: None,
    }
}

/// Fetches from `offset` until `n` records came back (a fetch may return fewer).
fn read_n(
    log: &KafkaLog,
    topic: &str,
    p: u32,
    offset: u64,
    n: usize,
) -> Vec<crate::log::StoredRecord> {
    let mut out = Vec::new();
    let mut at = offset;
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.len() < n && Instant::now() < deadline {
        let f = log.fetch(topic, p, at, n - out.len()).unwrap();
        at = f.next_offset();
        out.extend(f.to_stored());
    }
    out
}

#[test]
fn appends_and_fetches_keys_values_timestamps_headers_and_tombstones() {
    let (_c, log) = mock(&[("orders", 2)]);
    assert_eq!(log.topic("orders").map(|t| t.partitions), Some(2));
    assert!(log.topic("missing").is_none());
    let first = log
        .append(
            "orders",
            1,
            &[record("a", Some("1"), 10), record("b", None, 20)],
        )
        .unwrap();
    assert_eq!(first, 0);
    let second = log
        .append("orders", 1, &[record("c", Some("3"), 30)])
        .unwrap();
    assert_eq!(second, 2);
    let got = read_n(&log, "orders", 1, 0, 3);
    let keys: Vec<_> = got.iter().map(|r| r.record.key.clone().unwrap()).collect();
    assert_eq!(keys, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    assert_eq!(got[0].record, record("a", Some("1"), 10));
    assert_eq!(got[1].record.value, None, "a tombstone stays one");
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(got.iter().all(|r| r.partition == 1));
    assert_eq!(log.end_offset("orders", 1).unwrap(), 3);
    assert_eq!(log.end_offset("orders", 0).unwrap(), 0);
    // A read from the middle, and one past the end, which waits for nothing.
    assert_eq!(
        read_n(&log, "orders", 1, 2, 1)[0].record.key.as_deref(),
        Some(&b"c"[..])
    );
    assert!(log.fetch("orders", 1, 3, 10).unwrap().is_empty());
    assert!(log.fetch("orders", 2, 0, 10).is_err(), "no partition 2");
}

#[test]
fn an_origin_travels_in_a_header_that_readers_never_see() {
    let (_c, log) = mock(&[("out", 1)]);
    let origin = Origin {
        producer: 7,
        partition: 3,
        offset: u64::MAX - 1,
    };
    let mut r = record("k", Some("v"), 5);
    r.origin = Some(origin);
    log.append("out", 0, &[r.clone()]).unwrap();
    let got = read_n(&log, "out", 0, 0, 1);
    assert_eq!(got[0].record.origin, Some(origin));
    assert_eq!(
        got[0].record.headers, r.headers,
        "the origin header is taken off"
    );
    assert_eq!(decode_origin(&encode_origin(&origin)), Some(origin));
    assert_eq!(decode_origin(b"short"), None);
}

#[test]
fn commits_are_kept_per_group_and_read_back_by_a_new_connection() {
    let (cluster, log) = mock(&[("in", 1)]);
    let offsets = vec![("in".to_string(), 0, 42), (">out".to_string(), 0, 7)];
    log.commit("q1", &offsets).unwrap();
    log.commit("q2", &[("in".to_string(), 0, 1)]).unwrap();
    log.delete_group("q2").unwrap();
    assert_eq!(log.committed("q1").unwrap(), offsets);
    let config = KafkaConfig::from_settings(Some(&cluster.bootstrap_servers()), &BTreeMap::new())
        .unwrap()
        .unwrap();
    let again = KafkaLog::connect(config).unwrap();
    assert_eq!(again.committed("q1").unwrap(), offsets);
    assert!(
        again.committed("q2").unwrap().is_empty(),
        "a deleted group stays deleted"
    );
    // Commits made through another connection later (another server's tasks) are seen too.
    log.commit("q1", &[("in".to_string(), 0, 50)]).unwrap();
    log.commit("q3", &[("in".to_string(), 0, 3)]).unwrap();
    assert_eq!(again.committed("q1").unwrap(), [("in".to_string(), 0, 50)]);
    assert_eq!(again.committed("q3").unwrap(), [("in".to_string(), 0, 3)]);
}

#[test]
fn subscribers_wake_when_another_client_appends() {
    let (cluster, log) = mock(&[("t", 1)]);
    let mut rx = log.subscribe("t", 0).unwrap();
    rx.borrow_and_update();
    let config = KafkaConfig::from_settings(Some(&cluster.bootstrap_servers()), &BTreeMap::new())
        .unwrap()
        .unwrap();
    let other = KafkaLog::connect(config).unwrap();
    other.append("t", 0, &[record("x", Some("y"), 1)]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while *rx.borrow_and_update() < 1 {
            tokio::time::timeout_at(deadline, rx.changed())
                .await
                .expect("woken within 10 s")
                .unwrap();
        }
    });
    assert_eq!(read_n(&log, "t", 0, 0, 1).len(), 1);
}

#[test]
fn an_unreachable_cluster_is_an_error_at_connect() {
    let mut s = BTreeMap::new();
    s.insert(
        "brooklet.kafka.socket.timeout.ms".to_string(),
        "1000".to_string(),
    );
    let config = KafkaConfig::from_settings(Some("127.0.0.1:1"), &s)
        .unwrap()
        .unwrap();
    let started = Instant::now();
    let mut short = config.clone();
    short
        .client
        .insert("metadata.request.timeout.ms".into(), "1000".into());
    let err = match KafkaLog::connect_with_timeout(short, Duration::from_secs(2)) {
        Ok(_) => panic!("connected to nothing"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("cannot reach the Kafka cluster at 127.0.0.1:1"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn one_server_of_a_service_holds_the_lease_and_another_gets_it_when_released() {
    let cluster = MockCluster::new(1).expect("a mock cluster");
    let mut s = BTreeMap::new();
    s.insert(
        "brooklet.kafka.session.timeout.ms".to_string(),
        "6000".to_string(),
    );
    let config = KafkaConfig::from_settings(Some(&cluster.bootstrap_servers()), &s)
        .unwrap()
        .unwrap();
    cluster.create_topic(&config.offsets_topic(), 1, 1).unwrap();
    cluster.create_topic(&config.command_topic(), 1, 1).unwrap();
    let first = KafkaLog::connect(config.clone()).unwrap();
    first.join_lease().unwrap();
    let never = std::sync::atomic::AtomicBool::new(false);
    assert!(first.wait_lease(&never), "the first server takes the lease");
    let second = KafkaLog::connect(config).unwrap();
    second.join_lease().unwrap();
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        !second.holds_lease(),
        "the second server got the lease while the first held it"
    );
    first.close();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !second.holds_lease() {
        assert!(
            Instant::now() < deadline,
            "the second server takes the lease once the first gives it back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    second.close();
}

/// Records what a group member was given and what it gave up.
#[derive(Default)]
struct Heard(Mutex<std::collections::BTreeSet<u32>>);

impl crate::log::GroupListener for Heard {
    fn assigned(&self, partitions: &[u32]) {
        self.0.lock().unwrap().extend(partitions);
    }
    fn revoked(&self, partitions: &[u32]) {
        let mut held = self.0.lock().unwrap();
        for p in partitions {
            assert!(held.remove(p), "revoked {p}, which it did not hold");
        }
    }
}

#[test]
fn the_members_of_a_group_share_a_topics_partitions_and_get_them_back_when_one_leaves() {
    let cluster = MockCluster::new(1).expect("a mock cluster");
    let mut s = BTreeMap::new();
    s.insert(
        "brooklet.kafka.session.timeout.ms".to_string(),
        "6000".to_string(),
    );
    let config = KafkaConfig::from_settings(Some(&cluster.bootstrap_servers()), &s)
        .unwrap()
        .unwrap();
    cluster.create_topic(&config.offsets_topic(), 1, 1).unwrap();
    cluster.create_topic("input", 4, 1).unwrap();
    let log = KafkaLog::connect(config).unwrap();
    let held = |h: &Heard| h.0.lock().unwrap().clone();
    let wait = |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ok() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (a, b) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
    let first = log.join_group("g", "input", a.clone()).unwrap().unwrap();
    wait("the only member gets every partition", &|| {
        held(&a).len() == 4
    });
    let second = log.join_group("g", "input", b.clone()).unwrap().unwrap();
    wait("a second member gets a share", &|| {
        !held(&b).is_empty() && held(&a).len() + held(&b).len() == 4
    });
    assert!(
        held(&a).is_disjoint(&held(&b)),
        "{:?} {:?}",
        held(&a),
        held(&b)
    );
    drop(first);
    wait("the member left gives its partitions back", &|| {
        held(&b).len() == 4
    });
    drop(second);
}
