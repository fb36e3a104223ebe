//! The user's own page, as decisions: who is signed in, what they see (their live API keys,
//! one row per app they authorized), the new key shown exactly once, and what their forms
//! may change (only their own keys and apps).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::apikeys::{self, KeyNotPlanned, KeyRefused, NewApiKey, DEFAULT_SCOPE};
use super::signin::{PasswordCheck, SignInService};
use crate::config::parse_duration;
use crate::model::{ClientId, Id, Password, Scope, ScopeToken, SecretHash, UnixTime, User};
use crate::password;
use crate::seal::SealedBox;
use crate::store::{
    ApiKey, Grant, KeyNotStored, ScopeSettings, Store, StoreError, TicketNotConsumed,
};

/// How long the sealed flash that carries a new key to the next page view lives.
pub const NEW_KEY_SECONDS: u64 = 300;

/// A just-made key, carried to the next page view in a sealed, short-lived cookie: the
/// POST answers with a 303, and the key must still be shown exactly once. The cookie may be
/// replayed (a copy kept, the removal ignored), so `id` is single use on the server: the
/// first view marks it used in `used_tickets`, and a later view of the same cookie shows
/// nothing. The key itself is only ever in the sealed cookie, never in the database.
#[derive(Serialize, Deserialize)]
struct Flash {
    id: Id,
    session: [u8; 32],
    name: String,
    api_key: String,
    expires_at: UnixTime,
}

/// A client secret just made on the developer page (a new app, or a rotation), carried to
/// the app's page like a new key (`Flash`), single use the same way; bound to the app too.
#[derive(Serialize, Deserialize)]
struct SecretFlash {
    id: Id,
    session: [u8; 32],
    client_id: String,
    secret: String,
    previous_valid_until: Option<UnixTime>,
    expires_at: UnixTime,
}

/// A client secret to show once, and until when the one before it still works.
pub struct NewSecret {
    pub secret: String,
    pub previous_valid_until: Option<UnixTime>,
}

/// The signed-in user, and the session they are signed in with.
pub struct Account {
    pub session: SecretHash,
    pub user: User,
}

/// What the page lists.
pub struct Overview {
    /// Keys that still work.
    pub api_keys: Vec<ApiKey>,
    pub apps: Vec<AuthorizedApp>,
    /// The user's live sessions: this browser's first, then the latest sign-in first.
    pub sessions: Vec<ActiveSession>,
}

/// One browser signed in as the user. (Sessions keep no device or address, so this is
/// all there is to say.)
pub struct ActiveSession {
    pub signed_in_at: UnixTime,
    pub expires_at: UnixTime,
    /// The session of the browser looking at the page.
    pub this_browser: bool,
}

/// The password form, as posted.
pub struct PasswordChange<'a> {
    pub current: String,
    pub new: &'a str,
    /// The client's address and device cookie, for the sign-in throttles.
    pub address: IpAddr,
    pub device_cookie: Option<&'a str>,
}

/// What became of the password form. Only `Changed` changed anything.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordOutcome {
    /// The new password is set, and every other session of the user has ended.
    Changed,
    /// The current password was wrong.
    WrongCurrent,
    /// The new password breaks the rules `Password::parse` holds every password to.
    Invalid,
    /// Too many wrong passwords for this account or address: nothing was checked.
    Throttled { retry_after: u64 },
    /// The password-hash queue is full: nothing was checked.
    Busy,
    /// The user was deleted meanwhile.
    UserGone,
}

/// One app the user authorized: every authorization makes a grant, but the user approved
/// an app, so its grants are one row, revoked together.
pub struct AuthorizedApp {
    /// The grant the row's revoke form names (any of the app's grants would do).
    pub grant_id: Id,
    pub client_name: String,
    pub scope: Scope,
    pub since: UnixTime,
    pub last_used: Option<UnixTime>,
}

/// A key to show once.
pub struct NewKey {
    pub name: String,
    pub api_key: String,
}

