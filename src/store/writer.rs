//! Group commit. One thread owns redb's single writer: it takes every job waiting in its
//! queue, runs them in one write transaction, commits once (fsync), and only then answers
//! each job's caller. Concurrent requests that need a durable write share one fsync; no
//! caller hears "done" before its write is on disk, and a failed commit fails every job of
//! the batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use redb::{ReadableTable, TableHandle};

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
    pub(super) stats: Arc<WriterStats>,
}

/// What the writer has done, for `/metrics`: how well commits are shared, and where the
/// writer's time goes.
#[derive(Default, Debug)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub jobs: AtomicU64,
    pub failed_batches: AtomicU64,
    /// Jobs answered with an error because their batch could not be committed.
    pub failed_jobs: AtomicU64,
    pub job_nanos: AtomicU64,
    pub commit_nanos: AtomicU64,
    /// The last batch failed on storage (a commit, or beginning a transaction); cleared by
    /// a commit that succeeds. After an I/O error redb refuses every write until the
    /// database is reopened, so in practice it stays set until a restart. `/healthz`
    /// reports it.
    pub storage_failed: AtomicBool,
}

impl WriterStats {
    pub fn storage_has_failed(&self) -> bool {
        self.storage_failed.load(Ordering::Acquire)
    }
}

impl Writer {
    pub(super) fn start(database: Arc<redb::Database>, sealer: Arc<Sealer>) -> Writer {
        let (queue, jobs) = mpsc::channel::<Job>();
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("keyward-writer".into())
            .spawn(move || run(&database, &sealer, jobs, &thread_stats))
            .expect("the writer thread can be spawned");
        Writer {
            queue: Some(queue),
            thread: Some(thread),
            stats,
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

fn run(database: &redb::Database, sealer: &Sealer, jobs: mpsc::Receiver<Job>, stats: &WriterStats) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(database, sealer, batch, stats);
    }
}

fn run_batch(database: &redb::Database, sealer: &Sealer, batch: Vec<Job>, stats: &WriterStats) {
    let started = Instant::now();
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
    let transaction = match database.begin_write() {
        Ok(transaction) => transaction,
        Err(error) => {
            tracing::error!(%error, "cannot begin a write transaction");
            stats.storage_failed.store(true, Ordering::Release);
            stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            stats
                .failed_jobs
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
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
            open: Vec::new(),
            writes: 0,
            poison: None,
        };
        for job in batch {
            match catch_unwind(AssertUnwindSafe(|| job(Some(&mut tx)))) {
                Ok(completion) => completions.push(completion),
                Err(_) => tx.poison(StoreError::Unavailable("a write job panicked".into())),
            }
        }
        // Tables must be closed before the transaction commits.
        drop(std::mem::take(&mut tx.open));
        tx.poison
    };
    let jobs_done = Instant::now();
    stats
        .job_nanos
        .fetch_add((jobs_done - started).as_nanos() as u64, Ordering::Relaxed);
    let result = match poison {
        Some(error) => {
            tracing::error!(%error, "write batch abandoned");
            let _ = transaction.abort();
            Err(error)
        }
        None => match transaction.commit() {
            Ok(()) => {
                stats.storage_failed.store(false, Ordering::Release);
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "commit failed");
                stats.storage_failed.store(true, Ordering::Release);
                Err(StoreError::unavailable(error))
            }
        },
    };
    stats
        .commit_nanos
        .fetch_add(jobs_done.elapsed().as_nanos() as u64, Ordering::Relaxed);
    if result.is_err() {
        stats.failed_batches.fetch_add(1, Ordering::Relaxed);
        stats
            .failed_jobs
            .fetch_add(completions.len() as u64, Ordering::Relaxed);
    }
    for completion in completions {
        completion(result.clone());
    }
}

/// Write access for jobs inside a batch. Later jobs of a batch see earlier jobs' writes.
/// Tables stay open for the whole batch: opening one costs a lookup in redb's table tree,
/// and a batch touches the same few tables hundreds of times.
pub(crate) struct Tx<'a> {
    transaction: &'a redb::WriteTransaction,
    pub(super) sealer: &'a Sealer,
    open: Vec<(Table, OpenTable<'a>)>,
    writes: usize,
    poison: Option<StoreError>,
}

type OpenTable<'a> = redb::Table<'a, &'static [u8], &'static [u8]>;

impl<'a> Tx<'a> {
    fn poison(&mut self, error: StoreError) {
        self.poison.get_or_insert(error);
    }

    /// Runs `operation` on the open table, opening it on first use. A storage error
    /// poisons the batch: the transaction's state is no longer something we can vouch for.
    fn with_table<T>(
        &mut self,
        table: Table,
        operation: impl FnOnce(&mut OpenTable<'a>) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let index = match self
            .open
            .iter()
            .position(|(definition, _)| definition.name() == table.name())
        {
            Some(index) => index,
            None => match self.transaction.open_table(table) {
                Ok(opened) => {
                    self.open.push((table, opened));
                    self.open.len() - 1
                }
                Err(error) => return Err(self.fail(error)),
            },
        };
        let result = operation(&mut self.open[index].1);
        result.map_err(|error| self.fail(error))
    }

    pub(super) fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_table(table, |open| {
            Ok(open.get(key)?.map(|value| value.value().to_vec()))
        })
    }

