//! `user create | list | show | delete | set-password | sign-out | reset-link | unlink`.

use super::views::{
    DeletedView, IdentityView, ResetLinkView, SessionsEndedView, UnlinkedView, UserRef, UserView,
    UsersView,
};
use super::{AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::clock;
use crate::model::{DisplayName, Email, Id, Invalid, Password, User, UserId, Username};
use crate::oauth::reset::{self, ResetLinks, DEFAULT_LINK_SECONDS, MAX_LINK_SECONDS};
use crate::oauth::signup::{AccountNotCreated, NewAccount};
use crate::password;
use crate::store::{IdentityNotUnlinked, InvitedUserNotInserted, UserNotInserted};
use crate::store::{Store, StoreError};
use crate::upstream::UpstreamName;

/// `user create`, as typed.
pub(super) struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    /// The operator vouches for `email`.
    pub email_verified: bool,
    pub name: Option<&'a str>,
    pub password: &'a str,
}

/// Checks the new user and hashes the password here, so the slow hash is done before the
/// file is opened for writing and a refused user costs no write.
pub(super) async fn create(store: &Store, new: NewUser<'_>) -> Result<Plan, AdminError> {
    Ok(Plan::Write(WritePlan::CreateUser(
        plan_user(store, new).await?,
    )))
}

/// `create`'s checks and hash: the user `apply_create` will insert.
pub(super) async fn plan_user(store: &Store, new: NewUser<'_>) -> Result<User, AdminError> {
    let username = Username::parse(new.username)?;
    let email = new.email.map(Email::parse).transpose()?;
    if new.email_verified && email.is_none() {
        return Err(Invalid(
            "--email-verified vouches for the address of --email, and none was given".into(),
        )
        .into());
    }
    let name = new
        .name
        .map(|name| DisplayName::parse("name", name))
        .transpose()?;
    let password = Password::parse(new.password)?;
    // Checked before the slow hash; the insert checks again inside its transaction.
    if store.user_by_username(&username)?.is_some() {
        return Err(username_taken(&username));
    }
    let now = clock::now();
    Ok(User {
        id: UserId(Id::generate(clock::now_millis())),
        username,
        email,
        name,
        password_hash: hash_password(password).await?,
        created_at: now,
        email_verified: new.email_verified,
        updated_at: now,
        developer: false,
    })
}

/// `user create` for the sign-up page: the command's checks, hash and checked insert, with
/// the e-mail unverified (nobody vouches for an address typed there). The user it made.
pub(super) async fn create_signed_up(
    store: &Store,
    account: NewAccount,
) -> Result<User, AccountNotCreated> {
    let new = NewUser {
        username: &account.username,
        email: account.email.as_deref(),
        email_verified: false,
        name: None,
        password: &account.password,
    };
    let user = plan_user(store, new).await.map_err(refused)?;
    apply_create(store, user.clone()).await.map_err(refused)?;
    Ok(user)
}

pub(super) fn list(store: &Store) -> Result<Plan, AdminError> {
    Ok(Plan::Done(AdminOutput::Users(UsersView {
        users: store.users()?.iter().map(user_view).collect(),
    })))
}

pub(super) fn show(store: &Store, username: &str) -> Result<Plan, AdminError> {
    let user = existing_user(store, username)?;
    let identities = store
        .user_identities(user.id)?
        .into_iter()
        .map(|identity| IdentityView {
            upstream: identity.upstream,
            subject: identity.subject,
            linked_at: identity.linked_at,
        })
        .collect();
    Ok(Plan::Done(AdminOutput::UserDetails(UserView {
        identities: Some(identities),
        ..user_view(&user)
    })))
}

/// `user unlink U NAME`: checked here on the read-only handle, and again inside the write.
pub(super) fn unlink(store: &Store, username: &str, upstream: &str) -> Result<Plan, AdminError> {
    let user = existing_user(store, username)?;
    let upstream = UpstreamName::parse(upstream)?;
    if store.upstream(&upstream)?.is_none() {
        return Err(unlink_refused(
            &user.username,
            &upstream,
            IdentityNotUnlinked::NoSuchUpstream,
        ));
    }
    let identities = store.user_identities(user.id)?;
    if !identities
        .iter()
        .any(|identity| identity.upstream == upstream.as_str())
    {
        return Err(unlink_refused(
            &user.username,
            &upstream,
            IdentityNotUnlinked::NotLinked,
        ));
    }
    if !user.has_password() && identities.len() <= 1 {
        return Err(unlink_refused(
            &user.username,
            &upstream,
            IdentityNotUnlinked::LastWayToSignIn,
        ));
    }
    Ok(Plan::Write(WritePlan::Unlink(
        user.id,
        user.username,
        upstream,
    )))
}

