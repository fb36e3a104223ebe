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

use super::tables::Table;
use super::StoreError;
use crate::seal::Sealer;

/// The most jobs one batch takes, so one commit's latency stays bounded under load.
const MAX_BATCH: usize = 256;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A job runs with the batch's transaction, or with `None` when no transaction could be
/// begun, in which case it only produces the completion that reports the failure.
type Job = Box<dyn FnOnce(Option<&mut Tx<'_>>) -> Completion + Send>;

/// What the writer thread is asked to do.
enum Message {
    /// A write, run in the next batch.
    Job(Job),
    /// Something that needs the file quiescent (a copy of it that is exactly the last
    /// commit): run between batches, when no write transaction is open. The batch being
    /// gathered when it arrives is committed first.
    BetweenBatches(Box<dyn FnOnce() + Send>),
}

pub(super) struct Writer {
    queue: Option<mpsc::Sender<Message>>,
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
    /// The writer thread has stopped while the store was open: redb panicked in a
    /// transaction's begin or commit (its state can no longer be vouched for), or the
    /// thread died. Every write then fails until a restart, so this never clears.
    pub writer_stopped: AtomicBool,
}

impl WriterStats {
    pub fn storage_has_failed(&self) -> bool {
        self.storage_failed.load(Ordering::Acquire) || self.writer_stopped.load(Ordering::Acquire)
    }
}

impl Writer {
    pub(super) fn start(database: Arc<redb::Database>, sealer: Arc<Sealer>) -> Writer {
        let (queue, jobs) = mpsc::channel::<Message>();
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("keyward-writer".into())
            .spawn(move || {
                let _guard = MarkFailedIfUnwinding(&thread_stats);
                run(&database, &sealer, jobs, &thread_stats)
            })
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
        self.send(Message::Job(job))?;
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the writer has stopped".into())))
    }

    /// Runs `work` on the writer thread between two batches, when no write transaction is
    /// open and every accepted write has been committed: the file then holds exactly the
    /// last commit. Writes wait meanwhile, so `work` should be short (a file copy).
    pub(super) async fn between_batches<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.send(Message::BetweenBatches(Box::new(move || {
            let _ = answer.send(super::catch_panic(work));
        })))?;
        match answered.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(detail)) => Err(StoreError::Unavailable(format!(
                "work between batches failed: {detail}"
            ))),
            Err(_) => Err(StoreError::Unavailable("the writer has stopped".into())),
        }
    }

    fn send(&self, message: Message) -> Result<(), StoreError> {
        match self.queue.as_ref().map(|queue| queue.send(message)) {
            Some(Ok(())) => Ok(()),
            _ => Err(StoreError::Unavailable("the writer has stopped".into())),
        }
    }
}

/// Lives on the writer thread's stack: if the thread unwinds (a panic outside the places
/// that catch one), storage is marked failed on the way out, so `/healthz` says so instead
/// of answering 200 while every write fails.
struct MarkFailedIfUnwinding<'a>(&'a WriterStats);

impl Drop for MarkFailedIfUnwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.writer_stopped.store(true, Ordering::Release);
            self.0.storage_failed.store(true, Ordering::Release);
        }
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

fn run(
    database: &redb::Database,
    sealer: &Sealer,
    messages: mpsc::Receiver<Message>,
    stats: &WriterStats,
) {
    while let Ok(first) = messages.recv() {
        let first = match first {
            Message::Job(job) => job,
            Message::BetweenBatches(work) => {
                work();
                continue;
            }
        };
        let mut batch = vec![first];
        let mut after_batch = None;
        while batch.len() < MAX_BATCH {
            match messages.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::BetweenBatches(work)) => {
                    after_batch = Some(work);
                    break;
                }
                Err(_) => break,
            }
        }
        let healthy = run_batch(database, sealer, batch, stats);
        if let Some(work) = after_batch {
            work();
        }
        if !healthy {
            // redb panicked inside begin or commit: its state is unknown. Stop taking
            // writes (each now fails at once) and say so on /healthz, until a restart.
            stats.writer_stopped.store(true, Ordering::Release);
            stats.storage_failed.store(true, Ordering::Release);
            return;
        }
    }
}

