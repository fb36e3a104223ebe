//! Group commit. One thread owns redb's single writer: it takes every job waiting in its
//! queue, runs them in one write transaction, commits once (fsync), and only then answers
//! each job's caller. Concurrent requests that need a durable write share one fsync; no
//! caller hears "done" before its write is on disk, and a failed commit fails every job of
//! the batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};

use redb::ReadableTable;

use super::seal::Sealer;
use super::tables::Table;
use super::StoreError;

/// The most jobs one batch takes, so one commit's latency stays bounded under load.
const MAX_BATCH: usize = 256;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A job runs with the batch's transaction, or with `None` when no transaction could be
/// begun, in which case it only produces the completion that reports the failure.
type Job = Box<dyn FnOnce(Option<&mut Tx<'_>>) -> Completion + Send>;

pub(super) struct Writer {
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub(super) fn start(database: Arc<redb::Database>, sealer: Arc<Sealer>) -> Writer {
        let (queue, jobs) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("keyward-writer".into())
            .spawn(move || run(&database, &sealer, jobs))
            .expect("the writer thread can be spawned");
        Writer {
            queue: Some(queue),
            thread: Some(thread),
        }
    }

    pub(super) async fn submit<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |tx: Option<&mut Tx<'_>>| {
            let outcome = match tx {
                Some(tx) => {
                    let writes_before = tx.writes;
                    let outcome = job(tx);
                    if outcome.is_err() && tx.writes != writes_before {
                        // The job broke "decide, then write": it wrote and then failed. Only
                        // abandoning the whole batch keeps its partial write from landing.
                        tx.poison(StoreError::Unavailable(
                            "a write job failed after writing; batch abandoned".into(),
                        ));
                    }
                    outcome
                }
                None => Err(StoreError::Unavailable("no write transaction".into())),
            };
            Box::new(move |commit: Result<(), StoreError>| {
                let _ = answer.send(commit.and(outcome));
            })
        });
        let sent = self.queue.as_ref().map(|queue| queue.send(job));
        if !matches!(sent, Some(Ok(()))) {
            return Err(StoreError::Unavailable("the writer has stopped".into()));
        }
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the writer has stopped".into())))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish the jobs it holds, then exit.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(database: &redb::Database, sealer: &Sealer, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(database, sealer, batch);
    }
}

fn run_batch(database: &redb::Database, sealer: &Sealer, batch: Vec<Job>) {
    let transaction = match database.begin_write() {
        Ok(transaction) => transaction,
        Err(error) => {
            tracing::error!(%error, "cannot begin a write transaction");
            let error = StoreError::unavailable(error);
            for job in batch {
                job(None)(Err(error.clone()));
            }
            return;
        }
    };
    let mut completions = Vec::with_capacity(batch.len());
    let poison = {
        let mut tx = Tx {
            transaction: &transaction,
            sealer,
            writes: 0,
            poison: None,
        };
        for job in batch {
            match catch_unwind(AssertUnwindSafe(|| job(Some(&mut tx)))) {
                Ok(completion) => completions.push(completion),
                Err(_) => tx.poison(StoreError::Unavailable("a write job panicked".into())),
            }
        }
        tx.poison
    };
    let result = match poison {
        Some(error) => {
            tracing::error!(%error, "write batch abandoned");
            let _ = transaction.abort();
            Err(error)
        }
        None => transaction.commit().map_err(|error| {
            tracing::error!(%error, "commit failed");
            StoreError::unavailable(error)
        }),
    };
    for completion in completions {
        completion(result.clone());
    }
}

/// Write access for jobs inside a batch. Later jobs of a batch see earlier jobs' writes.
pub(crate) struct Tx<'a> {
    transaction: &'a redb::WriteTransaction,
    pub(super) sealer: &'a Sealer,
    writes: usize,
    poison: Option<StoreError>,
}

impl Tx<'_> {
    fn poison(&mut self, error: StoreError) {
        self.poison.get_or_insert(error);
    }

    fn table(
        &mut self,
        table: Table,
    ) -> Result<redb::Table<'_, &'static [u8], &'static [u8]>, StoreError> {
        self.transaction.open_table(table).map_err(|error| {
            let error = StoreError::unavailable(error);
            self.poison.get_or_insert(error.clone());
            error
        })
    }

    pub(super) fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self
            .table(table)?
            .get(key)
            .map(|value| value.map(|value| value.value().to_vec()));
        result.map_err(|error| self.fail(error))
    }

    pub(super) fn insert(
        &mut self,
        table: Table,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StoreError> {
        self.writes += 1;
        let result = self.table(table)?.insert(key, value).map(|_| ());
        result.map_err(|error| self.fail(error))
    }

    pub(super) fn remove(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        self.writes += 1;
        let result = self.table(table)?.remove(key).map(|old| old.is_some());
        result.map_err(|error| self.fail(error))
    }

    /// Every key of `table` that starts with `prefix`, in order.
    pub(super) fn keys_with_prefix(
        &mut self,
        table: Table,
        prefix: &[u8],
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let result = (|| {
            let table = self.transaction.open_table(table)?;
            let mut keys = Vec::new();
            for row in table.range::<&[u8]>(prefix..)? {
                let key = row?.0.value().to_vec();
                if !key.starts_with(prefix) {
                    break;
                }
                keys.push(key);
            }
            Ok::<_, redb::Error>(keys)
        })();
        result.map_err(|error| self.fail(error))
    }

    /// Up to `limit` keys of `table` that sort below `end`, in order.
    pub(super) fn keys_below(
        &mut self,
        table: Table,
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let result = (|| {
            let table = self.transaction.open_table(table)?;
            let mut keys = Vec::new();
            for row in table.range::<&[u8]>(..end)?.take(limit) {
                keys.push(row?.0.value().to_vec());
            }
            Ok::<_, redb::Error>(keys)
        })();
        result.map_err(|error| self.fail(error))
    }

    /// A storage error inside a batch poisons it: the transaction's state is no longer
    /// something we can vouch for.
    fn fail(&mut self, error: impl std::fmt::Display) -> StoreError {
        let error = StoreError::unavailable(error);
        self.poison(error.clone());
        error
    }
}