/// What became of the new-key form.
pub enum KeyOutcome {
    /// Made: `flash` is the sealed cookie that shows it on the next view.
    Created { flash: String },
    /// Its scope is not one API keys may carry.
    ScopeNotAllowed(ScopeToken),
    /// Its name, scope or lifetime is malformed, or the user went meanwhile.
    Invalid,
}

/// Whether a form's target was the user's own and was removed.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    Done,
    /// No such key or app of this user: another user's id changes nothing.
    NothingFound,
}

pub struct AccountService {
    store: Store,
    flash: SealedBox,
    secret_flash: SealedBox,
}

impl AccountService {
    pub fn new(store: Store) -> AccountService {
        AccountService {
            flash: SealedBox::new(store.derived_key("flash v1"), "keyward flash v1"),
            secret_flash: SealedBox::new(
                store.derived_key("secret flash v1"),
                "keyward secret flash v1",
            ),
            store,
        }
    }

    /// Seals a client secret for the app page's next view (`take_new_secret`).
    pub fn seal_new_secret(
        &self,
        account: &Account,
        client_id: &str,
        secret: NewSecret,
        now: UnixTime,
        now_millis: u64,
    ) -> String {
        self.secret_flash.seal(&SecretFlash {
            id: Id::generate(now_millis),
            session: *account.session.as_bytes(),
            client_id: client_id.to_owned(),
            secret: secret.secret,
            previous_valid_until: secret.previous_valid_until,
            expires_at: now + NEW_KEY_SECONDS,
        })
    }

