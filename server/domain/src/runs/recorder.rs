//! Storing the runs' events: one writer per server instance gathers whatever every run has
//! ready and stores it all in one transaction, then gives each run its events back with
//! the ids they were stored under, for the run to tell its followers.
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
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter};
use tokio::sync::{mpsc, oneshot};

use super::{RunEvent, StoredEvent};
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

/// An event as it is written: its kind and its JSON, made by the run's own task so that
/// the one writer only writes.
struct Row {
    kind: &'static str,
    payload: String,
}

struct Job {
    batch: Batch,
    rows: Vec<Row>,
    done: oneshot::Sender<std::result::Result<Vec<StoredEvent>, NotStored>>,
}

/// This instance's event writer, started on first use.
#[derive(Clone, Default)]
pub struct Recorder {
    queue: Arc<OnceLock<mpsc::UnboundedSender<Job>>>,
}

impl Recorder {
    /// Stores the batch; returns its events with their ids once they are committed.
    pub(super) async fn store(
        &self,
        services: &Services,
        batch: Batch,
    ) -> std::result::Result<Vec<StoredEvent>, NotStored> {
        let mut rows = Vec::with_capacity(batch.events.len());
        for event in &batch.events {
            match serde_json::to_string(event) {
                Ok(payload) => rows.push(Row { kind: event.kind(), payload }),
                Err(e) => {
                    let error = Error::Internal(e.to_string());
                    return Err(NotStored { error, events: batch.events });
                }
            }
        }
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            tokio::spawn(write(services.clone(), jobs));
            queue
        });
        let (done, stored) = oneshot::channel();
        if let Err(refused) = queue.send(Job { batch, rows, done }) {
            let events = refused.0.batch.events;
            return Err(NotStored { error: stopped(), events });
        }
        stored.await.unwrap_or_else(|_| Err(NotStored { error: stopped(), events: vec![] }))
    }
}

fn stopped() -> Error {
    Error::Internal("the event writer stopped".into())
}

/// The writer: takes every batch waiting, stores them together, and answers each.
async fn write(services: Services, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut taken = Vec::with_capacity(MAX_BATCHES);
    while jobs.recv_many(&mut taken, MAX_BATCHES).await > 0 {
        match store_with_retries(&services, &taken).await {
            Ok(ids) => answer(taken.drain(..), ids),
            // One batch may be what the database refused (its run was deleted meanwhile):
            // each is stored on its own, so that the others are not held back by it.
            Err(error) if taken.len() > 1 && !is_passing(&error) => {
                for job in taken.drain(..) {
                    let alone = [job];
                    match store_with_retries(&services, &alone).await {
                        Ok(ids) => answer(alone.into_iter(), ids),
                        Err(error) => {
                            let [job] = alone;
                            fail(job, error);
                        }
                    }
                }
            }
            // The database stayed away through every try: trying each batch again would
            // only hold every run up longer.
            Err(error) => {
                for job in taken.drain(..) {
                    fail(job, Error::Internal(error.to_string()));
                }
            }
        }
    }
}

fn fail(job: Job, error: Error) {
    let _ = job.done.send(Err(NotStored { error, events: job.batch.events }));
}

/// Hands each job its events with the ids they were stored under, in order.
fn answer(jobs: impl Iterator<Item = Job>, ids: Vec<i64>) {
    let mut ids = ids.into_iter();
    for job in jobs {
        let Batch { run_id, first_seq, events, .. } = job.batch;
        let stored = events
            .into_iter()
            .enumerate()
            .map(|(n, event)| StoredEvent {
                id: ids.next().expect("an id per stored event"),
                run_id,
                seq: first_seq + n as i64,
                event,
            })
            .collect();
        let _ = job.done.send(Ok(stored));
    }
}

async fn store_with_retries(services: &Services, jobs: &[Job]) -> Result<Vec<i64>> {
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        match store(services, jobs).await {
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

/// Stores the jobs' batches in one transaction; returns the events' ids, in order.
async fn store(services: &Services, jobs: &[Job]) -> Result<Vec<i64>> {
    let now = Utc::now();
    let events: Vec<(&Batch, i64, &Row)> = jobs
        .iter()
        .flat_map(|job| {
            let batch = &job.batch;
            job.rows
                .iter()
                .enumerate()
                .map(move |(n, row)| (batch, batch.first_seq + n as i64, row))
        })
        .collect();
    let txn = crate::db::begin(&services.db).await?;
    let backend = txn.get_database_backend();
    let mut ids = Vec::with_capacity(events.len());
    for chunk in events.chunks(ROWS_PER_INSERT) {
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
        for (batch, seq, row) in chunk {
            // The JSON goes in as the text it already is; PostgreSQL is told its type.
            let payload = Expr::val(row.payload.as_str());
            let payload = match backend {
                DbBackend::Postgres => payload.cast_as(Alias::new("json")),
                _ => payload.into(),
            };
            insert.values_panic([
                batch.run_id.into(),
                batch.branch_id.into(),
                (*seq).into(),
                row.kind.into(),
                payload,
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
        for (batch, seq, _) in chunk {
            let id = by_event.get(&(batch.run_id, *seq)).copied().ok_or_else(|| {
                Error::Internal(format!("run {} event {seq} was not stored", batch.run_id))
            })?;
            ids.push(id);
        }
    }
    for job in jobs {
        let batch = &job.batch;
        run::Entity::update_many()
            .col_expr(run::Column::LogOffset, Expr::value(batch.offset))
            .col_expr(run::Column::SessionId, Expr::value(batch.session.clone()))
            .filter(run::Column::Id.eq(batch.run_id))
            .exec(&txn)
            .await?;
    }
    let mut branches: Vec<(i64, i64)> = jobs
        .iter()
        .filter(|job| !job.rows.is_empty())
        .map(|job| (job.batch.user_id, job.batch.branch_id))
        .collect();
    branches.sort_unstable();
    branches.dedup();
    super::relay::stored(services, &txn, &branches).await?;
    txn.commit().await?;
    let stats = &services.runs.stats;
    stats.events.fetch_add(ids.len() as u64, Relaxed);
    stats.batches.fetch_add(1, Relaxed);
    Ok(ids)
}