/// Runs one batch and answers its jobs. Returns false when redb itself panicked (in begin
/// or commit), after which the writer must not go on.
fn run_batch(
    database: &redb::Database,
    sealer: &Sealer,
    batch: Vec<Job>,
    stats: &WriterStats,
) -> bool {
    let started = Instant::now();
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
    let fail_all = |batch: Vec<Job>, error: StoreError| {
        stats.storage_failed.store(true, Ordering::Release);
        stats.failed_batches.fetch_add(1, Ordering::Relaxed);
        stats
            .failed_jobs
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for job in batch {
            job(None)(Err(error.clone()));
        }
    };
    let transaction = match super::catch_panic(|| database.begin_write()) {
        Ok(Ok(transaction)) => transaction,
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot begin a write transaction");
            fail_all(batch, StoreError::unavailable(error));
            return true;
        }
        Err(detail) => {
            tracing::error!(%detail, "beginning a write transaction panicked; the writer stops");
            // Before any caller hears back, so none can see storage still marked healthy.
            stats.writer_stopped.store(true, Ordering::Release);
            fail_all(
                batch,
                StoreError::Unavailable(format!("the writer failed: {detail}")),
            );
            return false;
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
    let mut healthy = true;
    let result = match poison {
        Some(error) => {
            tracing::error!(%error, "write batch abandoned");
            let _ = super::catch_panic(|| transaction.abort());
            Err(error)
        }
        None => match super::catch_panic(|| transaction.commit()) {
            Ok(Ok(())) => {
                stats.storage_failed.store(false, Ordering::Release);
                Ok(())
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "commit failed");
                stats.storage_failed.store(true, Ordering::Release);
                Err(StoreError::unavailable(error))
            }
            Err(detail) => {
                tracing::error!(%detail, "commit panicked; the writer stops");
                // Before any caller hears back, so none can see storage still marked healthy.
                stats.writer_stopped.store(true, Ordering::Release);
                stats.storage_failed.store(true, Ordering::Release);
                healthy = false;
                Err(StoreError::Unavailable(format!(
                    "the commit failed: {detail}"
                )))
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
    healthy
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
    use crate::seal::MasterKey;
    use crate::store::tables::CLIENTS;

    /// An in-memory file whose fsync can be made to fail: the commit failure a full or
    /// dying disk would cause, on demand.
    #[derive(Debug)]
    struct FailingDisk {
        inner: redb::backends::InMemoryBackend,
        fail_sync: Arc<AtomicBool>,
        /// Panics instead of failing: what redb does on a page damaged outside it.
        panic_sync: Arc<AtomicBool>,
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
            if self.panic_sync.load(Ordering::SeqCst) {
                panic!("injected panic inside commit");
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
                panic_sync: Default::default(),
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

    #[tokio::test]
    async fn a_panic_inside_commit_marks_storage_failed_and_stops_the_writer() {
        let panic_sync = Arc::new(AtomicBool::new(false));
        let database = Arc::new(
            redb::Builder::new()
                .create_with_backend(FailingDisk {
                    inner: redb::backends::InMemoryBackend::new(),
                    fail_sync: Default::default(),
                    panic_sync: panic_sync.clone(),
                })
                .unwrap(),
        );
        let sealer = Arc::new(Sealer::new(&MasterKey::from_bytes([9; 32])));
        let writer = Writer::start(database, sealer);
        writer
            .submit(|tx| tx.insert(CLIENTS, b"before", b"1"))
            .await
            .unwrap();
        assert!(!writer.stats.storage_has_failed());

        panic_sync.store(true, Ordering::SeqCst);
        let outcome = writer
            .submit(|tx| tx.insert(CLIENTS, b"during", b"1"))
            .await;
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "{outcome:?}"
        );
        assert!(writer.stats.storage_has_failed());
        assert!(writer.stats.writer_stopped.load(Ordering::Acquire));

        // The disk "recovers", but redb's state after a panic cannot be vouched for: the
        // writer stays stopped and storage stays failed until a restart.
        panic_sync.store(false, Ordering::SeqCst);
        let after = writer.submit(|tx| tx.insert(CLIENTS, b"after", b"1")).await;
        assert!(
            matches!(after, Err(StoreError::Unavailable(_))),
            "{after:?}"
        );
        assert!(writer.stats.storage_has_failed());
    }

    #[test]
    fn a_writer_thread_that_unwinds_marks_storage_failed() {
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        let died = std::thread::spawn(move || {
            let _guard = MarkFailedIfUnwinding(&thread_stats);
            panic!("injected panic on the writer thread");
        })
        .join();
        assert!(died.is_err());
        assert!(stats.storage_has_failed());
        assert!(stats.writer_stopped.load(Ordering::Acquire));

        // A thread that ends normally (the store closing) marks nothing.
        let calm = Arc::new(WriterStats::default());
        let thread_stats = calm.clone();
        std::thread::spawn(move || {
            let _guard = MarkFailedIfUnwinding(&thread_stats);
        })
        .join()
        .unwrap();
        assert!(!calm.storage_has_failed());
    }

    #[tokio::test]
    async fn work_between_batches_runs_after_the_writes_sent_before_it_have_committed() {
        let database = Arc::new(
            redb::Builder::new()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .unwrap(),
        );
        let sealer = Arc::new(Sealer::new(&MasterKey::from_bytes([9; 32])));
        let writer = Writer::start(database.clone(), sealer);
        // `join!` polls in order, so the three writes are queued before the work is, and
        // none of them has been answered yet when it is.
        let (first, second, third, seen) = tokio::join!(
            writer.submit(|tx| tx.insert(CLIENTS, b"1", b"x")),
            writer.submit(|tx| tx.insert(CLIENTS, b"2", b"x")),
            writer.submit(|tx| tx.insert(CLIENTS, b"3", b"x")),
            writer.between_batches(move || {
                let read = database.begin_read().unwrap();
                let table = read.open_table(CLIENTS).unwrap();
                [b"1", b"2", b"3"]
                    .iter()
                    .filter(|key| table.get(key.as_slice()).unwrap().is_some())
                    .count()
            }),
        );
        first.unwrap();
        second.unwrap();
        third.unwrap();
        assert_eq!(seen.unwrap(), 3);
    }
}