    /// The secret a flash cookie carries for this app, the first time it is shown in the
    /// session it was made in; its id is used up, durably, before it is handed back.
    pub async fn take_new_secret(
        &self,
        flash: Option<&str>,
        account: &Account,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Option<NewSecret>, StoreError> {
        let Some(flash) = flash
            .and_then(|sealed| self.secret_flash.open::<SecretFlash>(sealed))
            .filter(|flash| {
                flash.session == *account.session.as_bytes()
                    && flash.client_id == client_id
                    && now < flash.expires_at
            })
        else {
            return Ok(None);
        };
        match self.store.consume_ticket(flash.id, flash.expires_at).await {
            Ok(()) => Ok(Some(NewSecret {
                secret: flash.secret,
                previous_valid_until: flash.previous_valid_until,
            })),
            Err(TicketNotConsumed::AlreadyUsed) => Ok(None),
            Err(TicketNotConsumed::Storage(error)) => Err(error),
        }
    }

    /// The live session for a cookie hash, and its user.
    pub fn signed_in(
        &self,
        session: Option<SecretHash>,
        now: UnixTime,
    ) -> Result<Option<Account>, StoreError> {
        let Some(hash) = session else {
            return Ok(None);
        };
        let Some(found) = self.store.session(&hash, now)? else {
            return Ok(None);
        };
        Ok(self.store.user(found.user_id)?.map(|user| Account {
            session: hash,
            user,
        }))
    }

    pub fn overview(&self, account: &Account, now: UnixTime) -> Result<Overview, StoreError> {
        let user = account.user.id;
        let api_keys = self
            .store
            .api_keys_of_user(user)?
            .into_iter()
            .filter(|key| key.live(now))
            .collect();
        let grants = self.store.grants_of_user(user)?;
        let mut by_client: Vec<(ClientId, Vec<&Grant>)> = Vec::new();
        for grant in grants.iter().filter(|grant| now < grant.expires_at) {
            match by_client.iter_mut().find(|(id, _)| *id == grant.client_id) {
                Some((_, group)) => group.push(grant),
                None => by_client.push((grant.client_id, vec![grant])),
            }
        }
        let mut apps = Vec::with_capacity(by_client.len());
        for (client_id, group) in by_client {
            // A deleted app's grants go with it; a storage failure is an error, not a
            // reason to leave an app off the list.
            let Some(client) = self.store.client(client_id)? else {
                continue;
            };
            apps.push(AuthorizedApp {
                grant_id: group[0].id,
                client_name: client.name.as_str().to_owned(),
                scope: group
                    .iter()
                    .fold(Scope::default(), |scope, grant| scope.union(&grant.scope)),
                since: group
                    .iter()
                    .map(|grant| grant.created_at)
                    .min()
                    .unwrap_or(0),
                last_used: group.iter().map(|grant| grant.last_used).max(),
            });
        }
        let mut sessions: Vec<ActiveSession> = self
            .store
            .sessions_of_user(user, now)?
            .into_iter()
            .map(|(hash, session)| ActiveSession {
                signed_in_at: session.auth_time,
                expires_at: session.expires_at,
                this_browser: hash.as_bytes() == account.session.as_bytes(),
            })
            .collect();
        // A stable sort: the browser looking at the page first, the rest as the store
        // gave them (the latest sign-in first).
        sessions.sort_by_key(|session| !session.this_browser);
        Ok(Overview {
            api_keys,
            apps,
            sessions,
        })
    }

    /// The password form: the new password follows the rules of `keyward user set-password`
    /// (`Password::parse`), the current one is checked through the sign-in throttles, and the
    /// write is the one `set-password` makes, keeping only this browser's session.
    pub async fn change_password(
        &self,
        signin: &SignInService,
        account: &Account,
        change: PasswordChange<'_>,
        now: UnixTime,
    ) -> Result<PasswordOutcome, StoreError> {
        // The rules first: a new password that cannot be set costs no argon2 work and no
        // throttle slot.
        let Ok(new_password) = Password::parse(change.new) else {
            return Ok(PasswordOutcome::Invalid);
        };
        let check = signin
            .check_current_password(
                &account.user,
                change.current,
                change.address,
                change.device_cookie,
                now,
            )
            .await;
        match check {
            PasswordCheck::Correct(_) => {}
            PasswordCheck::Wrong => return Ok(PasswordOutcome::WrongCurrent),
            PasswordCheck::Throttled { retry_after } => {
                return Ok(PasswordOutcome::Throttled { retry_after })
            }
            PasswordCheck::Busy => return Ok(PasswordOutcome::Busy),
        }
        let hash = match password::hash(new_password).await {
            Ok(hash) => hash,
            Err(error) => {
                tracing::error!(%error, "a new password could not be hashed");
                return Ok(PasswordOutcome::Busy);
            }
        };
        let changed = self
            .store
            .set_password_hash(account.user.username.clone(), hash, Some(account.session))
            .await?;
        Ok(match changed {
            // The username may have gone to another user meanwhile: only our user counts.
            Some(id) if id == account.user.id => {
                tracing::info!(user_id = %id, "password changed on the account page");
                PasswordOutcome::Changed
            }
            _ => PasswordOutcome::UserGone,
        })
    }

    /// "Sign out everywhere else": the write `keyward user sign-out` makes, keeping this
    /// browser's session. Returns how many sessions ended.
    pub async fn sign_out_others(&self, account: &Account) -> Result<u64, StoreError> {
        self.store
            .end_user_sessions(account.user.id, Some(account.session))
            .await
    }

    /// The key a flash cookie carries, the first time it is shown in the session it was
    /// made in; the flash's id is used up, durably, before the key is handed back.
    pub async fn take_new_key(
        &self,
        flash: Option<&str>,
        account: &Account,
        now: UnixTime,
    ) -> Result<Option<NewKey>, StoreError> {
        let Some(flash) = flash
            .and_then(|sealed| self.flash.open::<Flash>(sealed))
            .filter(|flash| flash.session == *account.session.as_bytes() && now < flash.expires_at)
        else {
            return Ok(None);
        };
        match self.store.consume_ticket(flash.id, flash.expires_at).await {
            Ok(()) => Ok(Some(NewKey {
                name: flash.name,
                api_key: flash.api_key,
            })),
            Err(TicketNotConsumed::AlreadyUsed) => Ok(None),
            Err(TicketNotConsumed::Storage(error)) => Err(error),
        }
    }

    /// The new-key form: the same checks and the same write as `keyward apikey create`.
    pub async fn create_key(
        &self,
        account: &Account,
        name: &str,
        scope: Option<&str>,
        expires_in: Option<&str>,
        now: UnixTime,
        now_millis: u64,
    ) -> Result<KeyOutcome, StoreError> {
        let lifetime = match expires_in.map(parse_duration).transpose() {
            Ok(lifetime) => lifetime.map(|duration| duration.as_secs()),
            Err(_) => return Ok(KeyOutcome::Invalid),
        };
        let planned = apikeys::plan(
            &self.store,
            account.user.id,
            name,
            scope,
            lifetime,
            now,
            now_millis,
        );
        let new = match planned {
            Ok(new) => new,
            Err(KeyNotPlanned::Refused(KeyRefused::ScopeNotAllowed(scope))) => {
                return Ok(KeyOutcome::ScopeNotAllowed(scope))
            }
            Err(KeyNotPlanned::Refused(KeyRefused::Invalid(_))) => return Ok(KeyOutcome::Invalid),
            Err(KeyNotPlanned::Storage(error)) => return Err(error),
        };
        let NewApiKey {
            record,
            token,
            needs_api_keys,
        } = new;
        let key_name = record.name.as_str().to_owned();
        let key_id = record.id;
        match self.store.insert_api_key(record, needs_api_keys).await {
            Ok(()) => {
                crate::audit!("api_key_created", key_id = %key_id, user_id = %account.user.id, by = "user");
            }
            Err(KeyNotStored::Storage(error)) => return Err(error),
            // The operator withdrew a scope, or the user went, since the plan was made.
            Err(KeyNotStored::ScopeNotAllowed(scope)) => {
                return Ok(KeyOutcome::ScopeNotAllowed(scope))
            }
            Err(KeyNotStored::UserGone) => return Ok(KeyOutcome::Invalid),
        }
        let flash = self.flash.seal(&Flash {
            id: Id::generate(now_millis),
            session: *account.session.as_bytes(),
            name: key_name,
            api_key: token,
            expires_at: now + NEW_KEY_SECONDS,
        });
        Ok(KeyOutcome::Created { flash })
    }

    /// Deletes one of the user's own keys.
    pub async fn delete_key(
        &self,
        account: &Account,
        id: Option<&str>,
    ) -> Result<Removal, StoreError> {
        let Some(id) = id.and_then(Id::parse) else {
            return Ok(Removal::NothingFound);
        };
        let done = self.store.delete_api_key(id, Some(account.user.id)).await?;
        if done {
            crate::audit!("api_key_deleted", key_id = %id, user_id = %account.user.id, by = "user");
        }
        Ok(removal(done))
    }

    /// "Revoke access": ends every grant the user gave the app that `grant_id` belongs to,
    /// and the codes it still holds.
    pub async fn revoke_app(
        &self,
        account: &Account,
        grant_id: Option<&str>,
        now_millis: u64,
    ) -> Result<Removal, StoreError> {
        let Some(id) = grant_id.and_then(Id::parse) else {
            return Ok(Removal::NothingFound);
        };
        let done = self
            .store
            .revoke_app(account.user.id, id, now_millis)
            .await?;
        if done {
            crate::audit!("revocation", token = "grant", user_id = %account.user.id, grant_id = %id, by = "user");
        }
        Ok(removal(done))
    }

    /// Whether API keys may not carry `scope`: not a default scope, and not one the operator
    /// allows (a storage failure counts as "cannot say").
    pub fn refuses_for_keys(&self, scope: &ScopeToken) -> bool {
        let default = Scope::parse(DEFAULT_SCOPE).expect("the default scope parses");
        !default.contains(scope.as_str())
            && matches!(
                self.store.scope_settings(scope.as_str()),
                Ok(None)
                    | Ok(Some(ScopeSettings {
                        api_keys: false,
                        ..
                    }))
            )
    }
}

fn removal(done: bool) -> Removal {
    if done {
        Removal::Done
    } else {
        Removal::NothingFound
    }
}
