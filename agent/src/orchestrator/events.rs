//! Run events: what a run records besides its nodes and model calls, as one typed enum
//! written ([`record`]) and read ([`decode`]) here only.
//!
//! The store keeps an event as its kind (a string) and a JSON payload; [`RunEvent`]'s serde
//! form is exactly that pair, so no other code names an event kind.

use std::collections::BTreeMap;

use hone_store::{EventId, EventRecord, RunId, Store, Timestamp};
use serde::{Deserialize, Serialize};

use crate::prompt::Operator;

/// One event of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum RunEvent {
    /// Forest: node `node` implements this improvement direction of its parent.
    NodeDirection { node: i64, direction: String },
    /// Forest: the improvement directions proposed for node `node` (a scatter step).
    Directions { node: i64, directions: Vec<String> },
    /// Forest: the run's insights as a scout step rewrote them.
    Insights { text: String },
    /// The run was resumed with `nodes` stored nodes.
    Resume { nodes: usize },
    /// The run stopped, for `reason`.
    Stop { reason: String },
    /// An auxiliary operator's reply (from `model`) could not be used after the re-ask, so a
    /// plain improve of node `node` ran instead.
    Fallback {
        node: i64,
        operator: Operator,
        model: String,
        reason: String,
    },
}

/// A stored event that is not a [`RunEvent`] (written by another version of hone, or damaged).
#[derive(Debug, thiserror::Error)]
#[error("run {run}: event {id} of kind `{kind}` cannot be read: {source}")]
pub struct EventError {
    pub run: RunId,
    pub id: EventId,
    pub kind: String,
    #[source]
    pub source: serde_json::Error,
}

impl RunEvent {
    /// The event's stored kind and payload.
    fn stored(&self) -> (String, serde_json::Value) {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string();
        let payload = value
            .get_mut("payload")
            .map(serde_json::Value::take)
            .unwrap_or(serde_json::Value::Null);
        (kind, payload)
    }
}

/// Writes `event` to the run's events.
pub async fn record(store: &Store, run: RunId, event: &RunEvent) -> hone_store::Result<EventId> {
    let (kind, payload) = event.stored();
    store
        .record_event(run, Timestamp::now(), &kind, &payload)
        .await
}

/// The run's events a resume replays: all of them but the insights, of which only the
/// latest (each scout rewrites them whole).
pub async fn for_resume(store: &Store, run: RunId) -> hone_store::Result<Vec<EventRecord>> {
    let (kind, _) = RunEvent::Insights {
        text: String::new(),
    }
    .stored();
    store.events_with_latest(run, &kind).await
}

/// Reads a stored event back, taking its payload (no copy of it: resume reads forest's
/// two or three events a node this way).
pub fn decode_owned(record: EventRecord) -> Result<RunEvent, EventError> {
    let EventRecord {
        id,
        run,
        kind,
        payload,
        ..
    } = record;
    // Forest's two kinds, a few per node, read by hand: the derived code goes through a
    // second JSON value per event. Anything not of exactly their form takes that path (and
    // its error).
    let payload = match fast_path(&kind, payload) {
        Ok(event) => return Ok(event),
        Err(payload) => payload,
    };
    let value = serde_json::json!({ "kind": &kind, "payload": payload });
    serde_json::from_value(value).map_err(|source| EventError {
        run,
        id,
        kind,
        source,
    })
}

/// A `node_direction` or `directions` event of exactly the serialized form (an object of
/// its fields and no others), or the payload back untouched.
fn fast_path(kind: &str, payload: serde_json::Value) -> Result<RunEvent, serde_json::Value> {
    use serde_json::Value;
    let Value::Object(mut fields) = payload else {
        return Err(payload);
    };
    let node = fields.get("node").and_then(Value::as_i64);
    match (kind, node, fields.len()) {
        ("node_direction", Some(node), 2) => match fields.remove("direction") {
            Some(Value::String(direction)) => {
                return Ok(RunEvent::NodeDirection { node, direction });
            }
            Some(other) => {
                fields.insert("direction".into(), other);
            }
            None => {}
        },
        ("directions", Some(node), 2) => match fields.remove("directions") {
            Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
                let directions = list
                    .into_iter()
                    .filter_map(|d| match d {
                        Value::String(d) => Some(d),
                        _ => None,
                    })
                    .collect();
                return Ok(RunEvent::Directions { node, directions });
            }
            Some(other) => {
                fields.insert("directions".into(), other);
            }
            None => {}
        },
        _ => {}
    }
    Err(Value::Object(fields))
}

/// Reads a stored event back.
pub fn decode(record: &EventRecord) -> Result<RunEvent, EventError> {
    decode_owned(record.clone())
}

/// How often an operator's replies from one model could not be used, so that a plain
/// improve ran instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FallbackCount {
    pub operator: Operator,
    pub model: String,
    pub count: u64,
}

