//! The admin socket: `admin.sock` in the data directory, mode 0600, one JSON request line
//! and one JSON response line per connection. redb lets one process hold the database, so
//! while a server runs the CLI hands its command to the server through here.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{execute, AdminError, AdminErrorKind, AdminOutput, AdminRequest, ServerInfoView};
use crate::store::Store;

pub const SOCKET_FILE: &str = "admin.sock";

/// A request line is small (a password at most); a response may list every client.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AdminResponse {
    Ok(AdminOutput),
    Error(AdminError),
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// Binds the socket. Called only after the database lock is held, so a socket file found
/// here is a leftover of a server that died, never a live server's.
pub fn bind(data_dir: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(data_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accepts admin connections until `shutdown` resolves, then waits for those in flight.
pub async fn serve(
    listener: UnixListener,
    store: Store,
    info: ServerInfoView,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let store = store.clone();
                    let info = info.clone();
                    connections.spawn(async move {
                        if let Err(error) = handle(stream, &store, info).await {
                            tracing::warn!(%error, "admin connection failed");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "admin socket accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

async fn handle(stream: UnixStream, store: &Store, info: ServerInfoView) -> std::io::Result<()> {
    // The file mode already limits who can connect; the peer check is a second lock on the
    // same door, in case the data directory's permissions were loosened by hand.
    let peer = stream.peer_cred()?;
    let own_uid = unsafe_free_geteuid();
    if peer.uid() != own_uid && peer.uid() != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("admin connection from uid {} refused", peer.uid()),
        ));
    }
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    let read = tokio::time::timeout(
        REQUEST_TIMEOUT,
        BufReader::new(reader)
            .take(MAX_REQUEST_BYTES)
            .read_line(&mut line),
    )
    .await;
    let response = match read {
        Err(_) => AdminResponse::Error(invalid("admin request timed out")),
        Ok(Err(error)) => {
            AdminResponse::Error(invalid(format!("unreadable admin request: {error}")))
        }
        Ok(Ok(_)) if !line.ends_with('\n') => {
            AdminResponse::Error(invalid("admin request is too large or incomplete"))
        }
        Ok(Ok(_)) => match serde_json::from_str::<AdminRequest>(&line) {
            Err(error) => {
                AdminResponse::Error(invalid(format!("malformed admin request: {error}")))
            }
            Ok(AdminRequest::ServerInfo) => AdminResponse::Ok(AdminOutput::ServerInfo(info)),
            Ok(request) => match execute(store, request).await {
                Ok(output) => AdminResponse::Ok(output),
                Err(error) => AdminResponse::Error(error),
            },
        },
    };
    let mut bytes = serde_json::to_vec(&response).expect("admin responses serialize");
    bytes.push(b'\n');
    writer.write_all(&bytes).await?;
    writer.shutdown().await
}

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError {
        kind: AdminErrorKind::Invalid,
        message: message.into(),
    }
}

fn unsafe_free_geteuid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of our own /proc entry is our effective uid; this avoids an unsafe libc call.
    std::fs::metadata("/proc/self").map_or(u32::MAX, |metadata| metadata.uid())
}

/// Sends one request to a running server. `Ok(None)` means no server answers on this data
/// directory (no socket, or a socket left by a server that died).
pub async fn request(
    data_dir: &Path,
    request: &AdminRequest,
) -> std::io::Result<Option<Result<AdminOutput, AdminError>>> {
    let path = socket_path(data_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None)
        }
        Err(error) => return Err(error),
    };
    let (reader, mut writer) = stream.into_split();
    let mut bytes = serde_json::to_vec(request).expect("admin requests serialize");
    bytes.push(b'\n');
    writer.write_all(&bytes).await?;
    let mut line = String::new();
    tokio::time::timeout(
        RESPONSE_TIMEOUT,
        BufReader::new(reader)
            .take(MAX_RESPONSE_BYTES)
            .read_line(&mut line),
    )
    .await
    .map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "the server did not answer")
    })??;
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection without answering; the command may or may not have been applied",
        ));
    }
    match serde_json::from_str::<AdminResponse>(&line) {
        Ok(AdminResponse::Ok(output)) => Ok(Some(Ok(output))),
        Ok(AdminResponse::Error(error)) => Ok(Some(Err(error))),
        Err(error) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the server's answer was malformed: {error}"),
        )),
    }
}