    pub(super) fn insert(
        &mut self,
        table: Table,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StoreError> {
        self.writes += 1;
        self.with_table(table, |open| {
            open.insert(key, value)?;
            Ok(())
        })
    }

    pub(super) fn remove(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        self.writes += 1;
        self.with_table(table, |open| Ok(open.remove(key)?.is_some()))
    }

    /// Every key of `table` that starts with `prefix`, in order.
    pub(super) fn keys_with_prefix(
        &mut self,
        table: Table,
        prefix: &[u8],
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with_table(table, |open| {
            let mut keys = Vec::new();
            for row in open.range::<&[u8]>(prefix..)? {
                let key = row?.0.value().to_vec();
                if !key.starts_with(prefix) {
                    break;
                }
                keys.push(key);
            }
            Ok(keys)
        })
    }

    /// Up to `limit` keys of `table` that sort below `end`, in order.
    pub(super) fn keys_below(
        &mut self,
        table: Table,
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with_table(table, |open| {
            let mut keys = Vec::new();
            for row in open.range::<&[u8]>(..end)?.take(limit) {
                keys.push(row?.0.value().to_vec());
            }
            Ok(keys)
        })
    }

    fn fail(&mut self, error: impl Into<redb::Error>) -> StoreError {
        let error = StoreError::unavailable(error.into());
        self.poison(error.clone());
        error
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use redb::ReadableDatabase;

    use super::*;
    use crate::store::seal::MasterKey;
    use crate::store::tables::CLIENTS;

    /// An in-memory file whose fsync can be made to fail: the commit failure a full or
    /// dying disk would cause, on demand.
    #[derive(Debug)]
    struct FailingDisk {
        inner: redb::backends::InMemoryBackend,
        fail_sync: Arc<AtomicBool>,
    }

    impl redb::StorageBackend for FailingDisk {
        fn len(&self) -> Result<u64, std::io::Error> {
            self.inner.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
            self.inner.read(offset, out)
        }
        fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
            self.inner.set_len(len)
        }
        fn sync_data(&self) -> Result<(), std::io::Error> {
            if self.fail_sync.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("injected fsync failure"));
            }
            self.inner.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
            self.inner.write(offset, data)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_fails_every_job_of_its_batch_and_nothing_lands() {
        let fail_sync = Arc::new(AtomicBool::new(false));
        let database = redb::Builder::new()
            .create_with_backend(FailingDisk {
                inner: redb::backends::InMemoryBackend::new(),
                fail_sync: fail_sync.clone(),
            })
            .unwrap();
        let database = Arc::new(database);
        let sealer = Arc::new(Sealer::new(&MasterKey::from_bytes([9; 32])));
        let writer = Arc::new(Writer::start(database.clone(), sealer));

        // A healthy commit first: the table exists and one record landed.
        writer
            .submit(|tx| tx.insert(CLIENTS, b"before", b"1"))
            .await
            .unwrap();
        assert!(!writer.stats.storage_failed.load(Ordering::Acquire));

        fail_sync.store(true, Ordering::SeqCst);
        let jobs: Vec<_> = (0..64u8)
            .map(|index| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .submit(move |tx| tx.insert(CLIENTS, &[index], b"x"))
                        .await
                })
            })
            .collect();
        for job in jobs {
            let outcome = job.await.unwrap();
            assert!(
                matches!(outcome, Err(StoreError::Unavailable(_))),
                "a job of a failed batch reported {outcome:?}"
            );
        }
        assert!(writer.stats.failed_batches.load(Ordering::Relaxed) >= 1);
        assert_eq!(writer.stats.jobs.load(Ordering::Relaxed), 65);
        assert_eq!(writer.stats.failed_jobs.load(Ordering::Relaxed), 64);
        assert!(writer.stats.storage_failed.load(Ordering::Acquire));

        // Nothing of the failed batches is visible; what was committed before still is.
        let read = database.begin_read().unwrap();
        let table = read.open_table(CLIENTS).unwrap();
        assert!(table.get(b"before".as_slice()).unwrap().is_some());
        for index in 0..64u8 {
            assert!(table.get([index].as_slice()).unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn a_job_that_fails_after_writing_takes_its_batch_down_not_half_of_it() {
        let database = Arc::new(
            redb::Builder::new()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .unwrap(),
        );
        let sealer = Arc::new(Sealer::new(&MasterKey::from_bytes([9; 32])));
        let writer = Writer::start(database.clone(), sealer);
        let outcome = writer
            .submit(|tx| {
                tx.insert(CLIENTS, b"half", b"1")?;
                Err::<(), _>(StoreError::Corrupt("decided too late".into()))
            })
            .await;
        assert!(outcome.is_err());
        let read = database.begin_read().unwrap();
        let present = match read.open_table(CLIENTS) {
            Ok(table) => table.get(b"half".as_slice()).unwrap().is_some(),
            Err(_) => false,
        };
        assert!(!present, "a half-applied job landed");
    }
}
