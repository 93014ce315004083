//! Storing the runs' events: one writer per server instance gathers whatever every run has
//! ready and stores it all in one transaction, then hands the stored events to the hub.
//!
//! SQLite lets one transaction write at a time. With a transaction per run, hundreds of
//! runs would queue for the lock, each paying a commit and sleeping in SQLite's busy
//! handler while it waits. Here a run hands its batch over and waits for the commit that
//! carries it; while one transaction is being written, the next batches gather. The more
//! runs there are, the more each commit carries (group commit).
//!
//! A batch's events and its run's log offset are written in the same transaction, so a
//! server that takes the run up later reads the log on from exactly where the stored
//! events end.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;
use entity::{run, run_event};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tokio::sync::{mpsc, oneshot};

use super::{Live, RunEvent, StoredEvent};
use crate::{Error, Result, Services};

/// The most batches one transaction takes.
const MAX_BATCHES: usize = 1000;
/// Rows per `INSERT`: six values each stay under both databases' limits on the values of
/// one statement (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_INSERT: usize = 1000;
/// How often a failed write is tried again, and the first pause between tries (doubled
/// each time): a database that is busy or briefly away does not fail the runs.
const ATTEMPTS: u32 = 6;
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// What one run has ready to store.
pub(super) struct Batch {
    pub run_id: i64,
    pub branch_id: i64,
    pub user_id: i64,
    /// The first event's number in the run; the others follow on.
    pub first_seq: i64,
    pub events: Vec<RunEvent>,
    /// Bytes of the agent's log that these events (and those before) came from.
    pub offset: i64,
    pub session: Option<String>,
}

/// A batch that could not be stored: the reason, and the events, so that the run still
/// holds them.
pub(super) struct NotStored {
    pub error: Error,
    pub events: Vec<RunEvent>,
}

struct Job {
    batch: Batch,
    done: oneshot::Sender<std::result::Result<(), NotStored>>,
}

/// This instance's event writer, started on first use.
#[derive(Clone, Default)]
pub struct Recorder {
    queue: Arc<OnceLock<mpsc::UnboundedSender<Job>>>,
}

impl Recorder {
    /// Stores the batch and tells the branch's followers; returns once it is committed.
    pub(super) async fn store(
        &self,
        services: &Services,
        batch: Batch,
    ) -> std::result::Result<(), NotStored> {
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            tokio::spawn(write(services.clone(), jobs));
            queue
        });
        let (done, stored) = oneshot::channel();
        if let Err(refused) = queue.send(Job { batch, done }) {
            let events = refused.0.batch.events;
            return Err(NotStored {
                error: Error::Internal("the event writer stopped".into()),
                events,
            });
        }
        stored.await.unwrap_or_else(|_| {
            Err(NotStored {
                error: Error::Internal("the event writer stopped".into()),
                events: vec![],
            })
        })
    }
}

/// The writer: takes every batch waiting, stores them together, and answers each.
async fn write(services: Services, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut taken = Vec::with_capacity(MAX_BATCHES);
    while jobs.recv_many(&mut taken, MAX_BATCHES).await > 0 {
        let batches: Vec<Batch> = taken.iter_mut().map(|job| take_batch(&mut job.batch)).collect();
        match store_with_retries(&services, &batches).await {
            Ok(stored) => {
                publish(&services, batches, stored);
                for job in taken.drain(..) {
                    let _ = job.done.send(Ok(()));
                }
            }
            // One batch may be what fails the group (its run was deleted meanwhile): each
            // is stored on its own, so that the others are not held back by it.
            Err(_) if batches.len() > 1 => {
                for (job, batch) in taken.drain(..).zip(batches) {
                    let batch = vec![batch];
                    let answer = match store_with_retries(&services, &batch).await {
                        Ok(stored) => {
                            publish(&services, batch, stored);
                            Ok(())
                        }
                        Err(error) => Err(NotStored { error, events: lose_events(batch) }),
                    };
                    let _ = job.done.send(answer);
                }
            }
            Err(error) => {
                let job = taken.pop().expect("one job");
                let _ = job.done.send(Err(NotStored { error, events: lose_events(batches) }));
            }
        }
    }
}

fn take_batch(batch: &mut Batch) -> Batch {
    Batch {
        run_id: batch.run_id,
        branch_id: batch.branch_id,
        user_id: batch.user_id,
        first_seq: batch.first_seq,
        events: std::mem::take(&mut batch.events),
        offset: batch.offset,
        session: batch.session.take(),
    }
}

