//! Password hashing and verification (argon2id) under a bound that a flood of logins cannot
//! break: at most `workers` hashes run at once (one per core by default), each on a memory
//! buffer taken from a pool of at most `workers` buffers, and a request that waits longer
//! than `queue_wait` for its turn is answered "unavailable" (HTTP 503 with `Retry-After`).
//!
//! Why a pool: argon2 needs ~19 MiB per hash. Allocated afresh on hundreds of blocking
//! threads, that memory stayed with the allocator's per-thread arenas (1.78 GB after a
//! burst). Reusing a few buffers keeps the server's memory flat under any number of logins.
//!
//! It knows nothing of accounts, lock-outs or rate limits; [`super::account`] decides when
//! to hash.

use super::error::{Error, Result};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Largest argon2 memory cost (KiB) a stored hash may ask for; larger ones are refused rather
/// than allocated (the server writes 19 MiB hashes).
const MAX_M_COST: u32 = 64 * 1024;
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// How much password work may run at once, and how long a request waits for its turn.
#[derive(Debug, Clone, Copy)]
pub struct PasswordSettings {
    /// Hashes computed at once (and memory buffers kept).
    pub workers: usize,
    /// Longest wait for a worker before the request is answered 503.
    pub queue_wait: Duration,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        PasswordSettings {
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            queue_wait: Duration::from_secs(5),
        }
    }
}

/// The bounded password hasher of one server.
pub(crate) struct Passwords {
    permits: Arc<Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    queue_wait: Duration,
}

impl Passwords {
    pub(crate) fn new(settings: PasswordSettings) -> Self {
        let workers = settings.workers.max(1);
        Passwords {
            permits: Arc::new(Semaphore::new(workers)),
            buffers: Arc::new(Mutex::new(Vec::with_capacity(workers))),
            queue_wait: settings.queue_wait,
        }
    }

    /// A PHC string (`$argon2id$…`) for a new password.
    pub(crate) async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_string();
        self.run(move |memory| hash_with(memory, &password)).await?
    }

    /// Whether `password` matches the stored PHC string; a malformed hash never matches.
    pub(crate) async fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        let (password, hash) = (password.to_string(), hash.to_string());
        self.run(move |memory| verify_with(memory, &password, &hash)).await
    }

    /// Spends the time of one verification without a stored hash, so that an unknown login
    /// takes as long as a wrong password.
    pub(crate) async fn waste(&self, password: &str) -> Result<()> {
        let password = password.to_string();
        self.run(move |memory| {
            let mut out = [0u8; OUTPUT_LEN];
            let _ = argon2id(Params::DEFAULT).hash_password_into_with_memory(
                password.as_bytes(),
                &[0u8; SALT_LEN],
                &mut out,
                sized(memory, Params::DEFAULT.block_count()),
            );
        })
        .await
    }

    /// Frees the buffers no hash is using, so that memory returns to the system after a burst
    /// (they are allocated afresh, outside the allocator's arenas, at the next hash).
    pub(crate) fn release_idle(&self) {
        self.buffers.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Runs `work` on a blocking thread with a worker permit and a pooled buffer.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static) -> Result<T> {
        let permit = tokio::time::timeout(self.queue_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::Unavailable {
                reason: "the server is busy checking passwords",
                retry_after: self.queue_wait,
            })?
            .map_err(|e| Error::Internal(anyhow::anyhow!("password workers closed: {e}")))?;
        let buffers = self.buffers.clone();
        tokio::task::spawn_blocking(move || {
            let mut memory = buffers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .unwrap_or_default();
            let result = work(&mut memory);
            // At most one buffer per permit exists, so the pool never outgrows `workers`.
            buffers.lock().unwrap_or_else(PoisonError::into_inner).push(memory);
            drop(permit);
            result
        })
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("password task failed: {e}")))
    }
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Capacity every buffer is reserved with (33 MiB). glibc maps allocations above its largest
/// mmap threshold (32 MiB) directly and unmaps them when freed; smaller ones may land in its
/// per-thread arenas, which keep the memory. Only the blocks a hash uses are ever touched, so
/// the rest of the reservation costs address space, not memory.
const RESERVED_BLOCKS: usize = 33 * 1024;

/// The first `blocks` blocks of the pooled buffer, growing it when it is too small.
fn sized(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        if memory.capacity() < blocks {
            *memory = Vec::with_capacity(blocks.max(RESERVED_BLOCKS));
        }
        memory.resize(blocks, Block::new());
    }
    &mut memory[..blocks]
}

fn hash_with(memory: &mut Vec<Block>, password: &str) -> Result<String> {
    let internal = |e: &dyn std::fmt::Display| Error::Internal(anyhow::anyhow!("argon2: {e}"));
    let mut salt = [0u8; SALT_LEN];
    rand::fill(&mut salt);
    let params = Params::DEFAULT;
    let mut out = [0u8; OUTPUT_LEN];
    argon2id(params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            sized(memory, params.block_count()),
        )
        .map_err(|e| internal(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| internal(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| internal(&e))?),
        hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
    };
    Ok(phc.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST {
        tracing::warn!(
            m_cost = params.m_cost(),
            "a stored password hash asks for too much memory"
        );
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, sized(memory, blocks))
        .is_err()
    {
        return false;
    }
    // `Output` compares in constant time.
    Output::new(&out).is_ok_and(|computed| &computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    fn passwords(workers: usize, queue_wait: Duration) -> Passwords {
        Passwords::new(PasswordSettings { workers, queue_wait })
    }

    #[tokio::test]
    async fn hashes_verify_only_their_own_password_and_interoperate_with_argon2() {
        let passwords = passwords(1, Duration::from_secs(60));
        let hash = passwords.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        // The reused buffer holds the previous hash's memory: results must not depend on it.
        assert!(passwords.verify("correct horse", &hash).await.unwrap());
        assert!(!passwords.verify("wrong horse", &hash).await.unwrap());
        assert!(!passwords.verify("correct horse", "not a hash").await.unwrap());
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        // Hashes written by the argon2 crate itself (all stored hashes so far) still verify.
        let theirs = argon2::PasswordHasher::hash_password(&Argon2::default(), b"old password")
            .unwrap()
            .to_string();
        assert!(passwords.verify("old password", &theirs).await.unwrap());
        assert!(!passwords.verify("old passw0rd", &theirs).await.unwrap());
        assert!(passwords.buffers.lock().unwrap().len() <= 1, "one buffer per worker");
        passwords.release_idle();
        assert!(passwords.buffers.lock().unwrap().is_empty());
        assert!(
            passwords.verify("correct horse", &hash).await.unwrap(),
            "works after a release"
        );
    }

    #[tokio::test]
    async fn work_beyond_the_workers_waits_then_is_refused_with_a_retry_delay() {
        let passwords = Arc::new(passwords(1, Duration::from_millis(50)));
        let held = passwords.permits.clone().acquire_owned().await.unwrap();
        match passwords.verify("password", "not a hash").await {
            Err(Error::Unavailable { retry_after, .. }) => assert_eq!(retry_after, Duration::from_millis(50)),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        drop(held);
        assert!(!passwords.verify("password", "not a hash").await.unwrap());
    }

    #[tokio::test]
    async fn hashes_that_ask_for_too_much_memory_are_refused_unhashed() {
        let passwords = passwords(1, Duration::from_secs(60));
        let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(!passwords.verify("password", greedy).await.unwrap());
        let pooled: usize = passwords.buffers.lock().unwrap().iter().map(Vec::len).sum();
        assert_eq!(pooled, 0, "nothing was allocated for the refused hash");
    }
}
