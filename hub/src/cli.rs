//! Command-line interface of `cavs-hub`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use cavs_config::{ConfigError, HubSettings, Sources};
use cavs_hub::control::ControlRequest;
use cavs_models::{NewUser, Role};
use clap::{Parser, Subcommand};

/// The CAVS hub: MQTT broker, face recognition and REST API in one process.
#[derive(Debug, Parser)]
#[command(name = "cavs-hub", version, about)]
pub struct Cli {
    /// TOML settings file (keys as in config/hub.example.toml); env and .env override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub (the default).
    Serve,
    /// Apply the database schema and exit.
    Migrate,
    /// Bulk-enroll students from DIR: one sub-folder per student number holding their photos
    /// (exactly one face each), optional DIR/students.csv with names. While the hub runs,
    /// the running hub does the work (through `DATA_DIR/control.sock`).
    Enroll {
        /// The folder to enroll from.
        dir: PathBuf,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Apply the retention schedule now (the hub also does it daily): delete expired records,
    /// face crops, unknown faces and the enrolled faces of students not seen for long. While
    /// the hub runs, the running hub does the work.
    Purge {
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Replace the key that encrypts face files at rest (crops, enrollment photos) with a new
    /// one and re-seal every file with it. The hub must be stopped; an interrupted rotation is
    /// finished by the next run or start.
    RotateKey,
    /// Run a recognition worker: takes frames from the external broker's `cavs-workers`
    /// shared subscription and returns the faces to the hub (no database of its own).
    Worker {
        /// Its stable id (its broker account is `cavs-hub-worker-ID`).
        #[arg(long)]
        id: String,
        /// Recognition threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Seconds the broker keeps its session (and its share of frames) after it disconnects.
        #[arg(long, default_value_t = cavs_hub::worker::DEFAULT_SESSION_EXPIRY_SECS)]
        session_expiry_secs: u32,
    },
    /// The external broker's accounts.
    Broker {
        #[command(subcommand)]
        command: crate::cli_scale::BrokerCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Write a development CA (`ca.pem`) and a server certificate for the hub (`server.pem`,
    /// `server.key`) into DIR; set `tls_cert_file`/`tls_key_file` to the server files and give
    /// `ca.pem` to agents (`ca_file`) and clients.
    Cert {
        /// Directory to write the three files into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS name or IP address clients reach the hub at (repeat for several).
        #[arg(long = "host", value_name = "NAME", required = true)]
        hosts: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// `admin` or `teacher`.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// A classroom the teacher may see and review (repeat for several).
        #[arg(long = "classroom")]
        classrooms: Vec<String>,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("role must be admin or teacher, not `{text}`"))
}

/// Exit status for an error: 2 for bad settings, 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<ConfigError>().is_some() {
        2
    } else {
        1
    }
}

fn load_settings(file: Option<PathBuf>) -> anyhow::Result<HubSettings> {
    Ok(cavs_config::load::<HubSettings>(&Sources::from_process(
        file,
    ))?)
}

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Certificates need no settings (they are made before TLS is configured).
    if let Some(Command::Cert { out, hosts }) = &cli.command {
        return write_certificates(out, hosts);
    }
    let settings = load_settings(cli.config)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Cert { out, hosts } => write_certificates(&out, &hosts),
        Command::Worker {
            id,
            threads,
            session_expiry_secs,
        } => {
            let options = cavs_hub::worker::WorkerOptions {
                id,
                threads: threads.max(1),
                session_expiry_secs,
            };
            crate::cli_scale::worker(&settings, options).await
        }
        Command::Broker { command } => {
            crate::cli_scale::broker(&settings, command, async |request| {
                through_running_hub(&settings, request).await
            })
            .await
        }
        Command::Migrate => {
            if through_running_hub(&settings, &ControlRequest::Migrate).await? {
                return Ok(());
            }
            let store = cavs_hub::open_store(&settings).await?;
            let version = store.migrate().await?;
            println!(
                "database {} at schema version {version}",
                settings.database_url()
            );
            Ok(())
        }
        Command::RotateKey => {
            #[cfg(unix)]
            if tokio::net::UnixStream::connect(cavs_hub::control::socket_path(&settings.data_dir))
                .await
                .is_ok()
            {
                bail!("a hub is running on this data dir: stop it, then run `cavs-hub rotate-key`");
            }
            cavs_hub::at_rest::begin_rotation(settings.data_key.as_ref(), &settings.data_dir)?;
            let (store, sealer) = cavs_hub::open_sealed_store(&settings).await?;
            let (pass, descriptors) =
                cavs_hub::seal_at_rest(&settings.data_dir, &sealer, &store).await?;
            println!(
                "data key rotated (new key id {}): {} file(s) re-sealed, {} sealed for the first time, {descriptors} face descriptor(s) sealed",
                sealer.key_id(),
                pass.resealed,
                pass.sealed
            );
            Ok(())
        }
        Command::Purge { dry_run } => {
            if through_running_hub(&settings, &ControlRequest::Purge { dry_run }).await? {
                return Ok(());
            }
            let store = cavs_hub::open_store(&settings).await?;
            let summary = cavs_api::retention::purge(
                &store,
                &settings.data_dir,
                &cavs_hub::housekeeping::retention_policy(&settings),
                chrono::Utc::now(),
                dry_run,
                &cavs_models::Actor::System,
            )
            .await?;
            println!("{summary}");
            Ok(())
        }
        Command::Enroll { dir, quiet } => {
            let absolute = std::fs::canonicalize(&dir)
                .with_context(|| format!("cannot read the folder {}", dir.display()))?;
            let request = ControlRequest::Enroll {
                dir: absolute.to_string_lossy().into_owned(),
            };
            if through_running_hub(&settings, &request).await? {
                return Ok(());
            }
            let store = cavs_hub::open_store(&settings).await?;
            let embedder = cavs_hub::enroll::OfflineEmbedder::new(
                cavs_hub::pipeline::service::recognizer_config(&settings),
                cavs_recognizer::DecodeLimits {
                    max_pixels: settings.max_image_pixels,
                    ..cavs_recognizer::DecodeLimits::default()
                },
            )?;
            let summary =
                cavs_api::enroll::enroll_directory(&store, &embedder, &dir, !quiet).await?;
            println!("{summary}");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    role,
                    password_stdin: _,
                    classrooms,
                },
        } => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading the password from standard input")?;
            let password = input.lines().next().unwrap_or("").to_owned();
            if password.is_empty() {
                bail!("no password on standard input");
            }
            let request = ControlRequest::CreateUser {
                username: username.clone(),
                password: password.clone(),
                role: role.as_str().to_owned(),
                classrooms: classrooms.clone(),
            };
            if through_running_hub(&settings, &request).await? {
                return Ok(());
            }
            let store = cavs_hub::open_store(&settings).await?;
            let user = NewUser {
                username,
                password,
                role,
                classrooms,
            };
            let (_, line) = cavs_hub::control::create_user(&store, user).await?;
            println!("{line}");
            Ok(())
        }
    }
}

