//! Writing to Kafka: a builder's records produced and their delivery awaited, an output's
//! origin carried in the [`ORIGIN_HEADER`] header, and a query's commit record produced inside
//! its transaction (see `txn`).

use super::{kafka_err, lock, txn::Txn, Shared, ORIGIN_HEADER};
use crate::log::{frame, BatchBuilder, HeadersRef, LogResult, Origin};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) fn encode_origin(o: &Origin) -> [u8; 20] {
    let mut out = [0u8; 20];
    out[..8].copy_from_slice(&o.producer.to_be_bytes());
    out[8..12].copy_from_slice(&o.partition.to_be_bytes());
    out[12..].copy_from_slice(&o.offset.to_be_bytes());
    out
}

pub(super) fn decode_origin(b: &[u8]) -> Option<Origin> {
    let b: &[u8; 20] = b.try_into().ok()?;
    Some(Origin {
        producer: u64::from_be_bytes(b[..8].try_into().ok()?),
        partition: u32::from_be_bytes(b[8..12].try_into().ok()?),
        offset: u64::from_be_bytes(b[12..].try_into().ok()?),
    })
}

/// Appends a builder's records to one partition: a query's outputs through its transaction when
/// there are transactions, the rest through the shared idempotent producer. Returns the first
/// record's offset once every record is delivered.
pub(super) fn append(
    s: &Shared,
    topic: &str,
    partition: u32,
    batch: &mut BatchBuilder,
) -> LogResult<u64> {
    batch.seal(0);
    let mut pending = Vec::with_capacity(batch.len());
    let bytes = batch.bytes();
    let mut at = 0;
    while at + frame::FRAME_HEADER <= bytes.len() {
        let len = frame::FRAME_HEADER + frame::frame_len(&bytes[at..]);
        let Some(view) = frame::view(&bytes[at..at + len]) else {
            break;
        };
        // A frame holds one producer's records: a query's outputs go through its
        // transaction when there are transactions.
        let origin = view.records().next().and_then(|r| r.origin);
        match origin.filter(|_| s.config.exactly_once) {
            Some(o) => {
                let txn = s.txns.get(s, o.producer)?;
                let mut txn = lock(&txn);
                txn.begin()?;
                for r in view.records() {
                    pending.push(produce(s, &txn.producer, topic, partition, &r)?);
                }
            }
            None => {
                for r in view.records() {
                    pending.push(produce(s, &s.producer, topic, partition, &r)?);
                }
            }
        }
        at += len;
    }
    let mut first = None;
    let mut last = None;
    for d in futures::executor::block_on(futures::future::join_all(pending)) {
        let delivered = d
            .map_err(|_| kafka_err(KafkaError::Canceled))?
            .map_err(|(e, _)| kafka_err(e))?;
        let off = delivered.offset.max(0) as u64;
        first = Some(first.map_or(off, |f: u64| f.min(off)));
        last = Some(last.map_or(off, |l: u64| l.max(off)));
    }
    if let Some(l) = last {
        s.saw_end(topic, partition, l + 1);
    }
    Ok(first.unwrap_or_else(|| s.known_end(topic, partition)))
}

/// Produces a query's commit record in its open transaction and commits the transaction.
pub(super) fn commit_in(
    s: &Shared,
    txn: &Mutex<Txn>,
    group: &str,
    offsets: &[(String, u32, u64)],
) -> LogResult<()> {
    let mut txn = lock(txn);
    let record = super::offsets::Offsets::record(group, Some(offsets))?;
    let r = frame::RecordRef {
        partition: 0,
        offset: 0,
        timestamp: record.timestamp,
        key: record.key.as_deref(),
        value: record.value.as_deref(),
        headers: HeadersRef::Owned(&[]),
        origin: None,
    };
    let sent = produce(s, &txn.producer, s.offsets.topic(), 0, &r)?;
    futures::executor::block_on(sent)
        .map_err(|_| kafka_err(KafkaError::Canceled))?
        .map_err(|(e, _)| kafka_err(e))?;
    txn.commit(s)?;
    s.offsets.remember(group, Some(offsets));
    Ok(())
}

/// Sends one record, waiting while the producer's queue is full.
pub(super) fn produce(
    s: &Shared,
    producer: &FutureProducer,
    topic: &str,
    partition: u32,
    r: &frame::RecordRef<'_>,
) -> LogResult<rdkafka::producer::DeliveryFuture> {
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
        .partition(partition as i32)
        .timestamp(r.timestamp);
    // A headers object is made only for a record that has headers (most have none).
    let origin = r.origin.as_ref().map(encode_origin);
    if !r.headers.is_empty() || origin.is_some() {
        let mut headers = OwnedHeaders::new_with_capacity(4);
        for (key, value) in r.headers.iter() {
            headers = headers.insert(KHeader { key, value });
        }
        if let Some(o) = &origin {
            headers = headers.insert(KHeader {
                key: ORIGIN_HEADER,
                value: Some(&o[..]),
            });
        }
        record = record.headers(headers);
    }
    if let Some(k) = r.key {
        record = record.key(k);
    }
    if let Some(v) = r.value {
        record = record.payload(v);
    }
    let deadline = Instant::now() + s.timeout;
    loop {
        match producer.send_result(record) {
            Ok(f) => return Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                if Instant::now() < deadline =>
            {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(kafka_err(e)),
        }
    }
}
