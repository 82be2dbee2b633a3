//! First run: an empty hub (no account yet) prints a one-time code in its log, and
//! `POST /api/setup` with that code creates the first admin from the web app's first-run page.
//! The code is consumed by the first correct attempt, so two concurrent set-ups cannot both
//! create an admin; wrong codes count toward the sign-in lockout of the client address.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use poem::web::RemoteAddr;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use rand::Rng;
use uuid::Uuid;

use cavs_models::throttle::LoginGuard;
use cavs_models::{Actor, NewUser, Role};

use crate::ApiState;
use crate::account::{client_address, issue_pair};
use crate::account_types::TokenPair;
use crate::error::{ApiError, ApiResult};
use crate::tags::ApiTags;
use crate::text::Text;

/// Letters and digits that cannot be mistaken for one another when read from a log.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Characters of a code (32^12 = 2^60 possibilities).
const CODE_LEN: usize = 12;
/// The lockout key of set-up attempts (one per client address).
const SETUP_KEY: &str = "first-run set-up";

/// The one-time code that lets the first admin be created, while the hub has no account.
#[derive(Debug, Clone, Default)]
pub struct FirstRunCode(Arc<Mutex<Option<String>>>);

impl FirstRunCode {
    /// A fresh random code, to print in the hub's log.
    pub fn generate() -> (FirstRunCode, String) {
        let mut rng = rand::rng();
        let code: String = (0..CODE_LEN)
            .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
            .collect();
        (FirstRunCode(Arc::new(Mutex::new(Some(code.clone())))), code)
    }

    /// No code: the hub had accounts when it started.
    pub fn none() -> FirstRunCode {
        FirstRunCode::default()
    }

    /// Forgets the code (an account was made another way, e.g. `cavs-hub user create`).
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Consumes the code if `offered` is it (compared in constant time).
    fn redeem(&self, offered: &str) -> bool {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let matches = slot.as_deref().is_some_and(|code| {
            let offered = offered.trim().to_ascii_uppercase();
            code.len() == offered.len()
                && code
                    .bytes()
                    .zip(offered.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if matches {
            *slot = None;
        }
        matches
    }

    /// Puts `code` back (the account could not be created, so the next attempt may use it).
    fn restore(&self, code: String) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(code);
    }
}

/// Whether the hub still needs its first admin.
#[derive(Debug, Object)]
pub struct SetupStatus {
    /// True when no account exists yet: the web app shows its first-run page.
    pub needed: bool,
}

/// The first admin, with the code from the hub's log.
#[derive(Debug, Object)]
pub struct SetupRequest {
    /// The one-time code the hub printed at start-up.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub code: Text,
    /// The admin's login name (not blank).
    #[oai(validator(min_length = 1, max_length = 150, pattern = r"\S"))]
    pub username: Text,
    /// At least 8 characters.
    #[oai(validator(min_length = 8, max_length = 1024))]
    pub password: Text,
}

#[derive(ApiResponse)]
enum AdminCreated {
    /// The admin exists and is signed in.
    #[oai(status = 201)]
    Created(Json<TokenPair>),
}

pub(crate) struct SetupApi {
    state: ApiState,
    guard: LoginGuard,
}

impl SetupApi {
    pub(crate) fn new(state: ApiState) -> Self {
        SetupApi {
            state,
            guard: LoginGuard::default(),
        }
    }

    async fn has_accounts(&self) -> ApiResult<bool> {
        Ok(self.state.store.users().count().await? > 0)
    }
}

#[OpenApi(tag = "ApiTags::Auth")]
impl SetupApi {
    /// Whether the hub has no account yet (no authentication).
    #[oai(path = "/setup", method = "get")]
    async fn status(&self) -> ApiResult<Json<SetupStatus>> {
        Ok(Json(SetupStatus {
            needed: !self.has_accounts().await?,
        }))
    }

    /// Creates the first admin with the one-time code from the hub's log and signs them in.
    /// 409 once any account exists; 403 `wrong-setup-code` for a wrong code (counted toward
    /// the address's sign-in lockout, 429 `too-many-failures`).
    #[oai(path = "/setup", method = "post")]
    async fn create_admin(
        &self,
        body: Json<SetupRequest>,
        remote: &RemoteAddr,
    ) -> ApiResult<AdminCreated> {
        let address = client_address(remote);
        let now = Instant::now();
        self.guard
            .check(SETUP_KEY, address.as_deref(), now)
            .map_err(ApiError::too_many_failures)?;
        if self.has_accounts().await? {
            return Err(ApiError::with_slug(
                409,
                "conflict",
                "this hub already has an account: sign in instead",
            ));
        }
        let body = body.0;
        if !self.state.first_run.redeem(&body.code.0) {
            self.guard.failed(SETUP_KEY, address.as_deref(), now);
            return Err(ApiError::with_slug(
                403,
                "wrong-setup-code",
                "that is not the set-up code printed in the hub's log",
            ));
        }
        let created = self
            .state
            .store
            .users()
            .create(
                &NewUser {
                    username: body.username.0,
                    password: body.password.0,
                    role: Role::Admin,
                    classrooms: Vec::new(),
                },
                &Actor::System,
            )
            .await;
        let user = match created {
            Ok(user) => user,
            Err(error) => {
                self.state
                    .first_run
                    .restore(body.code.0.trim().to_ascii_uppercase());
                return Err(error.into());
            }
        };
        tracing::info!(user = %user.username, "first admin created from the set-up page");
        let pair = issue_pair(&self.state, &user, Uuid::new_v4()).await?;
        Ok(AdminCreated::Created(Json(pair)))
    }
}