/// Runs an admin command in the hub serving this data dir, if one runs (its embedded
/// database is locked to it): prints its output and answers true, or fails with its error.
/// False when no hub listens: the command then opens the store itself.
async fn through_running_hub(
    settings: &HubSettings,
    request: &ControlRequest,
) -> anyhow::Result<bool> {
    let reply = cavs_hub::control::ask_running_hub(&settings.data_dir, request)
        .await
        .context("asking the running hub over its local admin channel")?;
    match reply {
        None => Ok(false),
        Some(reply) if reply.ok => {
            println!("{}", reply.message);
            Ok(true)
        }
        Some(reply) => bail!("the running hub refused: {}", reply.message),
    }
}

/// `cavs-hub cert`: generates and writes the development CA and server certificate.
fn write_certificates(out: &std::path::Path, hosts: &[String]) -> anyhow::Result<()> {
    let certs = cavs_hub::cert::generate(hosts)?;
    let written = cavs_hub::cert::write(out, &certs)?;
    println!(
        "wrote {} (give it to agents and clients), {} and {} (set tls_cert_file and tls_key_file) for {}",
        written.ca.display(),
        written.server_cert.display(),
        written.server_key.display(),
        hosts.join(", ")
    );
    Ok(())
}

async fn serve(settings: HubSettings) -> anyhow::Result<()> {
    let hub = cavs_hub::start(settings).await?;
    wait_for_signal().await?;
    tracing::info!("shutting down");
    hub.shutdown().await;
    actix::System::current().stop();
    Ok(())
}

pub(crate) async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