pub(super) async fn apply_unlink(
    store: &Store,
    user_id: UserId,
    username: Username,
    upstream: UpstreamName,
) -> Result<AdminOutput, AdminError> {
    match store.unlink_identity(user_id, upstream.clone(), true).await {
        Ok(identity) => Ok(AdminOutput::Unlinked(UnlinkedView {
            username: username.as_str().to_owned(),
            upstream: identity.upstream,
            subject: identity.subject,
        })),
        Err(refused) => Err(unlink_refused(&username, &upstream, refused)),
    }
}

fn unlink_refused(
    username: &Username,
    upstream: &UpstreamName,
    refused: IdentityNotUnlinked,
) -> AdminError {
    let (kind, message) = match refused {
        IdentityNotUnlinked::NoSuchUser => return user_not_found(username),
        IdentityNotUnlinked::NoSuchUpstream => (
            AdminErrorKind::NotFound,
            format!("no upstream named '{upstream}'; nothing was changed"),
        ),
        IdentityNotUnlinked::NotLinked => (
            AdminErrorKind::NotFound,
            format!(
                "user '{}' has no identity linked at upstream '{upstream}'; nothing was changed",
                username.as_str()
            ),
        ),
        IdentityNotUnlinked::LastWayToSignIn => (
            AdminErrorKind::Conflict,
            format!(
                "'{upstream}' is the last way user '{0}' can sign in (no password, no other \
                 identity); nothing was changed (set a password first: keyward user \
                 set-password {0})",
                username.as_str()
            ),
        ),
        IdentityNotUnlinked::Storage(error) => return error.into(),
    };
    AdminError::new(kind, message)
}

pub(super) fn delete(store: &Store, username: &str) -> Result<Plan, AdminError> {
    let username = Username::parse(username)?;
    store
        .user_by_username(&username)?
        .ok_or_else(|| user_not_found(&username))?;
    Ok(Plan::Write(WritePlan::DeleteUser(username)))
}