/// The fallbacks of a run's events, by operator then model (events that cannot be read
/// are skipped: this is for display).
pub fn fallback_counts(records: &[EventRecord]) -> Vec<FallbackCount> {
    let mut counts: BTreeMap<(&'static str, String), (Operator, u64)> = BTreeMap::new();
    for record in records {
        if let Ok(RunEvent::Fallback {
            operator, model, ..
        }) = decode(record)
        {
            counts
                .entry((operator.name(), model))
                .or_insert((operator, 0))
                .1 += 1;
        }
    }
    counts
        .into_iter()
        .map(|((_, model), (operator, count))| FallbackCount {
            operator,
            model,
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(event: &RunEvent) -> EventRecord {
        let (kind, payload) = event.stored();
        EventRecord {
            id: EventId(1),
            run: RunId(7),
            at: Timestamp(0),
            kind,
            payload,
        }
    }

    #[test]
    fn every_event_reads_back_as_written() {
        let events = [
            RunEvent::NodeDirection {
                node: 3,
                direction: "sort first".into(),
            },
            RunEvent::Directions {
                node: 2,
                directions: vec!["a".into(), "b".into()],
            },
            RunEvent::Insights {
                text: "- fewer passes".into(),
            },
            RunEvent::Resume { nodes: 4 },
            RunEvent::Stop {
                reason: "interrupted".into(),
            },
            RunEvent::Fallback {
                node: 5,
                operator: Operator::Scatter,
                model: "m".into(),
                reason: "no JSON list".into(),
            },
        ];
        for event in events {
            let record = stored(&event);
            assert_eq!(decode(&record).ok(), Some(event.clone()));
            assert_eq!(decode_owned(record).ok(), Some(event));
        }
    }

    #[test]
    fn the_stored_form_is_kind_and_payload() {
        let record = stored(&RunEvent::Directions {
            node: 2,
            directions: vec!["a".into()],
        });
        assert_eq!(record.kind, "directions");
        assert_eq!(
            record.payload,
            serde_json::json!({ "node": 2, "directions": ["a"] })
        );
    }

    #[test]
    fn forest_events_off_their_form_take_the_derived_path() {
        let record = |kind: &str, payload: serde_json::Value| EventRecord {
            kind: kind.into(),
            payload,
            ..stored(&RunEvent::Resume { nodes: 1 })
        };
        // Read by hand, as the derived code reads them.
        for (kind, payload) in [
            (
                "directions",
                serde_json::json!({"node": 4, "directions": []}),
            ),
            (
                "directions",
                serde_json::json!({"node": -1, "directions": ["a", "ü"]}),
            ),
            (
                "node_direction",
                serde_json::json!({"node": 4, "direction": ""}),
            ),
        ] {
            let fast = decode(&record(kind, payload.clone())).ok();
            let derived: Option<RunEvent> =
                serde_json::from_value(serde_json::json!({"kind": kind, "payload": payload})).ok();
            assert!(fast.is_some());
            assert_eq!(fast, derived);
        }
        // Not of their form: the derived code's verdict, an error or the event.
        for (kind, payload) in [
            (
                "directions",
                serde_json::json!({"node": 4, "directions": ["a", 1]}),
            ),
            (
                "directions",
                serde_json::json!({"node": "4", "directions": ["a"]}),
            ),
            ("directions", serde_json::json!({"directions": ["a"]})),
            ("directions", serde_json::json!(["a"])),
            (
                "node_direction",
                serde_json::json!({"node": 4, "direction": 7}),
            ),
            (
                "node_direction",
                serde_json::json!({"node": 4, "text": "a"}),
            ),
            (
                "node_direction",
                serde_json::json!({"node": 4.5, "direction": "a"}),
            ),
            (
                "node_direction",
                serde_json::json!({"node": 4, "direction": "a", "x": 1}),
            ),
        ] {
            let derived: Result<RunEvent, _> = serde_json::from_value(
                serde_json::json!({"kind": kind, "payload": payload.clone()}),
            );
            let read = decode(&record(kind, payload.clone()));
            assert_eq!(read.is_ok(), derived.is_ok(), "{kind} {payload}");
            if let (Ok(read), Ok(derived)) = (read, derived) {
                assert_eq!(read, derived, "{kind} {payload}");
            }
        }
    }

    #[test]
    fn an_unknown_kind_is_an_error_naming_it() {
        let record = EventRecord {
            kind: "teleport".into(),
            ..stored(&RunEvent::Resume { nodes: 1 })
        };
        let error = decode(&record).err().map(|e| e.to_string());
        let error = error.unwrap_or_default();
        assert!(
            error.contains("event 1 of kind `teleport`") && error.contains("run 7"),
            "{error}"
        );
    }

    #[test]
    fn fallbacks_are_counted_per_operator_and_model() {
        let fallback = |operator, model: &str| {
            stored(&RunEvent::Fallback {
                node: 1,
                operator,
                model: model.into(),
                reason: String::new(),
            })
        };
        let records = [
            fallback(Operator::Scatter, "a"),
            fallback(Operator::Scatter, "a"),
            fallback(Operator::Scout, "a"),
            fallback(Operator::Scatter, "b"),
            stored(&RunEvent::Resume { nodes: 1 }),
        ];
        let count = |operator, model: &str, count| FallbackCount {
            operator,
            model: model.into(),
            count,
        };
        assert_eq!(
            fallback_counts(&records),
            vec![
                count(Operator::Scatter, "a", 2),
                count(Operator::Scatter, "b", 1),
                count(Operator::Scout, "a", 1),
            ]
        );
    }
}
