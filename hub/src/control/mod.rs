//! The local admin channel: while the hub runs, its embedded database is locked to it, so
//! `cavs-hub user create`, `enroll` and `migrate` ask the running hub to do the work over a
//! Unix socket in the data dir (`control.sock`, mode 0600: only the hub's own OS account, or
//! root, can connect). One JSON request line, one JSON reply line, per connection.

mod client;
mod protocol;
#[cfg(unix)]
mod server;

pub use client::{SOCKET_FILE, ask_running_hub, socket_path};
pub use protocol::{ControlReply, ControlRequest};
#[cfg(unix)]
pub use server::{ControlServer, serve};

use cavs_models::store::{Store, StoreError};
use cavs_models::{Actor, NewUser, User};

/// Creates `user` as the `user create` command does (the actor is the system, as for every
/// admin command) and answers it with the line the command prints.
pub async fn create_user(store: &Store, user: NewUser) -> Result<(User, String), StoreError> {
    let user = store.users().create(&user, &Actor::System).await?;
    let line = format!(
        "created {} user {} ({})",
        user.role.as_str(),
        user.username,
        user.id
    );
    Ok((user, line))
}