fn lose_events(batches: Vec<Batch>) -> Vec<RunEvent> {
    batches.into_iter().flat_map(|b| b.events).collect()
}

/// Tells this instance's followers of what was stored, in order.
fn publish(services: &Services, batches: Vec<Batch>, ids: Vec<i64>) {
    let mut ids = ids.into_iter();
    for batch in batches {
        for (n, event) in batch.events.into_iter().enumerate() {
            let id = ids.next().expect("an id per stored event");
            let stored =
                StoredEvent { id, run_id: batch.run_id, seq: batch.first_seq + n as i64, event };
            services.runs.hub.publish(batch.branch_id, Live::Event(Arc::new(stored)));
        }
    }
}

async fn store_with_retries(services: &Services, batches: &[Batch]) -> Result<Vec<i64>> {
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        match store(services, batches).await {
            Ok(ids) => return Ok(ids),
            Err(e) if attempt < ATTEMPTS && is_passing(&e) => {
                tracing::warn!(error = %e, attempt, "could not store run events; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether trying again may help: the database was busy or could not be reached, as
/// opposed to refusing what was written.
fn is_passing(error: &Error) -> bool {
    match error {
        Error::Database(e) => !matches!(
            e.sql_err(),
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
                | Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ),
        _ => false,
    }
}

/// Stores the batches in one transaction; returns the events' ids, in the batches' order.
async fn store(services: &Services, batches: &[Batch]) -> Result<Vec<i64>> {
    let now = Utc::now();
    let mut rows = Vec::new();
    for batch in batches {
        for (n, event) in batch.events.iter().enumerate() {
            let payload =
                serde_json::to_value(event).map_err(|e| Error::Internal(e.to_string()))?;
            let kind = payload.get("kind").and_then(|k| k.as_str()).unwrap_or("unknown").to_owned();
            rows.push((batch, batch.first_seq + n as i64, kind, payload));
        }
    }
    let txn = crate::db::begin(&services.db).await?;
    let backend = txn.get_database_backend();
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert
            .into_table(run_event::Entity)
            .columns([
                run_event::Column::RunId,
                run_event::Column::BranchId,
                run_event::Column::Seq,
                run_event::Column::Kind,
                run_event::Column::Payload,
                run_event::Column::CreatedAt,
            ])
            .returning(Query::returning().columns([
                run_event::Column::Id,
                run_event::Column::RunId,
                run_event::Column::Seq,
            ]));
        for (batch, seq, kind, payload) in chunk {
            insert.values_panic([
                batch.run_id.into(),
                batch.branch_id.into(),
                (*seq).into(),
                kind.clone().into(),
                payload.clone().into(),
                now.into(),
            ]);
        }
        // The rows come back in no promised order; each is matched by its run and number.
        let returned = txn.query_all(backend.build(&insert)).await?;
        let mut by_event = std::collections::HashMap::with_capacity(returned.len());
        for row in returned {
            let id: i64 = row.try_get("", "id")?;
            let run_id: i64 = row.try_get("", "run_id")?;
            let seq: i64 = row.try_get("", "seq")?;
            by_event.insert((run_id, seq), id);
        }
        for (batch, seq, _, _) in chunk {
            let id = by_event.get(&(batch.run_id, *seq)).copied().ok_or_else(|| {
                Error::Internal(format!("run {} event {seq} was not stored", batch.run_id))
            })?;
            ids.push(id);
        }
    }
    for batch in batches {
        run::Entity::update_many()
            .col_expr(run::Column::LogOffset, Expr::value(batch.offset))
            .col_expr(run::Column::SessionId, Expr::value(batch.session.clone()))
            .filter(run::Column::Id.eq(batch.run_id))
            .exec(&txn)
            .await?;
    }
    let mut branches: Vec<(i64, i64)> =
        batches.iter().filter(|b| !b.events.is_empty()).map(|b| (b.user_id, b.branch_id)).collect();
    branches.sort_unstable();
    branches.dedup();
    super::relay::stored(services, &txn, &branches).await?;
    txn.commit().await?;
    let stats = &services.runs.stats;
    stats.events.fetch_add(ids.len() as u64, Relaxed);
    stats.batches.fetch_add(1, Relaxed);
    Ok(ids)
}
