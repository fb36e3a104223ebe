//! Upstream providers (schema 4), and the identities linked through them: `identities`
//! finds the user an (upstream, subject) signs in to, through a keyed hash like the
//! username index; `user_identities` lists a user's identities, sealed. The two are always
//! written and removed together.
//!
//! Accounts are keyed by (upstream, subject) only: nothing here looks a user up by an
//! email, so an upstream account that claims someone's address never reaches their account.

use super::codec::{seal, unseal};
use super::records::upstreams::{decode, decode_identity, encode, encode_identity, StoredIdentity};
use super::records::users::{decode as decode_user, encode as encode_user};
use super::tables::{user_identity_key, IDENTITIES, UPSTREAMS, USERNAMES, USERS, USER_IDENTITIES};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::model::{UnixTime, User, UserId, Username};
use crate::seal::Sealer;
use crate::upstream::{Upstream, UpstreamName};

/// Why an upstream was not written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamNotStored {
    #[error("an upstream with this name exists")]
    Exists,
    #[error("there is no upstream with this name")]
    NoSuchUpstream,
    /// The change would move the upstream to another namespace of subjects (another issuer,
    /// userinfo document or subject field) while identities are linked through it: their
    /// subjects would then name other people there.
    #[error("identities are linked through this upstream")]
    IdentitiesLinked(u64),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why an identity was not linked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IdentityNotLinked {
    #[error("there is no upstream with this name")]
    NoSuchUpstream,
    #[error("the user does not exist")]
    NoSuchUser,
    /// The identity signs in to another user already.
    #[error("the identity is linked to another user")]
    LinkedElsewhere,
    /// The user has an identity at this upstream already (one per upstream).
    #[error("the user has an identity at this upstream already")]
    UserHasOne,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why an identity was not unlinked. Nothing was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IdentityNotUnlinked {
    #[error("there is no upstream with this name")]
    NoSuchUpstream,
    #[error("the user does not exist")]
    NoSuchUser,
    #[error("the user has no identity at this upstream")]
    NotLinked,
    /// The identity is the user's last way to sign in: no usable password, no other
    /// identity.
    #[error("the identity is the user's last way to sign in")]
    LastWayToSignIn,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why `insert_upstream_user` made no user. Nothing was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamUserNotInserted {
    #[error("there is no upstream with this name")]
    NoSuchUpstream,
    /// The identity signs in to this user already (a sign-in that raced this one).
    #[error("the identity is linked to a user already")]
    Linked(UserId),
    /// Every candidate username is taken.
    #[error("no candidate username is free")]
    NoUsernameFree,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// What deleting an upstream did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamDeleted {
    pub identities_unlinked: u64,
    /// Users whose only way to sign in it was: they need `user set-password` or
    /// `user reset-link` now.
    pub users_stranded: u64,
}

/// One of a user's linked identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub upstream: String,
    pub subject: String,
    pub linked_at: UnixTime,
}

/// The `identities` key of (upstream, subject). The name never holds 0x00 (`UpstreamName`),
/// so the separator keeps ("a", "b…") and ("ab", "…") apart.
fn identity_key(sealer: &Sealer, upstream: &str, subject: &str) -> [u8; 32] {
    let mut value = Vec::with_capacity(upstream.len() + 1 + subject.len());
    value.extend_from_slice(upstream.as_bytes());
    value.push(0);
    value.extend_from_slice(subject.as_bytes());
    sealer.index_hash("identity", &value)
}

fn load(tx: &mut Tx<'_>, name: &UpstreamName) -> Result<Option<Upstream>, StoreError> {
    let key = name.as_str().as_bytes();
    tx.get(UPSTREAMS, key)?
        .map(|bytes| decode(name.clone(), &unseal(tx.sealer, UPSTREAMS, key, &bytes)?))
        .transpose()
}

/// The `user_identities` rows of identities linked through `name`, found by reading every
/// row: an admin operation, rare, and cheaper than a second index kept on every link.
fn linked_through(tx: &mut Tx<'_>, name: &UpstreamName) -> Result<Vec<Vec<u8>>, StoreError> {
    let key = name.as_str().as_bytes();
    Ok(tx
        .keys_with_prefix(USER_IDENTITIES, &[])?
        .into_iter()
        .filter(|row| row.len() > 16 && &row[16..] == key)
        .collect())
}

fn write(tx: &mut Tx<'_>, upstream: &Upstream) -> Result<(), StoreError> {
    let key = upstream.name.as_str().as_bytes();
    let value = seal(tx.sealer, UPSTREAMS, key, &encode(upstream));
    tx.insert(UPSTREAMS, key, &value)
}

/// The `user_identities` rows `keys` name and the `identities` rows they point at. All is
/// read before anything is removed, so a row that fails to open fails the job before it
/// wrote (a job decides, then writes).
fn remove_identities(tx: &mut Tx<'_>, keys: Vec<Vec<u8>>) -> Result<u64, StoreError> {
    let mut rows = Vec::with_capacity(keys.len());
    for key in keys {
        let upstream = std::str::from_utf8(&key[16..])
            .map_err(|_| StoreError::Corrupt("user_identities key is not UTF-8".into()))?
            .to_owned();
        let identity = match tx.get(USER_IDENTITIES, &key)? {
            Some(bytes) => Some(decode_identity(&unseal(
                tx.sealer,
                USER_IDENTITIES,
                &key,
                &bytes,
            )?)?),
            None => None,
        };
        let index = identity.map(|identity| identity_key(tx.sealer, &upstream, &identity.subject));
        rows.push((key, index));
    }
    let removed = rows.len() as u64;
    for (key, index) in rows {
        if let Some(index) = index {
            tx.remove(IDENTITIES, &index)?;
        }
        tx.remove(USER_IDENTITIES, &key)?;
    }
    Ok(removed)
}

/// Unlinks every identity of a user, for the user's deletion.
pub(super) fn remove_user_identities(tx: &mut Tx<'_>, user: UserId) -> Result<u64, StoreError> {
    let keys = tx.keys_with_prefix(USER_IDENTITIES, user.0.as_bytes())?;
    remove_identities(tx, keys)
}

impl Store {
    /// Adds an upstream; refused when the name is taken.
    pub async fn insert_upstream(&self, upstream: Upstream) -> Result<(), UpstreamNotStored> {
        self.write(move |tx| {
            if tx
                .get(UPSTREAMS, upstream.name.as_str().as_bytes())?
                .is_some()
            {
                return Ok(Err(UpstreamNotStored::Exists));
            }
            write(tx, &upstream)?;
            Ok(Ok(()))
        })
        .await?
    }

    /// Changes an upstream as it is stored at the moment of the write (a concurrent change
    /// is built on, not undone) and returns it as written.
    pub async fn update_upstream(
        &self,
        name: UpstreamName,
        change: impl FnOnce(&mut Upstream) + Send + 'static,
    ) -> Result<Upstream, UpstreamNotStored> {
        self.write(move |tx| {
            let Some(mut upstream) = load(tx, &name)? else {
                return Ok(Err(UpstreamNotStored::NoSuchUpstream));
            };
            let before = upstream.subject_namespace();
            change(&mut upstream);
            if upstream.subject_namespace() != before {
                let linked = linked_through(tx, &name)?.len() as u64;
                if linked > 0 {
                    return Ok(Err(UpstreamNotStored::IdentitiesLinked(linked)));
                }
            }
            write(tx, &upstream)?;
            Ok(Ok(upstream))
        })
        .await?
    }

    pub fn upstream(&self, name: &UpstreamName) -> Result<Option<Upstream>, StoreError> {
        let key = name.as_str().as_bytes();
        self.read(|reader| {
            reader
                .get(UPSTREAMS, key)?
                .map(|bytes| {
                    decode(
                        name.clone(),
                        &unseal(reader.sealer, UPSTREAMS, key, &bytes)?,
                    )
                })
                .transpose()
        })
    }

    /// Every upstream, by name.
    pub fn upstreams(&self) -> Result<Vec<Upstream>, StoreError> {
        self.read(|reader| {
            reader
                .all(UPSTREAMS)?
                .into_iter()
                .map(|(key, bytes)| {
                    let name = upstream_name(&key)?;
                    decode(name, &unseal(reader.sealer, UPSTREAMS, &key, &bytes)?)
                })
                .collect()
        })
    }

    /// Deletes an upstream and unlinks every identity linked through it, in one write.
    /// Returns how many identities were unlinked and how many of their users are left
    /// with no way to sign in (no usable password, no other identity), or `None` when
    /// there was no such upstream.
    pub async fn delete_upstream(
        &self,
        name: UpstreamName,
    ) -> Result<Option<UpstreamDeleted>, StoreError> {
        self.write(move |tx| {
            let key = name.as_str().as_bytes();
            if tx.get(UPSTREAMS, key)?.is_none() {
                return Ok(None);
            }
            let linked = linked_through(tx, &name)?;
            let mut stranded = 0;
            for row in &linked {
                let user_key = &row[..16];
                let others = tx.keys_with_prefix(USER_IDENTITIES, user_key)?.len();
                let has_password = match tx.get(USERS, user_key)? {
                    Some(bytes) => {
                        let id = super::users::user_id(user_key)?;
                        decode_user(id, &unseal(tx.sealer, USERS, user_key, &bytes)?)?
                            .has_password()
                    }
                    None => true,
                };
                if others <= 1 && !has_password {
                    stranded += 1;
                }
            }
            let unlinked = remove_identities(tx, linked)?;
            tx.remove(UPSTREAMS, key)?;
            Ok(Some(UpstreamDeleted {
                identities_unlinked: unlinked,
                users_stranded: stranded,
            }))
        })
        .await
    }

    /// Links (upstream, subject) to a user, in one write with its index row. Linking an
    /// identity again to the user it is linked to changes nothing.
    pub async fn link_identity(
        &self,
        upstream: UpstreamName,
        subject: String,
        user: UserId,
        now: UnixTime,
    ) -> Result<(), IdentityNotLinked> {
        self.write(move |tx| {
            if tx.get(UPSTREAMS, upstream.as_str().as_bytes())?.is_none() {
                return Ok(Err(IdentityNotLinked::NoSuchUpstream));
            }
            if tx.get(USERS, user.0.as_bytes())?.is_none() {
                return Ok(Err(IdentityNotLinked::NoSuchUser));
            }
            let index = identity_key(tx.sealer, upstream.as_str(), &subject);
            match tx.get(IDENTITIES, &index)? {
                Some(owner) if owner == user.0.as_bytes() => return Ok(Ok(())),
                Some(_) => return Ok(Err(IdentityNotLinked::LinkedElsewhere)),
                None => {}
            }
            let row = user_identity_key(user.0.as_bytes(), upstream.as_str());
            if tx.get(USER_IDENTITIES, &row)?.is_some() {
                return Ok(Err(IdentityNotLinked::UserHasOne));
            }
            let record = encode_identity(&StoredIdentity {
                subject,
                linked_at: now,
            });
            let value = seal(tx.sealer, USER_IDENTITIES, &row, &record);
            tx.insert(USER_IDENTITIES, &row, &value)?;
            tx.insert(IDENTITIES, &index, user.0.as_bytes())?;
            Ok(Ok(()))
        })
        .await?
    }

    /// A first sign-in through an upstream with `--create-users`, in one write: the user
    /// gets the first of `usernames` that is free (without regard to case) and the identity
    /// is linked to them. An identity linked meanwhile (two first sign-ins racing) makes no
    /// second user: the answer names the one it signs in to.
    pub async fn insert_upstream_user(
        &self,
        user: User,
        usernames: Vec<Username>,
        upstream: UpstreamName,
        subject: String,
        now: UnixTime,
    ) -> Result<User, UpstreamUserNotInserted> {
        let candidates: Vec<(Username, [u8; 32])> = usernames
            .into_iter()
            .map(|username| {
                let key = self.username_key(&username);
                (username, key)
            })
            .collect();
        self.write(move |tx| {
            if tx.get(UPSTREAMS, upstream.as_str().as_bytes())?.is_none() {
                return Ok(Err(UpstreamUserNotInserted::NoSuchUpstream));
            }
            let index = identity_key(tx.sealer, upstream.as_str(), &subject);
            if let Some(owner) = tx.get(IDENTITIES, &index)? {
                return Ok(Err(UpstreamUserNotInserted::Linked(super::users::user_id(
                    &owner,
                )?)));
            }
            let mut free = None;
            for (username, key) in candidates {
                if tx.get(USERNAMES, &key)?.is_none() {
                    free = Some((username, key));
                    break;
                }
            }
            let Some((username, username_key)) = free else {
                return Ok(Err(UpstreamUserNotInserted::NoUsernameFree));
            };
            let user = User { username, ..user };
            let key = user.id.0.as_bytes();
            tx.insert(
                USERS,
                key,
                &seal(tx.sealer, USERS, key, &encode_user(&user)),
            )?;
            tx.insert(USERNAMES, &username_key, key)?;
            let row = user_identity_key(key, upstream.as_str());
            let record = encode_identity(&StoredIdentity {
                subject,
                linked_at: now,
            });
            tx.insert(
                USER_IDENTITIES,
                &row,
                &seal(tx.sealer, USER_IDENTITIES, &row, &record),
            )?;
            tx.insert(IDENTITIES, &index, key)?;
            Ok(Ok(user))
        })
        .await?
    }

    /// Unlinks the user's identity at `upstream`, with its index row, in one write, and
    /// returns it. A user cannot lose their last way to sign in: without a usable password
    /// (`User::has_password`, and only if `password_counts`: the account page passes false
    /// under `serve --password-login off`), the last identity stays.
    pub async fn unlink_identity(
        &self,
        user: UserId,
        upstream: UpstreamName,
        password_counts: bool,
    ) -> Result<LinkedIdentity, IdentityNotUnlinked> {
        self.write(move |tx| {
            if tx.get(UPSTREAMS, upstream.as_str().as_bytes())?.is_none() {
                return Ok(Err(IdentityNotUnlinked::NoSuchUpstream));
            }
            let key = user.0.as_bytes();
            let Some(bytes) = tx.get(USERS, key)? else {
                return Ok(Err(IdentityNotUnlinked::NoSuchUser));
            };
            let record = decode_user(user, &unseal(tx.sealer, USERS, key, &bytes)?)?;
            let row = user_identity_key(key, upstream.as_str());
            let Some(bytes) = tx.get(USER_IDENTITIES, &row)? else {
                return Ok(Err(IdentityNotUnlinked::NotLinked));
            };
            let identity = decode_identity(&unseal(tx.sealer, USER_IDENTITIES, &row, &bytes)?)?;
            let has_password = password_counts && record.has_password();
            if !has_password && tx.keys_with_prefix(USER_IDENTITIES, key)?.len() <= 1 {
                return Ok(Err(IdentityNotUnlinked::LastWayToSignIn));
            }
            remove_identities(tx, vec![row])?;
            Ok(Ok(LinkedIdentity {
                upstream: upstream.as_str().to_owned(),
                subject: identity.subject,
                linked_at: identity.linked_at,
            }))
        })
        .await?
    }

    /// The user (upstream, subject) signs in to, if it is linked.
    pub fn identity_user(
        &self,
        upstream: &UpstreamName,
        subject: &str,
    ) -> Result<Option<UserId>, StoreError> {
        let index = identity_key(&self.inner.sealer, upstream.as_str(), subject);
        match self.read(|reader| reader.get(IDENTITIES, &index))? {
            Some(id) => super::users::user_id(&id).map(Some),
            None => Ok(None),
        }
    }

    /// A user's linked identities, by upstream name.
    pub fn user_identities(&self, user: UserId) -> Result<Vec<LinkedIdentity>, StoreError> {
        self.read(|reader| {
            reader
                .with_prefix(USER_IDENTITIES, user.0.as_bytes())?
                .into_iter()
                .map(|(key, bytes)| {
                    let identity =
                        decode_identity(&unseal(reader.sealer, USER_IDENTITIES, &key, &bytes)?)?;
                    Ok(LinkedIdentity {
                        upstream: upstream_name(&key[16..])?.as_str().to_owned(),
                        subject: identity.subject,
                        linked_at: identity.linked_at,
                    })
                })
                .collect()
        })
    }
}

/// An upstream's name from a key, as stored.
pub(super) fn upstream_name(key: &[u8]) -> Result<UpstreamName, StoreError> {
    std::str::from_utf8(key)
        .map(|name| UpstreamName::from_stored(name.to_owned()))
        .map_err(|_| StoreError::Corrupt("upstream name is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DisplayName, Id};

    use crate::upstream::{Endpoints, UpstreamUrl};

    fn store() -> (tempfile::TempDir, Store) {
        crate::store::test_store()
    }

    fn upstream(name: &str) -> Upstream {
        crate::upstream::test_upstream(name)
    }

    async fn user(store: &Store, username: &str) -> UserId {
        user_with_hash(store, username, "$argon2id$x").await
    }

    async fn user_with_hash(store: &Store, username: &str, password_hash: &str) -> UserId {
        let id = UserId(Id::generate(1));
        store
            .insert_user(User {
                id,
                username: Username::parse(username).unwrap(),
                email: None,
                name: None,
                password_hash: password_hash.into(),
                created_at: 1,
                email_verified: false,
                updated_at: 1,
                developer: false,
            })
            .await
            .unwrap();
        id
    }

    /// The vector of docs/storage-format.md §8.19.
    #[test]
    fn the_identity_key_is_the_documented_hmac() {
        let sealer = Sealer::new(&crate::seal::MasterKey::from_bytes([7; 32]));
        let key = identity_key(&sealer, "corp", "80351110224678912");
        let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(
            hex,
            "094469a921b36ebfa52609d393e1f53d1b80e3ebc662b335d4872a2900619964"
        );
        assert_ne!(key, identity_key(&sealer, "cor", "p80351110224678912"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upstreams_are_stored_changed_and_refused_twice() {
        let (_dir, store) = store();
        let corp = upstream("corp");
        store.insert_upstream(corp.clone()).await.unwrap();
        assert!(matches!(
            store.insert_upstream(upstream("corp")).await,
            Err(UpstreamNotStored::Exists)
        ));
        assert_eq!(store.upstream(&corp.name).unwrap(), Some(corp.clone()));
        let changed = store
            .update_upstream(corp.name.clone(), |upstream| upstream.create_users = true)
            .await
            .unwrap();
        assert!(changed.create_users);
        assert_eq!(store.upstreams().unwrap(), [changed]);
        assert!(matches!(
            store
                .update_upstream(UpstreamName::parse("nope").unwrap(), |_| {})
                .await,
            Err(UpstreamNotStored::NoSuchUpstream)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identities_link_once_and_go_with_their_upstream_or_their_user() {
        let (_dir, store) = store();
        let corp = UpstreamName::parse("corp").unwrap();
        let other = UpstreamName::parse("other").unwrap();
        store.insert_upstream(upstream("corp")).await.unwrap();
        store.insert_upstream(upstream("other")).await.unwrap();
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;

        store
            .link_identity(corp.clone(), "sub-1".into(), alice, 7)
            .await
            .unwrap();
        // Again to the same user: nothing changes; to another user: refused.
        store
            .link_identity(corp.clone(), "sub-1".into(), alice, 8)
            .await
            .unwrap();
        assert!(matches!(
            store
                .link_identity(corp.clone(), "sub-1".into(), bob, 9)
                .await,
            Err(IdentityNotLinked::LinkedElsewhere)
        ));
        assert!(matches!(
            store
                .link_identity(corp.clone(), "sub-2".into(), alice, 9)
                .await,
            Err(IdentityNotLinked::UserHasOne)
        ));
        assert!(matches!(
            store
                .link_identity(UpstreamName::parse("gone").unwrap(), "x".into(), bob, 9)
                .await,
            Err(IdentityNotLinked::NoSuchUpstream)
        ));
        assert!(matches!(
            store
                .link_identity(corp.clone(), "x".into(), UserId(Id::generate(5)), 9)
                .await,
            Err(IdentityNotLinked::NoSuchUser)
        ));
        store
            .link_identity(corp.clone(), "sub-2".into(), bob, 10)
            .await
            .unwrap();
        store
            .link_identity(other.clone(), "sub-1".into(), bob, 11)
            .await
            .unwrap();
        assert_eq!(store.identity_user(&corp, "sub-1").unwrap(), Some(alice));
        // The same subject at another upstream is another identity.
        assert_eq!(store.identity_user(&other, "sub-1").unwrap(), Some(bob));
        assert_eq!(
            store.user_identities(alice).unwrap(),
            [LinkedIdentity {
                upstream: "corp".into(),
                subject: "sub-1".into(),
                linked_at: 7
            }]
        );
        assert_eq!(store.user_identities(bob).unwrap().len(), 2);

        // Deleting the upstream unlinks its identities, and only its own.
        assert_eq!(
            store.delete_upstream(corp.clone()).await.unwrap(),
            // Neither has a password; alice signed in only through corp, bob has `other`.
            Some(UpstreamDeleted {
                identities_unlinked: 2,
                users_stranded: 1
            })
        );
        assert_eq!(store.delete_upstream(corp.clone()).await.unwrap(), None);
        assert_eq!(store.identity_user(&corp, "sub-1").unwrap(), None);
        assert_eq!(store.identity_user(&corp, "sub-2").unwrap(), None);
        assert!(store.user_identities(alice).unwrap().is_empty());
        assert_eq!(
            store.user_identities(bob).unwrap(),
            [LinkedIdentity {
                upstream: "other".into(),
                subject: "sub-1".into(),
                linked_at: 11
            }]
        );

        // Deleting a user unlinks theirs.
        store
            .delete_user(Username::parse("bob").unwrap())
            .await
            .unwrap();
        assert_eq!(store.identity_user(&other, "sub-1").unwrap(), None);
        assert!(store.user_identities(bob).unwrap().is_empty());
        let report = store.check().await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    async fn usable_hash() -> String {
        let password = crate::model::Password::parse("correct horse battery").unwrap();
        crate::password::hash(password).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unlinking_removes_one_identity_and_never_the_last_way_in() {
        let (_dir, store) = store();
        let corp = UpstreamName::parse("corp").unwrap();
        let other = UpstreamName::parse("other").unwrap();
        store.insert_upstream(upstream("corp")).await.unwrap();
        store.insert_upstream(upstream("other")).await.unwrap();
        let alice = user_with_hash(&store, "alice", &usable_hash().await).await;
        // No usable password: the upstreams are this user's only ways in.
        let bob = user_with_hash(&store, "bob", "").await;
        for (user, subject) in [(alice, "a-1"), (bob, "b-1")] {
            store
                .link_identity(corp.clone(), subject.into(), user, 7)
                .await
                .unwrap();
        }
        store
            .link_identity(other.clone(), "b-2".into(), bob, 8)
            .await
            .unwrap();

        assert!(matches!(
            store
                .unlink_identity(alice, UpstreamName::parse("gone").unwrap(), true)
                .await,
            Err(IdentityNotUnlinked::NoSuchUpstream)
        ));
        assert!(matches!(
            store
                .unlink_identity(UserId(Id::generate(5)), corp.clone(), true)
                .await,
            Err(IdentityNotUnlinked::NoSuchUser)
        ));
        assert!(matches!(
            store.unlink_identity(alice, other.clone(), true).await,
            Err(IdentityNotUnlinked::NotLinked)
        ));

        // With a password, the only identity may go (unless passwords do not count, as under
        // `serve --password-login off`); its index row goes with it.
        assert!(matches!(
            store.unlink_identity(alice, corp.clone(), false).await,
            Err(IdentityNotUnlinked::LastWayToSignIn)
        ));
        assert_eq!(
            store
                .unlink_identity(alice, corp.clone(), true)
                .await
                .unwrap(),
            LinkedIdentity {
                upstream: "corp".into(),
                subject: "a-1".into(),
                linked_at: 7
            }
        );
        assert!(store.user_identities(alice).unwrap().is_empty());
        assert_eq!(store.identity_user(&corp, "a-1").unwrap(), None);
        assert!(matches!(
            store.unlink_identity(alice, corp.clone(), true).await,
            Err(IdentityNotUnlinked::NotLinked)
        ));

        // Without one, one of two may go, and the last stays.
        store
            .unlink_identity(bob, corp.clone(), true)
            .await
            .unwrap();
        assert_eq!(store.identity_user(&corp, "b-1").unwrap(), None);
        assert!(matches!(
            store.unlink_identity(bob, other.clone(), true).await,
            Err(IdentityNotUnlinked::LastWayToSignIn)
        ));
        assert_eq!(store.identity_user(&other, "b-2").unwrap(), Some(bob));
        assert_eq!(store.user_identities(bob).unwrap().len(), 1);
        let report = store.check().await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_upstream_keeps_its_subjects_namespace_while_identities_are_linked() {
        let (_dir, store) = store();
        let corp = upstream("corp");
        store.insert_upstream(corp.clone()).await.unwrap();
        let moved = || {
            |upstream: &mut Upstream| {
                upstream.endpoints = Endpoints::Oidc {
                    issuer: UpstreamUrl::parse("--issuer", "https://other.example").unwrap(),
                }
            }
        };
        // Nobody linked yet: the issuer may change.
        store
            .update_upstream(corp.name.clone(), moved())
            .await
            .unwrap();
        let alice = user(&store, "alice").await;
        store
            .link_identity(corp.name.clone(), "a-1".into(), alice, 7)
            .await
            .unwrap();
        // A display name is no namespace; an issuer is.
        store
            .update_upstream(corp.name.clone(), |upstream| {
                upstream.display_name = DisplayName::parse("name", "Corp SSO").unwrap()
            })
            .await
            .unwrap();
        assert!(matches!(
            store
                .update_upstream(corp.name.clone(), |upstream| {
                    upstream.endpoints = Endpoints::Oidc {
                        issuer: UpstreamUrl::parse("--issuer", "https://evil.example").unwrap(),
                    }
                })
                .await,
            Err(UpstreamNotStored::IdentitiesLinked(1))
        ));
        let kept = store.upstream(&corp.name).unwrap().unwrap();
        assert_eq!(kept.subject_namespace().0, "https://other.example");
        assert_eq!(kept.display_name.as_str(), "Corp SSO");
    }

    #[tokio::test]
    async fn only_a_phc_string_is_a_password() {
        assert!(crate::password::is_usable_hash(&usable_hash().await));
        assert!(!crate::password::is_usable_hash(""));
        assert!(!crate::password::is_usable_hash("$argon2id$x"));
    }
}