pub(super) async fn set_password(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<Plan, AdminError> {
    let username = Username::parse(username)?;
    let password = Password::parse(password)?;
    store
        .user_by_username(&username)?
        .ok_or_else(|| user_not_found(&username))?;
    let hash = hash_password(password).await?;
    Ok(Plan::Write(WritePlan::SetPassword(username, hash)))
}

pub(super) fn sign_out(store: &Store, username: &str) -> Result<Plan, AdminError> {
    let user = existing_user(store, username)?;
    Ok(Plan::Write(WritePlan::EndSessions(user.id, user.username)))
}

/// `user reset-link`: a one-time link that sets a new password. It is sealed, so making it
/// writes nothing; the server remembers it only once it is used.
pub(super) fn reset_link(
    store: &Store,
    username: &str,
    expires_in: Option<u64>,
    issuer: Option<&str>,
) -> Result<Plan, AdminError> {
    let lifetime = expires_in.unwrap_or(DEFAULT_LINK_SECONDS);
    if lifetime == 0 || lifetime > MAX_LINK_SECONDS {
        return Err(Invalid(
            "--expires-in for a reset link is at most 7d; no link was made".into(),
        )
        .into());
    }
    let issuer = link_issuer(store, issuer)?;
    let user = existing_user(store, username)?;
    let link =
        ResetLinks::new(store.clone()).issue(&user, lifetime, clock::now(), clock::now_millis());
    Ok(Plan::Done(AdminOutput::ResetLink(ResetLinkView {
        url: reset::link_url(&issuer, &link.token),
        expires_at: link.expires_at,
    })))
}

/// The issuer a printed link starts with: `--issuer`, else the one the last `serve`
/// recorded; without either, the error says to pass `--issuer`.
pub(super) fn link_issuer(store: &Store, issuer: Option<&str>) -> Result<String, AdminError> {
    Ok(match issuer {
        Some(issuer) => crate::config::parse_issuer(issuer).map_err(Invalid)?,
        None => store
            .server_settings()?
            .map(|settings| settings.issuer)
            .ok_or_else(|| {
                Invalid(
                    "no issuer is recorded yet (keyward serve has not run on this data \
                     directory): pass --issuer URL, the address users open keyward at"
                        .into(),
                )
            })?,
    })
}

/// `create_signed_up` through an invitation: the same checks and hash, then one write that
/// takes a use of the invitation and inserts the user (`Store::insert_invited_user`).
pub(super) async fn create_invited(
    store: &Store,
    account: NewAccount,
    invite: crate::oauth::tokens::OpaqueToken,
) -> Result<User, AccountNotCreated> {
    let new = NewUser {
        username: &account.username,
        email: account.email.as_deref(),
        email_verified: false,
        name: None,
        password: &account.password,
    };
    let user = plan_user(store, new).await.map_err(refused)?;
    match store
        .insert_invited_user(user.clone(), invite.id, invite.secret, clock::now())
        .await
    {
        Ok(()) => Ok(user),
        Err(InvitedUserNotInserted::InviteNotValid) => Err(AccountNotCreated::InviteNotValid),
        Err(InvitedUserNotInserted::UsernameTaken) => Err(AccountNotCreated::UsernameTaken),
        Err(InvitedUserNotInserted::Storage(error)) => Err(AccountNotCreated::Storage(error)),
    }
}

/// An admin refusal as the sign-up page's.
fn refused(error: AdminError) -> AccountNotCreated {
    match error.kind {
        AdminErrorKind::Conflict => AccountNotCreated::UsernameTaken,
        AdminErrorKind::Unavailable => {
            AccountNotCreated::Storage(StoreError::Unavailable(error.message))
        }
        AdminErrorKind::Invalid | AdminErrorKind::NotFound => {
            AccountNotCreated::Invalid(error.message)
        }
    }
}

pub(super) async fn apply_create(store: &Store, user: User) -> Result<AdminOutput, AdminError> {
    let user_ref = UserRef {
        user_id: user.id.to_string(),
        username: user.username.as_str().to_owned(),
    };
    let username = user.username.clone();
    match store.insert_user(user).await {
        Ok(()) => {}
        Err(UserNotInserted::UsernameTaken) => return Err(username_taken(&username)),
        Err(UserNotInserted::Storage(error)) => return Err(error.into()),
    }
    Ok(AdminOutput::User(user_ref))
}

pub(super) async fn apply_delete(
    store: &Store,
    username: Username,
) -> Result<AdminOutput, AdminError> {
    match store.delete_user(username.clone()).await? {
        Some(_) => Ok(AdminOutput::Deleted(DeletedView {
            deleted: username.as_str().to_owned(),
        })),
        None => Err(user_not_found(&username)),
    }
}

pub(super) async fn apply_set_password(
    store: &Store,
    username: Username,
    hash: String,
) -> Result<AdminOutput, AdminError> {
    match store
        .set_password_hash(username.clone(), hash, None)
        .await?
    {
        Some(id) => Ok(AdminOutput::User(UserRef {
            user_id: id.to_string(),
            username: username.as_str().to_owned(),
        })),
        None => Err(user_not_found(&username)),
    }
}

pub(super) async fn apply_end_sessions(
    store: &Store,
    user_id: UserId,
    username: Username,
) -> Result<AdminOutput, AdminError> {
    let ended = store.end_user_sessions(user_id, None).await?;
    Ok(AdminOutput::SessionsEnded(SessionsEndedView {
        user_id: user_id.to_string(),
        username: username.as_str().to_owned(),
        sessions_ended: ended,
    }))
}

/// `user set`'s changes.
pub struct UserSettings {
    developer: Option<bool>,
}

/// `user set U --developer true|false`.
pub(super) fn set(
    store: &Store,
    username: &str,
    developer: Option<bool>,
) -> Result<Plan, AdminError> {
    let user = existing_user(store, username)?;
    if developer.is_none() {
        return Err(Invalid(format!(
            "nothing to change for user '{}': give --developer true|false",
            user.username.as_str()
        ))
        .into());
    }
    Ok(Plan::Write(WritePlan::SetUser(
        user.id,
        user.username,
        UserSettings { developer },
    )))
}

pub(super) async fn apply_set(
    store: &Store,
    id: UserId,
    username: Username,
    settings: UserSettings,
) -> Result<AdminOutput, AdminError> {
    let mut user = None;
    if let Some(developer) = settings.developer {
        user = store.set_user_developer(id, developer).await?;
    }
    match user {
        Some(user) => Ok(AdminOutput::UserDetails(user_view(&user))),
        None => Err(user_not_found(&username)),
    }
}

/// The user a command names, which must exist: shared by the families that act on one
/// user's things (API keys, grants).
pub(super) fn existing_user(store: &Store, username: &str) -> Result<User, AdminError> {
    let username = Username::parse(username)?;
    store
        .user_by_username(&username)?
        .ok_or_else(|| user_not_found(&username))
}

fn user_not_found(username: &Username) -> AdminError {
    AdminError::new(
        AdminErrorKind::NotFound,
        format!("no user named '{}'", username.as_str()),
    )
}

fn username_taken(username: &Username) -> AdminError {
    AdminError::new(
        AdminErrorKind::Conflict,
        format!("username '{}' is already taken", username.as_str()),
    )
}

async fn hash_password(password: Password) -> Result<String, AdminError> {
    password::hash(password)
        .await
        .map_err(|error| AdminError::new(AdminErrorKind::Unavailable, error.to_string()))
}

fn user_view(user: &User) -> UserView {
    UserView {
        user_id: user.id.to_string(),
        username: user.username.as_str().to_owned(),
        email: user.email.as_ref().map(|email| email.as_str().to_owned()),
        name: user.name.as_ref().map(|name| name.as_str().to_owned()),
        created_at: user.created_at,
        email_verified: user.email_verified,
        updated_at: user.updated_at,
        developer: user.developer,
        identities: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{execute, AdminRequest};
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        crate::store::test_store()
    }

    async fn add_upstream(store: &Store, name: &str) -> UpstreamName {
        let name = UpstreamName::parse(name).unwrap();
        store
            .insert_upstream(crate::upstream::test_upstream(name.as_str()))
            .await
            .unwrap();
        name
    }

    async fn add_user(store: &Store, username: &str, password_hash: String) -> UserId {
        let id = UserId(Id::generate(1));
        store
            .insert_user(User {
                id,
                username: Username::parse(username).unwrap(),
                email: None,
                name: None,
                password_hash,
                created_at: 1,
                email_verified: false,
                updated_at: 1,
                developer: false,
            })
            .await
            .unwrap();
        id
    }

    fn unlink(username: &str, upstream: &str) -> AdminRequest {
        AdminRequest::UserUnlink {
            username: username.into(),
            upstream: upstream.into(),
        }
    }

    /// The paths the integration tests cannot reach yet (nothing links an identity from the
    /// command line): `user show` with an identity, `user unlink` that removes it, and the
    /// refusal of a user's last way to sign in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn user_show_lists_identities_and_unlink_keeps_the_last_way_in() {
        let (_dir, store) = store();
        let corp = add_upstream(&store, "corp").await;
        let hash = password::hash(Password::parse("a long enough password").unwrap())
            .await
            .unwrap();
        let alice = add_user(&store, "alice", hash).await;
        let bob = add_user(&store, "bob", String::new()).await;
        store
            .link_identity(corp.clone(), "a-1".into(), alice, 7)
            .await
            .unwrap();
        store
            .link_identity(corp.clone(), "b-1".into(), bob, 8)
            .await
            .unwrap();

        let show = AdminRequest::UserShow {
            username: "alice".into(),
        };
        let shown = execute(&store, show.clone()).await.unwrap();
        assert_eq!(
            shown.json()["identities"],
            serde_json::json!([{"upstream": "corp", "subject": "a-1", "linked_at": 7}])
        );
        assert!(
            shown
                .human()
                .ends_with("\nidentities:\n  corp  a-1  linked_at 7"),
            "{}",
            shown.human()
        );

        // bob has no usable password: corp is his only way in.
        let refused = execute(&store, unlink("bob", "corp")).await.unwrap_err();
        assert_eq!(refused.kind, AdminErrorKind::Conflict);
        assert!(refused.message.contains("last way"), "{}", refused.message);
        // The store's own check, past a prepare that did not see it.
        let refused = apply_unlink(&store, bob, Username::parse("bob").unwrap(), corp.clone())
            .await
            .unwrap_err();
        assert_eq!(refused.kind, AdminErrorKind::Conflict);
        assert_eq!(store.user_identities(bob).unwrap().len(), 1);

        let unlinked = execute(&store, unlink("alice", "corp")).await.unwrap();
        assert_eq!(
            unlinked.json(),
            serde_json::json!({"username": "alice", "upstream": "corp", "subject": "a-1"})
        );
        assert_eq!(store.identity_user(&corp, "a-1").unwrap(), None);
        let shown = execute(&store, show).await.unwrap();
        assert_eq!(shown.json()["identities"], serde_json::json!([]));
        let again = execute(&store, unlink("alice", "corp")).await.unwrap_err();
        assert_eq!(again.kind, AdminErrorKind::NotFound);
    }
}
